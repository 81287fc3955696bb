"""Each instruction class on both engines, with expected values worked out by hand.

Programs are encoded with tests/bpfenc.py (raw struct packing), not with the
assembler, so these tests do not depend on it.
"""

from __future__ import annotations

import pytest
from bpfenc import ins, lddw

import bpftime
from bpftime import opcodes as o

ALU64, ALU, JMP, JMP32 = o.CLS_ALU64, o.CLS_ALU, o.CLS_JMP, o.CLS_JMP32
K, X = o.SRC_K, o.SRC_X
EXIT = ins(JMP | o.EXIT)
M = 0xFFFFFFFFFFFFFFFF


def mov(d: int, imm: int) -> bytes:
    return ins(ALU64 | K | o.OP_MOV, d, imm=imm)


def mov32(d: int, imm: int) -> bytes:
    return ins(ALU | K | o.OP_MOV, d, imm=imm)


def movx(d: int, s: int) -> bytes:
    return ins(ALU64 | X | o.OP_MOV, d, s)


def k64(op: int, d: int, imm: int, off: int = 0) -> bytes:
    return ins(ALU64 | K | op, d, off=off, imm=imm)


def x64(op: int, d: int, s: int, off: int = 0) -> bytes:
    return ins(ALU64 | X | op, d, s, off=off)


def k32(op: int, d: int, imm: int, off: int = 0) -> bytes:
    return ins(ALU | K | op, d, off=off, imm=imm)


def x32(op: int, d: int, s: int, off: int = 0) -> bytes:
    return ins(ALU | X | op, d, s, off=off)


INT64_MIN = 0x8000000000000000
BIG = 0x1122334455667788

# (name, program, expected r0)
ALU_CASES = [
    ("add", mov(0, 5) + k64(o.OP_ADD, 0, 7), 12),
    ("add-negative-imm", mov(0, 1) + k64(o.OP_ADD, 0, -2), M),
    ("sub-wraps", mov(0, 3) + k64(o.OP_SUB, 0, 5), 0xFFFFFFFFFFFFFFFE),
    ("mul", mov(0, 0x10000) + k64(o.OP_MUL, 0, 0x10000), 0x100000000),
    ("div", mov(0, 100) + k64(o.OP_DIV, 0, 7), 14),
    ("div-by-zero-imm", mov(0, 100) + k64(o.OP_DIV, 0, 0), 0),
    ("div-by-zero-reg", mov(0, 100) + mov(1, 0) + x64(o.OP_DIV, 0, 1), 0),
    ("div-imm-sign-extended", mov(0, 100) + k64(o.OP_DIV, 0, -1), 0),
    ("mod", mov(0, 100) + k64(o.OP_MOD, 0, 7), 2),
    ("mod-by-zero", mov(0, 100) + mov(1, 0) + x64(o.OP_MOD, 0, 1), 100),
    ("sdiv", mov(0, -100) + k64(o.OP_DIV, 0, 7, off=1), 0xFFFFFFFFFFFFFFF2),
    ("sdiv-min-by-minus1", lddw(0, INT64_MIN) + mov(1, -1) + x64(o.OP_DIV, 0, 1, off=1), INT64_MIN),
    ("sdiv-by-zero", mov(0, -100) + k64(o.OP_DIV, 0, 0, off=1), 0),
    ("smod", mov(0, -100) + k64(o.OP_MOD, 0, 7, off=1), 0xFFFFFFFFFFFFFFFE),
    ("smod-by-zero", mov(0, -100) + k64(o.OP_MOD, 0, 0, off=1), 0xFFFFFFFFFFFFFF9C),
    ("smod-min-by-minus1", lddw(0, INT64_MIN) + k64(o.OP_MOD, 0, -1, off=1), 0),
    ("or", mov(0, 0xF0) + k64(o.OP_OR, 0, 0x0F), 0xFF),
    ("and", mov(0, 0xFF) + k64(o.OP_AND, 0, 0x0F), 0x0F),
    ("xor", mov(0, 0xFF) + mov(1, 0x0F) + x64(o.OP_XOR, 0, 1), 0xF0),
    ("lsh", mov(0, 1) + k64(o.OP_LSH, 0, 63), INT64_MIN),
    ("lsh-amount-masked", mov(0, 1) + mov(1, 65) + x64(o.OP_LSH, 0, 1), 2),
    ("rsh-logical", lddw(0, INT64_MIN) + k64(o.OP_RSH, 0, 63), 1),
    ("arsh", lddw(0, INT64_MIN) + k64(o.OP_ARSH, 0, 63), M),
    ("arsh-amount-masked", mov(0, -256) + mov(1, 68) + x64(o.OP_ARSH, 0, 1), 0xFFFFFFFFFFFFFFF0),
    ("neg", mov(0, 5) + ins(ALU64 | o.OP_NEG, 0), 0xFFFFFFFFFFFFFFFB),
    ("mov-imm-sign-extended", mov(0, -1), M),
    ("movsx8", mov(1, 0x80) + x64(o.OP_MOV, 0, 1, off=8), 0xFFFFFFFFFFFFFF80),
    ("movsx16-positive", mov(1, 0x7FFF) + x64(o.OP_MOV, 0, 1, off=16), 0x7FFF),
    ("movsx16", mov(1, 0x18001) + x64(o.OP_MOV, 0, 1, off=16), 0xFFFFFFFFFFFF8001),
    ("movsx32", lddw(1, 0x80000000) + x64(o.OP_MOV, 0, 1, off=32), 0xFFFFFFFF80000000),
    # 32-bit ALU: operands are the low halves, results zero-extended
    ("add32-wraps", mov32(0, -1) + k32(o.OP_ADD, 0, 2), 1),
    ("mov32-zero-extends", mov(0, -1) + x32(o.OP_MOV, 0, 0), 0xFFFFFFFF),
    ("add32-clears-upper", lddw(0, 0x100000001) + k32(o.OP_ADD, 0, 0), 1),
    ("sub32", mov(0, 0) + k32(o.OP_SUB, 0, 1), 0xFFFFFFFF),
    ("mul32", mov32(0, 0x10000) + k32(o.OP_MUL, 0, 0x10000), 0),
    ("div32-ignores-upper", lddw(0, 0x100000064) + k32(o.OP_DIV, 0, 10), 10),
    ("div32-by-zero", mov(0, 7) + k32(o.OP_DIV, 0, 0), 0),
    ("mod32-by-zero-truncates", lddw(0, 0x100000064) + k32(o.OP_MOD, 0, 0), 0x64),
    ("mod32", mov(0, 100) + mov(1, 7) + x32(o.OP_MOD, 0, 1), 2),
    ("sdiv32", mov32(0, -13) + k32(o.OP_DIV, 0, 4, off=1), 0xFFFFFFFD),
    ("sdiv32-min-by-minus1", mov32(0, -0x80000000) + k32(o.OP_DIV, 0, -1, off=1), 0x80000000),
    ("sdiv32-by-zero", mov32(0, -13) + k32(o.OP_DIV, 0, 0, off=1), 0),
    ("smod32", mov32(0, -13) + k32(o.OP_MOD, 0, 4, off=1), 0xFFFFFFFF),
    ("smod32-by-zero", lddw(0, 0xFFFFFFFFFFFFFFF3) + k32(o.OP_MOD, 0, 0, off=1), 0xFFFFFFF3),
    ("smod32-min-by-minus1", mov32(0, -0x80000000) + mov(1, -1) + x32(o.OP_MOD, 0, 1, off=1), 0),
    ("lsh32-amount-masked", mov(0, 1) + mov(1, 33) + x32(o.OP_LSH, 0, 1), 2),
    ("rsh32", lddw(0, 0xFFFFFFFF80000000) + k32(o.OP_RSH, 0, 31), 1),
    ("arsh32", mov32(0, -0x80000000) + k32(o.OP_ARSH, 0, 31), 0xFFFFFFFF),
    ("neg32", mov(0, 1) + ins(ALU | o.OP_NEG, 0), 0xFFFFFFFF),
    ("movsx832", mov(1, 0x80) + x32(o.OP_MOV, 0, 1, off=8), 0xFFFFFF80),
    ("movsx1632", mov(1, 0x8000) + x32(o.OP_MOV, 0, 1, off=16), 0xFFFF8000),
    ("or32-clears-upper", lddw(0, 0xFFFFFFFF00000000) + k32(o.OP_OR, 0, 1), 1),
    ("and32", mov(0, -1) + k32(o.OP_AND, 0, 0xF0F0), 0xF0F0),
    ("xor32", mov(0, -1) + mov(1, 0xFF) + x32(o.OP_XOR, 0, 1), 0xFFFFFF00),
    # byte order (host is little-endian)
    ("le16", lddw(0, BIG) + ins(ALU | o.OP_END | K, 0, imm=16), 0x7788),
    ("le32", lddw(0, BIG) + ins(ALU | o.OP_END | K, 0, imm=32), 0x55667788),
    ("le64", lddw(0, BIG) + ins(ALU | o.OP_END | K, 0, imm=64), BIG),
    ("be16", lddw(0, BIG) + ins(ALU | o.OP_END | X, 0, imm=16), 0x8877),
    ("be32", lddw(0, BIG) + ins(ALU | o.OP_END | X, 0, imm=32), 0x88776655),
    ("be64", lddw(0, BIG) + ins(ALU | o.OP_END | X, 0, imm=64), 0x8877665544332211),
    ("bswap16", lddw(0, BIG) + ins(ALU64 | o.OP_END | K, 0, imm=16), 0x8877),
    ("bswap32", lddw(0, BIG) + ins(ALU64 | o.OP_END | K, 0, imm=32), 0x88776655),
    ("bswap64", lddw(0, BIG) + ins(ALU64 | o.OP_END | K, 0, imm=64), 0x8877665544332211),
    ("lddw", lddw(0, BIG), BIG),
]


@pytest.mark.parametrize("name,code,expected", ALU_CASES, ids=[c[0] for c in ALU_CASES])
def test_alu(engine: str, name: str, code: bytes, expected: int) -> None:
    assert bpftime.Program(code + EXIT, engine=engine).run() == expected


def branch(jop: int, a: int, b: int, *, reg: bool, cls: int = JMP) -> bytes:
    """r0 = 1 if (r1 <jop> b) else 0, with r1 = a (64-bit via lddw)."""
    body = lddw(1, a) + mov(0, 1)
    if reg:
        body = lddw(2, b) + body + ins(cls | X | jop, 1, 2, off=1)
    else:
        body += ins(cls | K | jop, 1, off=1, imm=b)
    return body + mov(0, 0) + EXIT


JMP_CASES = [
    ("jeq-taken", o.JEQ, 5, 5, 1),
    ("jeq-not", o.JEQ, 5, 6, 0),
    ("jne", o.JNE, 5, 6, 1),
    ("jgt-unsigned", o.JGT, M, 1, 1),
    ("jsgt-signed", o.JSGT, M, 1, 0),
    ("jge-equal", o.JGE, 5, 5, 1),
    ("jsge", o.JSGE, 5, -1, 1),
    ("jlt-unsigned", o.JLT, 1, -1, 1),
    ("jslt-signed", o.JSLT, M, 1, 1),
    ("jle", o.JLE, 6, 5, 0),
    ("jsle", o.JSLE, M, -1, 1),
    ("jset-taken", o.JSET, 6, 2, 1),
    ("jset-not", o.JSET, 6, 1, 0),
]


@pytest.mark.parametrize("name,jop,a,b,taken", JMP_CASES, ids=[c[0] for c in JMP_CASES])
@pytest.mark.parametrize("reg", [False, True], ids=["imm", "reg"])
def test_jmp(engine: str, name: str, jop: int, a: int, b: int, taken: int, reg: bool) -> None:
    assert bpftime.Program(branch(jop, a, b, reg=reg), engine=engine).run() == taken


JMP32_CASES = [
    # (name, op, r1, operand, taken with JMP32, taken with JMP)
    ("jeq32-ignores-upper", o.JEQ, 0x100000005, 5, 1, 0),
    ("jsgt32-sign-of-low-half", o.JSGT, 0x80000000, 0, 0, 1),
    ("jgt32-unsigned", o.JGT, 0x1_00000000, 1, 0, 1),
    ("jslt32", o.JSLT, 0xFFFFFFFF, 0, 1, 0),
    ("jset32", o.JSET, 0x1_00000000, 0x1_00000000, 0, 1),
    ("jle32", o.JLE, 0x2_00000003, 3, 1, 0),
]


@pytest.mark.parametrize("name,jop,a,b,t32,t64", JMP32_CASES, ids=[c[0] for c in JMP32_CASES])
def test_jmp32(engine: str, name: str, jop: int, a: int, b: int, t32: int, t64: int) -> None:
    assert bpftime.Program(branch(jop, a, b, reg=True, cls=JMP32), engine=engine).run() == t32
    assert bpftime.Program(branch(jop, a, b, reg=True, cls=JMP), engine=engine).run() == t64


def test_jmp_imm_is_sign_extended(engine: str) -> None:
    # jeq r1, -1 compares against 0xffff_ffff_ffff_ffff in 64-bit and 0xffff_ffff in 32-bit
    assert bpftime.Program(branch(o.JEQ, M, -1, reg=False), engine=engine).run() == 1
    assert (
        bpftime.Program(branch(o.JEQ, 0xFFFFFFFF, -1, reg=False, cls=JMP32), engine=engine).run()
        == 1
    )


def test_ja_and_gotol(engine: str) -> None:
    ja = mov(0, 1) + ins(JMP | o.JA, off=1) + mov(0, 2) + EXIT
    gotol = mov(0, 1) + ins(JMP32 | o.JA, imm=1) + mov(0, 2) + EXIT
    back = (
        mov(0, 0) + ins(JMP | o.JA, off=1) + EXIT + k64(o.OP_ADD, 0, 3) + ins(JMP32 | o.JA, imm=-3)
    )
    assert bpftime.Program(ja, engine=engine).run() == 1
    assert bpftime.Program(gotol, engine=engine).run() == 1
    assert bpftime.Program(back, engine=engine).run() == 3


MEM = bytes(range(1, 17))

LOAD_CASES = [
    ("ldxb", ins(o.CLS_LDX | o.MODE_MEM | o.SZ_B, 0, 1, off=0), 0x01),
    ("ldxh", ins(o.CLS_LDX | o.MODE_MEM | o.SZ_H, 0, 1, off=2), 0x0403),
    ("ldxw", ins(o.CLS_LDX | o.MODE_MEM | o.SZ_W, 0, 1, off=4), 0x08070605),
    ("ldxdw", ins(o.CLS_LDX | o.MODE_MEM | o.SZ_DW, 0, 1, off=8), 0x100F0E0D0C0B0A09),
    (
        "ldx-negative-offset",
        k64(o.OP_ADD, 1, 4) + ins(o.CLS_LDX | o.MODE_MEM | o.SZ_B, 0, 1, off=-1),
        4,
    ),
]


@pytest.mark.parametrize("name,code,expected", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_loads(engine: str, name: str, code: bytes, expected: int) -> None:
    assert bpftime.Program(code + EXIT, engine=engine).run(MEM) == expected


SX_CASES = [
    ("ldxsb", o.SZ_B, bytes([0x80]), 0xFFFFFFFFFFFFFF80),
    ("ldxsb-positive", o.SZ_B, bytes([0x7F]), 0x7F),
    ("ldxsh", o.SZ_H, bytes([0x01, 0x80]), 0xFFFFFFFFFFFF8001),
    ("ldxsw", o.SZ_W, bytes([0, 0, 0, 0x80]), 0xFFFFFFFF80000000),
]


@pytest.mark.parametrize("name,size,mem,expected", SX_CASES, ids=[c[0] for c in SX_CASES])
def test_sign_extending_loads(engine: str, name: str, size: int, mem: bytes, expected: int) -> None:
    code = ins(o.CLS_LDX | o.MODE_MEMSX | size, 0, 1) + EXIT
    assert bpftime.Program(code, engine=engine).run(mem) == expected


def st(size: int, off: int, imm: int) -> bytes:
    return ins(o.CLS_ST | o.MODE_MEM | size, 10, off=off, imm=imm)


def stx(size: int, dst: int, src: int, off: int) -> bytes:
    return ins(o.CLS_STX | o.MODE_MEM | size, dst, src, off=off)


def ldx(size: int, dst: int, src: int, off: int) -> bytes:
    return ins(o.CLS_LDX | o.MODE_MEM | size, dst, src, off=off)


STORE_CASES = [
    ("stdw-imm-sign-extended", st(o.SZ_DW, -8, -1) + ldx(o.SZ_DW, 0, 10, -8), M),
    ("stw", st(o.SZ_DW, -8, 0) + st(o.SZ_W, -8, 0x11223344) + ldx(o.SZ_DW, 0, 10, -8), 0x11223344),
    ("sth", st(o.SZ_DW, -8, 0) + st(o.SZ_H, -6, 0x7788) + ldx(o.SZ_DW, 0, 10, -8), 0x77880000),
    ("stb", st(o.SZ_DW, -8, 0) + st(o.SZ_B, -1, 0xAB) + ldx(o.SZ_DW, 0, 10, -8), 0xAB << 56),
    ("stxdw", lddw(1, BIG) + stx(o.SZ_DW, 10, 1, -16) + ldx(o.SZ_DW, 0, 10, -16), BIG),
    ("stxw-truncates", lddw(1, BIG) + st(o.SZ_DW, -8, 0) + stx(o.SZ_W, 10, 1, -8)
     + ldx(o.SZ_DW, 0, 10, -8), 0x55667788),
    ("stxh", lddw(1, BIG) + stx(o.SZ_H, 10, 1, -2) + ldx(o.SZ_H, 0, 10, -2), 0x7788),
    ("stxb", lddw(1, BIG) + stx(o.SZ_B, 10, 1, -512) + ldx(o.SZ_B, 0, 10, -512), 0x88),
]  # fmt: skip


@pytest.mark.parametrize("name,code,expected", STORE_CASES, ids=[c[0] for c in STORE_CASES])
def test_stores(engine: str, name: str, code: bytes, expected: int) -> None:
    assert bpftime.Program(code + EXIT, engine=engine).run() == expected


def test_store_to_input_memory_shows_in_data_out(engine: str) -> None:
    code = ins(o.CLS_ST | o.MODE_MEM | o.SZ_B, 1, off=0, imm=0xAA) + mov(0, 0) + EXIT
    res = bpftime.Program(code, engine=engine).test_run(b"\x00\x01\x02", repeat=1)
    assert res.data_out == b"\xaa\x01\x02"


def test_run_copies_input(engine: str) -> None:
    code = ins(o.CLS_ST | o.MODE_MEM | o.SZ_B, 1, off=0, imm=0xAA) + mov(0, 0) + EXIT
    buf = bytearray(b"\x00\x01")
    bpftime.Program(code, engine=engine).run(buf)
    assert buf == bytearray(b"\x00\x01")


def atomic(size: int, op: int, src: int, off: int = -8) -> bytes:
    return ins(o.CLS_STX | o.MODE_ATOMIC | size, 10, src, off=off, imm=op)


F = o.ATOMIC_FETCH
DW, W = o.SZ_DW, o.SZ_W
INIT = st(DW, -8, 0b1100)  # mem = 12
LOAD_MEM = ldx(DW, 0, 10, -8)

ATOMIC_CASES = [
    ("add", INIT + mov(1, 5) + atomic(DW, o.ATOMIC_ADD, 1) + LOAD_MEM, 17),
    ("fetch-add-old", INIT + mov(1, 5) + atomic(DW, o.ATOMIC_ADD | F, 1) + movx(0, 1), 12),
    ("fetch-add-mem", INIT + mov(1, 5) + atomic(DW, o.ATOMIC_ADD | F, 1) + LOAD_MEM, 17),
    ("or", INIT + mov(1, 0b0011) + atomic(DW, o.ATOMIC_OR, 1) + LOAD_MEM, 0b1111),
    ("fetch-or", INIT + mov(1, 0b0011) + atomic(DW, o.ATOMIC_OR | F, 1) + movx(0, 1), 12),
    ("and", INIT + mov(1, 0b1010) + atomic(DW, o.ATOMIC_AND, 1) + LOAD_MEM, 0b1000),
    ("fetch-and", INIT + mov(1, 0b1010) + atomic(DW, o.ATOMIC_AND | F, 1) + movx(0, 1), 12),
    ("xor", INIT + mov(1, 0b1010) + atomic(DW, o.ATOMIC_XOR, 1) + LOAD_MEM, 0b0110),
    ("fetch-xor", INIT + mov(1, 0b1010) + atomic(DW, o.ATOMIC_XOR | F, 1) + movx(0, 1), 12),
    ("add-no-fetch-keeps-src", INIT + mov(1, 5) + atomic(DW, o.ATOMIC_ADD, 1) + movx(0, 1), 5),
    ("xchg-old", INIT + mov(1, 99) + atomic(DW, o.ATOMIC_XCHG, 1) + movx(0, 1), 12),
    ("xchg-mem", INIT + mov(1, 99) + atomic(DW, o.ATOMIC_XCHG, 1) + LOAD_MEM, 99),
    ("cmpxchg-hit-r0", INIT + mov(0, 12) + mov(1, 20) + atomic(DW, o.ATOMIC_CMPXCHG, 1), 12),
    ("cmpxchg-hit-mem", INIT + mov(0, 12) + mov(1, 20) + atomic(DW, o.ATOMIC_CMPXCHG, 1)
     + LOAD_MEM, 20),
    ("cmpxchg-miss-r0", INIT + mov(0, 11) + mov(1, 20) + atomic(DW, o.ATOMIC_CMPXCHG, 1), 12),
    ("cmpxchg-miss-mem", INIT + mov(0, 11) + mov(1, 20) + atomic(DW, o.ATOMIC_CMPXCHG, 1)
     + LOAD_MEM, 12),
    # 32-bit: only the addressed word changes; fetched values are zero-extended
    ("add32-no-carry", st(W, -8, -1) + st(W, -4, 0x12345678) + mov(1, 1)
     + atomic(W, o.ATOMIC_ADD, 1) + LOAD_MEM, 0x1234567800000000),
    ("fetch-add32-zero-extends", st(W, -8, -1) + lddw(1, 0xFFFFFFFF00000001)
     + atomic(W, o.ATOMIC_ADD | F, 1) + movx(0, 1), 0xFFFFFFFF),
    ("xchg32", st(W, -8, 7) + lddw(1, 0xFFFFFFFF00000009) + atomic(W, o.ATOMIC_XCHG, 1)
     + ldx(W, 0, 10, -8), 9),
    ("cmpxchg32-compares-low-half", st(W, -8, 10) + lddw(0, 0x10000000A) + mov(1, 20)
     + atomic(W, o.ATOMIC_CMPXCHG, 1) + ldx(W, 2, 10, -8) + k64(o.OP_LSH, 0, 32)
     + x64(o.OP_OR, 0, 2), (10 << 32) | 20),
    ("or32", st(W, -8, 1) + mov(1, 6) + atomic(W, o.ATOMIC_OR, 1) + ldx(W, 0, 10, -8), 7),
    ("fetch-and32", st(W, -8, 0xFF) + mov(1, 0x0F) + atomic(W, o.ATOMIC_AND | F, 1)
     + movx(0, 1), 0xFF),
    ("xor32", st(W, -8, 0xFF) + mov(1, 0x0F) + atomic(W, o.ATOMIC_XOR, 1) + ldx(W, 0, 10, -8), 0xF0),
]  # fmt: skip


@pytest.mark.parametrize("name,code,expected", ATOMIC_CASES, ids=[c[0] for c in ATOMIC_CASES])
def test_atomics(engine: str, name: str, code: bytes, expected: int) -> None:
    assert bpftime.Program(code + EXIT, engine=engine).run() == expected


CALL = ins(JMP | o.CALL)


def call_helper(hid: int) -> bytes:
    return ins(JMP | o.CALL, imm=hid)


def call_local(rel: int) -> bytes:
    return ins(JMP | o.CALL, src=o.PSEUDO_CALL, imm=rel)


def test_python_helper(engine: str) -> None:
    code = mov(1, 3) + mov(2, 4) + call_helper(1) + EXIT
    p = bpftime.Program(code, engine=engine, helpers={1: lambda a, b: a + b})
    assert p.run() == 7


def test_helper_gets_five_args_and_registers_survive(engine: str) -> None:
    seen: list[tuple[int, ...]] = []

    def h(*args: int) -> int:
        seen.append(args)
        return 0

    code = (mov(1, 1) + mov(2, 2) + mov(3, 3) + mov(4, 4) + mov(5, 5) + mov(6, 60) + call_helper(7)
            + movx(0, 6) + x64(o.OP_ADD, 0, 1) + x64(o.OP_ADD, 0, 5) + EXIT)  # fmt: skip
    assert bpftime.Program(code, engine=engine, helpers={7: h}).run() == 66
    assert seen == [(1, 2, 3, 4, 5)]


def test_helper_exception_becomes_execution_error(engine: str) -> None:
    def boom() -> int:
        raise ValueError("no luck")

    p = bpftime.Program(mov(0, 0) + call_helper(2) + EXIT, engine=engine, helpers={2: boom})
    with pytest.raises(
        bpftime.ExecutionError, match=r"insn 1: helper 2 raised ValueError: no luck"
    ):
        p.run()


def test_helper_must_return_int(engine: str) -> None:
    p = bpftime.Program(call_helper(2) + EXIT, engine=engine, helpers={2: lambda: None})
    with pytest.raises(bpftime.ExecutionError, match="must return an int"):
        p.run()


def test_native_unwind_helper_stops_program(engine: str) -> None:
    code = mov(1, 0) + call_helper(5) + mov(0, 2) + EXIT
    assert bpftime.Program(code, engine=engine, helpers=bpftime.ubpf_test_helpers()).run() == 0
    code = mov(1, 9) + call_helper(5) + mov(0, 2) + EXIT
    assert bpftime.Program(code, engine=engine, helpers=bpftime.ubpf_test_helpers()).run() == 2


def test_local_call_args_return_and_callee_saved(engine: str) -> None:
    code = (
        mov(6, 9)
        + mov(1, 5)
        + call_local(2)
        + x64(o.OP_ADD, 0, 6)
        + EXIT
        # sub: r0 = r1 + 1, clobber r6
        + movx(0, 1)
        + k64(o.OP_ADD, 0, 1)
        + mov(6, 100)
        + EXIT
    )
    assert bpftime.Program(code, engine=engine).run() == 6 + 9


def test_local_call_has_own_stack(engine: str) -> None:
    code = (
        st(o.SZ_W, -4, 0x55)
        + call_local(2)
        + ldx(o.SZ_W, 0, 10, -4)
        + EXIT
        + st(o.SZ_W, -4, 0x66)
        + EXIT
    )
    assert bpftime.Program(code, engine=engine).run() == 0x55


def test_callee_writes_through_pointer_to_caller_stack(engine: str) -> None:
    code = (
        movx(1, 10)
        + k64(o.OP_ADD, 1, -8)
        + call_local(2)
        + ldx(o.SZ_DW, 0, 10, -8)
        + EXIT
        + ins(o.CLS_ST | o.MODE_MEM | o.SZ_DW, 1, imm=42)
        + EXIT
    )
    assert bpftime.Program(code, engine=engine).run() == 42


def nested_calls(depth: int) -> bytes:
    """main calls f1, f1 calls f2, ... f(depth-1); each adds 1 to r0 on the way back."""
    code = mov(0, 0) + call_local(1) + EXIT
    for level in range(1, depth):
        last = level == depth - 1
        code += mov(0, 1) if last else call_local(2) + k64(o.OP_ADD, 0, 1)
        code += EXIT
    return code


def test_eight_and_more_frames(engine: str) -> None:
    assert bpftime.Program(nested_calls(8), engine=engine).run() == 7
    assert bpftime.Program(nested_calls(16), engine=engine).run() == 15


def test_too_deep_is_an_error(engine: str) -> None:
    with pytest.raises(bpftime.ExecutionError, match="call depth exceeds 16 frames"):
        bpftime.Program(nested_calls(17), engine=engine).run()
    recursive = call_local(-1) + EXIT
    with pytest.raises(bpftime.ExecutionError, match="call depth"):
        bpftime.Program(recursive + EXIT, engine=engine).run()


def test_callx_through_function_pointer(engine: str) -> None:
    code = (
        lddw(2, 4, src=o.PSEUDO_FUNC)
        + mov(1, 20)
        + ins(JMP | X | o.CALL, 2)
        + EXIT
        + movx(0, 1)
        + k64(o.OP_MUL, 0, 2)
        + EXIT
    )
    assert bpftime.Program(code, engine=engine).run() == 40


def test_callx_to_non_function_is_an_error(engine: str) -> None:
    code = mov(2, 1234) + ins(JMP | X | o.CALL, 2) + EXIT
    with pytest.raises(bpftime.ExecutionError, match=r"insn 1: callx target 0x4d2"):
        bpftime.Program(code, engine=engine).run()


def test_map_pseudo_lddw_resolved_through_bindings(engine: str) -> None:
    import ctypes

    value = (ctypes.c_uint64 * 2)(7, 11)
    binding = bpftime.MapBinding(handle=0xABC, value_addr=ctypes.addressof(value), value_size=16)
    code = (
        lddw(1, 3, src=o.PSEUDO_MAP_FD)
        + lddw(2, 3 | (8 << 32), src=o.PSEUDO_MAP_VALUE)
        + ldx(o.SZ_DW, 0, 2, 0) + x64(o.OP_ADD, 0, 1)
        + ins(o.CLS_ST | o.MODE_MEM | o.SZ_DW, 2, off=-8, imm=5)
        + EXIT
    )  # fmt: skip
    assert bpftime.Program(code, engine=engine, maps={3: binding}).run() == 11 + 0xABC
    assert list(value) == [5, 11]


def test_repeat_and_retval(engine: str) -> None:
    code = mov(0, 0) + ins(o.CLS_LDX | o.MODE_MEM | o.SZ_B, 0, 1) + EXIT
    res = bpftime.Program(code, engine=engine).test_run(b"\x2a", repeat=1000)
    assert res.retval == 42
    assert res.repeat == 1000
    assert res.duration_ns > 0


PKT = bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66])
LD = o.CLS_LD

LEGACY_CASES = [
    ("abs-b", ins(LD | o.MODE_ABS | o.SZ_B, imm=5), 0x66),
    ("abs-h-big-endian", ins(LD | o.MODE_ABS | o.SZ_H, imm=0), 0x1122),
    ("abs-w-big-endian", ins(LD | o.MODE_ABS | o.SZ_W, imm=2), 0x33445566),
    ("ind-w", mov(2, 1) + ins(LD | o.MODE_IND | o.SZ_W, 0, 2, imm=1), 0x33445566),
    ("ind-negative-imm", mov(2, 4) + ins(LD | o.MODE_IND | o.SZ_H, 0, 2, imm=-2), 0x3344),
    # outside the packet the program ends with r0 = 0, whatever follows
    ("abs-past-end", mov(0, 7) + ins(LD | o.MODE_ABS | o.SZ_W, imm=3) + mov(0, 9), 0),
    (
        "ind-negative-offset",
        mov(0, 7) + mov(2, 0) + ins(LD | o.MODE_IND | o.SZ_B, 0, 2, imm=-1) + mov(0, 9),
        0,
    ),
]


@pytest.mark.parametrize("name,code,expected", LEGACY_CASES, ids=[c[0] for c in LEGACY_CASES])
def test_legacy_packet_loads(engine: str, name: str, code: bytes, expected: int) -> None:
    assert bpftime.Program(code + EXIT, engine=engine).run(PKT) == expected


def test_legacy_packet_load_out_of_bounds_in_subprogram_ends_program(engine: str) -> None:
    code = mov(0, 5) + call_local(1) + EXIT + ins(LD | o.MODE_ABS | o.SZ_B, imm=100) + EXIT
    assert bpftime.Program(code, engine=engine).run(PKT) == 0


def test_helper_returned_buffer_is_accessible(engine: str) -> None:
    buf = bytearray(b"\x05\x00\x00\x00\x00\x00\x00\x00")
    # r0 = helper(); r1 = *(u64 *)r0; *(u64 *)r0 = r1 + 1; return r1
    code = (
        call_helper(3)
        + ldx(o.SZ_DW, 1, 0, 0)
        + movx(2, 1)
        + k64(o.OP_ADD, 2, 1)
        + stx(o.SZ_DW, 0, 2, 0)
        + movx(0, 1)
        + EXIT
    )
    p = bpftime.Program(code, engine=engine, helpers={3: lambda: buf})
    assert p.run() == 5
    assert buf[0] == 6
    assert p.test_run(repeat=100).retval == 105
    assert buf[0] == 106


def test_interpreter_refuses_store_to_read_only_helper_buffer() -> None:
    code = call_helper(3) + ins(o.CLS_ST | o.MODE_MEM | o.SZ_B, 0, imm=1) + mov(0, 0) + EXIT
    p = bpftime.Program(code, engine="interp", helpers={3: lambda: b"ro"})
    with pytest.raises(bpftime.ExecutionError, match="insn 1: out-of-bounds store of 1 bytes"):
        p.run()
    # reading it is fine
    code = call_helper(3) + ldx(o.SZ_B, 0, 0, 1) + EXIT
    assert bpftime.Program(code, engine="interp", helpers={3: lambda: b"ro"}).run() == ord("o")
