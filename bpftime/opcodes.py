"""eBPF encoding constants (RFC 9669), mirrored from cext/bt_insn.h.

Opcodes are composed from their parts (``CLS_ALU64 | SRC_X | OP_ADD``) instead
of being spelled as magic numbers. The instruction layout, little-endian:

    byte 0      1          2-3         4-7
    +--------+----+----+-----------+-----------+
    | opcode |dst |src | offset s16| imm s32   |
    +--------+----+----+-----------+-----------+
             low nibble = dst, high nibble = src
"""

from __future__ import annotations

# classes
CLS_LD = 0x00
CLS_LDX = 0x01
CLS_ST = 0x02
CLS_STX = 0x03
CLS_ALU = 0x04
CLS_JMP = 0x05
CLS_JMP32 = 0x06
CLS_ALU64 = 0x07

# source bit
SRC_K = 0x00
SRC_X = 0x08

# arithmetic
OP_ADD = 0x00
OP_SUB = 0x10
OP_MUL = 0x20
OP_DIV = 0x30
OP_OR = 0x40
OP_AND = 0x50
OP_LSH = 0x60
OP_RSH = 0x70
OP_NEG = 0x80
OP_MOD = 0x90
OP_XOR = 0xA0
OP_MOV = 0xB0
OP_ARSH = 0xC0
OP_END = 0xD0

# jumps
JA = 0x00
JEQ = 0x10
JGT = 0x20
JGE = 0x30
JSET = 0x40
JNE = 0x50
JSGT = 0x60
JSGE = 0x70
CALL = 0x80
EXIT = 0x90
JLT = 0xA0
JLE = 0xB0
JSLT = 0xC0
JSLE = 0xD0

# memory
SZ_W = 0x00
SZ_H = 0x08
SZ_B = 0x10
SZ_DW = 0x18
MODE_IMM = 0x00
MODE_ABS = 0x20
MODE_IND = 0x40
MODE_MEM = 0x60
MODE_MEMSX = 0x80
MODE_ATOMIC = 0xC0

SIZE_BYTES = {SZ_B: 1, SZ_H: 2, SZ_W: 4, SZ_DW: 8}

# atomics (imm of STX | MODE_ATOMIC)
ATOMIC_FETCH = 0x01
ATOMIC_ADD = 0x00
ATOMIC_OR = 0x40
ATOMIC_AND = 0x50
ATOMIC_XOR = 0xA0
ATOMIC_XCHG = 0xE0 | ATOMIC_FETCH
ATOMIC_CMPXCHG = 0xF0 | ATOMIC_FETCH

# pseudo sources of lddw and call
PSEUDO_MAP_FD = 1
PSEUDO_MAP_VALUE = 2
PSEUDO_BTF_ID = 3
PSEUDO_FUNC = 4
PSEUDO_MAP_IDX = 5
PSEUDO_MAP_IDX_VALUE = 6
PSEUDO_CALL = 1
PSEUDO_KFUNC_CALL = 2

LDDW = CLS_LD | SZ_DW | MODE_IMM

# variants, the high byte of a decoded op (cext/bt_insn.h BT_V_*)
V_SIGNED = 1 << 8
V_SX = {8: 1 << 8, 16: 2 << 8, 32: 3 << 8}
V_END = {16: 1 << 8, 32: 2 << 8, 64: 3 << 8}
V_FUNC = 1 << 8
V_ATOMIC = {
    ATOMIC_ADD: 1 << 8,
    ATOMIC_OR: 2 << 8,
    ATOMIC_AND: 3 << 8,
    ATOMIC_XOR: 4 << 8,
    ATOMIC_ADD | ATOMIC_FETCH: 5 << 8,
    ATOMIC_OR | ATOMIC_FETCH: 6 << 8,
    ATOMIC_AND | ATOMIC_FETCH: 7 << 8,
    ATOMIC_XOR | ATOMIC_FETCH: 8 << 8,
    ATOMIC_XCHG: 9 << 8,
    ATOMIC_CMPXCHG: 10 << 8,
}

STACK_SIZE = 512
MAX_FRAMES = 16
MAX_INSNS = 1_000_000
MAX_HELPERS = 512


def cls(opcode: int) -> int:
    return opcode & 0x07


def alu_op(opcode: int) -> int:
    return opcode & 0xF0


def src_bit(opcode: int) -> int:
    return opcode & 0x08


def mem_size(opcode: int) -> int:
    return opcode & 0x18


def mem_mode(opcode: int) -> int:
    return opcode & 0xE0
