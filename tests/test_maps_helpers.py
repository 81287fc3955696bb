"""The map helpers as programs see them (cext/bt_helpers_map.c), called through
bpftime._maps.call_helper with a fresh run context: pointers into maps, the
regions that make them accessible to the interpreter, per-CPU slots,
for_each_map_elem callbacks, perf and ring buffer output, bpf_printk lines.
"""

from __future__ import annotations

import ctypes
import errno
import re
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bpftime import Segment
from bpftime import _maps as M

MASK = 2**64 - 1


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


def u64(i: int) -> bytes:
    return struct.pack("<Q", i)


def read(addr: int, n: int) -> bytes:
    return ctypes.string_at(addr, n)


def inside(regions: list[tuple[int, int, bool]], addr: int, n: int, writable: bool) -> bool:
    return any(s <= addr and addr + n <= e and (w or not writable) for s, e, w in regions)


@pytest.fixture
def seg() -> Iterator[Segment]:
    with Segment(size=8 << 20) as s:
        yield s


def test_lookup_points_into_the_map(seg: Segment) -> None:
    h = seg.create_map("hash", 4, 8, 4)
    h.update(u32(1), u64(11))
    addr, regions = M.call_helper(1, h.handle, u32(1))
    assert read(addr, 8) == u64(11)
    assert inside(regions, addr, 8, writable=True)
    assert len(regions) == 1  # the map's whole data area, once
    ctypes.memmove(addr, u64(12), 8)  # a program writes through the pointer
    assert h.lookup(u32(1)) == u64(12)
    assert M.call_helper(1, h.handle, u32(2)) == (0, [])


def test_update_and_delete_helpers(seg: Segment) -> None:
    h = seg.create_map("hash", 4, 8, 1)
    assert M.call_helper(2, h.handle, u32(5), u64(55), M.BPF_NOEXIST)[0] == 0
    assert h.lookup(u32(5)) == u64(55)
    assert M.call_helper(2, h.handle, u32(6), u64(66), 0)[0] == (-errno.E2BIG) & MASK
    assert M.call_helper(3, h.handle, u32(5))[0] == 0
    assert M.call_helper(3, h.handle, u32(5))[0] == (-errno.ENOENT) & MASK


def test_array_lookup_is_the_value_area(seg: Segment) -> None:
    a = seg.create_map("array", 4, 12, 3)
    addr, _ = M.call_helper(1, a.handle, u32(2))
    assert addr == a.value_addr + 2 * 16  # slots of round_up(12, 8)
    assert M.call_helper(1, a.handle, u32(3))[0] == 0


@pytest.mark.parametrize("kind", ["percpu_array", "percpu_hash", "lru_percpu_hash"])
def test_percpu_program_side_sees_one_slot(seg: Segment, kind: str) -> None:
    m = seg.create_map(kind, 4, 4, 2)
    ncpu = seg.ncpu
    assert m.user_value_size == ncpu * 8
    assert M.call_helper(2, m.handle, u32(0), b"\x01\x02\x03\x04", 0)[0] == 0
    slots = [m.lookup(u32(0))[i * 8 : i * 8 + 8] for i in range(ncpu)]
    written = [s for s in slots if s != bytes(8)]
    assert written == [b"\x01\x02\x03\x04" + bytes(4)]  # only the caller's CPU slot
    m.update(u32(0), b"".join(u64(100 + i) for i in range(ncpu)))
    addr, _ = M.call_helper(1, m.handle, u32(0))
    assert struct.unpack("<Q", read(addr, 8))[0] in range(100, 100 + ncpu)


def test_for_each_map_elem(seg: Segment) -> None:
    a = seg.create_map("array", 4, 8, 5)
    for i in range(5):
        a.update(u32(i), u64(i * 10))
    seen: list[tuple[int, int, int]] = []

    def visit(fn: int, m: int, key: int, value: int, cb_ctx: int, _: int) -> int:
        assert (fn, m, cb_ctx) == (0x1234, a.handle, 77)
        k = struct.unpack("<I", read(key, 4))[0]
        seen.append((k, struct.unpack("<Q", read(value, 8))[0], value))
        return 1 if k == 2 else 0

    r0, regions = M.call_helper(164, a.handle, 0x1234, 77, 0, callback=visit)
    assert r0 == 3  # elements visited, including the one that stopped the walk
    assert [(k, v) for k, v, _ in seen] == [(0, 0), (1, 10), (2, 20)]
    assert all(inside(regions, addr, 8, writable=True) for _, _, addr in seen)


def test_for_each_over_a_hash(seg: Segment) -> None:
    h = seg.create_map("hash", 8, 4, 16)
    for i in range(10):
        h.update(u64(i), u32(i + 1))
    keys: list[int] = []

    def visit(fn: int, m: int, key: int, value: int, cb_ctx: int, _: int) -> int:
        k = struct.unpack("<Q", read(key, 8))[0]
        assert read(value, 4) == u32(k + 1)
        keys.append(k)
        return 0

    r0, _ = M.call_helper(164, h.handle, 0, 0, 0, callback=visit)
    assert r0 == 10 and sorted(keys) == list(range(10))


def test_for_each_callback_errors_stop_the_walk(seg: Segment) -> None:
    a = seg.create_map("array", 4, 8, 5)

    def boom(*args: int) -> int:
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        M.call_helper(164, a.handle, 0, 0, 0, callback=boom)


def test_stack_and_queue_helpers(seg: Segment) -> None:
    s = seg.create_map("stack", 0, 4, 2)
    for v in (b"aaaa", b"bbbb"):
        assert M.call_helper(87, s.handle, v, 0)[0] == 0
    assert M.call_helper(87, s.handle, b"cccc", 0)[0] == (-errno.E2BIG) & MASK
    assert M.call_helper(87, s.handle, b"cccc", M.BPF_EXIST)[0] == 0  # drops the oldest
    out = bytearray(4)
    assert M.call_helper(89, s.handle, out)[0] == 0 and out == b"cccc"
    assert M.call_helper(88, s.handle, out)[0] == 0 and out == b"cccc"
    assert M.call_helper(88, s.handle, out)[0] == 0 and out == b"bbbb"
    assert M.call_helper(88, s.handle, out)[0] == (-errno.ENOENT) & MASK


def test_bloom_helpers(seg: Segment) -> None:
    b = seg.create_map("bloom_filter", 0, 8, 100, map_extra=3)
    assert M.call_helper(87, b.handle, u64(5), 0)[0] == 0
    assert M.call_helper(89, b.handle, u64(5))[0] == 0
    assert b.peek(u64(5)) == u64(5)
    assert b.count() == 1


def perf_records(perf: M.RawMap, cpu: int) -> list[tuple[str, Any]]:
    got: list[tuple[str, Any]] = []
    perf.perf_consume(
        cpu,
        lambda c, data: got.append(("sample", data)),
        lambda c, n: got.append(("lost", n)),
    )
    return got


def test_perf_event_output(seg: Segment) -> None:
    perf = seg.create_map("perf_event_array", 4, 4, seg.ncpu)
    assert M.call_helper(25, 0, perf.handle, 0, b"hello", 5)[0] == 0
    assert M.call_helper(25, 0, perf.handle, 0, b"12345678", 8)[0] == 0
    # raw data is padded so that the u32 size + data is a multiple of 8, as the kernel does
    assert perf_records(perf, 0) == [
        ("sample", b"hello" + bytes(7)),
        ("sample", b"12345678" + bytes(4)),
    ]
    assert perf_records(perf, 0) == []


def test_perf_lost_records_and_wrapping(seg: Segment) -> None:
    perf = seg.create_map("perf_event_array", 4, 4, 1)
    payload = bytes(range(256)) * 4  # 1 KiB samples: 1040-byte records
    sent = 0
    while M.call_helper(25, 0, perf.handle, 0, payload, len(payload))[0] == 0:
        sent += 1
    assert sent == M.PERF_RING_BYTES // 1040
    for _ in range(4):  # three more dropped
        M.call_helper(25, 0, perf.handle, 0, payload, len(payload))
    got = perf_records(perf, 0)
    assert [d[:1024] for _, d in got] == [payload] * sent
    # the next samples start near the end of the ring and wrap around it
    for i in range(3):
        assert M.call_helper(25, 0, perf.handle, 0, payload[i:], len(payload) - i)[0] == 0
    got = perf_records(perf, 0)
    assert got[0] == ("lost", 5)
    assert [d[: len(payload) - i] for i, (_, d) in enumerate(got[1:])] == [
        payload[i:] for i in range(3)
    ]


def test_ringbuf_helpers(seg: Segment) -> None:
    rb = seg.create_map("ringbuf", 0, 0, 4096)
    addr, regions = M.call_helper(131, rb.handle, 5, 0)
    assert inside(regions, addr, 5, writable=True)
    ctypes.memmove(addr, b"first", 5)
    assert M.call_helper(130, rb.handle, b"second", 6, M.BPF_RB_NO_WAKEUP)[0] == 0
    assert rb.consume(lambda d: None) == 0  # the first record is still reserved
    assert M.call_helper(134, rb.handle, M.BPF_RB_AVAIL_DATA)[0] == 16 + 16
    M.call_helper(132, addr, 0)
    got: list[bytes] = []
    assert rb.poll(got.append, 1000) == 2
    assert got == [b"first", b"second"]
    assert rb.poll(got.append, 0) == 0


def test_ringbuf_consumer_may_stop_early(seg: Segment) -> None:
    rb = seg.create_map("ringbuf", 0, 0, 4096)
    for d in (b"a", b"b", b"c"):
        M.call_helper(130, rb.handle, d, 1, 0)
    got: list[bytes] = []
    assert rb.consume(lambda d: got.append(d) or -1) == 1
    assert rb.consume(got.append) == 2
    assert got == [b"a", b"b", b"c"]


def test_trace_lines(seg: Segment) -> None:
    trace = seg.trace_map
    assert trace.max_entries == M.TRACE_RING_BYTES
    assert seg.trace_map.id == trace.id  # created once
    assert M.trace_write(trace, b"hello world\n\0") == len("hello world")
    lines: list[bytes] = []
    trace.consume(lines.append)
    m = re.fullmatch(rb"(.{1,16})-(\d+) \[(\d{3})\] (\d+)\.(\d{6}): hello world", lines[0])
    assert m, lines
    assert int(m.group(2)) == threading.get_native_id()
    with open(f"/proc/self/task/{threading.get_native_id()}/comm", "rb") as f:
        assert m.group(1) == f.read().strip()
