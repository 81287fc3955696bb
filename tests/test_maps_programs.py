"""Programs on both engines using maps in a segment: `lddw map` loads a RawMap's
handle, `lddw map_value` points into an ARRAY's contiguous values (global
variables), and map helpers reached from the program see the same map as
user space. The C map helpers are bridged through Python callables here (the
engines' native helper table is filled elsewhere), which also shows that the
pointer map_lookup_elem returns is the map's own memory.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterator

import pytest
from bpfenc import ins, lddw

import bpftime
from bpftime import Segment
from bpftime import _maps as M
from bpftime import opcodes as o

EXIT = ins(o.CLS_JMP | o.EXIT)
MAP_FD = 3


def mov(d: int, imm: int) -> bytes:
    return ins(o.CLS_ALU64 | o.SRC_K | o.OP_MOV, d, imm=imm)


def movx(d: int, s: int) -> bytes:
    return ins(o.CLS_ALU64 | o.SRC_X | o.OP_MOV, d, s)


def add(d: int, imm: int) -> bytes:
    return ins(o.CLS_ALU64 | o.SRC_K | o.OP_ADD, d, imm=imm)


def call(helper: int) -> bytes:
    return ins(o.CLS_JMP | o.CALL, imm=helper)


@pytest.fixture
def seg() -> Iterator[Segment]:
    with Segment(size=4 << 20) as s:
        yield s


def test_global_variables_live_in_the_array(seg: Segment, engine: str) -> None:
    data = seg.create_map("array", 4, 16, 1, name=".data")
    data.update(struct.pack("<I", 0), struct.pack("<QQ", 40, 0))
    binding = bpftime.MapBinding(
        handle=data.handle, value_addr=data.value_addr, value_size=data.value_size
    )
    code = (
        lddw(2, MAP_FD | (8 << 32), src=o.PSEUDO_MAP_VALUE)  # &value[8]
        + ins(o.CLS_LDX | o.MODE_MEM | o.SZ_DW, 0, 2, off=-8)  # r0 = value[0..8)
        + add(0, 2)
        + ins(o.CLS_STX | o.MODE_MEM | o.SZ_DW, 2, 0, off=0)  # value[8..16) = r0
        + EXIT
    )
    prog = bpftime.Program(code, engine=engine, maps={MAP_FD: binding})
    assert prog.run() == 42
    assert data.lookup(struct.pack("<I", 0)) == struct.pack("<QQ", 40, 42)


def bridged_map_helpers(*maps: M.RawMap) -> dict[int, object]:
    """map_lookup_elem / map_update_elem as Python helpers calling the C ones; a
    lookup hands back the map's memory itself as a ctypes buffer (pinned and made
    accessible to the interpreter by Program)."""
    value_size = {m.handle: m.value_size for m in maps}

    def lookup(m: int, key: int) -> object:
        addr = M.call_helper(1, m, key)[0]
        return (ctypes.c_char * value_size[m]).from_address(addr) if addr else 0

    def update(m: int, key: int, value: int, flags: int) -> int:
        return M.call_helper(2, m, key, value, flags)[0]

    return {1: lookup, 2: update}


def test_counting_program(seg: Segment, engine: str) -> None:
    """counts[7] += 1, inserting 1 on a miss: the C hash map behind the helpers is
    the one user space reads."""
    counts = seg.create_map("hash", 4, 8, 16, name="counts")
    key_slot = -4
    code = (
        ins(o.CLS_ST | o.MODE_MEM | o.SZ_W, 10, off=key_slot, imm=7)
        + lddw(1, MAP_FD, src=o.PSEUDO_MAP_FD)
        + movx(2, 10)
        + add(2, key_slot)
        + call(1)
        + ins(o.CLS_JMP | o.SRC_K | o.JEQ, 0, off=4, imm=0)  # miss: to the insert
        + ins(o.CLS_LDX | o.MODE_MEM | o.SZ_DW, 1, 0)
        + add(1, 1)
        + ins(o.CLS_STX | o.MODE_MEM | o.SZ_DW, 0, 1)
        + EXIT
        + ins(o.CLS_ST | o.MODE_MEM | o.SZ_DW, 10, off=-16, imm=1)
        + lddw(1, MAP_FD, src=o.PSEUDO_MAP_FD)
        + movx(2, 10)
        + add(2, key_slot)
        + movx(3, 10)
        + add(3, -16)
        + mov(4, M.BPF_NOEXIST)
        + call(2)
        + EXIT
    )
    prog = bpftime.Program(
        code,
        engine=engine,
        helpers=bridged_map_helpers(counts),
        maps={MAP_FD: bpftime.MapBinding(handle=counts.handle)},
    )
    for _ in range(5):
        prog.run()
    assert counts.lookup(struct.pack("<I", 7)) == struct.pack("<Q", 5)
    assert counts.count() == 1
