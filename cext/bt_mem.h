/* Unaligned, aliasing-safe loads and stores for the interpreter: memcpy of a
 * constant size compiles to one move, and is defined for any alignment. */
#ifndef BT_MEM_H
#define BT_MEM_H

#include <stdint.h>
#include <string.h>

#define BT_DEF_MEM(bits)                                                              \
    static inline uint##bits##_t bt_ld##bits(const void *p)                           \
    { uint##bits##_t v; memcpy(&v, p, sizeof v); return v; }                          \
    static inline void bt_st##bits(void *p, uint##bits##_t v) { memcpy(p, &v, sizeof v); }

BT_DEF_MEM(8)
BT_DEF_MEM(16)
BT_DEF_MEM(32)
BT_DEF_MEM(64)

#undef BT_DEF_MEM

#endif
