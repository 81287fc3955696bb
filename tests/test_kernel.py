"""Differential tests with the kernel as the oracle.

Each hand-written program runs in the kernel (BPF_PROG_TEST_RUN, socket
filter) and on both of our engines; the low 32 bits of r0 must agree. No
expected value is written here: the kernel computes it. Every program also
runs wrapped in a caller that returns ``r0 >> 32`` (variant ``hi``), so all
64 bits of r0 are compared through the kernel's 32-bit retval.

Socket filters get r1 = the skb context, so the programs keep r1 away from
memory (they use the stack) and only overwrite it with scalars.
"""

from __future__ import annotations

import ctypes
import errno
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable

import pytest

import bpftime
from bpftime import kernel
from bpftime import opcodes as op
from bpftime.errors import KernelError

_OK, _REASON = kernel.available()
pytestmark = [pytest.mark.bpf, pytest.mark.skipif(not _OK, reason=_REASON)]

ENGINES = ("interp", "jit")
M64 = (1 << 64) - 1


# --- encoding -------------------------------------------------------------


def ins(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    if imm >= 1 << 31:  # let callers write unsigned 32-bit patterns
        imm -= 1 << 32
    return struct.pack("<BBhi", opcode, dst | src << 4, off, imm)


def lddw(dst: int, value: int) -> bytes:
    value &= M64
    lo, hi = value & 0xFFFFFFFF, value >> 32
    return ins(op.LDDW, dst, 0, 0, lo) + ins(0, 0, 0, 0, hi)


def alu(cls: int, o: int, dst: int, imm: int, off: int = 0) -> bytes:
    return ins(cls | op.SRC_K | o, dst, 0, off, imm)


def alux(cls: int, o: int, dst: int, src: int, off: int = 0) -> bytes:
    return ins(cls | op.SRC_X | o, dst, src, off)


def mov(dst: int, imm: int) -> bytes:
    return alu(op.CLS_ALU64, op.OP_MOV, dst, imm)


def movx(dst: int, src: int) -> bytes:
    return alux(op.CLS_ALU64, op.OP_MOV, dst, src)


def jmp(cls: int, o: int, dst: int, imm: int, off: int) -> bytes:
    return ins(cls | op.SRC_K | o, dst, 0, off, imm)


def jmpx(cls: int, o: int, dst: int, src: int, off: int) -> bytes:
    return ins(cls | op.SRC_X | o, dst, src, off)


def ja(off: int) -> bytes:
    return ins(op.CLS_JMP | op.JA, off=off)


def ldx(size: int, dst: int, src: int, off: int, mode: int = op.MODE_MEM) -> bytes:
    return ins(op.CLS_LDX | mode | size, dst, src, off)


def stx(size: int, dst: int, src: int, off: int) -> bytes:
    return ins(op.CLS_STX | op.MODE_MEM | size, dst, src, off)


def st(size: int, dst: int, off: int, imm: int) -> bytes:
    return ins(op.CLS_ST | op.MODE_MEM | size, dst, 0, off, imm)


def atomic(size: int, dst: int, src: int, off: int, aop: int) -> bytes:
    return ins(op.CLS_STX | op.MODE_ATOMIC | size, dst, src, off, aop)


def call_local(rel: int) -> bytes:
    """bpf-to-bpf call: target = this index + 1 + rel."""
    return ins(op.CLS_JMP | op.CALL, 0, op.PSEUDO_CALL, 0, rel)


EXIT = ins(op.CLS_JMP | op.EXIT)


def prog(*parts: bytes) -> bytes:
    return b"".join(parts)


def high_half(body: bytes) -> bytes:
    """``body`` as a subprogram of a caller that returns its r0 >> 32."""
    return prog(call_local(2), alu(op.CLS_ALU64, op.OP_RSH, 0, 32), EXIT, body)


# --- the programs ---------------------------------------------------------

A64, A32, J64, J32 = op.CLS_ALU64, op.CLS_ALU, op.CLS_JMP, op.CLS_JMP32
B, H, W, DW = op.SZ_B, op.SZ_H, op.SZ_W, op.SZ_DW

BINARY = {
    "add": op.OP_ADD, "sub": op.OP_SUB, "mul": op.OP_MUL, "div": op.OP_DIV, "mod": op.OP_MOD,
    "or": op.OP_OR, "and": op.OP_AND, "xor": op.OP_XOR,
    "lsh": op.OP_LSH, "rsh": op.OP_RSH, "arsh": op.OP_ARSH,
}  # fmt: skip
SIGNED = {"sdiv": op.OP_DIV, "smod": op.OP_MOD}  # off = 1, ISA v4
SHIFTS = {op.OP_LSH, op.OP_RSH, op.OP_ARSH}
DIVS = {op.OP_DIV, op.OP_MOD}

# (dst, src) register operands; dst keeps its high half set so ALU32 must ignore it
REG_PAIRS = (
    (0x123456789ABCDEF0, 0x0FEDCBA987654321),
    (0xFFFFFFFFFFFFFFFB, 3),  # -5, 3
    (0x8000000000000000, M64),  # INT64_MIN, -1
    (0xDEADBEEF80000000, 0xFFFFFFFF),  # INT32_MIN in the low half, -1 as u32
    (0x00000000FFFFFFFF, 0x0000000100000001),
    (17, 0),  # division and modulo by zero
    (0xFFFFFFFF80000000, 65),  # shift amounts are masked
    (0x7FFFFFFF00000007, 0xFFFFFFFE00000002),
)
# (dst, imm) operands; imm is sign-extended to 64 bits
IMM_PAIRS = (
    (0x123456789ABCDEF0, 3),
    (0xFFFFFFFFFFFFFFFB, -3),
    (0x8000000000000000, -1),
    (0xDEADBEEF80000000, 0x7FFFFFFF),
    (0x00000000FFFFFFFF, -2147483648),
    (17, 0),  # the verifier refuses div/mod by an immediate 0: left out below
)
SHIFT_IMMS = {A64: (0, 1, 31, 32, 63), A32: (0, 1, 16, 31)}


def _alu_cases() -> Iterable[tuple[str, bytes]]:
    width = {A64: "alu64", A32: "alu32"}
    for cls in (A64, A32):
        w = width[cls]
        for name, o, off in [(n, o, 0) for n, o in BINARY.items()] + [
            (n, o, 1) for n, o in SIGNED.items()
        ]:
            for k, (a, b) in enumerate(REG_PAIRS):
                code = prog(lddw(0, a), lddw(2, b), alux(cls, o, 0, 2, off), EXIT)
                yield f"{w}.{name}.reg.{k}", code
            if o in SHIFTS:
                for s in SHIFT_IMMS[cls]:
                    for k, v in ((0, REG_PAIRS[0][0]), (6, REG_PAIRS[6][0])):
                        yield f"{w}.{name}.imm.{k}.by{s}", prog(lddw(0, v), alu(cls, o, 0, s), EXIT)
                continue
            for k, (a, b) in enumerate(IMM_PAIRS):
                if o in DIVS and b == 0:
                    continue
                yield f"{w}.{name}.imm.{k}", prog(lddw(0, a), alu(cls, o, 0, b, off), EXIT)
        for k, (a, _) in enumerate(REG_PAIRS):
            yield f"{w}.neg.{k}", prog(lddw(0, a), ins(cls | op.OP_NEG, 0), EXIT)
            yield f"{w}.mov.reg.{k}", prog(lddw(2, a), mov(0, -1), alux(cls, op.OP_MOV, 0, 2), EXIT)
    for imm in (-1, -2147483648, 0x7FFFFFFF):
        yield f"alu64.mov.imm.{imm}", prog(mov(0, imm), EXIT)
        yield f"alu32.mov.imm.{imm}", prog(lddw(0, M64), alu(A32, op.OP_MOV, 0, imm), EXIT)
    # movsx (ISA v4): sign-extend the low 8/16/32 bits of src
    for k, v in enumerate((0x0123456789ABCD80, 0x000000007FFF8000, 0xFFFF0000800000FF)):
        for bits in (8, 16, 32):
            yield f"alu64.movsx{bits}.{k}", prog(lddw(2, v), alux(A64, op.OP_MOV, 0, 2, bits), EXIT)
        for bits in (8, 16):
            yield f"alu32.movsx{bits}.{k}", prog(lddw(2, v), alux(A32, op.OP_MOV, 0, 2, bits), EXIT)


def _div_mod_by_zero_cases() -> Iterable[tuple[str, bytes]]:
    """Division by a zero register: div gives 0, mod keeps dst (truncated for ALU32)."""
    for cls, w in ((A64, "alu64"), (A32, "alu32")):
        for name, o, off in (("div", op.OP_DIV, 0), ("mod", op.OP_MOD, 0),
                             ("sdiv", op.OP_DIV, 1), ("smod", op.OP_MOD, 1)):  # fmt: skip
            code = prog(lddw(0, 0xFEDCBA9876543210), mov(2, 0), alux(cls, o, 0, 2, off), EXIT)
            yield f"{w}.{name}.by_zero", code
            # a zero in the low half only: ALU32 divides by 0, ALU64 does not
            code = prog(
                lddw(0, 0xFEDCBA9876543210), lddw(2, 1 << 32), alux(cls, o, 0, 2, off), EXIT
            )
            yield f"{w}.{name}.by_low_zero", code


def _byteswap_cases() -> Iterable[tuple[str, bytes]]:
    forms = {
        "le": A32 | op.SRC_K | op.OP_END,  # to little endian: truncate only
        "be": A32 | op.SRC_X | op.OP_END,  # to big endian: swap
        "bswap": A64 | op.SRC_K | op.OP_END,  # ISA v4 unconditional swap
    }
    for name, opcode in forms.items():
        for bits in (16, 32, 64):
            for k, v in enumerate((0x0123456789ABCDEF, 0xF0E1D2C3B4A59687)):
                yield f"end.{name}{bits}.{k}", prog(lddw(0, v), ins(opcode, 0, 0, 0, bits), EXIT)


JUMPS = {
    "jeq": op.JEQ, "jne": op.JNE, "jgt": op.JGT, "jge": op.JGE, "jlt": op.JLT, "jle": op.JLE,
    "jsgt": op.JSGT, "jsge": op.JSGE, "jslt": op.JSLT, "jsle": op.JSLE, "jset": op.JSET,
}  # fmt: skip
JUMP_PAIRS = (
    (5, 5),
    (0xFFFFFFFFFFFFFFFB, 7),  # -5 vs 7: signed and unsigned orders differ
    (7, -5),
    (0x0000000100000005, 5),  # equal in the low half only
    (0x0000000080000000, 0x7FFFFFFF),
    (0x00000000FFFFFFFF, -1),  # imm -1 is 2^64-1 for JMP, 2^32-1 for JMP32
    (0, 0xFF),
)


def _jump_cases() -> Iterable[tuple[str, bytes]]:
    """Each conditional jump sets its own bit of r0 when taken."""
    for cls, w in ((J64, "jmp"), (J32, "jmp32")):
        for form in ("reg", "imm"):
            for k, (a, b) in enumerate(JUMP_PAIRS):
                parts = [mov(0, 0), lddw(2, a), lddw(3, b)]
                for bit, o in enumerate(JUMPS.values()):
                    if form == "reg":
                        parts.append(jmpx(cls, o, 2, 3, 1))
                    else:
                        parts.append(jmp(cls, o, 2, b, 1))
                    parts += [ja(1), alu(A64, op.OP_OR, 0, 1 << bit)]
                yield f"{w}.{form}.{k}", prog(*parts, EXIT)
    # ja over a block that is reached later by a backward jump (the verifier
    # refuses statically unreachable code)
    for name, forward in (("jmp.ja", ja(2)), ("jmp32.gotol", ins(J32 | op.JA, imm=2))):
        tail = prog(alu(A64, op.OP_ADD, 0, 10), EXIT, jmp(J64, op.JEQ, 0, 1, -3), EXIT)
        yield name, prog(mov(0, 1), forward, tail)
    # bounded loops: sum 10 + 9 + ... + 1, with 64- and 32-bit compares
    for cls, w in ((J64, "jmp"), (J32, "jmp32")):
        body = [alux(A64, op.OP_ADD, 0, 2), alu(A64, op.OP_SUB, 2, 1), jmp(cls, op.JNE, 2, 0, -3)]
        start = 0xF0000000A if cls == J32 else 10  # the high half is noise for JMP32
        yield f"{w}.loop", prog(mov(0, 0), lddw(2, start), *body, EXIT)


PATTERN = 0xF1E2D3C4B5A69788


def _stack_cases() -> Iterable[tuple[str, bytes]]:
    init = prog(lddw(2, PATTERN), stx(DW, 10, 2, -8))
    loads = {B: (-8, -7, -1), H: (-8, -6, -2), W: (-8, -4), DW: (-8,)}
    names = {B: "b", H: "h", W: "w", DW: "dw"}
    for size, offs in loads.items():
        for o in offs:
            yield f"stack.ldx{names[size]}.{o}", prog(init, ldx(size, 0, 10, o), EXIT)
            if size != DW:  # sign-extending loads (ISA v4)
                sx = ldx(size, 0, 10, o, op.MODE_MEMSX)
                yield f"stack.ldxs{names[size]}.{o}", prog(init, sx, EXIT)
    for size, offs in loads.items():
        for o in offs:
            n = names[size]
            yield f"stack.st{n}.{o}", prog(init, st(size, 10, o, -2), ldx(DW, 0, 10, -8), EXIT)
            yield (
                f"stack.stx{n}.{o}",
                prog(
                    init, lddw(3, 0x0102030405060708), stx(size, 10, 3, o), ldx(DW, 0, 10, -8), EXIT
                ),
            )
    # two slots, the second read back through a computed pointer
    yield (
        "stack.two_slots",
        prog(
            init,
            mov(3, 77),
            stx(DW, 10, 3, -16),
            movx(4, 10),
            alu(A64, op.OP_ADD, 4, -16),
            ldx(DW, 0, 4, 0),
            ldx(DW, 5, 10, -8),
            alux(A64, op.OP_XOR, 0, 5),
            EXIT,
        ),
    )


def _lddw_cases() -> Iterable[tuple[str, bytes]]:
    for v in (0xDEADBEEFCAFEBABE, 0x00000001FFFFFFFF, 0xFFFFFFFF00000000, 1):
        yield f"lddw.{v:#x}", prog(lddw(0, v), EXIT)


ATOMICS = {
    "add": op.ATOMIC_ADD, "or": op.ATOMIC_OR, "and": op.ATOMIC_AND, "xor": op.ATOMIC_XOR,
    "fetch_add": op.ATOMIC_ADD | op.ATOMIC_FETCH, "fetch_or": op.ATOMIC_OR | op.ATOMIC_FETCH,
    "fetch_and": op.ATOMIC_AND | op.ATOMIC_FETCH, "fetch_xor": op.ATOMIC_XOR | op.ATOMIC_FETCH,
    "xchg": op.ATOMIC_XCHG,
}  # fmt: skip
ATOMIC_MEM = 0x80000000FFFF0001
ATOMIC_SRC = 0x00000001F0F0FFFF


def _atomic_cases() -> Iterable[tuple[str, bytes]]:
    """Atomics on a stack slot; ``mem`` returns the slot, ``old`` the fetched value."""
    for size, w in ((W, "w"), (DW, "dw")):
        init = prog(lddw(2, ATOMIC_MEM), stx(size, 10, 2, -8), lddw(3, ATOMIC_SRC))
        for name, aop in ATOMICS.items():
            a = atomic(size, 10, 3, -8, aop)
            yield f"atomic.{w}.{name}.mem", prog(init, a, ldx(size, 0, 10, -8), EXIT)
            if aop & op.ATOMIC_FETCH:
                yield f"atomic.{w}.{name}.old", prog(init, a, movx(0, 3), EXIT)
        # cmpxchg: compares r0 with the slot, stores src on a match, r0 = old value
        for case, expect in (("hit", ATOMIC_MEM), ("miss", ATOMIC_MEM ^ 1)):
            a = atomic(size, 10, 3, -8, op.ATOMIC_CMPXCHG)
            yield (
                f"atomic.{w}.cmpxchg.{case}.mem",
                prog(init, lddw(0, expect), a, ldx(size, 0, 10, -8), EXIT),
            )
            yield f"atomic.{w}.cmpxchg.{case}.old", prog(init, lddw(0, expect), a, EXIT)


def _call_cases() -> Iterable[tuple[str, bytes]]:
    """bpf-to-bpf calls (src = 1): arguments, r6-r9 preserved, own stack frames."""
    sub = prog(movx(0, 1), alux(A64, op.OP_MUL, 0, 2), alux(A64, op.OP_SUB, 0, 3),
               alux(A64, op.OP_XOR, 0, 4), alux(A64, op.OP_ADD, 0, 5), EXIT)  # fmt: skip
    args = prog(mov(1, 10), mov(2, -20), mov(3, 3), lddw(4, 0x1234567890), mov(5, 5))
    yield "call.args", prog(args, call_local(1), EXIT, sub)

    clobber = prog(mov(6, 0), mov(7, 0), mov(8, 0), mov(9, 0), mov(0, 1), EXIT)
    keep = prog(mov(6, 0x11), mov(7, 0x2200), mov(8, 0x330000), lddw(9, 0x44 << 40))
    fold = prog(alux(A64, op.OP_ADD, 0, 6), alux(A64, op.OP_ADD, 0, 7),
                alux(A64, op.OP_ADD, 0, 8), alux(A64, op.OP_ADD, 0, 9))  # fmt: skip
    yield "call.callee_saved", prog(keep, call_local(len(fold) // 8 + 1), fold, EXIT, clobber)

    # the callee's fp-8 is its own slot, not the caller's
    own = prog(mov(2, 99), stx(DW, 10, 2, -8), ldx(DW, 0, 10, -8), EXIT)
    after = prog(ldx(DW, 2, 10, -8), alu(A64, op.OP_LSH, 2, 8), alux(A64, op.OP_ADD, 0, 2))
    yield (
        "call.own_stack",
        prog(mov(2, 7), stx(DW, 10, 2, -8), call_local(len(after) // 8 + 1), after, EXIT, own),
    )

    # a pointer to the caller's stack passed down and written through
    write = prog(lddw(2, 0xABCDEF0123), stx(DW, 1, 2, 0), mov(0, 0), EXIT)
    yield (
        "call.stack_pointer_arg",
        prog(
            st(DW, 10, -8, 1),
            movx(1, 10),
            alu(A64, op.OP_ADD, 1, -8),
            call_local(2),
            ldx(DW, 0, 10, -8),
            EXIT,
            write,
        ),
    )

    # main -> f -> g, each adding its own term
    g = prog(movx(0, 1), alu(A64, op.OP_MUL, 0, 3), EXIT)
    f = prog(movx(6, 1), alu(A64, op.OP_ADD, 1, 1), call_local(2), alux(A64, op.OP_ADD, 0, 6), EXIT)
    yield "call.nested", prog(mov(1, 40), call_local(2), alu(A64, op.OP_ADD, 0, 1000), EXIT, f, g)


def cases() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for gen in (
        _alu_cases,
        _div_mod_by_zero_cases,
        _byteswap_cases,
        _jump_cases,
        _stack_cases,
        _lddw_cases,
        _atomic_cases,
        _call_cases,
    ):
        out.extend(gen())
    names = [n for n, _ in out]
    assert len(names) == len(set(names)), "duplicate case names"
    return out


CASES = cases()


def _kernel_retval(code: bytes) -> int:
    try:
        with kernel.KernelProgram(code) as kp:
            retval, _, _ = kp.test_run()
    except KernelError as e:
        pytest.fail(f"the kernel refused the program, so it cannot be the oracle:\n{e}")
    return retval


@pytest.mark.parametrize("half", ["lo", "hi"])
@pytest.mark.parametrize(("name", "body"), CASES, ids=[n for n, _ in CASES])
def test_engines_agree_with_kernel(name: str, body: bytes, half: str) -> None:
    code = body if half == "lo" else high_half(body)
    want = _kernel_retval(code)
    got = {e: bpftime.Program(code, engine=e).run() & 0xFFFFFFFF for e in ENGINES}
    wrong = {e: v for e, v in got.items() if v != want}
    assert not wrong, f"{name} ({half} half of r0): kernel returned {want:#x}, " + ", ".join(
        f"{e} returned {v:#x}" for e, v in wrong.items()
    )


# --- the wrapper itself ---------------------------------------------------


def test_test_run_attr_matches_linux_bpf_h() -> None:
    attr = kernel._TestRunAttr
    assert (attr.prog_fd.offset, attr.data_in.offset, attr.repeat.offset) == (0, 16, 32)
    assert (attr.duration.offset, attr.ctx_in.offset, attr.batch_size.offset) == (36, 48, 72)
    assert (attr.data_out.offset, attr.flags.offset) == (24, 64)
    assert ctypes.sizeof(attr) == 80


def test_retval_is_low_32_bits_of_r0() -> None:
    with kernel.KernelProgram(prog(lddw(0, 0x1122334455667788), EXIT)) as kp:
        retval, duration, data_out = kp.test_run(bytes(64), repeat=10)
    assert retval == 0x55667788
    assert duration >= 0
    assert data_out == bytes(64)


def test_verifier_rejection_raises_kernel_error_with_log() -> None:
    # r0 is read before it is written
    with pytest.raises(KernelError) as info:
        kernel.KernelProgram(prog(alu(A64, op.OP_ADD, 0, 1), EXIT))
    assert info.value.errno == errno.EACCES
    assert "R0 !read_ok" in str(info.value)


def test_closed_program_refuses_to_run() -> None:
    kp = kernel.KernelProgram(prog(mov(0, 0), EXIT))
    kp.close()
    kp.close()
    assert kp.fd == -1
    with pytest.raises(KernelError, match="closed"):
        kp.test_run()


def test_available_reports_success() -> None:
    assert kernel.available() == (True, "bpf() works")


@pytest.mark.root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_available_explains_missing_capability() -> None:
    script = "from bpftime import kernel; print(kernel.available())"
    out = subprocess.run(
        ["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout
    assert out.startswith("(False, 'bpf() refused with EPERM as euid"), out
    assert "without CAP_BPF" in out
