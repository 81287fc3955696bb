"""Every load-time rejection of a malformed program, with its message and index,
and runtime faults the interpreter catches instead of touching memory."""

from __future__ import annotations

import pytest
from bpfenc import ins, lddw

import bpftime
from bpftime import opcodes as o

EXIT = ins(o.CLS_JMP | o.EXIT)
MOV0 = ins(o.CLS_ALU64 | o.OP_MOV, 0, imm=0)
JA = o.CLS_JMP | o.JA

# (name, code, index named in the message or None, message fragment)
BAD = [
    ("empty", b"", None, "program is empty"),
    ("size-not-multiple-of-8", MOV0 + b"\x95", None, "not a multiple of 8 bytes"),
    ("unknown-opcode", ins(0xFF) + EXIT, 0, "unknown opcode 0xff"),
    ("unknown-alu-op", ins(o.CLS_ALU64 | 0xE0) + EXIT, 0, "unknown opcode 0xe7"),
    ("unknown-jmp-op", ins(o.CLS_JMP | 0xE0) + EXIT, 0, "unknown opcode 0xe5"),
    ("ldx-bad-mode", ins(o.CLS_LDX | o.MODE_ATOMIC | o.SZ_W) + EXIT, 0, "unknown opcode 0xc1"),
    ("ldxsdw-reserved", ins(o.CLS_LDX | o.MODE_MEMSX | o.SZ_DW, 0, 1) + EXIT, 0, "unknown opcode 0x99"),
    ("st-bad-mode", ins(o.CLS_ST | o.MODE_ATOMIC | o.SZ_W, 10) + EXIT, 0, "ST supports only"),
    ("st-nonzero-src", ins(o.CLS_ST | o.MODE_MEM | o.SZ_W, 10, 1, -4) + MOV0 + EXIT, 0, "src must be 0"),
    ("stx-bad-size-atomic", ins(o.CLS_STX | o.MODE_ATOMIC | o.SZ_B, 10, 1, -8) + EXIT, 0,
     "unknown opcode 0xd3"),
    ("unknown-atomic-op", ins(o.CLS_STX | o.MODE_ATOMIC | o.SZ_DW, 10, 1, -8, imm=0x10) + EXIT, 0,
     "unknown atomic operation 0x10"),
    ("legacy-ld-abs-dw", ins(o.CLS_LD | o.MODE_ABS | o.SZ_DW, imm=4) + EXIT, 0, "unknown opcode 0x38"),
    ("legacy-ld-abs-with-src", ins(o.CLS_LD | o.MODE_ABS | o.SZ_W, 0, 1, imm=4) + EXIT, 0, "src must be 0"),
    ("legacy-ld-ind-with-dst", ins(o.CLS_LD | o.MODE_IND | o.SZ_W, 1, 2, imm=4) + EXIT, 0, "dst and offset must be 0"),
    ("ld-unknown", ins(o.CLS_LD | o.MODE_MEM | o.SZ_W) + EXIT, 0, "unknown opcode 0x60"),
    ("dst-r11", ins(o.CLS_ALU64 | o.OP_MOV, 11, imm=1) + EXIT, 0, "invalid destination register r11"),
    ("src-r11", ins(o.CLS_ALU64 | o.SRC_X | o.OP_MOV, 0, 11) + EXIT, 0, "invalid source register r11"),
    ("write-r10", ins(o.CLS_ALU64 | o.OP_ADD, 10, imm=8) + EXIT, 0, "r10 is read-only"),
    ("load-into-r10", ins(o.CLS_LDX | o.MODE_MEM | o.SZ_DW, 10, 1) + EXIT, 0, "r10 is read-only"),
    ("alu-k-nonzero-src", ins(o.CLS_ALU64 | o.OP_ADD, 0, 1, imm=1) + EXIT, 0, "needs src = 0"),
    ("alu-x-nonzero-imm", ins(o.CLS_ALU64 | o.SRC_X | o.OP_ADD, 0, 1, imm=1) + EXIT, 0, "imm = 0"),
    ("alu-nonzero-offset", ins(o.CLS_ALU64 | o.OP_ADD, 0, off=1, imm=1) + EXIT, 0, "offset must be 0"),
    ("div-offset-2", ins(o.CLS_ALU64 | o.OP_DIV, 0, off=2, imm=1) + EXIT, 0, "invalid offset 2"),
    ("movsx-immediate", ins(o.CLS_ALU64 | o.OP_MOV, 0, off=8, imm=1) + EXIT, 0, "movsx takes a register"),
    ("movsx-bad-size", ins(o.CLS_ALU64 | o.SRC_X | o.OP_MOV, 0, 1, off=24) + EXIT, 0, "invalid offset 24"),
    ("movsx32-in-alu32", ins(o.CLS_ALU | o.SRC_X | o.OP_MOV, 0, 1, off=32) + EXIT, 0, "invalid offset 32"),
    ("neg-with-imm", ins(o.CLS_ALU64 | o.OP_NEG, 0, imm=1) + EXIT, 0, "neg:"),
    ("neg-register-form", ins(o.CLS_ALU64 | o.SRC_X | o.OP_NEG, 0, 1) + EXIT, 0, "neg:"),
    ("endian-bad-size", ins(o.CLS_ALU | o.OP_END, 0, imm=48) + EXIT, 0, "invalid endian immediate 48"),
    ("bswap-register-form", ins(o.CLS_ALU64 | o.SRC_X | o.OP_END, 0, imm=16) + EXIT, 0,
     "unknown opcode 0xdf"),
    ("jump-out-forward", ins(JA, off=5) + EXIT, 0, "jump out of bounds: target 6"),
    ("jump-out-backward", EXIT + ins(JA, off=-3), 1, "jump out of bounds: target -1"),
    ("cond-jump-out", ins(o.CLS_JMP | o.JEQ, 1, off=9) + EXIT, 0, "jump out of bounds"),
    ("jump-into-lddw", ins(JA, off=1) + lddw(0, 1) + EXIT, 0, "to the middle of an lddw at insn 1"),
    ("self-loop", ins(JA, off=-1) + EXIT, 0, "infinite loop"),
    ("ja-with-register", ins(JA, 1, off=0) + EXIT, 0, "ja: source bit and registers must be 0"),
    ("gotol-with-offset", ins(o.CLS_JMP32 | o.JA, off=1) + EXIT, 0, "gotol"),
    ("incomplete-lddw", ins(o.LDDW, 0, imm=1), 0, "incomplete lddw"),
    ("lddw-second-half-opcode", ins(o.LDDW) + ins(0x95) + EXIT, 1, "invalid lddw second half"),
    ("lddw-second-half-regs", ins(o.LDDW) + ins(0, 1) + EXIT, 1, "invalid lddw second half"),
    ("lddw-second-half-offset", ins(o.LDDW) + ins(0, off=1) + EXIT, 1, "invalid lddw second half"),
    ("lddw-bad-src", lddw(0, 0, src=7) + EXIT, 0, "invalid source register for lddw: 7"),
    ("lddw-unbound-map", lddw(0, 3, src=o.PSEUDO_MAP_FD) + EXIT, 0, "no map is bound to it"),
    ("lddw-btf-id", lddw(0, 3, src=o.PSEUDO_BTF_ID) + EXIT, 0, "kernel symbol"),
    ("unknown-helper", ins(o.CLS_JMP | o.CALL, imm=64) + EXIT, 0, "unknown helper function 64"),
    ("kfunc", ins(o.CLS_JMP | o.CALL, src=2, imm=1234) + EXIT, 0, "kfunc, BTF id 1234"),
    ("call-bad-src", ins(o.CLS_JMP | o.CALL, src=3, imm=1) + EXIT, 0, "invalid source register 3 for call"),
    ("call-local-out", ins(o.CLS_JMP | o.CALL, src=1, imm=10) + EXIT, 0, "call out of bounds"),
    ("call-in-jmp32", ins(o.CLS_JMP32 | o.CALL) + EXIT, 0, "call exists only in the JMP class"),
    ("callx-with-imm", ins(o.CLS_JMP | o.SRC_X | o.CALL, 1, imm=1) + EXIT, 0, "callx:"),
    ("exit-in-jmp32", ins(o.CLS_JMP32 | o.EXIT) + EXIT, 0, "exit exists only in the JMP class"),
    ("exit-with-fields", ins(o.CLS_JMP | o.EXIT, 1), 0, "exit: registers"),
    ("falls-off-end", MOV0, 0, "program does not end with exit"),
    ("lddw-at-end", MOV0 + lddw(0, 1), 1, "does not end with exit"),
    ("subprogram-falls-into-next", ins(o.CLS_JMP | o.CALL, src=1, imm=1) + EXIT + MOV0
     + ins(o.CLS_JMP | o.CALL, src=1, imm=0) + EXIT, 3, "subprogram at insn 2 does not end"),
    ("jump-into-other-subprogram", ins(o.CLS_JMP | o.CALL, src=1, imm=1) + EXIT
     + ins(JA, off=-3) + EXIT, 2, "target 0 is in another subprogram"),
]  # fmt: skip


@pytest.mark.parametrize("name,code,index,message", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_rejected_at_load(
    name: str, code: bytes, index: int | None, message: str, engine: str
) -> None:
    with pytest.raises(bpftime.LoadError) as info:
        bpftime.Program(code, engine=engine)
    assert message in str(info.value)
    assert info.value.index == index
    if index is not None:
        assert str(info.value).startswith(f"insn {index}: ")


def test_too_many_instructions() -> None:
    with pytest.raises(bpftime.LoadError, match="more than the limit 1000000"):
        bpftime.Program(MOV0 * 1_000_000 + EXIT)


def test_program_accepts_bytes_like() -> None:
    code = ins(o.CLS_ALU64 | o.OP_MOV, 0, imm=3) + EXIT
    for c in (code, bytearray(code), memoryview(code)):
        assert bpftime.Program(c, engine="interp").run() == 3


def test_bad_engine_and_helpers() -> None:
    with pytest.raises(ValueError, match="engine must be"):
        bpftime.Program(MOV0 + EXIT, engine="fast")
    with pytest.raises(ValueError, match="helper id"):
        bpftime.Program(MOV0 + EXIT, helpers={-1: lambda: 0})
    with pytest.raises(TypeError, match="must be callable"):
        bpftime.Program(MOV0 + EXIT, helpers={1: 5})


LDX = o.CLS_LDX | o.MODE_MEM
STX = o.CLS_STX | o.MODE_MEM


# (name, code, mem, index, fragment): interpreter-only runtime faults
FAULTS = [
    ("load-null", ins(LDX | o.SZ_DW, 0, 2) + EXIT, None, 0, "out-of-bounds load of 8 bytes at 0x0"),
    ("load-past-input", ins(LDX | o.SZ_W, 0, 1, off=2) + EXIT, b"abcd", 0, "out-of-bounds load of 4"),
    ("store-past-input", MOV0 + ins(o.CLS_ST | o.MODE_MEM | o.SZ_B, 1, off=4, imm=1) + EXIT, b"abcd", 1,
     "out-of-bounds store of 1"),
    ("store-above-r10", ins(o.CLS_ST | o.MODE_MEM | o.SZ_B, 10, off=0, imm=0) + EXIT, None, 0,
     "out-of-bounds store"),
    ("load-below-stack", ins(LDX | o.SZ_B, 0, 10, off=-513) + EXIT, None, 0, "out-of-bounds load"),
    ("address-wraps", ins(o.CLS_ALU64 | o.OP_MOV, 6, imm=-16)
     + ins(o.CLS_ST | o.MODE_MEM | o.SZ_B, 6, off=16, imm=0) + EXIT, None, 1, "out-of-bounds store"),
    ("misaligned-atomic", ins(o.CLS_STX | o.MODE_ATOMIC | o.SZ_DW, 10, 1, off=-12) + EXIT, None, 0,
     "misaligned atomic"),
]  # fmt: skip


@pytest.mark.parametrize("name,code,mem,index,message", FAULTS, ids=[f[0] for f in FAULTS])
def test_interpreter_checks_memory(
    name: str, code: bytes, mem: bytes | None, index: int, message: str
) -> None:
    p = bpftime.Program(code, engine="interp")
    with pytest.raises(bpftime.ExecutionError) as info:
        p.run(mem)
    assert message in str(info.value)
    assert info.value.index == index
    assert str(info.value).startswith(f"insn {index}: ")
    # the process is unharmed and the program can run again
    with pytest.raises(bpftime.ExecutionError):
        p.run(mem)


def test_interpreter_stops_endless_loop() -> None:
    # 0: r0 += 1 ; 1: ja -2 (back to 0) ; 2: exit -- never exits
    loop = ins(o.CLS_ALU64 | o.OP_ADD, 0, imm=1) + ins(JA, off=-2) + EXIT
    p = bpftime.Program(loop, engine="interp", max_steps=1000)
    with pytest.raises(bpftime.ExecutionError, match=r"insn 1: the program took more than 1000"):
        p.run()


def test_step_budget_counts_backward_jumps_only() -> None:
    # a loop of 10 iterations takes its backward jump 9 times (the 10th test falls through),
    # so max_steps=9 is just enough and 8 is not
    code = (ins(o.CLS_ALU64 | o.OP_MOV, 0, imm=0) + ins(o.CLS_ALU64 | o.OP_ADD, 0, imm=1)
            + ins(o.CLS_JMP | o.JLT, 0, off=-2, imm=10) + EXIT)  # fmt: skip
    assert bpftime.Program(code, engine="interp", max_steps=9).run() == 10
    with pytest.raises(bpftime.ExecutionError, match="more than 8 backward"):
        bpftime.Program(code, engine="interp", max_steps=8).run()
    with pytest.raises(ValueError, match="max_steps"):
        bpftime.Program(code, max_steps=0)
