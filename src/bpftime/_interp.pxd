from libc.stdint cimport uint8_t, uint32_t, uint64_t

from includes.bt cimport bt_ctx, bt_insn


cdef uint64_t bt_interp(const bt_insn *code, uint32_t n, const uint8_t *entries,
                        uint64_t r1, uint64_t r2, bt_ctx *ctx) noexcept nogil
