# Declarations of the C core in cext/ (bt_insn.h, bt_ctx.h, bt_atomic.h, bt_testhelpers.h).
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "bt_insn.h" nogil:
    ctypedef struct bt_insn:
        uint16_t op
        uint8_t dst
        uint8_t src
        int32_t off
        int64_t imm

    enum:
        BT_CLS_LD, BT_CLS_LDX, BT_CLS_ST, BT_CLS_STX, BT_CLS_ALU, BT_CLS_JMP, BT_CLS_JMP32, BT_CLS_ALU64
        BT_SRC_K, BT_SRC_X
        BT_OP_ADD, BT_OP_SUB, BT_OP_MUL, BT_OP_DIV, BT_OP_OR, BT_OP_AND, BT_OP_LSH, BT_OP_RSH
        BT_OP_NEG, BT_OP_MOD, BT_OP_XOR, BT_OP_MOV, BT_OP_ARSH, BT_OP_END
        BT_JA, BT_JEQ, BT_JGT, BT_JGE, BT_JSET, BT_JNE, BT_JSGT, BT_JSGE, BT_CALL, BT_EXIT
        BT_JLT, BT_JLE, BT_JSLT, BT_JSLE
        BT_SZ_W, BT_SZ_H, BT_SZ_B, BT_SZ_DW
        BT_MODE_IMM, BT_MODE_ABS, BT_MODE_IND, BT_MODE_MEM, BT_MODE_MEMSX, BT_MODE_ATOMIC
        BT_V_SIGNED, BT_V_SX8, BT_V_SX16, BT_V_SX32, BT_V_16, BT_V_32, BT_V_64, BT_V_FUNC
        BT_V_AADD, BT_V_AOR, BT_V_AAND, BT_V_AXOR, BT_V_AFADD, BT_V_AFOR, BT_V_AFAND, BT_V_AFXOR
        BT_V_AXCHG, BT_V_ACMPXCHG
        BT_STACK_SIZE, BT_MAX_FRAMES, BT_MAX_INSNS
        BT_I_ALU64_K_ADD
        BT_I_ALU64_K_SUB
        BT_I_ALU64_K_MUL
        BT_I_ALU64_K_DIV
        BT_I_ALU64_K_DIV_SIGNED
        BT_I_ALU64_K_OR
        BT_I_ALU64_K_AND
        BT_I_ALU64_K_LSH
        BT_I_ALU64_K_RSH
        BT_I_ALU64_K_NEG
        BT_I_ALU64_K_MOD
        BT_I_ALU64_K_MOD_SIGNED
        BT_I_ALU64_K_XOR
        BT_I_ALU64_K_MOV
        BT_I_ALU64_K_ARSH
        BT_I_ALU64_X_ADD
        BT_I_ALU64_X_SUB
        BT_I_ALU64_X_MUL
        BT_I_ALU64_X_DIV
        BT_I_ALU64_X_DIV_SIGNED
        BT_I_ALU64_X_OR
        BT_I_ALU64_X_AND
        BT_I_ALU64_X_LSH
        BT_I_ALU64_X_RSH
        BT_I_ALU64_X_MOD
        BT_I_ALU64_X_MOD_SIGNED
        BT_I_ALU64_X_XOR
        BT_I_ALU64_X_MOV
        BT_I_ALU64_X_MOV_SX8
        BT_I_ALU64_X_MOV_SX16
        BT_I_ALU64_X_MOV_SX32
        BT_I_ALU64_X_ARSH
        BT_I_ALU_K_ADD
        BT_I_ALU_K_SUB
        BT_I_ALU_K_MUL
        BT_I_ALU_K_DIV
        BT_I_ALU_K_DIV_SIGNED
        BT_I_ALU_K_OR
        BT_I_ALU_K_AND
        BT_I_ALU_K_LSH
        BT_I_ALU_K_RSH
        BT_I_ALU_K_NEG
        BT_I_ALU_K_MOD
        BT_I_ALU_K_MOD_SIGNED
        BT_I_ALU_K_XOR
        BT_I_ALU_K_MOV
        BT_I_ALU_K_ARSH
        BT_I_ALU_X_ADD
        BT_I_ALU_X_SUB
        BT_I_ALU_X_MUL
        BT_I_ALU_X_DIV
        BT_I_ALU_X_DIV_SIGNED
        BT_I_ALU_X_OR
        BT_I_ALU_X_AND
        BT_I_ALU_X_LSH
        BT_I_ALU_X_RSH
        BT_I_ALU_X_MOD
        BT_I_ALU_X_MOD_SIGNED
        BT_I_ALU_X_XOR
        BT_I_ALU_X_MOV
        BT_I_ALU_X_MOV_SX8
        BT_I_ALU_X_MOV_SX16
        BT_I_ALU_X_ARSH
        BT_I_ALU_K_END_16
        BT_I_ALU_K_END_32
        BT_I_ALU_K_END_64
        BT_I_ALU_X_END_16
        BT_I_ALU64_K_END_16
        BT_I_ALU_X_END_32
        BT_I_ALU64_K_END_32
        BT_I_ALU_X_END_64
        BT_I_ALU64_K_END_64
        BT_I_LD_DW_IMM
        BT_I_LD_ABS_B
        BT_I_LD_ABS_H
        BT_I_LD_ABS_W
        BT_I_LD_IND_B
        BT_I_LD_IND_H
        BT_I_LD_IND_W
        BT_I_LD_DW_IMM_FUNC
        BT_I_LDX_B
        BT_I_LDX_H
        BT_I_LDX_W
        BT_I_LDX_DW
        BT_I_LDX_MEMSX_B
        BT_I_LDX_MEMSX_H
        BT_I_LDX_MEMSX_W
        BT_I_ST_B
        BT_I_ST_H
        BT_I_ST_W
        BT_I_ST_DW
        BT_I_STX_B
        BT_I_STX_H
        BT_I_STX_W
        BT_I_STX_DW
        BT_I_STX_ATOMIC_W_AADD
        BT_I_STX_ATOMIC_W_AOR
        BT_I_STX_ATOMIC_W_AAND
        BT_I_STX_ATOMIC_W_AXOR
        BT_I_STX_ATOMIC_W_AFADD
        BT_I_STX_ATOMIC_W_AFOR
        BT_I_STX_ATOMIC_W_AFAND
        BT_I_STX_ATOMIC_W_AFXOR
        BT_I_STX_ATOMIC_W_AXCHG
        BT_I_STX_ATOMIC_W_ACMPXCHG
        BT_I_STX_ATOMIC_DW_AADD
        BT_I_STX_ATOMIC_DW_AOR
        BT_I_STX_ATOMIC_DW_AAND
        BT_I_STX_ATOMIC_DW_AXOR
        BT_I_STX_ATOMIC_DW_AFADD
        BT_I_STX_ATOMIC_DW_AFOR
        BT_I_STX_ATOMIC_DW_AFAND
        BT_I_STX_ATOMIC_DW_AFXOR
        BT_I_STX_ATOMIC_DW_AXCHG
        BT_I_STX_ATOMIC_DW_ACMPXCHG
        BT_I_JMP_JA
        BT_I_JMP32_JA
        BT_I_JMP_K_JEQ
        BT_I_JMP_K_JNE
        BT_I_JMP_K_JGT
        BT_I_JMP_K_JGE
        BT_I_JMP_K_JLT
        BT_I_JMP_K_JLE
        BT_I_JMP_K_JSET
        BT_I_JMP_K_JSGT
        BT_I_JMP_K_JSGE
        BT_I_JMP_K_JSLT
        BT_I_JMP_K_JSLE
        BT_I_JMP_X_JEQ
        BT_I_JMP_X_JNE
        BT_I_JMP_X_JGT
        BT_I_JMP_X_JGE
        BT_I_JMP_X_JLT
        BT_I_JMP_X_JLE
        BT_I_JMP_X_JSET
        BT_I_JMP_X_JSGT
        BT_I_JMP_X_JSGE
        BT_I_JMP_X_JSLT
        BT_I_JMP_X_JSLE
        BT_I_JMP32_K_JEQ
        BT_I_JMP32_K_JNE
        BT_I_JMP32_K_JGT
        BT_I_JMP32_K_JGE
        BT_I_JMP32_K_JLT
        BT_I_JMP32_K_JLE
        BT_I_JMP32_K_JSET
        BT_I_JMP32_K_JSGT
        BT_I_JMP32_K_JSGE
        BT_I_JMP32_K_JSLT
        BT_I_JMP32_K_JSLE
        BT_I_JMP32_X_JEQ
        BT_I_JMP32_X_JNE
        BT_I_JMP32_X_JGT
        BT_I_JMP32_X_JGE
        BT_I_JMP32_X_JLT
        BT_I_JMP32_X_JLE
        BT_I_JMP32_X_JSET
        BT_I_JMP32_X_JSGT
        BT_I_JMP32_X_JSGE
        BT_I_JMP32_X_JSLT
        BT_I_JMP32_X_JSLE
        BT_I_JMP_CALL
        BT_I_JMP_CALL_FUNC
        BT_I_JMP_X_CALL
        BT_I_JMP_EXIT


    int bt_iop__translate(bt_insn *insns, uint32_t n, uint32_t *bad)


cdef extern from "bt_ctx.h" nogil:
    ctypedef struct bt_ctx
    ctypedef uint64_t (*bt_helper_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *) noexcept nogil

    ctypedef struct bt_region:
        uint64_t start
        uint64_t end
        uint32_t writable

    ctypedef struct bt_ctx:
        const bt_helper_fn *helpers
        uint32_t helper_id
        uint32_t depth
        uint32_t exit_flag
        uint32_t error
        uint64_t exit_value
        int64_t error_pc
        uint64_t error_addr
        uint64_t pkt
        uint64_t pkt_len
        uint32_t error_size
        uint32_t nregions
        void *user
        uint64_t max_steps
        const void *prog
        const void *tail_target
        uint32_t tail_calls
        uint32_t func_nargs
        const uint64_t *func_args
        uint64_t func_ret
        uint64_t cookie
        uint32_t override_set
        uint64_t override_value
        void *trace
        uint64_t (*callback)(bt_ctx *, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                             uint64_t) noexcept nogil
        bt_region regions[1]

    enum:
        BT_MAX_HELPERS, BT_MAX_REGIONS
        BT_EXIT_NONE, BT_EXIT_STOP, BT_EXIT_ERROR, BT_EXIT_TAILCALL
        BT_ERR_NONE, BT_ERR_LOAD_OOB, BT_ERR_STORE_OOB, BT_ERR_CALL_DEPTH, BT_ERR_CALLX_TARGET
        BT_ERR_HELPER, BT_ERR_NO_HELPER, BT_ERR_STEP_LIMIT, BT_ERR_BAD_INSN

    void bt_ctx__init(bt_ctx *ctx)
    void bt_ctx__reset(bt_ctx *ctx)
    int bt_ctx__add_region(bt_ctx *ctx, const void *ptr, uint64_t len, int writable)
    void bt_ctx__stop(bt_ctx *ctx, uint64_t value)
    void bt_ctx__fail(bt_ctx *ctx, uint32_t error)


cdef extern from "bt_atomic.h" nogil:
    uint32_t bt_atomic_add32(uint32_t *p, uint32_t v)
    uint32_t bt_atomic_or32(uint32_t *p, uint32_t v)
    uint32_t bt_atomic_and32(uint32_t *p, uint32_t v)
    uint32_t bt_atomic_xor32(uint32_t *p, uint32_t v)
    uint32_t bt_atomic_xchg32(uint32_t *p, uint32_t v)
    uint32_t bt_atomic_cmpxchg32(uint32_t *p, uint32_t expected, uint32_t v)
    uint64_t bt_atomic_add64(uint64_t *p, uint64_t v)
    uint64_t bt_atomic_or64(uint64_t *p, uint64_t v)
    uint64_t bt_atomic_and64(uint64_t *p, uint64_t v)
    uint64_t bt_atomic_xor64(uint64_t *p, uint64_t v)
    uint64_t bt_atomic_xchg64(uint64_t *p, uint64_t v)
    uint64_t bt_atomic_cmpxchg64(uint64_t *p, uint64_t expected, uint64_t v)
    uint16_t bt_bswap16(uint16_t v)
    uint32_t bt_bswap32(uint32_t v)
    uint64_t bt_bswap64(uint64_t v)


cdef extern from "bt_testhelpers.h" nogil:
    uint64_t bt_test__gather_bytes(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *)
    uint64_t bt_test__memfrob(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *)
    uint64_t bt_test__trash_registers(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *)
    uint64_t bt_test__sqrti(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *)
    uint64_t bt_test__strcmp_ext(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *)
    uint64_t bt_test__unwind(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *)


cdef extern from "bt_mem.h" nogil:
    uint8_t bt_ld8(const void *p)
    uint16_t bt_ld16(const void *p)
    uint32_t bt_ld32(const void *p)
    uint64_t bt_ld64(const void *p)
    void bt_st8(void *p, uint8_t v)
    void bt_st16(void *p, uint16_t v)
    void bt_st32(void *p, uint32_t v)
    void bt_st64(void *p, uint64_t v)


cdef extern from "bt_helpers.h" nogil:
    void bt_helpers__fill_core(bt_helper_fn *table, size_t n)
    void bt_helpers__fill(bt_helper_fn *table, size_t n)
    long bt_probe_read(void *dst, uint64_t n, const void *src)
    long bt_probe_read_str(void *dst, uint64_t n, const void *src)


cdef extern from "bt_format.h" nogil:
    long bt_format(char *out, size_t outlen, const char *fmt, size_t fmtlen, const uint64_t *args,
                   uint32_t nargs)
