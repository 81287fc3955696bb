/* The 16 vector registers saved to / restored from 32-byte slots at 0(%rsp) .. 511(%rsp)
 * (32-byte aligned): ymm0-15 whole with avx=1, xmm0-15 with avx=0. Shared by the
 * uprobe trampolines (bt_tramp_x86_64.S) and the syscall entry (bt_sys_x86_64.S). */
#ifndef BT_VEC_X86_64_H
#define BT_VEC_X86_64_H

.macro SAVE_VEC avx
.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
.if \avx
    vmovdqa %ymm\i, 32*\i(%rsp)
.else
    movaps %xmm\i, 32*\i(%rsp)
.endif
.endr
.endm

.macro RESTORE_VEC avx
.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
.if \avx
    vmovdqa 32*\i(%rsp), %ymm\i
.else
    movaps 32*\i(%rsp), %xmm\i
.endif
.endr
.endm

#endif
