/* Atomic read-modify-write operations for the interpreter (GCC/Clang builtins).
 * Cython cannot spell __atomic builtins, so each gets a tiny inline wrapper. */
#ifndef BT_ATOMIC_H
#define BT_ATOMIC_H

#include <stdint.h>

#define BT_DEF_ATOMIC(bits)                                                            \
    static inline uint##bits##_t bt_atomic_add##bits(uint##bits##_t *p, uint##bits##_t v) \
    { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }                             \
    static inline uint##bits##_t bt_atomic_or##bits(uint##bits##_t *p, uint##bits##_t v)  \
    { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }                              \
    static inline uint##bits##_t bt_atomic_and##bits(uint##bits##_t *p, uint##bits##_t v) \
    { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }                             \
    static inline uint##bits##_t bt_atomic_xor##bits(uint##bits##_t *p, uint##bits##_t v) \
    { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }                             \
    static inline uint##bits##_t bt_atomic_xchg##bits(uint##bits##_t *p, uint##bits##_t v) \
    { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }                            \
    /* returns the old value; stores v when *p == expected */                          \
    static inline uint##bits##_t bt_atomic_cmpxchg##bits(uint##bits##_t *p,             \
                                                         uint##bits##_t expected,      \
                                                         uint##bits##_t v)             \
    {                                                                                  \
        __atomic_compare_exchange_n(p, &expected, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
        return expected;                                                               \
    }

BT_DEF_ATOMIC(32)
BT_DEF_ATOMIC(64)

#undef BT_DEF_ATOMIC

static inline uint16_t bt_bswap16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t bt_bswap32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t bt_bswap64(uint64_t v) { return __builtin_bswap64(v); }

#endif
