from libc.stdint cimport uint8_t, uint32_t, uint64_t

from includes.bt cimport bt_ctx, bt_insn


cdef uint64_t bt_interp(const bt_insn *code, uint32_t n, const uint8_t *entries,
                        uint64_t r1, uint64_t r2, bt_ctx *ctx) noexcept nogil


cdef uint64_t bt_interp_callback(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2,
                                 uint64_t a3, uint64_t a4, uint64_t a5) noexcept nogil
