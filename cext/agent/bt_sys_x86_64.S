/* x86_64 syscall hook entry; see bt_sys.h for the picture.
 *
 * Entered from page 0's nop sled with rsp = E - 8, where E is rsp at the rewritten
 * site and [E - 8] the return address (site + 2) `call *%rax` pushed; rax = syscall
 * number, rdi rsi rdx r10 r8 r9 = its arguments. rcx and r11 are free (the syscall
 * instruction clobbers them too).
 *
 * CALL_C frame (below the rest of the red zone, 32-byte aligned):
 *   rsp+0     ymm0..ymm15 where the CPU has AVX, else xmm0..xmm15 (32-byte slots)
 *   rsp+512   struct bt_sys_regs: nr, rdi, rsi, rdx, r10, r8, r9
 *   rsp+568   E - 8 (the return slot; bt_sys_regs.ret_slot)
 */
#include "bt_vec_x86_64.h"

#define FRAME 576
#define REGS 512
#define REDZONE 128
#define NR_RT_SIGRETURN 15
#define NR_CLONE 56
#define NR_VFORK 58
#define NR_CLONE3 435
#define NR_MAX 512                  /* BT_SYS_NR_MAX */
#define CLONE_VM 0x100
#define T_EXCLUDED 2                /* enum in bt_sys.c */

.macro CALL_C fn
    mov %rsp, %r11
    lea -(REDZONE - 8)(%rsp), %rsp
    and $-32, %rsp
    sub $FRAME, %rsp
    mov %r11, REGS+56(%rsp)
    mov %rax, REGS+0(%rsp)
    mov %rdi, REGS+8(%rsp)
    mov %rsi, REGS+16(%rsp)
    mov %rdx, REGS+24(%rsp)
    mov %r10, REGS+32(%rsp)
    mov %r8, REGS+40(%rsp)
    mov %r9, REGS+48(%rsp)
    cmpb $0, bt_sys_avx(%rip)
    jne 8f
    SAVE_VEC 0
    jmp 9f
8:  SAVE_VEC 1
9:
    lea REGS(%rsp), %rdi
    call \fn
    cmpb $0, bt_sys_avx(%rip)
    jne 8f
    RESTORE_VEC 0
    jmp 9f
8:  RESTORE_VEC 1
9:
    mov REGS+8(%rsp), %rdi
    mov REGS+16(%rsp), %rsi
    mov REGS+24(%rsp), %rdx
    mov REGS+32(%rsp), %r10
    mov REGS+40(%rsp), %r8
    mov REGS+48(%rsp), %r9
    mov REGS+56(%rsp), %rsp
.endm

.macro CHILD_STATE                         /* rcx = the parent's bt_sys_state */
    cmp $T_EXCLUDED, %ecx                   /* only frida's threads' children: their TLS */
    jne 2f                                  /* is glibc's, so the slot exists */
    mov bt_sys_state@gottpoff(%rip), %r11
    mov %cl, %fs:(%r11)
2:
.endm

    .text
    .globl bt_sys_entry
    .hidden bt_sys_entry
    .type bt_sys_entry, @function
    .p2align 4
bt_sys_entry:
    cmp $NR_RT_SIGRETURN, %rax
    je .Lsigreturn
    cmp $NR_CLONE, %rax
    je .Lclone
    cmp $NR_VFORK, %rax
    je .Lvfork
    cmp $NR_CLONE3, %rax
    je .Lclone3
    cmp $NR_MAX, %rax                       /* from the second sled: no such syscall, */
    jae .Lslow                              /* but raw_syscalls programs see it */
    lea bt_sys_want(%rip), %r11
    cmpb $0, (%r11,%rax)
    jne .Lslow
    syscall                                 /* no program wants this one */
    ret
.Lslow:
    CALL_C bt_sys__dispatch                 /* rax = the result */
    ret

.Lsigreturn:                                /* the signal frame lies at E */
    lea 8(%rsp), %rsp
    syscall
    ud2

.Lclone:                                    /* rdi = flags, rsi = new stack */
    test %rsi, %rsi
    jnz .Lclone_stack
    test $CLONE_VM, %edi
    jnz .Lvfork
    jmp .Lslow                              /* fork-like: the child has its own stack copy */
.Lclone_stack:                              /* the child starts at site + 2 on rsi */
    CALL_C bt_sys__enter_only               /* rax = nr */
    mov (%rsp), %r11
    mov %r11, -8(%rsi)
    mov bt_sys_state@gottpoff(%rip), %r11
    movzbl %fs:(%r11), %r11d
    mov %r11, -16(%rsi)
    lea -16(%rsi), %rsi
    syscall
    test %rax, %rax
    jz 1f
    lea 16(%rsi), %rsi
    ret                                     /* parent: from E - 8 */
1:  pop %rcx                                /* child, on rsi - 16: the parent's state */
    lea 16(%rsi), %rsi
    CHILD_STATE
    ret

.Lclone3:                                   /* rdi = struct clone_args *, rsi = size */
    mov 40(%rdi), %r11                      /* .stack */
    test %r11, %r11
    jnz .Lclone3_stack
    testq $CLONE_VM, (%rdi)
    jnz .Lvfork
    jmp .Lslow
.Lclone3_stack:
    CALL_C bt_sys__clone3_prepare           /* rax = a copy with room for 2 words, or -errno */
    cmp $-4095, %rax
    jae 2f
    mov %rax, %rdi
    mov $NR_CLONE3, %eax
    syscall
    test %rax, %rax
    jz 1f
    mov bt_sys_clone_rdi@gottpoff(%rip), %rcx
    mov %fs:(%rcx), %rdi                    /* parent: its own struct pointer back */
2:  ret
1:  pop %rcx                                /* child: on the new stack, pushed by prepare */
    pop %rdi
    CHILD_STATE
    ret

.Lvfork:                                    /* the child runs on this very stack */
    CALL_C bt_sys__enter_only
    pop %r11                                /* rsp = E, nothing of ours left on it */
    mov bt_sys_vfork_ret@gottpoff(%rip), %rcx
    mov %r11, %fs:(%rcx)
    syscall
    mov bt_sys_vfork_ret@gottpoff(%rip), %rcx
    jmp *%fs:(%rcx)
    .size bt_sys_entry, . - bt_sys_entry

/* long bt_sys_raw(long nr, long a0, ..., long a5): a system call no hook sees */
    .globl bt_sys_raw
    .hidden bt_sys_raw
    .type bt_sys_raw, @function
    .p2align 4
bt_sys_raw:
    mov %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
    mov 8(%rsp), %r9
    syscall
    ret
    .size bt_sys_raw, . - bt_sys_raw

    .section .note.GNU-stack, "", @progbits
