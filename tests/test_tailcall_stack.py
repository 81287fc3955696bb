"""bpf_tail_call's limits and bpf_get_stackid, from programs on both engines."""

from __future__ import annotations

import struct

import pytest

import bpftime
from bpftime._program import kernel_helpers

PROG_ARRAY, ARRAY, STACK_TRACE = 3, 2, 7
E2BIG, ENOENT = 7, 2


def s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


@pytest.fixture
def seg() -> bpftime.Segment:
    with bpftime.Segment(size=8 << 20) as s:
        yield s


# counts its own runs in array[0], then tail-calls jumps[index] (itself); once the
# kernel's limit of 33 tail calls is reached the helper fails and the program returns
# the helper's result
SELF_CALL = """
    mov %r6, %r1
    stw [%r10-4], 0
    lddw %r1, map_fd 2
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, +2
    mov %r1, 1
    lock_add [%r0], %r1
    mov %r1, %r6
    lddw %r2, map_fd 1
    mov %r3, {index}
    call 12
    exit
"""


def load(seg: bpftime.Segment, engine: str, index: int) -> tuple[bpftime.Program, object, object]:
    jumps = seg.create_map(PROG_ARRAY, 4, 4, 2)
    counter = seg.create_map(ARRAY, 4, 8, 1)
    prog = bpftime.Program(
        bpftime.asm.assemble(SELF_CALL.format(index=index)),
        engine=engine,
        helpers=kernel_helpers(),
        maps={
            1: bpftime.MapBinding(handle=jumps.handle),
            2: bpftime.MapBinding(handle=counter.handle),
        },
    )
    jumps.update(struct.pack("<I", 0), struct.pack("<I", prog.id))
    return prog, jumps, counter


def test_tail_calls_stop_after_33(seg: bpftime.Segment, engine: str) -> None:
    prog, _, counter = load(seg, engine, 0)
    assert s64(prog.run(bytes(8))) == -E2BIG
    # the first run plus 33 tail calls
    assert struct.unpack("<Q", counter.lookup(struct.pack("<I", 0)))[0] == 34
    # the count starts again on every run
    prog.run(bytes(8))
    assert struct.unpack("<Q", counter.lookup(struct.pack("<I", 0)))[0] == 68


def test_tail_call_to_empty_slot_continues(seg: bpftime.Segment, engine: str) -> None:
    prog, _, counter = load(seg, engine, 1)  # slot 1 is empty
    assert s64(prog.run(bytes(8))) == -ENOENT
    assert struct.unpack("<Q", counter.lookup(struct.pack("<I", 0)))[0] == 1


def test_get_stackid_stores_user_stack(seg: bpftime.Segment, engine: str) -> None:
    stacks = seg.create_map(STACK_TRACE, 4, 8 * 16, 64)
    text = """
        lddw %r2, map_fd 1
        mov %r3, 0x100
        call 27
        exit
    """
    prog = bpftime.Program(bpftime.asm.assemble(text), engine=engine, helpers=kernel_helpers(),
                           maps={1: bpftime.MapBinding(handle=stacks.handle)})  # fmt: skip
    sid = s64(prog.run(bytes(8)))
    assert 0 <= sid < 64
    ips = stacks.stack(sid)
    assert 1 <= len(ips) <= 16 and all(ip > 0x1000 for ip in ips)
    # the same call site stores the same stack: the same id
    assert s64(prog.run(bytes(8))) == sid
    # without BPF_F_USER_STACK it asks for a kernel stack, which a process has not
    prog = bpftime.Program(bpftime.asm.assemble(text.replace("0x100", "0")), engine=engine,
                           helpers=kernel_helpers(),
                           maps={1: bpftime.MapBinding(handle=stacks.handle)})  # fmt: skip
    assert s64(prog.run(bytes(8))) == -14
