/* Composed opcode -> dense interpreter opcode; see BT_INTERP_OPS in bt_insn.h. */
#include <errno.h>
#include <string.h>

#include "bt_insn.h"

static const uint16_t bt_iop_code[BT_I__COUNT] = {
#define BT_X(name, code) [BT_I_##name] = (code),
    BT_INTERP_OPS(BT_X)
#undef BT_X
};

#define BT_COMPOSED_MAX 0x1000 /* raw opcode (8 bits) | variant (4 bits used) */

int bt_iop__translate(bt_insn *insns, uint32_t n, uint32_t *bad)
{
    uint16_t dense[BT_COMPOSED_MAX];
    memset(dense, 0xff, sizeof dense);
    for (int k = 0; k < BT_I__COUNT; k++)
        dense[bt_iop_code[k]] = (uint16_t)k;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t op = insns[i].op;
        /* composed 0 (LD | W | IMM) is no instruction: the decoder uses it only for the
         * second slot of an lddw, which is never dispatched */
        if (op == 0)
            continue;
        if (op >= BT_COMPOSED_MAX || dense[op] == 0xffff) {
            *bad = i;
            return -EINVAL;
        }
        insns[i].op = dense[op];
    }
    return 0;
}
