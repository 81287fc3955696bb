/* x86_64 trampolines of the agent; see bt_agent.h for the picture.
 *
 * bt_tramp_enter, entered from a hook's stub with r11 = the bt_hook and the stack
 * exactly as the function would see it (rsp % 16 == 8):
 *
 *   rsp+0    xmm0..xmm7      (128 bytes, aligned)
 *   rsp+128  struct pt_regs  (21 x 8 bytes: r15 ... ss)
 *   rsp+296  return address of the function's caller, then stack-passed arguments
 *
 * bt_tramp_return, entered by the function's ret (rsp % 16 == 0), builds the same
 * frame (304 bytes, 8 of padding) and jumps to the address bt_agent__on_return gives.
 */
#define XMM 0
#define R 128
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
#define ENTER_FRAME 296
#define RETURN_FRAME 304

    .text

    .globl bt_tramp_enter
    .hidden bt_tramp_enter
    .type bt_tramp_enter, @function
    .p2align 4
bt_tramp_enter:
    .cfi_startproc
    sub $ENTER_FRAME, %rsp
    .cfi_adjust_cfa_offset ENTER_FRAME
    movaps %xmm0, XMM+0(%rsp)
    movaps %xmm1, XMM+16(%rsp)
    movaps %xmm2, XMM+32(%rsp)
    movaps %xmm3, XMM+48(%rsp)
    movaps %xmm4, XMM+64(%rsp)
    movaps %xmm5, XMM+80(%rsp)
    movaps %xmm6, XMM+96(%rsp)
    movaps %xmm7, XMM+112(%rsp)
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
    lea ENTER_FRAME(%rsp), %rax
    mov %rax, RSP(%rsp)
    mov %r11, %rbx              /* the hook survives the call in rbx (callee-saved) */
    mov %r11, %rdi
    lea R(%rsp), %rsi
    call bt_agent__on_enter
    test %eax, %eax
    jnz 1f
    mov %rbx, %r11
    movaps XMM+0(%rsp), %xmm0
    movaps XMM+16(%rsp), %xmm1
    movaps XMM+32(%rsp), %xmm2
    movaps XMM+48(%rsp), %xmm3
    movaps XMM+64(%rsp), %xmm4
    movaps XMM+80(%rsp), %xmm5
    movaps XMM+96(%rsp), %xmm6
    movaps XMM+112(%rsp), %xmm7
    mov RBX(%rsp), %rbx
    mov R10(%rsp), %r10
    mov R9(%rsp), %r9
    mov R8(%rsp), %r8
    mov RAX(%rsp), %rax
    mov RCX(%rsp), %rcx
    mov RDX(%rsp), %rdx
    mov RSI(%rsp), %rsi
    mov RDI(%rsp), %rdi
    add $ENTER_FRAME, %rsp
    .cfi_adjust_cfa_offset -ENTER_FRAME
    jmp *0(%r11)                /* hook->orig */
1:  /* bpf_override_return: skip the function, return pt_regs.ax to the caller */
    .cfi_adjust_cfa_offset ENTER_FRAME
    mov RBX(%rsp), %rbx
    mov RAX(%rsp), %rax
    add $ENTER_FRAME, %rsp
    .cfi_adjust_cfa_offset -ENTER_FRAME
    ret
    .cfi_endproc
    .size bt_tramp_enter, . - bt_tramp_enter

    .globl bt_tramp_return
    .hidden bt_tramp_return
    .type bt_tramp_return, @function
    .p2align 4
bt_tramp_return:
    sub $RETURN_FRAME, %rsp
    movaps %xmm0, XMM+0(%rsp)
    movaps %xmm1, XMM+16(%rsp)
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
    lea RETURN_FRAME(%rsp), %rax
    mov %rax, RSP(%rsp)
    lea R(%rsp), %rdi
    call bt_agent__on_return
    mov %rax, %r11
    movaps XMM+0(%rsp), %xmm0
    movaps XMM+16(%rsp), %xmm1
    mov RAX(%rsp), %rax
    mov RDX(%rsp), %rdx
    add $RETURN_FRAME, %rsp
    jmp *%r11
    .size bt_tramp_return, . - bt_tramp_return

    .section .note.GNU-stack, "", @progbits
