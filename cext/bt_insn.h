/* Pre-decoded eBPF instructions shared by the interpreter and the Python decoder.
 *
 * The decoder (bpftime/insn.py) validates raw 8-byte instructions and writes one
 * bt_insn per slot. The engines never see raw encodings: every field a case
 * needs is already extracted, sign-extended and, for jumps, made absolute.
 *
 *   bt_insn (16 bytes)
 *   +--------+-----+-----+----------------+--------------------------------+
 *   | op u16 | dst | src | off i32        | imm i64                        |
 *   +--------+-----+-----+----------------+--------------------------------+
 *   op  = raw opcode | variant << 8      (variants: see BT_V_* below)
 *   off = memory offset, or absolute target index for jumps and local calls
 *   imm = sign-extended immediate; full 64-bit value for lddw
 */
#ifndef BT_INSN_H
#define BT_INSN_H

#include <stdint.h>

typedef struct bt_insn {
    uint16_t op;
    uint8_t dst;
    uint8_t src;
    int32_t off;
    int64_t imm;
} bt_insn;

_Static_assert(sizeof(bt_insn) == 16, "bt_insn must stay 16 bytes");

/* Instruction classes (RFC 9669 section 3). */
enum {
    BT_CLS_LD = 0x00, BT_CLS_LDX = 0x01, BT_CLS_ST = 0x02, BT_CLS_STX = 0x03,
    BT_CLS_ALU = 0x04, BT_CLS_JMP = 0x05, BT_CLS_JMP32 = 0x06, BT_CLS_ALU64 = 0x07,
};
/* Source bit of arithmetic and jump instructions. */
enum { BT_SRC_K = 0x00, BT_SRC_X = 0x08 };
/* Arithmetic operations. */
enum {
    BT_OP_ADD = 0x00, BT_OP_SUB = 0x10, BT_OP_MUL = 0x20, BT_OP_DIV = 0x30,
    BT_OP_OR = 0x40, BT_OP_AND = 0x50, BT_OP_LSH = 0x60, BT_OP_RSH = 0x70,
    BT_OP_NEG = 0x80, BT_OP_MOD = 0x90, BT_OP_XOR = 0xa0, BT_OP_MOV = 0xb0,
    BT_OP_ARSH = 0xc0, BT_OP_END = 0xd0,
};
/* Jump operations. */
enum {
    BT_JA = 0x00, BT_JEQ = 0x10, BT_JGT = 0x20, BT_JGE = 0x30, BT_JSET = 0x40,
    BT_JNE = 0x50, BT_JSGT = 0x60, BT_JSGE = 0x70, BT_CALL = 0x80, BT_EXIT = 0x90,
    BT_JLT = 0xa0, BT_JLE = 0xb0, BT_JSLT = 0xc0, BT_JSLE = 0xd0,
};
/* Memory sizes and modes. */
enum { BT_SZ_W = 0x00, BT_SZ_H = 0x08, BT_SZ_B = 0x10, BT_SZ_DW = 0x18 };
enum {
    BT_MODE_IMM = 0x00, BT_MODE_ABS = 0x20, BT_MODE_IND = 0x40, BT_MODE_MEM = 0x60,
    BT_MODE_MEMSX = 0x80, BT_MODE_ATOMIC = 0xc0,
};
/* Atomic operations (imm field of BT_MODE_ATOMIC stores). */
enum {
    BT_ATOMIC_FETCH = 0x01,
    BT_ATOMIC_ADD = 0x00, BT_ATOMIC_OR = 0x40, BT_ATOMIC_AND = 0x50, BT_ATOMIC_XOR = 0xa0,
    BT_ATOMIC_XCHG = 0xe0 | BT_ATOMIC_FETCH, BT_ATOMIC_CMPXCHG = 0xf0 | BT_ATOMIC_FETCH,
};
/* Pseudo source registers of lddw and call. */
enum {
    BT_PSEUDO_MAP_FD = 1, BT_PSEUDO_MAP_VALUE = 2, BT_PSEUDO_BTF_ID = 3, BT_PSEUDO_FUNC = 4,
    BT_PSEUDO_MAP_IDX = 5, BT_PSEUDO_MAP_IDX_VALUE = 6,
};
enum { BT_PSEUDO_CALL = 1, BT_PSEUDO_KFUNC_CALL = 2 };

/* Variants, stored in the high byte of bt_insn.op. */
enum {
    BT_V_SIGNED = 1 << 8,                  /* sdiv/smod (offset 1) */
    BT_V_SX8 = 1 << 8, BT_V_SX16 = 2 << 8, BT_V_SX32 = 3 << 8,   /* movsx */
    BT_V_16 = 1 << 8, BT_V_32 = 2 << 8, BT_V_64 = 3 << 8,       /* byte swaps */
    BT_V_FUNC = 1 << 8,                    /* lddw of a subprogram address; call local */
    /* atomics: variant = index into this list */
    BT_V_AADD = 1 << 8, BT_V_AOR = 2 << 8, BT_V_AAND = 3 << 8, BT_V_AXOR = 4 << 8,
    BT_V_AFADD = 5 << 8, BT_V_AFOR = 6 << 8, BT_V_AFAND = 7 << 8, BT_V_AFXOR = 8 << 8,
    BT_V_AXCHG = 9 << 8, BT_V_ACMPXCHG = 10 << 8,
};

/* Interpreter opcodes. The decoder (bpftime/insn.py) emits composed codes (raw
 * opcode | variant); Program translates each to a dense index (bt_iop) with
 * bt_iop__translate so the interpreter's switch compiles to one jump table. */
#define BT_INTERP_OPS(X) \
    X(ALU64_K_ADD, BT_CLS_ALU64 | BT_SRC_K | BT_OP_ADD) \
    X(ALU64_K_SUB, BT_CLS_ALU64 | BT_SRC_K | BT_OP_SUB) \
    X(ALU64_K_MUL, BT_CLS_ALU64 | BT_SRC_K | BT_OP_MUL) \
    X(ALU64_K_DIV, BT_CLS_ALU64 | BT_SRC_K | BT_OP_DIV) \
    X(ALU64_K_DIV_SIGNED, BT_CLS_ALU64 | BT_SRC_K | BT_OP_DIV | BT_V_SIGNED) \
    X(ALU64_K_OR, BT_CLS_ALU64 | BT_SRC_K | BT_OP_OR) \
    X(ALU64_K_AND, BT_CLS_ALU64 | BT_SRC_K | BT_OP_AND) \
    X(ALU64_K_LSH, BT_CLS_ALU64 | BT_SRC_K | BT_OP_LSH) \
    X(ALU64_K_RSH, BT_CLS_ALU64 | BT_SRC_K | BT_OP_RSH) \
    X(ALU64_K_NEG, BT_CLS_ALU64 | BT_SRC_K | BT_OP_NEG) \
    X(ALU64_K_MOD, BT_CLS_ALU64 | BT_SRC_K | BT_OP_MOD) \
    X(ALU64_K_MOD_SIGNED, BT_CLS_ALU64 | BT_SRC_K | BT_OP_MOD | BT_V_SIGNED) \
    X(ALU64_K_XOR, BT_CLS_ALU64 | BT_SRC_K | BT_OP_XOR) \
    X(ALU64_K_MOV, BT_CLS_ALU64 | BT_SRC_K | BT_OP_MOV) \
    X(ALU64_K_ARSH, BT_CLS_ALU64 | BT_SRC_K | BT_OP_ARSH) \
    X(ALU64_X_ADD, BT_CLS_ALU64 | BT_SRC_X | BT_OP_ADD) \
    X(ALU64_X_SUB, BT_CLS_ALU64 | BT_SRC_X | BT_OP_SUB) \
    X(ALU64_X_MUL, BT_CLS_ALU64 | BT_SRC_X | BT_OP_MUL) \
    X(ALU64_X_DIV, BT_CLS_ALU64 | BT_SRC_X | BT_OP_DIV) \
    X(ALU64_X_DIV_SIGNED, BT_CLS_ALU64 | BT_SRC_X | BT_OP_DIV | BT_V_SIGNED) \
    X(ALU64_X_OR, BT_CLS_ALU64 | BT_SRC_X | BT_OP_OR) \
    X(ALU64_X_AND, BT_CLS_ALU64 | BT_SRC_X | BT_OP_AND) \
    X(ALU64_X_LSH, BT_CLS_ALU64 | BT_SRC_X | BT_OP_LSH) \
    X(ALU64_X_RSH, BT_CLS_ALU64 | BT_SRC_X | BT_OP_RSH) \
    X(ALU64_X_MOD, BT_CLS_ALU64 | BT_SRC_X | BT_OP_MOD) \
    X(ALU64_X_MOD_SIGNED, BT_CLS_ALU64 | BT_SRC_X | BT_OP_MOD | BT_V_SIGNED) \
    X(ALU64_X_XOR, BT_CLS_ALU64 | BT_SRC_X | BT_OP_XOR) \
    X(ALU64_X_MOV, BT_CLS_ALU64 | BT_SRC_X | BT_OP_MOV) \
    X(ALU64_X_MOV_SX8, BT_CLS_ALU64 | BT_SRC_X | BT_OP_MOV | BT_V_SX8) \
    X(ALU64_X_MOV_SX16, BT_CLS_ALU64 | BT_SRC_X | BT_OP_MOV | BT_V_SX16) \
    X(ALU64_X_MOV_SX32, BT_CLS_ALU64 | BT_SRC_X | BT_OP_MOV | BT_V_SX32) \
    X(ALU64_X_ARSH, BT_CLS_ALU64 | BT_SRC_X | BT_OP_ARSH) \
    X(ALU_K_ADD, BT_CLS_ALU | BT_SRC_K | BT_OP_ADD) \
    X(ALU_K_SUB, BT_CLS_ALU | BT_SRC_K | BT_OP_SUB) \
    X(ALU_K_MUL, BT_CLS_ALU | BT_SRC_K | BT_OP_MUL) \
    X(ALU_K_DIV, BT_CLS_ALU | BT_SRC_K | BT_OP_DIV) \
    X(ALU_K_DIV_SIGNED, BT_CLS_ALU | BT_SRC_K | BT_OP_DIV | BT_V_SIGNED) \
    X(ALU_K_OR, BT_CLS_ALU | BT_SRC_K | BT_OP_OR) \
    X(ALU_K_AND, BT_CLS_ALU | BT_SRC_K | BT_OP_AND) \
    X(ALU_K_LSH, BT_CLS_ALU | BT_SRC_K | BT_OP_LSH) \
    X(ALU_K_RSH, BT_CLS_ALU | BT_SRC_K | BT_OP_RSH) \
    X(ALU_K_NEG, BT_CLS_ALU | BT_SRC_K | BT_OP_NEG) \
    X(ALU_K_MOD, BT_CLS_ALU | BT_SRC_K | BT_OP_MOD) \
    X(ALU_K_MOD_SIGNED, BT_CLS_ALU | BT_SRC_K | BT_OP_MOD | BT_V_SIGNED) \
    X(ALU_K_XOR, BT_CLS_ALU | BT_SRC_K | BT_OP_XOR) \
    X(ALU_K_MOV, BT_CLS_ALU | BT_SRC_K | BT_OP_MOV) \
    X(ALU_K_ARSH, BT_CLS_ALU | BT_SRC_K | BT_OP_ARSH) \
    X(ALU_X_ADD, BT_CLS_ALU | BT_SRC_X | BT_OP_ADD) \
    X(ALU_X_SUB, BT_CLS_ALU | BT_SRC_X | BT_OP_SUB) \
    X(ALU_X_MUL, BT_CLS_ALU | BT_SRC_X | BT_OP_MUL) \
    X(ALU_X_DIV, BT_CLS_ALU | BT_SRC_X | BT_OP_DIV) \
    X(ALU_X_DIV_SIGNED, BT_CLS_ALU | BT_SRC_X | BT_OP_DIV | BT_V_SIGNED) \
    X(ALU_X_OR, BT_CLS_ALU | BT_SRC_X | BT_OP_OR) \
    X(ALU_X_AND, BT_CLS_ALU | BT_SRC_X | BT_OP_AND) \
    X(ALU_X_LSH, BT_CLS_ALU | BT_SRC_X | BT_OP_LSH) \
    X(ALU_X_RSH, BT_CLS_ALU | BT_SRC_X | BT_OP_RSH) \
    X(ALU_X_MOD, BT_CLS_ALU | BT_SRC_X | BT_OP_MOD) \
    X(ALU_X_MOD_SIGNED, BT_CLS_ALU | BT_SRC_X | BT_OP_MOD | BT_V_SIGNED) \
    X(ALU_X_XOR, BT_CLS_ALU | BT_SRC_X | BT_OP_XOR) \
    X(ALU_X_MOV, BT_CLS_ALU | BT_SRC_X | BT_OP_MOV) \
    X(ALU_X_MOV_SX8, BT_CLS_ALU | BT_SRC_X | BT_OP_MOV | BT_V_SX8) \
    X(ALU_X_MOV_SX16, BT_CLS_ALU | BT_SRC_X | BT_OP_MOV | BT_V_SX16) \
    X(ALU_X_ARSH, BT_CLS_ALU | BT_SRC_X | BT_OP_ARSH) \
    X(ALU_K_END_16, BT_CLS_ALU | BT_SRC_K | BT_OP_END | BT_V_16) \
    X(ALU_K_END_32, BT_CLS_ALU | BT_SRC_K | BT_OP_END | BT_V_32) \
    X(ALU_K_END_64, BT_CLS_ALU | BT_SRC_K | BT_OP_END | BT_V_64) \
    X(ALU_X_END_16, BT_CLS_ALU | BT_SRC_X | BT_OP_END | BT_V_16) \
    X(ALU64_K_END_16, BT_CLS_ALU64 | BT_SRC_K | BT_OP_END | BT_V_16) \
    X(ALU_X_END_32, BT_CLS_ALU | BT_SRC_X | BT_OP_END | BT_V_32) \
    X(ALU64_K_END_32, BT_CLS_ALU64 | BT_SRC_K | BT_OP_END | BT_V_32) \
    X(ALU_X_END_64, BT_CLS_ALU | BT_SRC_X | BT_OP_END | BT_V_64) \
    X(ALU64_K_END_64, BT_CLS_ALU64 | BT_SRC_K | BT_OP_END | BT_V_64) \
    X(LD_DW_IMM, BT_CLS_LD | BT_SZ_DW | BT_MODE_IMM) \
    X(LD_ABS_B, BT_CLS_LD | BT_MODE_ABS | BT_SZ_B) \
    X(LD_ABS_H, BT_CLS_LD | BT_MODE_ABS | BT_SZ_H) \
    X(LD_ABS_W, BT_CLS_LD | BT_MODE_ABS | BT_SZ_W) \
    X(LD_IND_B, BT_CLS_LD | BT_MODE_IND | BT_SZ_B) \
    X(LD_IND_H, BT_CLS_LD | BT_MODE_IND | BT_SZ_H) \
    X(LD_IND_W, BT_CLS_LD | BT_MODE_IND | BT_SZ_W) \
    X(LD_DW_IMM_FUNC, BT_CLS_LD | BT_SZ_DW | BT_MODE_IMM | BT_V_FUNC) \
    X(LDX_B, BT_CLS_LDX | BT_MODE_MEM | BT_SZ_B) \
    X(LDX_H, BT_CLS_LDX | BT_MODE_MEM | BT_SZ_H) \
    X(LDX_W, BT_CLS_LDX | BT_MODE_MEM | BT_SZ_W) \
    X(LDX_DW, BT_CLS_LDX | BT_MODE_MEM | BT_SZ_DW) \
    X(LDX_MEMSX_B, BT_CLS_LDX | BT_MODE_MEMSX | BT_SZ_B) \
    X(LDX_MEMSX_H, BT_CLS_LDX | BT_MODE_MEMSX | BT_SZ_H) \
    X(LDX_MEMSX_W, BT_CLS_LDX | BT_MODE_MEMSX | BT_SZ_W) \
    X(ST_B, BT_CLS_ST | BT_MODE_MEM | BT_SZ_B) \
    X(ST_H, BT_CLS_ST | BT_MODE_MEM | BT_SZ_H) \
    X(ST_W, BT_CLS_ST | BT_MODE_MEM | BT_SZ_W) \
    X(ST_DW, BT_CLS_ST | BT_MODE_MEM | BT_SZ_DW) \
    X(STX_B, BT_CLS_STX | BT_MODE_MEM | BT_SZ_B) \
    X(STX_H, BT_CLS_STX | BT_MODE_MEM | BT_SZ_H) \
    X(STX_W, BT_CLS_STX | BT_MODE_MEM | BT_SZ_W) \
    X(STX_DW, BT_CLS_STX | BT_MODE_MEM | BT_SZ_DW) \
    X(STX_ATOMIC_W_AADD, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AADD) \
    X(STX_ATOMIC_W_AOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AOR) \
    X(STX_ATOMIC_W_AAND, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AAND) \
    X(STX_ATOMIC_W_AXOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AXOR) \
    X(STX_ATOMIC_W_AFADD, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AFADD) \
    X(STX_ATOMIC_W_AFOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AFOR) \
    X(STX_ATOMIC_W_AFAND, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AFAND) \
    X(STX_ATOMIC_W_AFXOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AFXOR) \
    X(STX_ATOMIC_W_AXCHG, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_AXCHG) \
    X(STX_ATOMIC_W_ACMPXCHG, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_W | BT_V_ACMPXCHG) \
    X(STX_ATOMIC_DW_AADD, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AADD) \
    X(STX_ATOMIC_DW_AOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AOR) \
    X(STX_ATOMIC_DW_AAND, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AAND) \
    X(STX_ATOMIC_DW_AXOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AXOR) \
    X(STX_ATOMIC_DW_AFADD, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AFADD) \
    X(STX_ATOMIC_DW_AFOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AFOR) \
    X(STX_ATOMIC_DW_AFAND, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AFAND) \
    X(STX_ATOMIC_DW_AFXOR, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AFXOR) \
    X(STX_ATOMIC_DW_AXCHG, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_AXCHG) \
    X(STX_ATOMIC_DW_ACMPXCHG, BT_CLS_STX | BT_MODE_ATOMIC | BT_SZ_DW | BT_V_ACMPXCHG) \
    X(JMP_JA, BT_CLS_JMP | BT_JA) \
    X(JMP32_JA, BT_CLS_JMP32 | BT_JA) \
    X(JMP_K_JEQ, BT_CLS_JMP | BT_SRC_K | BT_JEQ) \
    X(JMP_K_JNE, BT_CLS_JMP | BT_SRC_K | BT_JNE) \
    X(JMP_K_JGT, BT_CLS_JMP | BT_SRC_K | BT_JGT) \
    X(JMP_K_JGE, BT_CLS_JMP | BT_SRC_K | BT_JGE) \
    X(JMP_K_JLT, BT_CLS_JMP | BT_SRC_K | BT_JLT) \
    X(JMP_K_JLE, BT_CLS_JMP | BT_SRC_K | BT_JLE) \
    X(JMP_K_JSET, BT_CLS_JMP | BT_SRC_K | BT_JSET) \
    X(JMP_K_JSGT, BT_CLS_JMP | BT_SRC_K | BT_JSGT) \
    X(JMP_K_JSGE, BT_CLS_JMP | BT_SRC_K | BT_JSGE) \
    X(JMP_K_JSLT, BT_CLS_JMP | BT_SRC_K | BT_JSLT) \
    X(JMP_K_JSLE, BT_CLS_JMP | BT_SRC_K | BT_JSLE) \
    X(JMP_X_JEQ, BT_CLS_JMP | BT_SRC_X | BT_JEQ) \
    X(JMP_X_JNE, BT_CLS_JMP | BT_SRC_X | BT_JNE) \
    X(JMP_X_JGT, BT_CLS_JMP | BT_SRC_X | BT_JGT) \
    X(JMP_X_JGE, BT_CLS_JMP | BT_SRC_X | BT_JGE) \
    X(JMP_X_JLT, BT_CLS_JMP | BT_SRC_X | BT_JLT) \
    X(JMP_X_JLE, BT_CLS_JMP | BT_SRC_X | BT_JLE) \
    X(JMP_X_JSET, BT_CLS_JMP | BT_SRC_X | BT_JSET) \
    X(JMP_X_JSGT, BT_CLS_JMP | BT_SRC_X | BT_JSGT) \
    X(JMP_X_JSGE, BT_CLS_JMP | BT_SRC_X | BT_JSGE) \
    X(JMP_X_JSLT, BT_CLS_JMP | BT_SRC_X | BT_JSLT) \
    X(JMP_X_JSLE, BT_CLS_JMP | BT_SRC_X | BT_JSLE) \
    X(JMP32_K_JEQ, BT_CLS_JMP32 | BT_SRC_K | BT_JEQ) \
    X(JMP32_K_JNE, BT_CLS_JMP32 | BT_SRC_K | BT_JNE) \
    X(JMP32_K_JGT, BT_CLS_JMP32 | BT_SRC_K | BT_JGT) \
    X(JMP32_K_JGE, BT_CLS_JMP32 | BT_SRC_K | BT_JGE) \
    X(JMP32_K_JLT, BT_CLS_JMP32 | BT_SRC_K | BT_JLT) \
    X(JMP32_K_JLE, BT_CLS_JMP32 | BT_SRC_K | BT_JLE) \
    X(JMP32_K_JSET, BT_CLS_JMP32 | BT_SRC_K | BT_JSET) \
    X(JMP32_K_JSGT, BT_CLS_JMP32 | BT_SRC_K | BT_JSGT) \
    X(JMP32_K_JSGE, BT_CLS_JMP32 | BT_SRC_K | BT_JSGE) \
    X(JMP32_K_JSLT, BT_CLS_JMP32 | BT_SRC_K | BT_JSLT) \
    X(JMP32_K_JSLE, BT_CLS_JMP32 | BT_SRC_K | BT_JSLE) \
    X(JMP32_X_JEQ, BT_CLS_JMP32 | BT_SRC_X | BT_JEQ) \
    X(JMP32_X_JNE, BT_CLS_JMP32 | BT_SRC_X | BT_JNE) \
    X(JMP32_X_JGT, BT_CLS_JMP32 | BT_SRC_X | BT_JGT) \
    X(JMP32_X_JGE, BT_CLS_JMP32 | BT_SRC_X | BT_JGE) \
    X(JMP32_X_JLT, BT_CLS_JMP32 | BT_SRC_X | BT_JLT) \
    X(JMP32_X_JLE, BT_CLS_JMP32 | BT_SRC_X | BT_JLE) \
    X(JMP32_X_JSET, BT_CLS_JMP32 | BT_SRC_X | BT_JSET) \
    X(JMP32_X_JSGT, BT_CLS_JMP32 | BT_SRC_X | BT_JSGT) \
    X(JMP32_X_JSGE, BT_CLS_JMP32 | BT_SRC_X | BT_JSGE) \
    X(JMP32_X_JSLT, BT_CLS_JMP32 | BT_SRC_X | BT_JSLT) \
    X(JMP32_X_JSLE, BT_CLS_JMP32 | BT_SRC_X | BT_JSLE) \
    X(JMP_CALL, BT_CLS_JMP | BT_CALL) \
    X(JMP_CALL_FUNC, BT_CLS_JMP | BT_CALL | BT_V_FUNC) \
    X(JMP_X_CALL, BT_CLS_JMP | BT_SRC_X | BT_CALL) \
    X(JMP_EXIT, BT_CLS_JMP | BT_EXIT)

enum bt_iop {
#define BT_X(name, code) BT_I_##name,
    BT_INTERP_OPS(BT_X)
#undef BT_X
    BT_I__COUNT
};

/* Rewrite each insn's composed op into its bt_iop; 0 or -EINVAL (bad index in *bad). */
int bt_iop__translate(bt_insn *insns, uint32_t n, uint32_t *bad);

#define BT_STACK_SIZE 512
#define BT_MAX_FRAMES 16
#define BT_MAX_INSNS 1000000

#endif
