"""The kernel helpers that need no map, called from programs on both engines.

Expected values come from the OS (os.getpid, time.monotonic_ns, /proc) or are
written down, never from bpftime itself.
"""

from __future__ import annotations

import os
import signal
import struct
import threading
import time

import pytest

import bpftime
from bpftime._program import core_helpers, format_bpf

asm = bpftime.asm.assemble
EFAULT, EINVAL, E2BIG = 14, 22, 7


def run(text: str, engine: str, mem: bytes | None = None) -> tuple[int, bytes]:
    p = bpftime.Program(asm(text), engine=engine, helpers=core_helpers())
    res = p.test_run(mem, repeat=1)
    return res.retval, res.data_out


def s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def test_ktime_get_ns_is_monotonic_clock(engine: str) -> None:
    before = time.monotonic_ns()
    r0, _ = run("call 5\nexit", engine)
    after = time.monotonic_ns()
    assert before <= r0 <= after
    boot, _ = run("call 125\nexit", engine)
    assert boot >= time.clock_gettime_ns(time.CLOCK_BOOTTIME) - 10**9
    coarse, _ = run("call 160\nexit", engine)
    assert abs(coarse - time.monotonic_ns()) < 10**9


def test_pid_tgid_and_uid_gid(engine: str) -> None:
    r0, _ = run("call 14\nexit", engine)
    assert r0 == (os.getpid() << 32) | threading.get_native_id()
    r0, _ = run("call 15\nexit", engine)
    assert r0 == (os.getgid() << 32) | os.getuid()


def test_get_current_comm_is_thread_name(engine: str) -> None:
    prog = """
        mov %r6, %r1
        mov %r1, %r10
        add %r1, -16
        mov %r2, 16
        call 16
        ldxdw %r0, [%r10-16]
        stxdw [%r6+0], %r0
        ldxdw %r0, [%r10-8]
        stxdw [%r6+8], %r0
        mov %r0, 0
        exit
    """
    r0, out = run(prog, engine, bytes(16))
    with open(f"/proc/self/task/{threading.get_native_id()}/comm", "rb") as f:
        comm = f.read().strip()
    assert r0 == 0
    assert out == comm[:15].ljust(16, b"\0")


PROBE = """
    mov %r6, %r1
    mov %r1, %r10
    add %r1, -8
    mov %r2, 8
    lddw %r3, {src}
    call {helper}
    stxdw [%r6+0], %r0
    ldxdw %r0, [%r10-8]
    stxdw [%r6+8], %r0
    mov %r0, 0
    exit
"""


def test_probe_read_valid_and_faulting(engine: str) -> None:
    data = struct.pack("<Q", 0x1122334455667788)
    buf = bytearray(data)
    import ctypes

    cbuf = (ctypes.c_char * 8).from_buffer(buf)
    addr = ctypes.addressof(cbuf)
    for helper in (4, 112):
        _, out = run(PROBE.format(src=addr, helper=helper), engine, bytes(16))
        rc, val = struct.unpack("<qQ", out)
        assert (rc, val) == (0, 0x1122334455667788)
        _, out = run(PROBE.format(src=0x10, helper=helper), engine, bytes(16))
        assert struct.unpack("<qQ", out) == (-EFAULT, 0)
    # there is no kernel memory in a user process
    _, out = run(PROBE.format(src=addr, helper=113), engine, bytes(16))
    assert struct.unpack("<qQ", out) == (-EFAULT, 0)


def test_probe_read_str(engine: str) -> None:
    import ctypes

    s = ctypes.create_string_buffer(b"hi!")
    prog = PROBE.replace("call {helper}", "call 114")
    _, out = run(prog.format(src=ctypes.addressof(s), helper=114), engine, bytes(16))
    rc = struct.unpack("<q", out[:8])[0]
    assert rc == 4  # length with the NUL
    assert out[8:12] == b"hi!\0"
    # longer than the buffer: truncated, NUL-terminated, returns the buffer size
    long = ctypes.create_string_buffer(b"abcdefghijkl")
    _, out = run(prog.format(src=ctypes.addressof(long), helper=114), engine, bytes(16))
    assert struct.unpack("<q", out[:8])[0] == 8
    assert out[8:16] == b"abcdefg\0"
    _, out = run(prog.format(src=8, helper=114), engine, bytes(16))
    assert struct.unpack("<qQ", out) == (-EFAULT, 0)


def test_snprintf_into_input(engine: str) -> None:
    fmt = b"pid=%d hex=%x neg=%lld str=%s\0"
    args_off = 64
    strdata = b"abc\0"
    mem = bytearray(256)
    mem[128 : 128 + len(fmt)] = fmt
    mem[200:204] = strdata
    prog = f"""
        mov %r6, %r1
        mov %r1, %r6
        mov %r2, 64
        mov %r3, %r6
        add %r3, 128
        mov %r4, %r6
        add %r4, {args_off}
        mov %r5, 32
        # the arguments: 42, 0xbeef, -7, a pointer to "abc"
        stdw [%r6+{args_off}], 42
        stdw [%r6+{args_off + 8}], 0xbeef
        stdw [%r6+{args_off + 16}], -7
        mov %r0, %r6
        add %r0, 200
        stxdw [%r6+{args_off + 24}], %r0
        call 165
        exit
    """
    r0, out = run(prog, engine, bytes(mem))
    text = b"pid=42 hex=beef neg=-7 str=abc"
    assert r0 == len(text) + 1
    assert out[: len(text) + 1] == text + b"\0"


@pytest.mark.parametrize(
    "fmt,args,expected",
    [
        ("%d %u", [-1, -1], "-1 4294967295"),
        ("%ld %lu", [-1, -1], "-1 18446744073709551615"),
        ("%x %lx %X", [0xFFFFFFFFF, 0xFFFFFFFFF, 255], "ffffffff fffffffff FF"),
        ("%hd %hhu", [0x18001, 0x1FF], "-32767 255"),
        ("[%5d][%-5d][%05d]", [42, 42, 42], "[   42][42   ][00042]"),
        ("%c%c", [ord("o"), ord("k")], "ok"),
        ("%p", [0x1000], "0x1000"),
        ("%s", [0], "(null)"),
        ("%s", [8], "(fault)"),
        ("100%%", [], "100%"),
    ],
)
def test_format_rules(fmt: str, args: list[int], expected: str) -> None:
    assert format_bpf(fmt, args) == expected


@pytest.mark.parametrize("fmt,args", [("%d", []), ("%q", [1]), ("%lld %d", [1]), ("%lll", [1])])
def test_format_errors(fmt: str, args: list[int]) -> None:
    with pytest.raises(ValueError, match="bad format"):
        format_bpf(fmt, args)


def test_strncmp(engine: str) -> None:
    mem = b"abcd\0" + b"abce\0" + b"abcd\0"
    prog = """
        mov %r6, %r1
        mov %r1, %r6
        mov %r2, 5
        mov %r3, %r6
        add %r3, {other}
        call 182
        exit
    """
    r0, _ = run(prog.format(other=10), engine, mem)
    assert r0 == 0
    r0, _ = run(prog.format(other=5), engine, mem)
    assert s64(r0) < 0
    r0, _ = run(prog.replace("mov %r2, 5", "mov %r2, 3").format(other=5), engine, mem)
    assert r0 == 0


LOOP = """
    stdw [%r10-8], 0
    mov %r1, {n}
    lddw %r2, func cb
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 181
    ldxdw %r1, [%r10-8]
    lsh %r0, 32
    or %r0, %r1
    exit
cb:
    ldxdw %r3, [%r2]
    add %r3, %r1
    stxdw [%r2], %r3
    mov %r0, 0
    jne %r1, {stop_at}, +1
    mov %r0, 1
    exit
"""


def test_bpf_loop_runs_callback_with_stack_pointer(engine: str) -> None:
    # sums the indexes 0..9 into a counter on the caller's stack; returns (iterations << 32) | sum
    r0, _ = run(LOOP.format(n=10, stop_at=99), engine)
    assert r0 == (10 << 32) | 45
    # the callback returns 1 at index 3: four iterations, sum 0+1+2+3
    r0, _ = run(LOOP.format(n=10, stop_at=3), engine)
    assert r0 == (4 << 32) | 6
    # more than the kernel's 1 << 23 iterations: -E2BIG, the callback never runs
    r0, _ = run(LOOP.format(n=(1 << 23) + 1, stop_at=3), engine)
    assert r0 == ((-E2BIG) & 0xFFFFFFFF) << 32


def test_attach_context_helpers_without_attach(engine: str) -> None:
    # no traced function: no arguments, cookie 0, get_func_arg refuses
    r0, _ = run("call 185\nexit", engine)
    assert r0 == 0
    r0, _ = run("call 174\nexit", engine)
    assert r0 == 0
    prog = "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\ncall 183\nexit"
    r0, _ = run(prog, engine)
    assert s64(r0) == -EINVAL
    r0, _ = run("mov %r2, 42\ncall 58\nexit", engine)
    assert r0 == 0


def test_send_signal_reaches_this_process(engine: str) -> None:
    got: list[int] = []
    old = signal.signal(signal.SIGUSR2, lambda sig, frame: got.append(sig))
    try:
        r0, _ = run(f"mov %r1, {int(signal.SIGUSR2)}\ncall 109\nexit", engine)
        assert r0 == 0
        r0, _ = run(f"mov %r1, {int(signal.SIGUSR2)}\ncall 117\nexit", engine)
        assert r0 == 0
        time.sleep(0.01)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert got == [signal.SIGUSR2, signal.SIGUSR2]
    r0, _ = run("mov %r1, 0\ncall 109\nexit", engine)
    assert s64(r0) == -EINVAL


def test_get_stack_user_only(engine: str) -> None:
    user = """
        mov %r2, %r10
        add %r2, -64
        mov %r3, 64
        mov %r4, 0x100
        call 67
        exit
    """
    r0, _ = run(user, engine)
    assert 8 <= r0 <= 64 and r0 % 8 == 0
    r0, _ = run(user.replace("mov %r4, 0x100", "mov %r4, 0"), engine)
    assert s64(r0) == -EFAULT


def test_spin_lock_round_trip(engine: str) -> None:
    prog = """
        stw [%r10-4], 0
        mov %r1, %r10
        add %r1, -4
        call 93
        ldxw %r6, [%r10-4]
        mov %r1, %r10
        add %r1, -4
        call 94
        ldxw %r0, [%r10-4]
        lsh %r6, 8
        or %r0, %r6
        exit
    """
    r0, _ = run(prog, engine)
    assert r0 == 0x100  # held (1) inside, released (0) after


def test_prandom_and_cpu(engine: str) -> None:
    values = {run("call 7\nexit", engine)[0] for _ in range(20)}
    assert len(values) > 15 and all(v < 2**32 for v in values)
    cpu, _ = run("call 8\nexit", engine)
    assert cpu < (os.cpu_count() or 1)
