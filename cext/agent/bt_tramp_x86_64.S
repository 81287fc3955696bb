/* x86_64 trampolines of the agent; see bt_agent.h for the picture.
 *
 * A hook must leave every register as it found it, not only the callee-saved ones:
 * gcc's -fipa-ra lets a caller keep values in caller-saved registers (rdi, r11,
 * xmm8, ...) across a call to a function it knows does not touch them. So both
 * trampolines save and restore all 16 general registers and the 16 vector registers,
 * and neither uses a register to jump on; rflags is not preserved (no caller can rely
 * on it). On CPUs with AVX the vector registers are saved whole (ymm0-15: a helper's
 * libc routine may vzeroupper, and a function may take __m256 arguments); each
 * trampoline exists in both forms (`_avx` suffix) and the agent picks by CPU.
 *
 * bt_tpl_enter is a template: bt_agent_hook_new copies [bt_tpl_enter, bt_tpl_end)
 * into a page near the hooked function, followed by a page holding its bt_hook, which
 * the copy reaches rip-relative (HOOK = bt_tpl_enter + 4096). Frida sends the function
 * there with the stack exactly as the function would see it, rsp = E. E need not be
 * 16-byte aligned (gcc calls local functions it knows need no alignment with any rsp),
 * and below E lies the 128-byte red zone (live data when the probe is inside a leaf
 * function), so the trampoline steps over the red zone, pushes rax, aligns rsp down and
 * builds its frame below:
 *
 *   rsp+0    ymm0..ymm15 or xmm0..xmm15 in 32-byte slots (512 bytes, aligned)
 *   rsp+512  struct pt_regs  (21 x 8 bytes: r15 ... ss)
 *   rsp+680  E - 136, where rax was pushed
 *   ...      padding to 32 bytes, then the red zone [E - 128, E)
 *   E        at a function's entry: the caller's return address, stack-passed arguments
 *
 * bt_tramp_return (one copy, shared) is entered by the function's ret (rsp = S). It
 * keeps S - 8 as a slot, builds the same frame below S - 16, stores in the slot the
 * real return address bt_agent__on_return gives, restores everything and returns
 * through the slot.
 */
#include "bt_vec_x86_64.h"

#define R 512
#define R15 (R + 0)
#define R14 (R + 8)
#define R13 (R + 16)
#define R12 (R + 24)
#define RBP (R + 32)
#define RBX (R + 40)
#define R11 (R + 48)
#define R10 (R + 56)
#define R9 (R + 64)
#define R8 (R + 72)
#define RAX (R + 80)
#define RCX (R + 88)
#define RDX (R + 96)
#define RSI (R + 104)
#define RDI (R + 112)
#define RSP (R + 152)
#define SAVED 680      /* where rsp pointed after the first push */
#define FRAME 704
#define PAGE 4096
#define REDZONE 128   /* the System V red zone below rsp */
/* bt_hook fields (bt_agent.h, pinned by static asserts there) */
#define HOOK_ORIG 0
#define HOOK_ON_ENTER 16
#define HOOK_N_ENTER 24
#define HOOK_TLS_OFF 32
#define HOOK_BUSY_OFF 40
#define HOOK_DEPTH_OFF 48
#define HOOK_STACK_OFF 56
#define HOOK_RET_THUNK 64
#define SHADOW_SHIFT 5  /* sizeof(bt_shadow) == 32 */
#define SHADOW_MAX 1024 /* BT_SHADOW_MAX */

.macro SAVE_ALL avx
    SAVE_VEC \avx
    mov %r15, R15(%rsp)
    mov %r14, R14(%rsp)
    mov %r13, R13(%rsp)
    mov %r12, R12(%rsp)
    mov %rbp, RBP(%rsp)
    mov %rbx, RBX(%rsp)
    mov %r11, R11(%rsp)
    mov %r10, R10(%rsp)
    mov %r9, R9(%rsp)
    mov %r8, R8(%rsp)
    mov %rax, RAX(%rsp)
    mov %rcx, RCX(%rsp)
    mov %rdx, RDX(%rsp)
    mov %rsi, RSI(%rsp)
    mov %rdi, RDI(%rsp)
.endm

/* callee-saved registers (r12-r15, rbp, rbx) come back from the C call unchanged */
.macro RESTORE_SCRATCH avx
    RESTORE_VEC \avx
    mov R11(%rsp), %r11
    mov R10(%rsp), %r10
    mov R9(%rsp), %r9
    mov R8(%rsp), %r8
    mov RAX(%rsp), %rax
    mov RCX(%rsp), %rcx
    mov RDX(%rsp), %rdx
    mov RSI(%rsp), %rsi
    mov RDI(%rsp), %rdi
.endm

    .text

/* the entry trampoline template: \name .. \end is copied per hook */
.macro TPL_ENTER name, end, avx
    .globl \name
    .hidden \name
    .globl \end
    .hidden \end
    .type \name, @function
    .p2align 4
\name:
    cmpl $0, \name+PAGE+HOOK_N_ENTER(%rip)
    jne 3f
    /* uretprobes only: push this thread's shadow stack here, with three scratch
     * registers, and leave everything else alone; the C path if anything is unusual */
    lea -REDZONE(%rsp), %rsp
    push %rax
    push %rcx
    push %rdx
    mov \name+PAGE+HOOK_BUSY_OFF(%rip), %rax
    cmpb $0, %fs:(%rax)                         /* a program runs on this thread */
    jne 2f
    mov \name+PAGE+HOOK_TLS_OFF(%rip), %rax
    mov %fs:(%rax), %rax                        /* t = t_tls */
    test %rax, %rax
    jz 2f                                       /* first hook on this thread */
    mov \name+PAGE+HOOK_DEPTH_OFF(%rip), %rcx
    mov (%rax,%rcx), %edx                       /* depth */
    cmp $SHADOW_MAX, %edx
    jae 2f                                      /* full: the C path counts it */
    inc %edx
    mov %edx, (%rax,%rcx)
    dec %edx
    shl $SHADOW_SHIFT, %rdx
    add \name+PAGE+HOOK_STACK_OFF(%rip), %rdx
    add %rax, %rdx                              /* e = &t->stack[depth] */
    mov 24+REDZONE(%rsp), %rcx                  /* [E]: the return address */
    mov %rcx, 0(%rdx)                           /* e->ret */
    lea 32+REDZONE(%rsp), %rcx
    mov %rcx, 8(%rdx)                           /* e->sp = E + 8 */
    lea \name+PAGE(%rip), %rcx
    mov %rcx, 16(%rdx)                          /* e->hook */
    mov \name+PAGE+HOOK_RET_THUNK(%rip), %rcx
    mov %rcx, 24+REDZONE(%rsp)                  /* [E] = the return thunk */
    pop %rdx
    pop %rcx
    pop %rax
    lea REDZONE(%rsp), %rsp
    jmp *\name+PAGE+HOOK_ORIG(%rip)
2:  pop %rdx
    pop %rcx
    pop %rax
    lea REDZONE(%rsp), %rsp
3:  lea -REDZONE(%rsp), %rsp                    /* a probe inside a leaf function: its red */
    push %rax                                   /* zone holds live data. rax at E - 136 */
    mov %rsp, %rax
    and $-32, %rsp
    sub $FRAME, %rsp
    mov %rax, SAVED(%rsp)
    SAVE_ALL \avx
    mov (%rax), %rcx
    mov %rcx, RAX(%rsp)                         /* the real rax */
    lea 8+REDZONE(%rax), %rcx
    mov %rcx, RSP(%rsp)                         /* E: rsp at the probe */
    lea \name+PAGE(%rip), %rdi                 /* the hook, in the next page */
    lea R(%rsp), %rsi
    call *\name+PAGE+HOOK_ON_ENTER(%rip)
    test %eax, %eax
    jnz 1f
    RESTORE_SCRATCH \avx
    mov SAVED(%rsp), %rsp
    lea 8+REDZONE(%rsp), %rsp
    jmp *\name+PAGE+HOOK_ORIG(%rip)
1:  /* bpf_override_return: skip the function, return pt_regs.ax to the caller */
    RESTORE_SCRATCH \avx
    mov SAVED(%rsp), %rsp
    lea 8+REDZONE(%rsp), %rsp
    ret
\end:
    .size \name, . - \name
.endm

/* the return thunk (one copy of each form, shared by every hook) */
.macro TRAMP_RETURN name, avx
    .globl \name
    .hidden \name
    .type \name, @function
    .p2align 4
\name:
    lea -8(%rsp), %rsp                          /* S - 8: slot for the real return address */
    push %rax                                   /* S - 16 */
    mov %rsp, %rax
    and $-32, %rsp
    sub $FRAME, %rsp
    mov %rax, SAVED(%rsp)
    SAVE_ALL \avx
    mov (%rax), %rcx
    mov %rcx, RAX(%rsp)
    lea 16(%rax), %rcx
    mov %rcx, RSP(%rsp)                         /* S: rsp after the function returned */
    lea R(%rsp), %rdi
    call bt_agent__on_return
    mov SAVED(%rsp), %rcx
    mov %rax, 8(%rcx)
    RESTORE_SCRATCH \avx
    mov SAVED(%rsp), %rsp
    lea 8(%rsp), %rsp
    ret
    .size \name, . - \name
.endm

    TPL_ENTER bt_tpl_enter, bt_tpl_end, 0
    TPL_ENTER bt_tpl_enter_avx, bt_tpl_end_avx, 1
    TRAMP_RETURN bt_tramp_return, 0
    TRAMP_RETURN bt_tramp_return_avx, 1

    .section .note.GNU-stack, "", @progbits
