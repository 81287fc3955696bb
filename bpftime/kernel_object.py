"""An ELF object in the kernel: its maps and programs loaded with bpf(), attached to
tracepoints and uprobes with perf_event_open, its ring buffers read through mmap.

Owns: the kernel side of differential tests and benchmarks of *attached* programs
(the examples' syscall tracepoints and uprobes run in the kernel on the same
victim as in our runtime, to compare): ``KernelMap`` (BPF_MAP_CREATE and the
element commands), ``KernelRingbuf`` (a consumer of a BPF_MAP_TYPE_RINGBUF over
its mmap'd pages), ``KernelObject`` (an ObjectSpec's maps created, global data
filled and frozen, programs relocated to the map fds and loaded) and
``attach_tracepoint``/``attach_uprobe`` (perf events with a program, as libbpf's
legacy attach does).

Kernel tracepoint programs see every process: a BPF program attached to a
tracepoint runs for every task that hits it, whatever pid the perf event was
opened for. Programs meant to compare against an in-process runtime filter on
the pid themselves (the examples' ``targ_tgid`` knob).

Does not own: the bpf() wrapper and program loading (bpftime.kernel), ELF
(bpftime.elf), BTF (objects are loaded without BTF: map types and sizes are all
the kernel needs for the examples), CO-RE.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import functools
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

from .errors import KernelError
from .kernel import KernelProgram, bpf
from .spec import MapSpec, ObjectSpec

# enum bpf_cmd
BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_GET_NEXT_KEY = 4
BPF_MAP_FREEZE = 22

# enum bpf_prog_type
BPF_PROG_TYPE_KPROBE = 2
BPF_PROG_TYPE_TRACEPOINT = 5
PROG_TYPES = {"uprobe": BPF_PROG_TYPE_KPROBE, "uretprobe": BPF_PROG_TYPE_KPROBE,
              "kprobe": BPF_PROG_TYPE_KPROBE, "tracepoint": BPF_PROG_TYPE_TRACEPOINT}  # fmt: skip

BPF_MAP_TYPE_RINGBUF = 27
BPF_F_RDONLY_PROG = 1 << 7

# ld_imm64 src_reg values: ours (bpftime.spec) -> the kernel's
_PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE, _PSEUDO_MAP_IDX, _PSEUDO_MAP_IDX_VALUE = 1, 2, 5, 6

# perf_event_open
_SYS_PERF_EVENT_OPEN = 298  # x86_64
PERF_TYPE_TRACEPOINT = 2
PERF_FLAG_FD_CLOEXEC = 8
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
UPROBE_PMU = Path("/sys/bus/event_source/devices/uprobe")

# ring buffer record header: u32 len (bit 31 busy, bit 30 discarded), u32 page offset
_RB_BUSY, _RB_DISCARD, _RB_HDR = 1 << 31, 1 << 30, 8


class _MapCreateAttr(ctypes.Structure):
    _fields_ = (
        ("map_type", ctypes.c_uint32),
        ("key_size", ctypes.c_uint32),
        ("value_size", ctypes.c_uint32),
        ("max_entries", ctypes.c_uint32),
        ("map_flags", ctypes.c_uint32),
        ("inner_map_fd", ctypes.c_uint32),
        ("numa_node", ctypes.c_uint32),
        ("map_name", ctypes.c_char * 16),
    )


class _MapElemAttr(ctypes.Structure):
    _fields_ = (
        ("map_fd", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("key", ctypes.c_uint64),
        ("value", ctypes.c_uint64),  # next_key for GET_NEXT_KEY
        ("flags", ctypes.c_uint64),
    )


class _PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr up to config2 (PERF_ATTR_SIZE_VER1, 72 bytes) + room."""

    _fields_ = (
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
        ("config2", ctypes.c_uint64),
    )


def _err(what: str, e: OSError) -> KernelError:
    code = e.errno or 0
    return KernelError(f"{what}: {errno_mod.errorcode.get(code, '?')} ({os.strerror(code)})",
                       code)  # fmt: skip


class KernelMap:
    """A kernel map; owns its fd. Keys and values are bytes of the map's sizes."""

    def __init__(self, map_type: int, key_size: int, value_size: int, max_entries: int,
                 flags: int = 0, name: str = "") -> None:  # fmt: skip
        self.fd = -1
        self.type, self.key_size, self.value_size = map_type, key_size, value_size
        self.max_entries = max_entries
        self.name = name
        # the kernel accepts [A-Za-z0-9_.] in map names
        kname = "".join(c for c in name if c.isalnum() or c in "_.")[:15].encode()
        attr = _MapCreateAttr(map_type=map_type, key_size=key_size, value_size=value_size,
                              max_entries=max_entries, map_flags=flags, map_name=kname)  # fmt: skip
        try:
            self.fd = bpf(BPF_MAP_CREATE, attr)
        except OSError as e:
            raise _err(f"kernel map {name!r}: BPF_MAP_CREATE", e) from None

    def _elem(self, cmd: int, key: bytes | None, value: ctypes.Array[ctypes.c_char],
              flags: int = 0) -> bool:  # fmt: skip
        k = ctypes.create_string_buffer(key or b"\0", max(len(key or b""), 1))
        attr = _MapElemAttr(map_fd=self.fd, key=0 if key is None else ctypes.addressof(k),
                            value=ctypes.addressof(value), flags=flags)  # fmt: skip
        try:
            bpf(cmd, attr)
        except OSError as e:
            if e.errno == errno_mod.ENOENT:
                return False
            raise _err(f"kernel map {self.name!r}: command {cmd}", e) from None
        return True

    def lookup(self, key: bytes) -> bytes | None:
        out = ctypes.create_string_buffer(max(self.value_size, 1))
        return out.raw[: self.value_size] if self._elem(BPF_MAP_LOOKUP_ELEM, key, out) else None

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        v = ctypes.create_string_buffer(value, len(value))
        self._elem(BPF_MAP_UPDATE_ELEM, key, v, flags)

    def freeze(self) -> None:
        attr = _MapElemAttr(map_fd=self.fd)
        try:
            bpf(BPF_MAP_FREEZE, attr)
        except OSError as e:
            raise _err(f"kernel map {self.name!r}: BPF_MAP_FREEZE", e) from None

    def keys(self) -> Iterator[bytes]:
        key: bytes | None = None
        nxt = ctypes.create_string_buffer(max(self.key_size, 1))
        while self._elem(BPF_MAP_GET_NEXT_KEY, key, nxt):
            key = nxt.raw[: self.key_size]
            yield key

    def items(self) -> list[tuple[bytes, bytes]]:
        out = []
        for k in list(self.keys()):
            v = self.lookup(k)
            if v is not None:
                out.append((k, v))
        return out

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class KernelRingbuf:
    """Reads records from a kernel BPF_MAP_TYPE_RINGBUF map through its mmap'd pages
    (consumer position page read-write, producer page and data twice read-only)."""

    def __init__(self, m: KernelMap) -> None:
        if m.type != BPF_MAP_TYPE_RINGBUF:
            raise KernelError(f"kernel map {m.name!r} is not a ring buffer", errno_mod.EINVAL)
        page = mmap.PAGESIZE
        self._size = m.max_entries
        self._cons = mmap.mmap(m.fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._prod = mmap.mmap(m.fd, page + 2 * self._size, mmap.MAP_SHARED, mmap.PROT_READ,
                               offset=page)  # fmt: skip
        self._page = page

    def read(self) -> list[bytes]:
        """Every committed record not read yet, in order (discarded ones skipped)."""
        out = []
        cons = struct.unpack_from("<Q", self._cons, 0)[0]
        prod = struct.unpack_from("<Q", self._prod, 0)[0]
        while cons < prod:
            at = self._page + (cons & (self._size - 1))
            length = struct.unpack_from("<I", self._prod, at)[0]
            if length & _RB_BUSY:
                break
            n = length & ~(_RB_BUSY | _RB_DISCARD)
            if not length & _RB_DISCARD:
                out.append(bytes(self._prod[at + _RB_HDR : at + _RB_HDR + n]))
            cons += (n + _RB_HDR + 7) & ~7
            struct.pack_into("<Q", self._cons, 0, cons)
        return out

    def close(self) -> None:
        self._cons.close()
        self._prod.close()


def _create(m: MapSpec) -> KernelMap:
    flags = m.flags | (BPF_F_RDONLY_PROG if m.readonly else 0)
    km = KernelMap(m.type, m.key_size, m.value_size, m.max_entries, flags, m.name)
    if m.data is not None:  # global data: one ARRAY entry holding the section
        km.update(bytes(4), m.data.ljust(m.value_size, b"\0"))
        if m.readonly:
            km.freeze()
    return km


def relocate(insns: bytes, fds: Mapping[int, int]) -> bytes:
    """Instructions with our map references (lddw src 5/6, imm = map index) turned
    into the kernel's (src 1/2, imm = map fd); the value offset stays in slot two."""
    out = bytearray(insns)
    for i in range(0, len(out) - 8, 8):
        if out[i] != 0x18:
            continue
        src = out[i + 1] >> 4
        new = {_PSEUDO_MAP_IDX: _PSEUDO_MAP_FD, _PSEUDO_MAP_IDX_VALUE: _PSEUDO_MAP_VALUE}.get(src)
        if new is not None:
            (index,) = struct.unpack_from("<i", out, i + 4)
            out[i + 1] = (out[i + 1] & 0x0F) | new << 4
            struct.pack_into("<i", out, i + 4, fds[index])
    return bytes(out)


class KernelObject:
    """An ObjectSpec's maps and programs in the kernel; owns every fd.

    ``maps[name]`` are KernelMap, ``programs[name]`` KernelProgram (type from the
    section kind: uprobe/uretprobe as kprobe programs, tracepoint as tracepoint).
    Set ``.rodata`` knobs on the spec (``spec.set_global``) before loading.
    """

    def __init__(self, spec: ObjectSpec, programs: list[str] | None = None) -> None:
        self.maps: dict[str, KernelMap] = {}
        self.programs: dict[str, KernelProgram] = {}
        self.links: list[PerfLink] = []
        try:
            fds = {}
            for i, m in enumerate(spec.maps):
                self.maps[m.name] = _create(m)
                fds[i] = self.maps[m.name].fd
            for name in programs if programs is not None else list(spec.programs):
                ps = spec.programs[name]
                ptype = PROG_TYPES.get(ps.kind)
                if ptype is None:
                    raise KernelError(f"program {name!r}: kind {ps.kind!r} is not loaded by "
                                      "KernelObject (uprobe, uretprobe, tracepoint are)",
                                      errno_mod.EINVAL)  # fmt: skip
                code = relocate(ps.insns, fds)
                try:
                    self.programs[name] = KernelProgram(code, ptype, spec.license or "GPL")
                except KernelError as e:
                    raise KernelError(f"program {name!r} ({ps.section}): {e}", e.errno) from None
        except BaseException:
            self.close()
            raise

    def ringbuf(self, name: str) -> KernelRingbuf:
        return KernelRingbuf(self.maps[name])

    def close(self) -> None:
        for link in self.links:
            link.close()
        for p in self.programs.values():
            p.close()
        for m in self.maps.values():
            m.close()
        self.links, self.programs, self.maps = [], {}, {}

    def __enter__(self) -> KernelObject:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()


# --- perf events -----------------------------------------------------------------


class PerfLink:
    """A perf event with a BPF program attached and enabled; close() detaches."""

    def __init__(self, fd: int, what: str) -> None:
        self.fd = fd
        self.what = what

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _perf_attach(attr: _PerfEventAttr, pid: int, cpu: int, prog_fd: int, what: str) -> PerfLink:
    libc = _libc()
    attr.size = ctypes.sizeof(_PerfEventAttr)
    fd = int(libc.syscall(ctypes.c_long(_SYS_PERF_EVENT_OPEN), ctypes.byref(attr),
                          ctypes.c_int(pid), ctypes.c_int(cpu), ctypes.c_int(-1),
                          ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC)))  # fmt: skip
    if fd < 0:
        raise _err(f"perf_event_open({what})", OSError(ctypes.get_errno(), ""))
    link = PerfLink(fd, what)
    for req, arg in ((PERF_EVENT_IOC_SET_BPF, prog_fd), (PERF_EVENT_IOC_ENABLE, 0)):
        if libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(req), ctypes.c_int(arg)) != 0:
            e = OSError(ctypes.get_errno(), "")
            link.close()
            raise _err(f"ioctl({req:#x}) on the perf event of {what}", e)
    return link


def attach_tracepoint(tp_id: int, prog_fd: int) -> PerfLink:
    """Attach a BPF_PROG_TYPE_TRACEPOINT program to tracefs event ``tp_id``, as libbpf's
    bpf_program__attach_tracepoint does (pid -1, cpu 0: the program still runs for
    every task on every CPU)."""
    attr = _PerfEventAttr(type=PERF_TYPE_TRACEPOINT, config=tp_id)
    return _perf_attach(attr, -1, 0, prog_fd, f"tracepoint id {tp_id}")


def attach_uprobe(path: str, offset: int, prog_fd: int, pid: int = -1,
                  retprobe: bool = False) -> PerfLink:  # fmt: skip
    """Attach a kprobe-type program as a uprobe at file ``offset`` of ``path`` (uprobe
    PMU), for process ``pid`` (-1: every process, on cpu 0 as libbpf does)."""
    try:
        pmu = int((UPROBE_PMU / "type").read_text())
    except OSError as e:
        raise _err(f"uprobe {path}+{offset:#x}: no uprobe PMU at {UPROBE_PMU}", e) from None
    cpath = ctypes.create_string_buffer(os.fsencode(path))
    attr = _PerfEventAttr(type=pmu, config=int(retprobe), config1=ctypes.addressof(cpath),
                          config2=offset)  # fmt: skip
    kind = "uretprobe" if retprobe else "uprobe"
    return _perf_attach(attr, pid, 0 if pid == -1 else -1, prog_fd, f"{kind} {path}+{offset:#x}")
