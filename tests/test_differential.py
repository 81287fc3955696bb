"""Property test: random well-formed programs give identical r0 and memory on both engines.

The generator builds programs that always terminate (jumps only go forward) and
never fault: memory accesses stay inside a zeroed 64-byte stack window or the
first 64 bytes of the input, atomics are aligned, and r1 (the input pointer,
which differs between runs) is never used as a value, only as a base address.
An epilogue stores every other register into the input after those 64 bytes,
so a wrong result in any register shows up in the compared memory.
"""

from __future__ import annotations

import struct

from bpfenc import ins
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpftime
from bpftime import opcodes as o

MEM_SIZE = 64
OUT_BASE = MEM_SIZE  # the epilogue stores every value register here, so all of them are compared
INPUT_SIZE = MEM_SIZE + 8 * 9
VALUE_REGS = [0, 2, 3, 4, 5, 6, 7, 8, 9]  # everything but r1 (pointer) and r10
SIZES = [o.SZ_B, o.SZ_H, o.SZ_W, o.SZ_DW]
ALU_OPS = [
    o.OP_ADD, o.OP_SUB, o.OP_MUL, o.OP_DIV, o.OP_OR, o.OP_AND, o.OP_LSH, o.OP_RSH,
    o.OP_MOD, o.OP_XOR, o.OP_MOV, o.OP_ARSH,
]  # fmt: skip
JUMPS = [
    o.JEQ, o.JGT, o.JGE, o.JSET, o.JNE, o.JSGT, o.JSGE, o.JLT, o.JLE, o.JSLT, o.JSLE,
]  # fmt: skip
ATOMICS = list(o.V_ATOMIC)

# half of the picks from three registers, so values flow from one instruction to the next
reg = st.one_of(st.sampled_from([0, 2, 3]), st.sampled_from(VALUE_REGS))
imm32 = st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 2**31 - 1, -(2**31), 63, 64])
)


@st.composite
def alu(draw: st.DrawFn) -> list[bytes]:
    cls = draw(st.sampled_from([o.CLS_ALU, o.CLS_ALU64]))
    kind = draw(st.sampled_from(["op", "op", "op", "signed", "movsx", "neg", "end"]))
    d = draw(reg)
    if kind == "neg":
        return [ins(cls | o.OP_NEG, d)]
    if kind == "end":
        if cls == o.CLS_ALU64:
            return [ins(o.CLS_ALU64 | o.OP_END, d, imm=draw(st.sampled_from([16, 32, 64])))]
        src_bit = draw(st.sampled_from([o.SRC_K, o.SRC_X]))
        return [ins(o.CLS_ALU | o.OP_END | src_bit, d, imm=draw(st.sampled_from([16, 32, 64])))]
    if kind == "movsx":
        sizes = [8, 16, 32] if cls == o.CLS_ALU64 else [8, 16]
        return [ins(cls | o.SRC_X | o.OP_MOV, d, draw(reg), off=draw(st.sampled_from(sizes)))]
    if kind == "signed":
        a = draw(st.sampled_from([o.OP_DIV, o.OP_MOD]))
        off = 1
    else:
        a = draw(st.sampled_from(ALU_OPS))
        off = 0
    if draw(st.booleans()):
        return [ins(cls | o.SRC_X | a, d, draw(reg), off=off)]
    return [ins(cls | o.SRC_K | a, d, off=off, imm=draw(imm32))]


value64 = st.one_of(
    st.integers(0, 2**64 - 1),
    st.sampled_from(
        [0, 1, 2**63, 2**63 - 1, 2**64 - 1, 2**32, 2**32 - 1, 2**31, 0xFFFFFFFF80000000]
    ),
)


def lddw_bytes(d: int, v: int) -> bytes:
    return struct.pack("<BBhI", o.LDDW, d, 0, v & 0xFFFFFFFF) + struct.pack(
        "<BBhI", 0, 0, 0, v >> 32
    )


@st.composite
def lddw(draw: st.DrawFn) -> list[bytes]:
    return [lddw_bytes(draw(reg), draw(value64))]


@st.composite
def memory(draw: st.DrawFn) -> list[bytes]:
    size = draw(st.sampled_from(SIZES))
    n = o.SIZE_BYTES[size]
    on_stack = draw(st.booleans())
    base = 10 if on_stack else 1
    off = draw(st.integers(-64, -n)) if on_stack else draw(st.integers(0, MEM_SIZE - n))
    kind = draw(st.sampled_from(["ldx", "ldxsx", "st", "stx"]))
    if kind == "ldx":
        return [ins(o.CLS_LDX | o.MODE_MEM | size, draw(reg), base, off)]
    if kind == "ldxsx" and size != o.SZ_DW:
        return [ins(o.CLS_LDX | o.MODE_MEMSX | size, draw(reg), base, off)]
    if kind == "st":
        return [ins(o.CLS_ST | o.MODE_MEM | size, base, 0, off, draw(imm32))]
    return [ins(o.CLS_STX | o.MODE_MEM | size, base, draw(reg), off)]


@st.composite
def atomic(draw: st.DrawFn) -> list[bytes]:
    size = draw(st.sampled_from([o.SZ_W, o.SZ_DW]))
    n = o.SIZE_BYTES[size]
    off = -n * draw(st.integers(1, 64 // n))
    # cmpxchg reads r0 and the others may write their source register: any value reg
    return [
        ins(o.CLS_STX | o.MODE_ATOMIC | size, 10, draw(reg), off, draw(st.sampled_from(ATOMICS)))
    ]


@st.composite
def legacy_packet(draw: st.DrawFn) -> list[bytes]:
    """LD_ABS/LD_IND, in and out of the 64-byte input (outside ends the run with r0 = 0)."""
    size = draw(st.sampled_from([o.SZ_B, o.SZ_H, o.SZ_W]))
    imm = draw(st.integers(-4, MEM_SIZE + 4))
    if draw(st.booleans()):
        return [ins(o.CLS_LD | o.MODE_ABS | size, imm=imm)]
    return [ins(o.CLS_LD | o.MODE_IND | size, 0, draw(reg), imm=imm)]


@st.composite
def jump(draw: st.DrawFn) -> list[bytes]:
    """A forward jump placeholder: (opcode, dst, src, imm) resolved at layout time."""
    cls = draw(st.sampled_from([o.CLS_JMP, o.CLS_JMP32]))
    j = draw(st.sampled_from([*JUMPS, o.JA]))
    skip = draw(st.integers(0, 6))
    if j == o.JA:
        return [("ja", cls, skip)]
    if draw(st.booleans()):
        return [("jx", cls | o.SRC_X | j, draw(reg), draw(reg), skip)]
    return [("jk", cls | o.SRC_K | j, draw(reg), draw(imm32), skip)]


def layout(items: list[object]) -> bytes:
    """Resolve forward jumps to instruction boundaries and append the epilogue."""
    sizes = [len(x) // 8 if isinstance(x, bytes) else 1 for x in items]
    starts = [sum(sizes[:i]) for i in range(len(items))]
    end = sum(sizes)  # the epilogue
    out = b""
    for i, x in enumerate(items):
        if isinstance(x, bytes):
            out += x
            continue
        assert isinstance(x, tuple)
        skip = x[-1]
        target_item = min(i + 1 + skip, len(items))
        target = starts[target_item] if target_item < len(items) else end
        rel = target - (starts[i] + 1)
        if x[0] == "ja":
            cls = x[1]
            out += (
                ins(o.CLS_JMP32 | o.JA, imm=rel)
                if cls == o.CLS_JMP32
                else ins(o.CLS_JMP | o.JA, off=rel)
            )
        elif x[0] == "jx":
            out += ins(x[1], x[2], x[3], off=rel)
        else:
            out += ins(x[1], x[2], 0, off=rel, imm=x[3])
    return out + EPILOGUE


EPILOGUE = b"".join(
    ins(o.CLS_STX | o.MODE_MEM | o.SZ_DW, 1, r, OUT_BASE + 8 * k) for k, r in enumerate(VALUE_REGS)
) + ins(o.CLS_JMP | o.EXIT)

# zero the 64-byte stack window so loads never read uninitialised bytes; the test then
# gives every value register a random start value
PROLOGUE = b"".join(ins(o.CLS_ST | o.MODE_MEM | o.SZ_DW, 10, 0, -8 * k, 0) for k in range(1, 9))

instruction = st.one_of(
    alu(), alu(), alu(), lddw(), memory(), memory(), atomic(), legacy_packet(), jump()
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(value64, min_size=len(VALUE_REGS), max_size=len(VALUE_REGS)),
    st.lists(instruction, min_size=1, max_size=60),
    st.binary(min_size=INPUT_SIZE, max_size=INPUT_SIZE),
)
def test_interpreter_and_jit_agree(init: list[int], parts: list[list[object]], mem: bytes) -> None:
    items = [x for group in parts for x in group]
    code = (
        PROLOGUE
        + b"".join(lddw_bytes(r, v) for r, v in zip(VALUE_REGS, init, strict=True))
        + layout(items)
    )
    results = {}
    for engine in ("interp", "jit"):
        res = bpftime.Program(code, engine=engine).test_run(mem, repeat=1)
        results[engine] = (res.retval, res.data_out)
    assert results["interp"] == results["jit"], bpftime.asm.disassemble(code)


SUB = (
    # sub: r0 = r2 * 3 + r3, with its own stack use
    ins(o.CLS_STX | o.MODE_MEM | o.SZ_DW, 10, 2, -8)
    + ins(o.CLS_LDX | o.MODE_MEM | o.SZ_DW, 0, 10, -8)
    + ins(o.CLS_ALU64 | o.OP_MUL, 0, imm=3)
    + ins(o.CLS_ALU64 | o.SRC_X | o.OP_ADD, 0, 3)
    + ins(o.CLS_JMP | o.EXIT)
)


@settings(max_examples=100, deadline=None)
@given(st.lists(alu(), min_size=1, max_size=20), st.lists(alu(), min_size=0, max_size=10))
def test_engines_agree_across_local_calls(
    before: list[list[bytes]], after: list[list[bytes]]
) -> None:
    head = b"".join(b for g in before for b in g)
    tail = b"".join(b for g in after for b in g)
    # main: ..., call sub, ..., exit ; the call's offset skips the tail and exit
    n_tail = len(tail) // 8
    code = head + ins(o.CLS_JMP | o.CALL, src=o.PSEUDO_CALL, imm=n_tail + 1) + tail
    code += ins(o.CLS_JMP | o.EXIT) + SUB
    got = {e: bpftime.Program(code, engine=e).run() for e in ("interp", "jit")}
    assert got["interp"] == got["jit"]
