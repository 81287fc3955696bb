/* The agent: what runs inside a traced process (loaded there by frida).
 *
 * Setup (called once per attachment from frida's script, never on the hot path):
 *   bt_agent_init        map the controller's segment at the controller's address
 *   bt_agent_prog_load   copy a linked JIT blob from the segment into executable memory
 *   bt_agent_hook_new    one hook per traced address: entry and return programs,
 *   bt_agent_hook_add    a 16-byte stub (movabs r11, hook; jmp bt_tramp_enter) that
 *   bt_agent_hook_stub   frida's Interceptor.replaceFast sends the function to, and
 *   bt_agent_hook_set_orig  the address of the relocated original it jumps on to.
 *
 * Hot path (bt_tramp_x86_64.S -> bt_agent__on_enter / bt_agent__on_return):
 *
 *   caller ── call f ──► f: jmp stub ──► bt_tramp_enter: save GPRs as struct pt_regs
 *                                        and xmm0-7, run entry programs (r1 = &pt_regs),
 *                                        [uretprobe: push the return address on this
 *                                        thread's shadow stack, [rsp] = bt_tramp_return],
 *                                        restore, jmp orig (frida's copy of f's prologue)
 *   f returns ──► bt_tramp_return: save rax/rdx/xmm0-1, run return programs, pop the
 *                 shadow stack, restore, jmp to the real return address
 *
 * The stack the function sees is untouched (stack-passed arguments stay where they
 * were); r11 is the only register the hook changes (a scratch register at a call).
 * bpf_override_return in an entry program skips the function: rax = the value, ret.
 * Programs run at most once at a time per thread: a hooked function called from a
 * program's helper runs unprobed (like the kernel's recursion guard).
 */
#ifndef BT_AGENT_H
#define BT_AGENT_H

#include <stdint.h>

/* struct pt_regs of x86_64 Linux: r1 of a uprobe program */
typedef struct bt_pt_regs {
    uint64_t r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
    uint64_t ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} bt_pt_regs;

#define BT_HOOK_MAX_PROGS 16

typedef struct bt_hook {
    void *orig;             /* [asm] offset 0: where the original code continues */
    uint64_t addr;          /* the hooked function */
    uint32_t n_enter, n_ret;
    const void *enter[BT_HOOK_MAX_PROGS];  /* const bt_prog * */
    uint64_t enter_cookie[BT_HOOK_MAX_PROGS];
    const void *ret[BT_HOOK_MAX_PROGS];
    uint64_t ret_cookie[BT_HOOK_MAX_PROGS];
    uint8_t *stub;
} bt_hook;

#endif
