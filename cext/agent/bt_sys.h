/* Syscall tracepoints inside the traced process (x86_64).
 *
 * Mechanism (zpoline's idea): every `syscall` instruction (0f 05) in the target's code
 * that the controller found (bpftime/syscall_hooks.py disassembles each loaded module
 * with capstone) is rewritten into `call *%rax` (ff d0), also two bytes. At that point
 * rax holds the system call number, so the call lands in page 0, which the agent maps:
 *
 *   0x000 .. 0x1ff   sled: 0x3d bytes, i.e. `cmp $0x3d3d3d3d, %eax` from wherever the
 *                    call lands (five bytes an instruction: a fifth of a nop sled's steps)
 *   0x200 .. 0x203   nops (the last cmp may end inside them)
 *   0x204            movabs $bt_sys_entry, %r11 ; jmp *%r11
 *   0x211 .. 0xffff  a second sled of the same kind and jump: numbers no syscall has
 *                    (up to 64 Ki) reach the entry too and get the kernel's -ENOSYS
 *
 *   site: call *%rax ──► [nr] nop ... nop ──► bt_sys_entry (bt_sys_x86_64.S)
 *       no program for nr: syscall; ret                       (pass-through, a few ns)
 *       else: save the caller's registers, bt_sys__dispatch():
 *             enter programs (ctx = struct bt_sys_enter_ctx, the kernel's
 *             trace_event_raw_sys_enter layout), the real syscall (unless an enter
 *             program called bpf_override_return), exit programs (bt_sys_exit_ctx),
 *             restore, ret to site + 2 with rax = the result.
 *
 * Special cases in the assembly: rt_sigreturn must run on the signal frame (the return
 * address is dropped first), vfork and clone/clone3 with CLONE_VM but no new stack share
 * the stack with the child (nothing may stay on it across the syscall: the return address
 * goes to a thread-local slot), and thread-creating clone/clone3 start the child on a new
 * stack, where the return address is pushed before the syscall so the child can `ret`.
 *
 * Registers rcx and r11 are clobbered as by the syscall instruction; everything else,
 * xmm0-15 (ymm0-15 where the CPU has AVX) included, is as the kernel would leave it.
 * Costs of the design, written down
 * in the README: the first 64 KiB (addresses below the kernel's default vm.mmap_min_addr)
 * are mapped (executable, and readable where the CPU has no execute-only pages) while
 * hooks are in, so reads through NULL do not fault then; the call
 * writes the return address into the 8 bytes below rsp (the red zone's top); only code
 * loaded when hooks were installed is rewritten.
 */
#ifndef BT_SYS_H
#define BT_SYS_H

#include <stdint.h>

#define BT_SYS_NR_MAX 512          /* sled length: syscall numbers 0..511 */
#define BT_SYS_MAX_PROGS 8

/* struct trace_event_raw_sys_enter / the sys_enter_* formats (64 bytes) */
typedef struct bt_sys_enter_ctx {
    uint16_t common_type;          /* the tracepoint's id */
    uint8_t common_flags;
    uint8_t common_preempt_count;
    int32_t common_pid;            /* thread id, as the kernel's current->pid */
    int64_t id;                    /* syscall number (int __syscall_nr in sys_enter_*) */
    uint64_t args[6];
} bt_sys_enter_ctx;

/* struct trace_event_raw_sys_exit / the sys_exit_* formats (24 bytes) */
typedef struct bt_sys_exit_ctx {
    uint16_t common_type;
    uint8_t common_flags;
    uint8_t common_preempt_count;
    int32_t common_pid;
    int64_t id;
    int64_t ret;
} bt_sys_exit_ctx;

/* The caller's syscall registers as bt_sys_entry saves them (offsets used there). */
typedef struct bt_sys_regs {
    uint64_t nr;                   /* rax */
    uint64_t args[6];              /* rdi, rsi, rdx, r10, r8, r9 */
    uint64_t *ret_slot;            /* E - 8: where the call put site + 2 */
} bt_sys_regs;

_Static_assert(sizeof(bt_sys_regs) == 64, "REGS+56 in bt_sys_x86_64.S");

_Static_assert(sizeof(bt_sys_enter_ctx) == 64, "sys_enter layout");
_Static_assert(sizeof(bt_sys_exit_ctx) == 24, "sys_exit layout");

#endif
