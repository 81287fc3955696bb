"""The verifier's rules, one hand-written program each, with the exact message.

Programs are in the assembler's syntax; ``CASES`` rows are (name, program type,
source, expected message or None for accepted). The maps every case sees are
``MAPS``. These programs are also the hand-written half of the corpus and the
map-free ones feed the kernel differential test (test_verifier_kernel.py).
"""

from __future__ import annotations

import pytest

from bpftime.asm import assemble
from bpftime.errors import VerifierError
from bpftime.verifier import MapInfo, SourceLine, verify

MAPS = [
    MapInfo(1, 4, 8, 16, name="hash"),
    MapInfo(2, 4, 128, 4, name="arr"),
    MapInfo(27, 0, 0, 4096, name="rb"),
    MapInfo(2, 4, 16, 1, readonly=True, name=".rodata"),
    MapInfo(3, 4, 4, 4, name="progs"),
    MapInfo(2, 4, 16, 1, name="locked", spin_lock_off=0),
]
MAX_STEPS = 5000

CASES: list[tuple[str, str, str, str | None]] = [
    (
        "uninit_register",
        "uprobe",
        "mov %r0, %r3\nexit\n",
        "insn 0: R3 is not initialized (read before it is written)",
    ),
    (
        "r0_unset_at_exit",
        "uprobe",
        "exit\n",
        "insn 0: R0 is not initialized at exit; set the return value",
    ),
    (
        "pointer_returned",
        "uprobe",
        "mov %r0, %r10\nexit\n",
        "insn 1: R0 is fp at exit: a program returns a scalar (pointer leak)",
    ),
    (
        "ctx_out_of_bounds",
        "uprobe",
        "ldxdw %r0, [%r1+168]\nexit\n",
        "insn 0: invalid context access R1+168 size 8: struct pt_regs is 168 bytes",
    ),
    (
        "ctx_read_only",
        "uprobe",
        "stdw [%r1+0], 0\nmov %r0, 0\nexit\n",
        "insn 0: write to the context (R1): struct pt_regs is read-only",
    ),
    (
        "ctx_variable_offset",
        "uprobe",
        "ldxdw %r2, [%r1+0]\nand %r2, 8\nadd %r1, %r2\nldxdw %r0, [%r1+0]\nexit\n",
        "insn 3: variable-offset access to the context (R1+[0, 8]) is not allowed",
    ),
    (
        "sys_enter_bounds",
        "sys_enter",
        "ldxdw %r0, [%r1+64]\nexit\n",
        "insn 0: invalid context access R1+64 size 8: struct trace_event_raw_sys_enter is 64 bytes",
    ),
    (
        "sys_exit_bounds",
        "sys_exit",
        "ldxdw %r0, [%r1+24]\nexit\n",
        "insn 0: invalid context access R1+24 size 8: struct trace_event_raw_sys_exit is 24 bytes",
    ),
    (
        "raw_ctx_bounds",
        "test",
        "ldxb %r0, [%r1+512]\nexit\n",
        "insn 0: invalid context access R1+512 size 1: test input memory is 512 bytes",
    ),
    (
        "stack_below_frame",
        "uprobe",
        "stdw [%r10-520], 0\nmov %r0, 0\nexit\n",
        "insn 0: invalid stack access R10-520 size 8: outside the 512-byte frame [r10-512, r10)",
    ),
    (
        "stack_above_frame",
        "uprobe",
        "stdw [%r10+0], 0\nmov %r0, 0\nexit\n",
        "insn 0: invalid stack access R10 size 8: outside the 512-byte frame [r10-512, r10)",
    ),
    (
        "stack_uninit_read",
        "uprobe",
        "ldxdw %r0, [%r10-8]\nexit\n",
        "insn 0: invalid read from stack R10-8 size 8: byte r10-8 is not initialized",
    ),
    (
        "stack_partial_init",
        "uprobe",
        "stw [%r10-8], 0\nldxdw %r0, [%r10-8]\nexit\n",
        "insn 1: invalid read from stack R10-8 size 8: byte r10-4 is not initialized",
    ),
    (
        "pointer_spill_misaligned",
        "uprobe",
        "stxdw [%r10-12], %r1\nmov %r0, 0\nexit\n",
        "insn 0: pointer spill R10-12 size 8: a pointer is stored whole, as 8 bytes at an 8-byte aligned stack offset",
    ),
    (
        "pointer_spill_partial_read",
        "uprobe",
        "stxdw [%r10-8], %r1\nldxw %r0, [%r10-8]\nexit\n",
        "insn 1: invalid read from stack R10-8 size 4: partial read of a spilled ctx pointer",
    ),
    (
        "scalar_deref",
        "uprobe",
        "mov %r1, 0\nldxdw %r0, [%r1+0]\nexit\n",
        "insn 1: R1 is scalar: invalid memory access (the register is not a pointer)",
    ),
    (
        "map_null_check",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 0\n"
        "call 1\n"
        "ldxdw %r0, [%r0+0]\n"
        "exit\n",
        "insn 6: R0 is map_value_or_null: null check required before access",
    ),
    (
        "map_value_oob",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 0\n"
        "call 1\n"
        "jeq %r0, 0, +1\n"
        "ldxdw %r0, [%r0+8]\n"
        "exit\n",
        "insn 7: invalid access to map value of 'hash': R0+8 size 8 (offset 8) is outside its 8 bytes",
    ),
    (
        "map_key_uninit",
        "uprobe",
        "mov %r2, %r10\nadd %r2, -4\nlddw %r1, map_idx 0\ncall 1\nmov %r0, 0\nexit\n",
        "insn 4: invalid read from stack R2-4 size 4: byte r10-4 is not initialized",
    ),
    (
        "map_not_a_map",
        "uprobe",
        "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nmov %r1, 0\ncall 1\nmov %r0, 0\nexit\n",
        "insn 4: bpf_map_lookup_elem arg1: R1 is scalar, expected a map (lddw of a map)",
    ),
    (
        "map_update_pointer_value",
        "uprobe",
        "stw [%r10-4], 0\n"
        "stxdw [%r10-16], %r10\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "mov %r3, %r10\n"
        "add %r3, -16\n"
        "lddw %r1, map_idx 0\n"
        "mov %r4, 0\n"
        "call 2\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 9: bpf_map_update_elem arg3: the memory R3 points to holds a spilled fp pointer (pointer leak)",
    ),
    (
        # bpf_printk with more than three arguments: bpf_trace_vprintk(fmt, 6, data, 16)
        # where data holds a %s pointer to the stack (the kernel allows it for tracing)
        "vprintk_string_pointer_argument",
        "uprobe",
        "stdw [%r10-8], 0x7325\n"
        "stdw [%r10-32], 7\n"
        "mov %r1, %r10\n"
        "add %r1, -8\n"
        "stxdw [%r10-24], %r1\n"
        "mov %r2, 6\n"
        "mov %r3, %r10\n"
        "add %r3, -32\n"
        "mov %r4, 16\n"
        "call 177\n"
        "mov %r0, 0\n"
        "exit\n",
        None,
    ),
    (
        "vprintk_partial_pointer_read_still_refused",
        "uprobe",
        "stxdw [%r10-8], %r10\n"
        "ldxw %r0, [%r10-8]\n"
        "exit\n",
        "insn 1: invalid read from stack R10-8 size 4: partial read of a spilled fp pointer",
    ),
    (
        "store_pointer_in_map",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 0\n"
        "call 1\n"
        "jeq %r0, 0, +1\n"
        "stxdw [%r0+0], %r10\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 7: R10 is fp: storing a pointer into map_value memory would leak it",
    ),
    (
        "rodata_write",
        "uprobe",
        "lddw %r1, map_idx_value 3+0\nstw [%r1+0], 1\nmov %r0, 0\nexit\n",
        "insn 2: write into read-only map '.rodata' (R1)",
    ),
    (
        "rodata_read",
        "uprobe",
        "lddw %r1, map_idx_value 3+0\nldxw %r0, [%r1+12]\nexit\n",
        None,
    ),
    (
        "ringbuf_unreleased",
        "uprobe",
        "lddw %r1, map_idx 2\n"
        "mov %r2, 16\n"
        "mov %r3, 0\n"
        "call 131\n"
        "jeq %r0, 0, +1\n"
        "stdw [%r0+8], 1\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 8: unreleased ringbuf memory reserved at insn 4: call bpf_ringbuf_submit or bpf_ringbuf_discard on every path",
    ),
    (
        "ringbuf_oob",
        "uprobe",
        "lddw %r1, map_idx 2\n"
        "mov %r2, 16\n"
        "mov %r3, 0\n"
        "call 131\n"
        "jeq %r0, 0, +5\n"
        "stdw [%r0+16], 1\n"
        "mov %r1, %r0\n"
        "mov %r2, 0\n"
        "call 132\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 6: invalid access to ringbuf memory: R0+16 size 8 (offset 16) is outside its 16 bytes",
    ),
    (
        "ringbuf_use_after_submit",
        "uprobe",
        "lddw %r1, map_idx 2\n"
        "mov %r2, 16\n"
        "mov %r3, 0\n"
        "call 131\n"
        "jeq %r0, 0, +5\n"
        "mov %r6, %r0\n"
        "mov %r1, %r0\n"
        "mov %r2, 0\n"
        "call 132\n"
        "stdw [%r6+0], 1\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 10: R6 is not initialized (read before it is written)",
    ),
    (
        "ringbuf_variable_size",
        "uprobe",
        "ldxdw %r2, [%r1+112]\nlddw %r1, map_idx 2\nmov %r3, 0\ncall 131\nmov %r0, 0\nexit\n",
        "insn 4: bpf_ringbuf_reserve arg2: R2 is scalar, expected a constant size",
    ),
    (
        "ringbuf_wrong_map",
        "uprobe",
        "lddw %r1, map_idx 0\nmov %r2, 16\nmov %r3, 0\ncall 131\nmov %r0, 0\nexit\n",
        "insn 4: bpf_ringbuf_reserve cannot take map 'hash' of type hash",
    ),
    (
        "tail_call_not_prog_array",
        "uprobe",
        "lddw %r2, map_idx 0\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit\n",
        "insn 3: bpf_tail_call cannot take map 'hash' of type hash",
    ),
    (
        "tail_call_prog_array",
        "uprobe",
        "lddw %r2, map_idx 4\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit\n",
        None,
    ),
    (
        "helper_unknown",
        "uprobe",
        "call 9\nmov %r0, 0\nexit\n",
        "insn 0: call to unknown helper 9: bpftime does not implement it",
    ),
    (
        "helper_pointer_leak",
        "uprobe",
        "mov %r1, %r10\ncall 109\nmov %r0, 0\nexit\n",
        "insn 1: bpf_send_signal arg1: R1 is fp, the helper takes a scalar (pointer leak)",
    ),
    (
        "helper_size_zero",
        "uprobe",
        "mov %r1, %r10\nadd %r1, -16\nmov %r2, 0\ncall 16\nmov %r0, 0\nexit\n",
        "insn 3: bpf_get_current_comm arg2: R2 is 0, the size must be > 0",
    ),
    (
        "helper_buffer_too_small",
        "uprobe",
        "mov %r1, %r10\nadd %r1, -8\nmov %r2, 16\ncall 16\nmov %r0, 0\nexit\n",
        "insn 3: invalid stack access R1-8 size 16: outside the 512-byte frame [r10-512, r10)",
    ),
    (
        "helper_ctx_arg",
        "uprobe",
        "mov %r1, %r10\ncall 174\nexit\n",
        "insn 1: bpf_get_attach_cookie arg1: R1 is fp, expected the context pointer (R1 at entry)",
    ),
    (
        "helper_clobbers_r1",
        "uprobe",
        "call 5\nmov %r0, %r1\nexit\n",
        "insn 1: R1 is not initialized (read before it is written)",
    ),
    (
        "spin_lock_leak",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 5\n"
        "call 1\n"
        "jeq %r0, 0, +2\n"
        "mov %r1, %r0\n"
        "call 93\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 10: bpf_spin_unlock is missing: the lock taken at insn 8 is still held at exit",
    ),
    (
        "spin_lock_call_inside",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 5\n"
        "call 1\n"
        "jeq %r0, 0, +5\n"
        "mov %r6, %r0\n"
        "mov %r1, %r0\n"
        "call 93\n"
        "call 5\n"
        "mov %r1, %r6\n"
        "call 94\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 10: function calls are not allowed while holding a lock (bpf_ktime_get_ns)",
    ),
    (
        "spin_lock_no_lock_field",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 0\n"
        "call 1\n"
        "jeq %r0, 0, +1\n"
        "mov %r1, %r0\n"
        "call 93\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 8: bpf_spin_lock: map 'hash' has no struct bpf_spin_lock in its value",
    ),
    (
        "spin_lock_held_at_return",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 5\n"
        "call 1\n"
        "jeq %r0, 0, +2\n"
        "mov %r1, %r0\n"
        "call local sub\n"
        "mov %r0, 0\n"
        "exit\n"
        "sub:\n"
        "call 93\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 13: bpf_spin_unlock is missing: the lock taken at insn 11 is still held when the"
        " function returns",
    ),
    (
        "unlock_without_lock",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 5\n"
        "call 1\n"
        "jeq %r0, 0, +1\n"
        "mov %r1, %r0\n"
        "call 94\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 8: bpf_spin_unlock without a held lock",
    ),
    (
        "ptr_unbounded_add",
        "uprobe",
        "ldxdw %r2, [%r1+112]\nmov %r1, %r10\nadd %r1, %r2\nmov %r0, 0\nexit\n",
        "insn 2: R1 += R2: pointer arithmetic with an unbounded scalar (R2 is scalar); bound it with a comparison first",
    ),
    (
        "ptr_alu32",
        "uprobe",
        "mov %r1, %r10\nadd32 %r1, 4\nmov %r0, 0\nexit\n",
        "insn 1: R1 is fp: 32-bit arithmetic on a pointer is not allowed",
    ),
    (
        "ptr_mul",
        "uprobe",
        "mov %r1, %r10\nmul %r1, 2\nmov %r0, 0\nexit\n",
        "insn 1: R1 is fp: '*=' on a pointer is not allowed",
    ),
    (
        "ptr_mov32_leak",
        "uprobe",
        "mov32 %r0, %r10\nexit\n",
        "insn 0: R10 is fp: a 32-bit or sign-extending move would truncate the pointer into a scalar (pointer leak)",
    ),
    (
        "ptr_sub_diff_regions",
        "uprobe",
        "mov %r0, %r10\nsub %r0, %r1\nexit\n",
        "insn 1: R0 -= R1: fp -= ctx is not allowed (only subtracting two pointers into the same region)",
    ),
    (
        "ptr_sub_same_region",
        "uprobe",
        "mov %r0, %r10\nmov %r2, %r10\nadd %r2, -8\nsub %r0, %r2\nexit\n",
        None,
    ),
    (
        "null_arith",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 0\n"
        "call 1\n"
        "add %r0, 8\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 6: R0 is map_value_or_null: null check required before arithmetic",
    ),
    (
        "bounded_index_ok",
        "uprobe",
        "ldxdw %r2, [%r1+112]\n"
        "stw [%r10-4], 0\n"
        "mov %r6, %r2\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 1\n"
        "call 1\n"
        "jeq %r0, 0, +5\n"
        "jgt %r6, 15, +4\n"
        "lsh %r6, 3\n"
        "add %r0, %r6\n"
        "ldxdw %r0, [%r0+0]\n"
        "exit\n"
        "mov %r0, 0\n"
        "exit\n",
        None,
    ),
    (
        "bounded_index_off_by_one",
        "uprobe",
        "ldxdw %r2, [%r1+112]\n"
        "stw [%r10-4], 0\n"
        "mov %r6, %r2\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 1\n"
        "call 1\n"
        "jeq %r0, 0, +5\n"
        "jgt %r6, 16, +4\n"
        "lsh %r6, 3\n"
        "add %r0, %r6\n"
        "ldxdw %r0, [%r0+0]\n"
        "exit\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 12: invalid access to map value of 'arr': R0+[0, 128] size 8 (offset range [0, 128]) is outside its 128 bytes",
    ),
    (
        "jmp32_bound_ok",
        "uprobe",
        "ldxdw %r2, [%r1+112]\n"
        "mov32 %r2, %r2\n"
        "jlt32 %r2, 8, +2\n"
        "mov %r0, 0\n"
        "exit\n"
        "mov %r1, %r10\n"
        "add %r1, -8\n"
        "stdw [%r10-8], 0\n"
        "add %r1, %r2\n"
        "ldxb %r0, [%r1+0]\n"
        "exit\n",
        None,
    ),
    (
        "loop_bounded",
        "uprobe",
        "mov %r0, 0\nmov %r1, 0\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 100, -3\nexit\n",
        None,
    ),
    (
        "loop_infinite",
        "uprobe",
        "mov %r0, 0\nmov %r1, 1\nja -2\nexit\n",
        "insn 1: infinite loop detected: the loop comes back here in a state it was in before, so nothing bounds it",
    ),
    (
        "loop_too_complex",
        "uprobe",
        "mov %r0, 0\nadd %r0, 1\njne %r0, 0, -2\nexit\n",
        "insn 2: program too complex: more than 5000 instructions explored (bound the loops more tightly, or use bpf_loop)",
    ),
    (
        "loop_counting_nothing",
        "uprobe",
        "mov %r0, 0\nadd %r0, 1\nja -2\nexit\n",
        "insn 1: infinite loop detected: the loop comes back here in a state it was in before, so nothing bounds it",
    ),
    (
        "call_recursion",
        "uprobe",
        "call local sub\nexit\nsub:\ncall local sub\nexit\n",
        "insn 2: recursive call to the function at insn 2",
    ),
    (
        "call_too_deep",
        "uprobe",
        "mov %r0, 0\n"
        "call local f1\n"
        "exit\n"
        "f1:\n"
        "call local f2\n"
        "exit\n"
        "f2:\n"
        "call local f3\n"
        "exit\n"
        "f3:\n"
        "call local f4\n"
        "exit\n"
        "f4:\n"
        "call local f5\n"
        "exit\n"
        "f5:\n"
        "call local f6\n"
        "exit\n"
        "f6:\n"
        "call local f7\n"
        "exit\n"
        "f7:\n"
        "call local f8\n"
        "exit\n"
        "f8:\n"
        "mov %r0, 0\n"
        "exit\n",
        "insn 15: call stack too deep: more than 8 frames (bpf-to-bpf calls)",
    ),
    (
        "call_r6_kept",
        "uprobe",
        "mov %r6, 7\ncall local sub\nmov %r0, %r6\nexit\nsub:\nmov %r6, 1\nmov %r0, 0\nexit\n",
        None,
    ),
    (
        "call_r1_dead_after",
        "uprobe",
        "mov %r1, 7\ncall local sub\nmov %r0, %r1\nexit\nsub:\nmov %r0, 0\nexit\n",
        "insn 2: R1 is not initialized (read before it is written)",
    ),
    (
        "call_callee_r6_unset",
        "uprobe",
        "mov %r6, 7\ncall local sub\nexit\nsub:\nmov %r0, %r6\nexit\n",
        "insn 3: R6 is not initialized (read before it is written)",
    ),
    (
        "call_own_stack",
        "uprobe",
        "stdw [%r10-8], 1\n"
        "call local sub\n"
        "ldxdw %r0, [%r10-8]\n"
        "exit\n"
        "sub:\n"
        "ldxdw %r0, [%r10-8]\n"
        "exit\n",
        "insn 4: invalid read from stack R10-8 size 8: byte r10-8 is not initialized",
    ),
    (
        "call_returns_stack_ptr",
        "uprobe",
        "call local sub\nmov %r0, 0\nexit\nsub:\nmov %r0, %r10\nexit\n",
        "insn 4: R0 points into the returning function's stack frame",
    ),
    (
        "callee_writes_caller_stack",
        "uprobe",
        "mov %r1, %r10\n"
        "add %r1, -8\n"
        "call local sub\n"
        "ldxdw %r0, [%r10-8]\n"
        "exit\n"
        "sub:\n"
        "stdw [%r1+0], 3\n"
        "mov %r0, 0\n"
        "exit\n",
        None,
    ),
    (
        "bpf_loop_ok",
        "uprobe",
        "stdw [%r10-8], 0\n"
        "mov %r1, 10\n"
        "lddw %r2, func cb\n"
        "mov %r3, %r10\n"
        "add %r3, -8\n"
        "mov %r4, 0\n"
        "call 181\n"
        "ldxdw %r0, [%r10-8]\n"
        "exit\n"
        "cb:\n"
        "ldxdw %r3, [%r2+0]\n"
        "add %r3, %r1\n"
        "stxdw [%r2+0], %r3\n"
        "mov %r0, 0\n"
        "exit\n",
        None,
    ),
    (
        "bpf_loop_bad_callback",
        "uprobe",
        "stdw [%r10-8], 0\n"
        "mov %r1, 10\n"
        "lddw %r2, func cb\n"
        "mov %r3, %r10\n"
        "add %r3, -8\n"
        "mov %r4, 0\n"
        "call 181\n"
        "mov %r0, 0\n"
        "exit\n"
        "cb:\n"
        "ldxdw %r0, [%r2+8]\n"
        "exit\n",
        "insn 10: invalid stack access R2-8+8 size 8: outside the 512-byte frame [r10-512, r10)",
    ),
    (
        "bpf_loop_callback_return",
        "uprobe",
        "mov %r1, 10\n"
        "lddw %r2, func cb\n"
        "mov %r3, 0\n"
        "mov %r4, 0\n"
        "call 181\n"
        "mov %r0, 0\n"
        "exit\n"
        "cb:\n"
        "mov %r0, 2\n"
        "exit\n",
        "insn 9: callback must return 0 or 1, R0 is 2",
    ),
    (
        "bpf_loop_not_func",
        "uprobe",
        "mov %r1, 10\nmov %r2, 0\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 0\nexit\n",
        "insn 4: bpf_loop arg2: R2 is scalar, expected a callback function",
    ),
    (
        "map_lddw_out_of_range",
        "uprobe",
        "lddw %r1, map_idx 9\nmov %r0, 0\nexit\n",
        "insn 0: lddw refers to map 9, but the program has 6 maps",
    ),
    (
        "atomic_on_map",
        "uprobe",
        "stw [%r10-4], 0\n"
        "mov %r2, %r10\n"
        "add %r2, -4\n"
        "lddw %r1, map_idx 0\n"
        "call 1\n"
        "jeq %r0, 0, +2\n"
        "mov %r1, 1\n"
        "lock_add [%r0+0], %r1\n"
        "mov %r0, 0\n"
        "exit\n",
        None,
    ),
    (
        "atomic_pointer_operand",
        "uprobe",
        "stdw [%r10-8], 0\nmov %r1, %r10\nlock_add [%r10-8], %r1\nmov %r0, 0\nexit\n",
        "insn 2: R1 is fp: atomic operations take a scalar",
    ),
    (
        "div_by_zero_defined",
        "uprobe",
        "mov %r0, 5\nmov %r1, 0\ndiv %r0, %r1\nexit\n",
        None,
    ),
    (
        # bpf_printk("%s", buf): a printk value may be a pointer (the helper reads it safely)
        "printk_string_pointer_argument",
        "uprobe",
        "stdw [%r10-8], 0x6c6c6568\nstdw [%r10-16], 0x7325\nmov %r1, %r10\nadd %r1, -16\n"
        "mov %r2, 3\nmov %r3, %r10\nadd %r3, -8\ncall 6\nmov %r0, 0\nexit\n",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "prog_type", "source", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_rule(name: str, prog_type: str, source: str, expected: str | None) -> None:
    code = assemble(source)
    if expected is None:
        verify(code, prog_type, MAPS, max_steps=MAX_STEPS)
        return
    with pytest.raises(VerifierError) as info:
        verify(code, prog_type, MAPS, max_steps=MAX_STEPS)
    assert str(info.value) == expected
    assert info.value.index == int(expected.split(":")[0].split()[1])
    assert info.value.reason == expected.split(": ", 1)[1]


def test_corpus_size() -> None:
    assert sum(c[3] is not None for c in CASES) >= 40


NULL_DEREF = assemble(
    "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_idx 0\ncall 1\n"
    "ldxdw %r0, [%r0+0]\nadd %r0, 1\nexit"
)


def test_message_points_at_the_c_line() -> None:
    lines = {
        0: SourceLine("prog.bpf.c", 25, 2, "__u32 key = 0;"),
        6: SourceLine("prog.bpf.c", 27, 8, "\tval = *v + 1;"),
    }
    with pytest.raises(VerifierError) as info:
        verify(NULL_DEREF, "uprobe", MAPS, lines)
    e = info.value
    assert str(e) == (
        "insn 6: R0 is map_value_or_null: null check required before access\n"
        "  ; val = *v + 1;  (prog.bpf.c:27)"
    )
    assert (e.index, e.file, e.line, e.source_line) == (6, "prog.bpf.c", 27, "val = *v + 1;")
    assert e.state is None


def test_verbose_adds_the_register_state() -> None:
    with pytest.raises(VerifierError) as info:
        verify(NULL_DEREF, "uprobe", MAPS, verbose=True)
    state = info.value.state
    assert state is not None
    assert "R0=map_value_or_null(map=0)" in state
    assert "R10=fp0" in state
    assert str(info.value).endswith(state.replace("\n", "\n  "))


def test_unknown_program_type() -> None:
    with pytest.raises(VerifierError, match="unknown program type 'kprobe_multi'"):
        verify(assemble("mov %r0, 0\nexit"), "kprobe_multi")


def test_tracepoint_layout_from_section() -> None:
    code = assemble("ldxdw %r0, [%r1+56]\nexit")
    verify(code, "tracepoint", section="tracepoint/syscalls/sys_enter_openat")
    with pytest.raises(VerifierError, match="struct trace_event_raw_sys_exit is 24 bytes"):
        verify(code, "tracepoint", section="tp/syscalls/sys_exit_openat")


def test_raw_context_size_is_the_callers() -> None:
    code = assemble("ldxdw %r0, [%r1+56]\nexit")
    verify(code, "syscall", ctx_size=64)
    with pytest.raises(VerifierError, match="syscall input memory is 32 bytes"):
        verify(code, "syscall", ctx_size=32)


def test_malformed_program_is_a_verifier_error() -> None:
    with pytest.raises(VerifierError, match=r"insn 0: .*does not end with exit"):
        verify(assemble("mov %r0, 0"), "uprobe")
