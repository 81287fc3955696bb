# Declarations of cext/bt_prog.h: programs as C sees them, the registry, the runner.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from includes.bt cimport bt_ctx, bt_helper_fn, bt_insn


cdef extern from "bt_prog.h" nogil:
    ctypedef uint64_t (*bt_jit_entry)(uint64_t, uint64_t, bt_ctx *) noexcept nogil
    ctypedef uint64_t (*bt_interp_fn)(const bt_insn *, uint32_t, const uint8_t *, uint64_t,
                                      uint64_t, bt_ctx *) noexcept nogil
    ctypedef uint64_t (*bt_callback_fn)(bt_ctx *, uint64_t, uint64_t, uint64_t, uint64_t,
                                        uint64_t, uint64_t) noexcept nogil

    ctypedef struct bt_prog:
        uint32_t id
        uint32_t n
        bt_jit_entry jit
        const bt_insn *insns
        const uint8_t *entries
        const bt_helper_fn *helpers
        uint64_t max_steps
        bt_callback_fn callback

    enum:
        BT_MAX_TAIL_CALLS, BT_MAX_PROGS

    void bt_prog__set_interpreter(bt_interp_fn fn)
    int bt_prog__register(bt_prog *p)
    void bt_prog__unregister(bt_prog *p)
    const bt_prog *bt_prog__by_id(uint32_t id)
    uint64_t bt_prog__exec(const bt_prog *p, uint64_t r1, uint64_t r2, bt_ctx *ctx)
    uint64_t bt_prog__jit_callback(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2,
                                   uint64_t a3, uint64_t a4, uint64_t a5)
