"""A minimal typed wrapper over the kernel's bpf() syscall, through ctypes.

Owns: loading raw eBPF bytecode into the kernel (BPF_PROG_LOAD, with the
verifier log on failure) and running it there (BPF_PROG_TEST_RUN), so the
kernel can serve as the oracle of differential tests and the baseline of
benchmarks. ``available()`` says whether this process can do either.

Does not own: maps, objects and attaching programs (bpftime.kernel_object builds
them on ``bpf()``), BTF, or anything else libbpf does; the package's own runtime
never needs the kernel. No third-party dependencies: only ctypes and the syscall
numbers of x86_64 and aarch64.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno as errno_mod
import functools
import os
import platform
import struct
import sys
from collections.abc import Callable
from types import TracebackType

from .errors import KernelError

_SYS_BPF = {"x86_64": 321, "amd64": 321, "aarch64": 280, "arm64": 280}

# enum bpf_cmd
BPF_PROG_LOAD = 5
BPF_PROG_TEST_RUN = 10

# enum bpf_prog_type
BPF_PROG_TYPE_SOCKET_FILTER = 1
BPF_PROG_TYPE_XDP = 6

_BPF_OBJ_NAME_LEN = 16
_LOG_SIZE = 1 << 20
_LOG_TAIL_LINES = 12
_DEFAULT_PACKET = bytes(64)


class _ProgLoadAttr(ctypes.Structure):
    """The BPF_PROG_LOAD arm of union bpf_attr, up to prog_name.

    The kernel treats a shorter attr as zero-extended, so the fields after
    prog_name (BTF, attach targets, ...) are left out rather than sent as zeros.
    """

    _fields_ = (
        ("prog_type", ctypes.c_uint32),
        ("insn_cnt", ctypes.c_uint32),
        ("insns", ctypes.c_uint64),
        ("license", ctypes.c_uint64),
        ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_uint64),
        ("kern_version", ctypes.c_uint32),
        ("prog_flags", ctypes.c_uint32),
        ("prog_name", ctypes.c_char * _BPF_OBJ_NAME_LEN),
    )


class _TestRunAttr(ctypes.Structure):
    """The BPF_PROG_TEST_RUN arm of union bpf_attr (linux/bpf.h), 80 bytes.

     0 prog_fd       4 retval        8 data_size_in   12 data_size_out
    16 data_in (u64)                24 data_out (u64)
    32 repeat       36 duration     40 ctx_size_in   44 ctx_size_out
    48 ctx_in (u64)                 56 ctx_out (u64)
    64 flags        68 cpu          72 batch_size    76 (padding)
    """

    _fields_ = (
        ("prog_fd", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("data_in", ctypes.c_uint64),
        ("data_out", ctypes.c_uint64),
        ("repeat", ctypes.c_uint32),
        ("duration", ctypes.c_uint32),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_uint64),
        ("ctx_out", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    )


@functools.cache
def _syscall() -> Callable[..., int]:
    fn = ctypes.CDLL(None, use_errno=True).syscall
    fn.restype = ctypes.c_long
    return fn


def _syscall_number() -> int | None:
    return _SYS_BPF.get(platform.machine().lower())


def _bpf(cmd: int, attr: ctypes.Structure) -> int:
    """Call bpf(cmd, &attr, sizeof attr); return its result or raise OSError(errno)."""
    nr = _syscall_number()
    if nr is None:
        raise OSError(errno_mod.ENOSYS, f"no bpf() syscall number known for {platform.machine()}")
    ret = int(
        _syscall()(
            ctypes.c_long(nr),
            ctypes.c_long(cmd),
            ctypes.c_void_p(ctypes.addressof(attr)),
            ctypes.c_ulong(ctypes.sizeof(attr)),
        )
    )
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def bpf(cmd: int, attr: ctypes.Structure) -> int:
    """bpf(cmd, &attr, sizeof attr) for bpftime.kernel_object (maps, attached objects)."""
    return _bpf(cmd, attr)


def _log_tail(log: bytes, lines: int = _LOG_TAIL_LINES) -> str:
    text = log.split(b"\0", 1)[0].decode(errors="replace").rstrip()
    return "\n".join(text.splitlines()[-lines:])


class KernelProgram:
    """One program loaded into the kernel; owns its file descriptor.

    ``code`` is raw bytecode (8-byte slots). Loading failures raise KernelError
    with the errno and the last lines of the verifier log.
    """

    def __init__(
        self,
        code: bytes,
        prog_type: int = BPF_PROG_TYPE_SOCKET_FILTER,
        license: str = "GPL",
    ) -> None:
        self._fd = -1
        if len(code) % 8 or not code:
            raise KernelError(
                f"kernel load: program size {len(code)} is not a positive multiple of 8 bytes",
                errno_mod.EINVAL,
            )
        insns = ctypes.create_string_buffer(bytes(code), len(code))
        lic = ctypes.create_string_buffer(license.encode())
        attr = _ProgLoadAttr(
            prog_type=prog_type,
            insn_cnt=len(code) // 8,
            insns=ctypes.addressof(insns),
            license=ctypes.addressof(lic),
        )
        # Like libbpf: load without a log first (a log that overflows fails the
        # load with ENOSPC even when the program is fine), and only on failure
        # load again with a log to tell why.
        try:
            self._fd = _bpf(BPF_PROG_LOAD, attr)
            return
        except OSError as e:
            err = e.errno or 0
        log = ctypes.create_string_buffer(_LOG_SIZE)
        attr.log_level, attr.log_size, attr.log_buf = 1, _LOG_SIZE, ctypes.addressof(log)
        with contextlib.suppress(OSError):
            os.close(_bpf(BPF_PROG_LOAD, attr))  # accepted this time: report the first error
        tail = _log_tail(log.raw)
        detail = f"\nverifier log (last lines):\n{tail}" if tail else " (empty verifier log)"
        raise KernelError(
            f"kernel load: BPF_PROG_LOAD failed: {errno_mod.errorcode.get(err, '?')}"
            f" ({os.strerror(err)}){detail}",
            err,
        )

    @property
    def fd(self) -> int:
        """The program's file descriptor, -1 once closed."""
        return self._fd

    def test_run(self, data: bytes = _DEFAULT_PACKET, repeat: int = 1) -> tuple[int, int, bytes]:
        """Run in the kernel ``repeat`` times on ``data`` (BPF_PROG_TEST_RUN).

        Returns (retval, duration_ns, data_out): retval is the kernel's u32
        (the low 32 bits of r0), duration_ns the kernel's mean ns per run,
        rounded down to an integer by the kernel.
        """
        if self._fd < 0:
            raise KernelError("kernel test run: the program is closed", errno_mod.EBADF)
        if not 0 <= repeat < 1 << 32:
            raise KernelError(f"kernel test run: repeat {repeat} is outside u32", errno_mod.EINVAL)
        data_in = ctypes.create_string_buffer(bytes(data), len(data))
        out_size = len(data) + 256  # room for programs that grow the packet
        data_out = ctypes.create_string_buffer(out_size)
        attr = _TestRunAttr(
            prog_fd=self._fd,
            data_size_in=len(data),
            data_size_out=out_size,
            data_in=ctypes.addressof(data_in),
            data_out=ctypes.addressof(data_out),
            repeat=repeat,
        )
        try:
            _bpf(BPF_PROG_TEST_RUN, attr)
        except OSError as e:
            raise KernelError(
                f"kernel test run: BPF_PROG_TEST_RUN failed:"
                f" {errno_mod.errorcode.get(e.errno or 0, '?')} ({e.strerror})",
                e.errno or 0,
            ) from None
        n = min(attr.data_size_out, out_size)
        return int(attr.retval), int(attr.duration), data_out.raw[:n]

    def close(self) -> None:
        """Close the file descriptor; the kernel frees the program. Idempotent."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> KernelProgram:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _has_bpf_capability() -> bool:
    """Whether CAP_BPF (39) or CAP_SYS_ADMIN (21) is in this process's effective set."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    caps = int(line.split()[1], 16)
                    return bool(caps & (1 << 39 | 1 << 21))
    except OSError:
        pass
    return os.geteuid() == 0


def _sysctl_note() -> str:
    try:
        with open("/proc/sys/kernel/unprivileged_bpf_disabled") as f:
            return f" (kernel.unprivileged_bpf_disabled={f.read().strip()})"
    except OSError:
        return ""


@functools.cache
def available() -> tuple[bool, str]:
    """Can this process load and test-run programs with bpf()? (ok, reason when not).

    Probes for real: loads ``mov r0, 0; exit`` as a socket filter and test-runs
    it once, so seccomp filters, lockdown and missing CONFIG_BPF_SYSCALL show up
    as the errno they cause. The answer is cached for the process.
    """
    if not sys.platform.startswith("linux"):
        return False, f"bpf() needs Linux; this is {sys.platform}"
    if _syscall_number() is None:
        return False, f"no bpf() syscall number known for machine {platform.machine()!r}"
    privileged = _has_bpf_capability()
    probe = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    try:
        with KernelProgram(probe) as prog:
            prog.test_run()
    except KernelError as e:
        if e.errno == errno_mod.ENOSYS:
            return False, "bpf() is not implemented by this kernel (CONFIG_BPF_SYSCALL off?)"
        if e.errno == errno_mod.EPERM:
            who = "with CAP_BPF" if privileged else f"as euid {os.geteuid()} without CAP_BPF"
            return (
                False,
                f"bpf() refused with EPERM {who}{_sysctl_note()}; run as root or grant CAP_BPF",
            )
        return False, f"bpf() probe failed: {e}"
    return True, "bpf() works"
