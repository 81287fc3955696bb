/* The agent: what runs inside a traced process (loaded there by frida).
 *
 * Setup (called once per attachment from frida's script, never on the hot path):
 *   bt_agent_init        map the controller's segment (bt_agent_segment_base: where)
 *   bt_agent_prog_load   copy a linked JIT blob from the segment into executable memory
 *   bt_agent_hook_new    one hook per traced address: entry and return programs,
 *   bt_agent_hook_add    a copy of the entry trampoline near the function (frida's
 *   bt_agent_hook_stub   Interceptor.replaceFast sends the function there) with the
 *   bt_agent_hook_set_orig  hook in the next page, and where the original goes on.
 *
 * Hot path (bt_tramp_x86_64.S -> bt_agent__on_enter / bt_agent__on_return):
 *
 *   caller ── call f ──► f: jmp ──► hook's bt_tpl_enter: save GPRs as struct pt_regs
 *                                   and xmm0-15, run entry programs (r1 = &pt_regs),
 *                                        [uretprobe: push the return address on this
 *                                        thread's shadow stack, [rsp] = bt_tramp_return],
 *                                        restore, jmp orig (frida's copy of f's prologue)
 *   f returns ──► bt_tramp_return: save all registers, run return programs, pop the
 *                 shadow stack, restore, jmp to the real return address
 *
 * The stack the function sees is untouched (stack-passed arguments stay where they
 * were) and so is every general register and xmm0-15. Not preserved: the upper halves
 * of ymm/zmm registers when a helper runs an AVX libc routine (functions taking
 * 256-bit vector arguments), and x87 state.
 * bpf_override_return in an entry program skips the function: rax = the value, ret.
 * A replace program (SEC("ureplace/...")) is an entry program whose r0 becomes rax:
 * the function never runs (nor its return programs), as for bpftime's UREPLACE.
 * Programs run at most once at a time per thread: a hooked function called from a
 * program's helper runs unprobed (like the kernel's recursion guard).
 */
#ifndef BT_AGENT_H
#define BT_AGENT_H

#include <stddef.h>
#include <stdint.h>

/* struct pt_regs of x86_64 Linux: r1 of a uprobe program */
typedef struct bt_pt_regs {
    uint64_t r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
    uint64_t ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} bt_pt_regs;

#define BT_HOOK_MAX_PROGS 16

typedef struct bt_hook bt_hook;

/* One page, right after the page holding the hook's copy of bt_tpl_enter, which reads
 * the first fields rip-relative ([asm] marks them; offsets pinned below). */
struct bt_hook {
    void *orig;             /* [asm] where the original code continues (frida's trampoline) */
    uint64_t addr;          /* the hooked function */
    int (*on_enter)(const bt_hook *, bt_pt_regs *); /* [asm] bt_agent__on_enter */
    uint32_t n_enter, n_ret;  /* [asm] n_enter: 0 takes the uretprobe-only fast path */
    /* [asm] the uretprobe-only fast path pushes the shadow stack itself: %fs offsets of
     * the thread's bt_tls pointer and of bt_sys_busy, where depth and the entries sit in
     * bt_tls, and the return thunk to put in place of the return address */
    int64_t tls_off, busy_off;
    uint64_t depth_off, stack_off;
    const void *ret_thunk;
    const void *enter[BT_HOOK_MAX_PROGS];  /* const bt_prog * */
    uint64_t enter_cookie[BT_HOOK_MAX_PROGS];
    uint8_t enter_replace[BT_HOOK_MAX_PROGS]; /* 1: r0 is the function's return value */
    const void *ret[BT_HOOK_MAX_PROGS];
    uint64_t ret_cookie[BT_HOOK_MAX_PROGS];
};

_Static_assert(offsetof(bt_hook, orig) == 0, "HOOK_ORIG in bt_tramp_x86_64.S");
_Static_assert(offsetof(bt_hook, on_enter) == 16, "HOOK_ON_ENTER in bt_tramp_x86_64.S");
_Static_assert(offsetof(bt_hook, n_enter) == 24, "HOOK_N_ENTER in bt_tramp_x86_64.S");
_Static_assert(offsetof(bt_hook, tls_off) == 32, "HOOK_TLS_OFF in bt_tramp_x86_64.S");
_Static_assert(offsetof(bt_hook, busy_off) == 40, "HOOK_BUSY_OFF in bt_tramp_x86_64.S");
_Static_assert(offsetof(bt_hook, depth_off) == 48, "HOOK_DEPTH_OFF in bt_tramp_x86_64.S");
_Static_assert(offsetof(bt_hook, stack_off) == 56, "HOOK_STACK_OFF in bt_tramp_x86_64.S");
_Static_assert(offsetof(bt_hook, ret_thunk) == 64, "HOOK_RET_THUNK in bt_tramp_x86_64.S");
_Static_assert(sizeof(bt_hook) <= 4096, "a hook fits its page");

#endif
