"""The eBPF interpreter: one nogil dispatch loop over pre-decoded instructions.

Owns: executing a decoded program (cext/bt_insn.h) with every load and store
checked against the memory it knows: the frames' stacks, the regions in the run
context (the input memory, memory a helper registered). A bad access, a call
too deep or a bad callx target stops the run with an error in the context
(error, error_pc, error_addr) instead of touching anything else.

Does not own: validation. bpftime/insn.py has already refused unknown opcodes,
registers above r10, writes to r10, jump targets outside the program or its
subprogram, and unknown helper ids, so the loop trusts those fields.

Calling convention (shared with the JIT, bpftime/jit.py): a program starts
with r1, r2 from the caller, r10 at the top of its 512-byte frame and every
other register 0. A local call gives the callee a fresh frame, the caller's
r1-r5, and r0 = r6-r9 = 0; on return the caller's r1-r9 are as before the call
and r0 is the callee's. A helper call leaves r1-r9 untouched.
"""
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from includes.bt cimport *
from includes.bt_prog cimport bt_prog, bt_prog__set_interpreter


ctypedef struct bt_frame:
    uint32_t ret_pc
    uint64_t saved[9]       # r1..r9 of the caller


cdef inline uint8_t *_fail(bt_ctx *ctx, uint32_t err, uint64_t addr, uint32_t size,
                           uint32_t pc) noexcept nogil:
    ctx.exit_flag = BT_EXIT_ERROR
    ctx.error = err
    ctx.error_pc = pc
    ctx.error_addr = addr
    ctx.error_size = size
    return NULL


cdef inline uint8_t *_mem(bt_ctx *ctx, uint64_t stack_lo, uint64_t stack_top, uint64_t addr,
                          uint32_t size, bint write, uint32_t pc) noexcept nogil:
    """Host pointer for [addr, addr+size) if a known region holds all of it, else NULL.

    The stack region is every live frame: frame k occupies
    [stack_lo + k*512, stack_lo + (k+1)*512) and the current frame's r10 is the top,
    so a callee may use pointers into its callers' frames but nothing above r10.
    """
    cdef uint64_t end = addr + size
    cdef uint32_t i
    if end >= addr:
        if addr >= stack_lo and end <= stack_top:
            return <uint8_t *>addr
        for i in range(ctx.nregions):
            if addr >= ctx.regions[i].start and end <= ctx.regions[i].end and (
                    not write or ctx.regions[i].writable):
                return <uint8_t *>addr
    return _fail(ctx, BT_ERR_STORE_OOB if write else BT_ERR_LOAD_OOB, addr, size, pc)


cdef inline uint8_t *_pkt(bt_ctx *ctx, bint ind, uint64_t src, int64_t imm,
                          uint32_t size) noexcept nogil:
    """Pointer to packet bytes [off, off+size) of a legacy load, or NULL when outside."""
    cdef int64_t off = <int32_t>(<uint32_t>src + <uint32_t>imm) if ind else imm
    if off < 0 or <uint64_t>off + size > ctx.pkt_len:
        return NULL
    return <uint8_t *>(ctx.pkt + <uint64_t>off)


cdef inline bint _spend(bt_ctx *ctx, uint64_t *steps_left, uint32_t pc) noexcept nogil:
    """Count one backward jump or call against the budget; true when it is exhausted."""
    if steps_left[0] == 0:
        _fail(ctx, BT_ERR_STEP_LIMIT, ctx.max_steps, 0, pc)
        return 1
    steps_left[0] -= 1
    return 0


cdef uint64_t bt_interp(const bt_insn *code, uint32_t n, const uint8_t *entries,
                        uint64_t r1, uint64_t r2, bt_ctx *ctx) noexcept nogil:
    cdef uint64_t args[5]
    args[0] = r1
    args[1] = r2
    args[2] = args[3] = args[4] = 0
    return _run(code, n, entries, 0, args, ctx)


cdef uint64_t bt_interp_callback(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2,
                                 uint64_t a3, uint64_t a4, uint64_t a5) noexcept nogil:
    """Run the subprogram at address fn (from lddw of a function) for bpf_loop and friends."""
    cdef const bt_prog *p = <const bt_prog *>ctx.prog
    cdef uint64_t lo = <uint64_t>p.insns
    cdef uint64_t off = fn - lo
    cdef uint64_t args[5]
    if fn < lo or off >= <uint64_t>p.n * sizeof(bt_insn) or off % sizeof(bt_insn) or \
            not p.entries[off // sizeof(bt_insn)]:
        _fail(ctx, BT_ERR_CALLX_TARGET, fn, 0, ctx.error_pc)
        return 0
    args[0] = a1
    args[1] = a2
    args[2] = a3
    args[3] = a4
    args[4] = a5
    return _run(p.insns, p.n, p.entries, <uint32_t>(off // sizeof(bt_insn)), args, ctx)


bt_prog__set_interpreter(bt_interp)


cdef uint64_t _run(const bt_insn *code, uint32_t n, const uint8_t *entries, uint32_t start,
                   const uint64_t *args, bt_ctx *ctx) noexcept nogil:
    cdef uint64_t reg[11]
    cdef uint8_t stack[BT_MAX_FRAMES * BT_STACK_SIZE]
    cdef bt_frame frames[BT_MAX_FRAMES]
    cdef uint32_t depth = 0
    cdef uint32_t pc = start
    cdef uint32_t target
    cdef uint32_t slot
    cdef const bt_insn *ins
    cdef uint16_t op
    cdef uint64_t S, a
    cdef uint32_t s32, d32
    cdef uint8_t *p
    cdef bt_helper_fn fn
    cdef uint64_t stack_lo = <uint64_t>&stack[0]
    cdef uint64_t code_lo = <uint64_t>code
    cdef uint64_t steps_left = ctx.max_steps

    reg[0] = 0
    memcpy(&reg[1], args, 5 * sizeof(uint64_t))
    reg[6] = reg[7] = reg[8] = reg[9] = 0
    reg[10] = stack_lo + BT_STACK_SIZE

    while True:
        ins = &code[pc]
        pc += 1
        op = ins.op

        # ---- ALU64, immediate source
        if op == BT_I_ALU64_K_ADD:
            reg[ins.dst] += <uint64_t>ins.imm
        elif op == BT_I_ALU64_K_SUB:
            reg[ins.dst] -= <uint64_t>ins.imm
        elif op == BT_I_ALU64_K_MUL:
            reg[ins.dst] *= <uint64_t>ins.imm
        elif op == BT_I_ALU64_K_DIV:
            S = <uint64_t>ins.imm
            reg[ins.dst] = reg[ins.dst] // S if S else 0
        elif op == BT_I_ALU64_K_DIV_SIGNED:
            reg[ins.dst] = _sdiv64(reg[ins.dst], <uint64_t>ins.imm)
        elif op == BT_I_ALU64_K_OR:
            reg[ins.dst] |= <uint64_t>ins.imm
        elif op == BT_I_ALU64_K_AND:
            reg[ins.dst] &= <uint64_t>ins.imm
        elif op == BT_I_ALU64_K_LSH:
            reg[ins.dst] <<= (<uint64_t>ins.imm) & 63
        elif op == BT_I_ALU64_K_RSH:
            reg[ins.dst] >>= (<uint64_t>ins.imm) & 63
        elif op == BT_I_ALU64_K_NEG:
            reg[ins.dst] = 0 - reg[ins.dst]
        elif op == BT_I_ALU64_K_MOD:
            S = <uint64_t>ins.imm
            if S:
                reg[ins.dst] = reg[ins.dst] % S
        elif op == BT_I_ALU64_K_MOD_SIGNED:
            reg[ins.dst] = _smod64(reg[ins.dst], <uint64_t>ins.imm)
        elif op == BT_I_ALU64_K_XOR:
            reg[ins.dst] ^= <uint64_t>ins.imm
        elif op == BT_I_ALU64_K_MOV:
            reg[ins.dst] = <uint64_t>ins.imm
        elif op == BT_I_ALU64_K_ARSH:
            reg[ins.dst] = <uint64_t>((<int64_t>reg[ins.dst]) >> ((<uint64_t>ins.imm) & 63))

        # ---- ALU64, register source
        elif op == BT_I_ALU64_X_ADD:
            reg[ins.dst] += reg[ins.src]
        elif op == BT_I_ALU64_X_SUB:
            reg[ins.dst] -= reg[ins.src]
        elif op == BT_I_ALU64_X_MUL:
            reg[ins.dst] *= reg[ins.src]
        elif op == BT_I_ALU64_X_DIV:
            S = reg[ins.src]
            reg[ins.dst] = reg[ins.dst] // S if S else 0
        elif op == BT_I_ALU64_X_DIV_SIGNED:
            reg[ins.dst] = _sdiv64(reg[ins.dst], reg[ins.src])
        elif op == BT_I_ALU64_X_OR:
            reg[ins.dst] |= reg[ins.src]
        elif op == BT_I_ALU64_X_AND:
            reg[ins.dst] &= reg[ins.src]
        elif op == BT_I_ALU64_X_LSH:
            reg[ins.dst] <<= reg[ins.src] & 63
        elif op == BT_I_ALU64_X_RSH:
            reg[ins.dst] >>= reg[ins.src] & 63
        elif op == BT_I_ALU64_X_MOD:
            S = reg[ins.src]
            if S:
                reg[ins.dst] = reg[ins.dst] % S
        elif op == BT_I_ALU64_X_MOD_SIGNED:
            reg[ins.dst] = _smod64(reg[ins.dst], reg[ins.src])
        elif op == BT_I_ALU64_X_XOR:
            reg[ins.dst] ^= reg[ins.src]
        elif op == BT_I_ALU64_X_MOV:
            reg[ins.dst] = reg[ins.src]
        elif op == BT_I_ALU64_X_MOV_SX8:
            reg[ins.dst] = <uint64_t><int64_t><int8_t>reg[ins.src]
        elif op == BT_I_ALU64_X_MOV_SX16:
            reg[ins.dst] = <uint64_t><int64_t><int16_t>reg[ins.src]
        elif op == BT_I_ALU64_X_MOV_SX32:
            reg[ins.dst] = <uint64_t><int64_t><int32_t>reg[ins.src]
        elif op == BT_I_ALU64_X_ARSH:
            reg[ins.dst] = <uint64_t>((<int64_t>reg[ins.dst]) >> (reg[ins.src] & 63))

        # ---- ALU (32-bit), immediate source; results are zero-extended
        elif op == BT_I_ALU_K_ADD:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] + <uint32_t>ins.imm)
        elif op == BT_I_ALU_K_SUB:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] - <uint32_t>ins.imm)
        elif op == BT_I_ALU_K_MUL:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] * <uint32_t>ins.imm)
        elif op == BT_I_ALU_K_DIV:
            s32 = <uint32_t>ins.imm
            reg[ins.dst] = (<uint32_t>reg[ins.dst]) // s32 if s32 else 0
        elif op == BT_I_ALU_K_DIV_SIGNED:
            reg[ins.dst] = _sdiv32(<uint32_t>reg[ins.dst], <uint32_t>ins.imm)
        elif op == BT_I_ALU_K_OR:
            reg[ins.dst] = <uint32_t>reg[ins.dst] | <uint32_t>ins.imm
        elif op == BT_I_ALU_K_AND:
            reg[ins.dst] = <uint32_t>reg[ins.dst] & <uint32_t>ins.imm
        elif op == BT_I_ALU_K_LSH:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] << ((<uint32_t>ins.imm) & 31))
        elif op == BT_I_ALU_K_RSH:
            reg[ins.dst] = (<uint32_t>reg[ins.dst]) >> ((<uint32_t>ins.imm) & 31)
        elif op == BT_I_ALU_K_NEG:
            reg[ins.dst] = <uint32_t>(0 - <uint32_t>reg[ins.dst])
        elif op == BT_I_ALU_K_MOD:
            s32 = <uint32_t>ins.imm
            d32 = <uint32_t>reg[ins.dst]
            reg[ins.dst] = d32 % s32 if s32 else d32
        elif op == BT_I_ALU_K_MOD_SIGNED:
            reg[ins.dst] = _smod32(<uint32_t>reg[ins.dst], <uint32_t>ins.imm)
        elif op == BT_I_ALU_K_XOR:
            reg[ins.dst] = <uint32_t>reg[ins.dst] ^ <uint32_t>ins.imm
        elif op == BT_I_ALU_K_MOV:
            reg[ins.dst] = <uint32_t>ins.imm
        elif op == BT_I_ALU_K_ARSH:
            reg[ins.dst] = <uint32_t>((<int32_t>reg[ins.dst]) >> ((<uint32_t>ins.imm) & 31))

        # ---- ALU (32-bit), register source
        elif op == BT_I_ALU_X_ADD:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] + <uint32_t>reg[ins.src])
        elif op == BT_I_ALU_X_SUB:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] - <uint32_t>reg[ins.src])
        elif op == BT_I_ALU_X_MUL:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] * <uint32_t>reg[ins.src])
        elif op == BT_I_ALU_X_DIV:
            s32 = <uint32_t>reg[ins.src]
            reg[ins.dst] = (<uint32_t>reg[ins.dst]) // s32 if s32 else 0
        elif op == BT_I_ALU_X_DIV_SIGNED:
            reg[ins.dst] = _sdiv32(<uint32_t>reg[ins.dst], <uint32_t>reg[ins.src])
        elif op == BT_I_ALU_X_OR:
            reg[ins.dst] = <uint32_t>reg[ins.dst] | <uint32_t>reg[ins.src]
        elif op == BT_I_ALU_X_AND:
            reg[ins.dst] = <uint32_t>reg[ins.dst] & <uint32_t>reg[ins.src]
        elif op == BT_I_ALU_X_LSH:
            reg[ins.dst] = <uint32_t>(<uint32_t>reg[ins.dst] << (reg[ins.src] & 31))
        elif op == BT_I_ALU_X_RSH:
            reg[ins.dst] = (<uint32_t>reg[ins.dst]) >> (reg[ins.src] & 31)
        elif op == BT_I_ALU_X_MOD:
            s32 = <uint32_t>reg[ins.src]
            d32 = <uint32_t>reg[ins.dst]
            reg[ins.dst] = d32 % s32 if s32 else d32
        elif op == BT_I_ALU_X_MOD_SIGNED:
            reg[ins.dst] = _smod32(<uint32_t>reg[ins.dst], <uint32_t>reg[ins.src])
        elif op == BT_I_ALU_X_XOR:
            reg[ins.dst] = <uint32_t>reg[ins.dst] ^ <uint32_t>reg[ins.src]
        elif op == BT_I_ALU_X_MOV:
            reg[ins.dst] = <uint32_t>reg[ins.src]
        elif op == BT_I_ALU_X_MOV_SX8:
            reg[ins.dst] = <uint32_t><int32_t><int8_t>reg[ins.src]
        elif op == BT_I_ALU_X_MOV_SX16:
            reg[ins.dst] = <uint32_t><int32_t><int16_t>reg[ins.src]
        elif op == BT_I_ALU_X_ARSH:
            reg[ins.dst] = <uint32_t>((<int32_t>reg[ins.dst]) >> (reg[ins.src] & 31))

        # ---- byte order: to-le is a truncation on this (little-endian) host,
        #      to-be and the unconditional ALU64 bswap are swaps
        elif op == BT_I_ALU_K_END_16:
            reg[ins.dst] = <uint16_t>reg[ins.dst]
        elif op == BT_I_ALU_K_END_32:
            reg[ins.dst] = <uint32_t>reg[ins.dst]
        elif op == BT_I_ALU_K_END_64:
            pass
        elif (op == BT_I_ALU_X_END_16 or
              op == BT_I_ALU64_K_END_16):
            reg[ins.dst] = bt_bswap16(<uint16_t>reg[ins.dst])
        elif (op == BT_I_ALU_X_END_32 or
              op == BT_I_ALU64_K_END_32):
            reg[ins.dst] = bt_bswap32(<uint32_t>reg[ins.dst])
        elif (op == BT_I_ALU_X_END_64 or
              op == BT_I_ALU64_K_END_64):
            reg[ins.dst] = bt_bswap64(reg[ins.dst])

        # ---- 64-bit immediate loads (pseudo map forms were resolved by the loader)
        elif op == BT_I_LD_DW_IMM:
            reg[ins.dst] = <uint64_t>ins.imm
            pc += 1
        elif op == BT_I_LD_DW_IMM_FUNC:
            reg[ins.dst] = code_lo + <uint64_t>ins.off * sizeof(bt_insn)
            pc += 1

        # ---- legacy packet loads (RFC 9669 section 5.5): big-endian reads from the
        #      input memory; a read outside it ends the program with r0 = 0
        elif op == BT_I_LD_ABS_B or op == BT_I_LD_IND_B:
            p = _pkt(ctx, op == BT_I_LD_IND_B, reg[ins.src], ins.imm, 1)
            if p == NULL:
                return 0
            reg[0] = bt_ld8(p)
        elif op == BT_I_LD_ABS_H or op == BT_I_LD_IND_H:
            p = _pkt(ctx, op == BT_I_LD_IND_H, reg[ins.src], ins.imm, 2)
            if p == NULL:
                return 0
            reg[0] = bt_bswap16(bt_ld16(p))
        elif op == BT_I_LD_ABS_W or op == BT_I_LD_IND_W:
            p = _pkt(ctx, op == BT_I_LD_IND_W, reg[ins.src], ins.imm, 4)
            if p == NULL:
                return 0
            reg[0] = bt_bswap32(bt_ld32(p))

        # ---- loads
        elif op == BT_I_LDX_B:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.src] + <uint64_t><int64_t>ins.off, 1, 0, pc - 1)
            if p == NULL:
                return 0
            reg[ins.dst] = bt_ld8(p)
        elif op == BT_I_LDX_H:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.src] + <uint64_t><int64_t>ins.off, 2, 0, pc - 1)
            if p == NULL:
                return 0
            reg[ins.dst] = bt_ld16(p)
        elif op == BT_I_LDX_W:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.src] + <uint64_t><int64_t>ins.off, 4, 0, pc - 1)
            if p == NULL:
                return 0
            reg[ins.dst] = bt_ld32(p)
        elif op == BT_I_LDX_DW:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.src] + <uint64_t><int64_t>ins.off, 8, 0, pc - 1)
            if p == NULL:
                return 0
            reg[ins.dst] = bt_ld64(p)
        elif op == BT_I_LDX_MEMSX_B:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.src] + <uint64_t><int64_t>ins.off, 1, 0, pc - 1)
            if p == NULL:
                return 0
            reg[ins.dst] = <uint64_t><int64_t><int8_t>bt_ld8(p)
        elif op == BT_I_LDX_MEMSX_H:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.src] + <uint64_t><int64_t>ins.off, 2, 0, pc - 1)
            if p == NULL:
                return 0
            reg[ins.dst] = <uint64_t><int64_t><int16_t>bt_ld16(p)
        elif op == BT_I_LDX_MEMSX_W:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.src] + <uint64_t><int64_t>ins.off, 4, 0, pc - 1)
            if p == NULL:
                return 0
            reg[ins.dst] = <uint64_t><int64_t><int32_t>bt_ld32(p)

        # ---- stores of an immediate
        elif op == BT_I_ST_B:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 1, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st8(p, <uint8_t>ins.imm)
        elif op == BT_I_ST_H:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 2, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st16(p, <uint16_t>ins.imm)
        elif op == BT_I_ST_W:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 4, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st32(p, <uint32_t>ins.imm)
        elif op == BT_I_ST_DW:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 8, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st64(p, <uint64_t>ins.imm)

        # ---- stores of a register
        elif op == BT_I_STX_B:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 1, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st8(p, <uint8_t>reg[ins.src])
        elif op == BT_I_STX_H:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 2, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st16(p, <uint16_t>reg[ins.src])
        elif op == BT_I_STX_W:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 4, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st32(p, <uint32_t>reg[ins.src])
        elif op == BT_I_STX_DW:
            p = _mem(ctx, stack_lo, reg[10], reg[ins.dst] + <uint64_t><int64_t>ins.off, 8, 1, pc - 1)
            if p == NULL:
                return 0
            bt_st64(p, reg[ins.src])

        # ---- atomics: natural alignment required, as the kernel requires it
        elif (op == BT_I_STX_ATOMIC_W_AADD or
              op == BT_I_STX_ATOMIC_W_AOR or
              op == BT_I_STX_ATOMIC_W_AAND or
              op == BT_I_STX_ATOMIC_W_AXOR or
              op == BT_I_STX_ATOMIC_W_AFADD or
              op == BT_I_STX_ATOMIC_W_AFOR or
              op == BT_I_STX_ATOMIC_W_AFAND or
              op == BT_I_STX_ATOMIC_W_AFXOR or
              op == BT_I_STX_ATOMIC_W_AXCHG or
              op == BT_I_STX_ATOMIC_W_ACMPXCHG):
            a = reg[ins.dst] + <uint64_t><int64_t>ins.off
            p = _mem(ctx, stack_lo, reg[10], a, 4, 1, pc - 1)
            if p == NULL:
                return 0
            if a & 3:
                _fail(ctx, BT_ERR_STORE_OOB, a, 4, pc - 1)
                return 0
            if not _atomic32(<uint32_t *>p, op - BT_I_STX_ATOMIC_W_AADD, ins.src, reg):
                return 0
        elif (op == BT_I_STX_ATOMIC_DW_AADD or
              op == BT_I_STX_ATOMIC_DW_AOR or
              op == BT_I_STX_ATOMIC_DW_AAND or
              op == BT_I_STX_ATOMIC_DW_AXOR or
              op == BT_I_STX_ATOMIC_DW_AFADD or
              op == BT_I_STX_ATOMIC_DW_AFOR or
              op == BT_I_STX_ATOMIC_DW_AFAND or
              op == BT_I_STX_ATOMIC_DW_AFXOR or
              op == BT_I_STX_ATOMIC_DW_AXCHG or
              op == BT_I_STX_ATOMIC_DW_ACMPXCHG):
            a = reg[ins.dst] + <uint64_t><int64_t>ins.off
            p = _mem(ctx, stack_lo, reg[10], a, 8, 1, pc - 1)
            if p == NULL:
                return 0
            if a & 7:
                _fail(ctx, BT_ERR_STORE_OOB, a, 8, pc - 1)
                return 0
            if not _atomic64(<uint64_t *>p, op - BT_I_STX_ATOMIC_DW_AADD, ins.src, reg):
                return 0

        # ---- jumps, 64-bit compare, immediate
        elif op == BT_I_JMP_JA or op == BT_I_JMP32_JA:
            if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                return 0
            pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JEQ:
            if reg[ins.dst] == <uint64_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JNE:
            if reg[ins.dst] != <uint64_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JGT:
            if reg[ins.dst] > <uint64_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JGE:
            if reg[ins.dst] >= <uint64_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JLT:
            if reg[ins.dst] < <uint64_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JLE:
            if reg[ins.dst] <= <uint64_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JSET:
            if reg[ins.dst] & <uint64_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JSGT:
            if <int64_t>reg[ins.dst] > ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JSGE:
            if <int64_t>reg[ins.dst] >= ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JSLT:
            if <int64_t>reg[ins.dst] < ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_K_JSLE:
            if <int64_t>reg[ins.dst] <= ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off

        # ---- jumps, 64-bit compare, register
        elif op == BT_I_JMP_X_JEQ:
            if reg[ins.dst] == reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JNE:
            if reg[ins.dst] != reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JGT:
            if reg[ins.dst] > reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JGE:
            if reg[ins.dst] >= reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JLT:
            if reg[ins.dst] < reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JLE:
            if reg[ins.dst] <= reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JSET:
            if reg[ins.dst] & reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JSGT:
            if <int64_t>reg[ins.dst] > <int64_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JSGE:
            if <int64_t>reg[ins.dst] >= <int64_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JSLT:
            if <int64_t>reg[ins.dst] < <int64_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP_X_JSLE:
            if <int64_t>reg[ins.dst] <= <int64_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off

        # ---- jumps, 32-bit compare, immediate
        elif op == BT_I_JMP32_K_JEQ:
            if <uint32_t>reg[ins.dst] == <uint32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JNE:
            if <uint32_t>reg[ins.dst] != <uint32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JGT:
            if <uint32_t>reg[ins.dst] > <uint32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JGE:
            if <uint32_t>reg[ins.dst] >= <uint32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JLT:
            if <uint32_t>reg[ins.dst] < <uint32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JLE:
            if <uint32_t>reg[ins.dst] <= <uint32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JSET:
            if <uint32_t>reg[ins.dst] & <uint32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JSGT:
            if <int32_t>reg[ins.dst] > <int32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JSGE:
            if <int32_t>reg[ins.dst] >= <int32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JSLT:
            if <int32_t>reg[ins.dst] < <int32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_K_JSLE:
            if <int32_t>reg[ins.dst] <= <int32_t>ins.imm:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off

        # ---- jumps, 32-bit compare, register
        elif op == BT_I_JMP32_X_JEQ:
            if <uint32_t>reg[ins.dst] == <uint32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JNE:
            if <uint32_t>reg[ins.dst] != <uint32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JGT:
            if <uint32_t>reg[ins.dst] > <uint32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JGE:
            if <uint32_t>reg[ins.dst] >= <uint32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JLT:
            if <uint32_t>reg[ins.dst] < <uint32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JLE:
            if <uint32_t>reg[ins.dst] <= <uint32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JSET:
            if <uint32_t>reg[ins.dst] & <uint32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JSGT:
            if <int32_t>reg[ins.dst] > <int32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JSGE:
            if <int32_t>reg[ins.dst] >= <int32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JSLT:
            if <int32_t>reg[ins.dst] < <int32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off
        elif op == BT_I_JMP32_X_JSLE:
            if <int32_t>reg[ins.dst] <= <int32_t>reg[ins.src]:
                if <uint32_t>ins.off < pc and _spend(ctx, &steps_left, pc - 1):
                    return 0
                pc = <uint32_t>ins.off

        # ---- calls and exit
        elif op == BT_I_JMP_CALL:
            fn = ctx.helpers[ins.imm]
            if fn == NULL:
                _fail(ctx, BT_ERR_NO_HELPER, <uint64_t>ins.imm, 0, pc - 1)
                return 0
            ctx.helper_id = <uint32_t>ins.imm
            # a helper may call back into the program (bpf_loop) with pointers into this
            # stack: make the live frames a region while the helper runs
            slot = ctx.nregions
            if slot < BT_MAX_REGIONS:
                ctx.regions[slot].start = stack_lo
                ctx.regions[slot].end = reg[10]
                ctx.regions[slot].writable = 1
                ctx.nregions = slot + 1
            reg[0] = fn(reg[1], reg[2], reg[3], reg[4], reg[5], ctx)
            if slot < BT_MAX_REGIONS:
                # drop it again; regions the helper added stay
                ctx.nregions -= 1
                ctx.regions[slot] = ctx.regions[ctx.nregions]
            if ctx.exit_flag != BT_EXIT_NONE:
                if ctx.exit_flag == BT_EXIT_STOP:
                    return ctx.exit_value
                if ctx.error_pc < 0:
                    ctx.error_pc = pc - 1
                return 0
        elif op == BT_I_JMP_CALL_FUNC or op == BT_I_JMP_X_CALL:
            if op == BT_I_JMP_CALL_FUNC:
                target = <uint32_t>ins.off
            else:
                a = reg[ins.dst] - code_lo
                if (reg[ins.dst] < code_lo or a >= <uint64_t>n * sizeof(bt_insn)
                        or a % sizeof(bt_insn) or not entries[a // sizeof(bt_insn)]):
                    _fail(ctx, BT_ERR_CALLX_TARGET, reg[ins.dst], 0, pc - 1)
                    return 0
                target = <uint32_t>(a // sizeof(bt_insn))
            if _spend(ctx, &steps_left, pc - 1):
                return 0
            if depth + 1 >= BT_MAX_FRAMES:
                _fail(ctx, BT_ERR_CALL_DEPTH, 0, 0, pc - 1)
                return 0
            frames[depth].ret_pc = pc
            memcpy(frames[depth].saved, &reg[1], 9 * sizeof(uint64_t))
            depth += 1
            reg[0] = reg[6] = reg[7] = reg[8] = reg[9] = 0
            reg[10] += BT_STACK_SIZE
            pc = target
        elif op == BT_I_JMP_EXIT:
            if depth == 0:
                return reg[0]
            depth -= 1
            pc = frames[depth].ret_pc
            memcpy(&reg[1], frames[depth].saved, 9 * sizeof(uint64_t))
            reg[10] -= BT_STACK_SIZE
        else:
            # unreachable: the decoder emits only the opcodes above
            _fail(ctx, BT_ERR_BAD_INSN, op, 0, pc - 1)
            return 0


cdef inline uint64_t _sdiv64(uint64_t d, uint64_t s) noexcept nogil:
    if s == 0:
        return 0
    if <int64_t>s == -1:
        return 0 - d            # INT64_MIN / -1 wraps to INT64_MIN
    return <uint64_t>((<int64_t>d) // (<int64_t>s))


cdef inline uint64_t _smod64(uint64_t d, uint64_t s) noexcept nogil:
    if s == 0:
        return d
    if <int64_t>s == -1:
        return 0
    return <uint64_t>((<int64_t>d) % (<int64_t>s))


cdef inline uint64_t _sdiv32(uint32_t d, uint32_t s) noexcept nogil:
    if s == 0:
        return 0
    if <int32_t>s == -1:
        return <uint32_t>(0 - d)
    return <uint32_t>((<int32_t>d) // (<int32_t>s))


cdef inline uint64_t _smod32(uint32_t d, uint32_t s) noexcept nogil:
    if s == 0:
        return d
    if <int32_t>s == -1:
        return 0
    return <uint32_t>((<int32_t>d) % (<int32_t>s))


cdef inline bint _atomic32(uint32_t *p, int v, uint8_t src, uint64_t *reg) noexcept nogil:
    # v: position in the AADD..ACMPXCHG run of BT_INTERP_OPS (same order for W and DW)
    cdef uint32_t s = <uint32_t>reg[src]
    if v == 0:
        bt_atomic_add32(p, s)
    elif v == 1:
        bt_atomic_or32(p, s)
    elif v == 2:
        bt_atomic_and32(p, s)
    elif v == 3:
        bt_atomic_xor32(p, s)
    elif v == 4:
        reg[src] = bt_atomic_add32(p, s)
    elif v == 5:
        reg[src] = bt_atomic_or32(p, s)
    elif v == 6:
        reg[src] = bt_atomic_and32(p, s)
    elif v == 7:
        reg[src] = bt_atomic_xor32(p, s)
    elif v == 8:
        reg[src] = bt_atomic_xchg32(p, s)
    elif v == 9:
        reg[0] = bt_atomic_cmpxchg32(p, <uint32_t>reg[0], s)
    else:
        return 0
    return 1


cdef inline bint _atomic64(uint64_t *p, int v, uint8_t src, uint64_t *reg) noexcept nogil:
    # v: position in the AADD..ACMPXCHG run of BT_INTERP_OPS (same order for W and DW)
    cdef uint64_t s = reg[src]
    if v == 0:
        bt_atomic_add64(p, s)
    elif v == 1:
        bt_atomic_or64(p, s)
    elif v == 2:
        bt_atomic_and64(p, s)
    elif v == 3:
        bt_atomic_xor64(p, s)
    elif v == 4:
        reg[src] = bt_atomic_add64(p, s)
    elif v == 5:
        reg[src] = bt_atomic_or64(p, s)
    elif v == 6:
        reg[src] = bt_atomic_and64(p, s)
    elif v == 7:
        reg[src] = bt_atomic_xor64(p, s)
    elif v == 8:
        reg[src] = bt_atomic_xchg64(p, s)
    elif v == 9:
        reg[0] = bt_atomic_cmpxchg64(p, reg[0], s)
    else:
        return 0
    return 1
