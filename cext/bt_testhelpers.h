/* The helper set of ubpf's test suite (ids 0-5), used by the conformance runner. */
#ifndef BT_TESTHELPERS_H
#define BT_TESTHELPERS_H

#include "bt_ctx.h"

uint64_t bt_test__gather_bytes(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *);
uint64_t bt_test__memfrob(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *);
uint64_t bt_test__trash_registers(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *);
uint64_t bt_test__sqrti(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *);
uint64_t bt_test__strcmp_ext(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *);
uint64_t bt_test__unwind(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, bt_ctx *);

#endif
