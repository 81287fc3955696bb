"""State-machine tests: every map family against a plain Python model.

Each machine drives one map through random sequences of user-side operations
(and, for ring buffers, the program-side helpers) and checks every result and
error against a model written from the kernel's documented semantics. Maps
are small so that "full" and collisions happen often.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import os
import struct
from collections.abc import Callable, Iterator

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bpftime import MapError, MapKeyError, Segment
from bpftime import _maps as M

SETTINGS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FLAGS = st.sampled_from([M.BPF_ANY, M.BPF_NOEXIST, M.BPF_EXIST])


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


@pytest.fixture(autouse=True, scope="module")
def no_leftover_segments() -> Iterator[None]:
    """Teardown unlinks each machine's segment; this catches any run Hypothesis
    abandoned without one (names carry the creating pid, so only ours go)."""
    yield
    for path in glob.glob(f"/dev/shm/bpftime-{os.getpid()}-*"):
        os.unlink(path)


class SegmentMachine(RuleBasedStateMachine):
    """Owns one small segment per example, unlinked in teardown."""

    def __init__(self) -> None:
        super().__init__()
        self.seg = Segment(size=2 << 20)

    def teardown(self) -> None:
        self.seg.close()
        self.seg.unlink()


def expect_errno(e: int, fn: Callable[..., object], *args: object) -> None:
    with pytest.raises(MapError) as info:
        fn(*args)
    assert info.value.errno == e, str(info.value)
    if e == errno.ENOENT:
        assert isinstance(info.value, MapKeyError)
        assert isinstance(info.value, KeyError)


# --- hash maps ---------------------------------------------------------------------


class HashMachine(SegmentMachine):
    MAX = 8
    percpu = False

    @initialize()
    def create(self) -> None:
        kind = "percpu_hash" if self.percpu else "hash"
        self.m = self.seg.create_map(kind, 4, 12, self.MAX, name="h")
        self.vsize = self.m.user_value_size
        self.model: dict[bytes, bytes] = {}

    def value(self, seed: int) -> bytes:
        return bytes((seed + i) & 0xFF for i in range(self.vsize))

    @rule(k=st.integers(0, 15), seed=st.integers(0, 255), flags=FLAGS)
    def update(self, k: int, seed: int, flags: int) -> None:
        key, v = u32(k), self.value(seed)
        if flags == M.BPF_NOEXIST and key in self.model:
            expect_errno(errno.EEXIST, self.m.update, key, v, flags)
        elif flags == M.BPF_EXIST and key not in self.model:
            expect_errno(errno.ENOENT, self.m.update, key, v, flags)
        elif key not in self.model and len(self.model) == self.MAX:
            expect_errno(errno.E2BIG, self.m.update, key, v, flags)
        else:
            self.m.update(key, v, flags)
            self.model[key] = v

    @rule(k=st.integers(0, 15))
    def delete(self, k: int) -> None:
        key = u32(k)
        if key in self.model:
            self.m.delete(key)
            del self.model[key]
        else:
            expect_errno(errno.ENOENT, self.m.delete, key)

    @rule(k=st.integers(0, 15))
    def lookup_and_delete(self, k: int) -> None:
        key = u32(k)
        if key in self.model:
            assert self.m.lookup_and_delete(key) == self.model.pop(key)
        else:
            expect_errno(errno.ENOENT, self.m.lookup_and_delete, key)

    @rule(ks=st.lists(st.integers(0, 15), max_size=6))
    def lookup_batch(self, ks: list[int]) -> None:
        keys = [u32(k) for k in ks]
        assert self.m.lookup_batch(keys) == [self.model.get(k) for k in keys]

    @rule(k=st.integers(0, 15))
    def lookup(self, k: int) -> None:
        assert self.m.lookup(u32(k)) == self.model.get(u32(k))

    @invariant()
    def same_contents(self) -> None:
        if not hasattr(self, "m"):
            return
        keys = list(self.m.keys())
        assert len(keys) == len(set(keys))
        assert set(keys) == set(self.model)
        assert self.m.count() == len(self.model)


class PercpuHashMachine(HashMachine):
    percpu = True


class LruMachine(SegmentMachine):
    """LRU: exact until full; once full, a new key evicts exactly one other key and
    every key still present keeps its last written value."""

    MAX = 6

    @initialize(percpu=st.booleans())
    def create(self, percpu: bool) -> None:
        self.m = self.seg.create_map("lru_percpu_hash" if percpu else "lru_hash", 4, 8, self.MAX)
        self.vsize = self.m.user_value_size
        self.model: dict[bytes, bytes] = {}

    @rule(k=st.integers(0, 23), seed=st.integers(0, 255), flags=FLAGS)
    def update(self, k: int, seed: int, flags: int) -> None:
        key, v = u32(k), bytes([seed]) * self.vsize
        if flags == M.BPF_NOEXIST and key in self.model:
            expect_errno(errno.EEXIST, self.m.update, key, v, flags)
            return
        if flags == M.BPF_EXIST and key not in self.model:
            expect_errno(errno.ENOENT, self.m.update, key, v, flags)
            return
        full = key not in self.model and len(self.model) == self.MAX
        self.m.update(key, v, flags)
        self.model[key] = v
        if full:
            gone = [k2 for k2 in self.model if self.m.lookup(k2) is None]
            assert len(gone) == 1, gone
            assert gone[0] != key
            del self.model[gone[0]]

    @rule(k=st.integers(0, 23))
    def delete(self, k: int) -> None:
        key = u32(k)
        if key in self.model:
            self.m.delete(key)
            del self.model[key]
        else:
            expect_errno(errno.ENOENT, self.m.delete, key)

    @invariant()
    def same_contents(self) -> None:
        if not hasattr(self, "m"):
            return
        assert set(self.m.keys()) == set(self.model)
        for key, v in self.model.items():
            assert self.m.lookup(key) == v
        assert self.m.count() == len(self.model) <= self.MAX


# --- arrays ------------------------------------------------------------------------


class ArrayMachine(SegmentMachine):
    MAX = 6

    @initialize(percpu=st.booleans())
    def create(self, percpu: bool) -> None:
        self.m = self.seg.create_map("percpu_array" if percpu else "array", 4, 12, self.MAX)
        self.vsize = self.m.user_value_size
        expected = self.seg.ncpu * 16 if percpu else 12
        assert self.vsize == expected
        self.model = [bytes(self.vsize)] * self.MAX

    @rule(i=st.integers(0, 8), seed=st.integers(0, 255), flags=st.integers(0, 4))
    def update(self, i: int, seed: int, flags: int) -> None:
        v = bytes((seed * 7 + j) & 0xFF for j in range(self.vsize))
        if flags > M.BPF_EXIST:
            expect_errno(errno.EINVAL, self.m.update, u32(i), v, flags)
        elif i >= self.MAX:
            expect_errno(errno.E2BIG, self.m.update, u32(i), v, flags)
        elif flags == M.BPF_NOEXIST:
            expect_errno(errno.EEXIST, self.m.update, u32(i), v, flags)
        else:
            self.m.update(u32(i), v, flags)
            self.model[i] = v

    @rule(i=st.integers(0, 8))
    def lookup(self, i: int) -> None:
        assert self.m.lookup(u32(i)) == (self.model[i] if i < self.MAX else None)

    @rule(i=st.integers(0, 8))
    def delete(self, i: int) -> None:
        expect_errno(errno.EINVAL, self.m.delete, u32(i))

    @rule(i=st.integers(0, 8))
    def next_key(self, i: int) -> None:
        want = None if i == self.MAX - 1 else u32(0 if i >= self.MAX else i + 1)
        assert self.m.next_key(u32(i)) == want

    @invariant()
    def same_contents(self) -> None:
        if hasattr(self, "m"):
            assert list(self.m.keys()) == [u32(i) for i in range(self.MAX)]
            assert self.m.lookup_batch(b"".join(u32(i) for i in range(self.MAX))) == self.model


# --- queue, stack, bloom filter -------------------------------------------------------


class QueueStackMachine(SegmentMachine):
    MAX = 4

    @initialize(kind=st.sampled_from(["queue", "stack"]))
    def create(self, kind: str) -> None:
        self.kind = kind
        self.m = self.seg.create_map(kind, 0, 6, self.MAX)
        self.model: list[bytes] = []  # oldest first

    def next_out(self) -> bytes:
        return self.model[0] if self.kind == "queue" else self.model[-1]

    @rule(seed=st.integers(0, 255), overwrite=st.booleans())
    def push(self, seed: int, overwrite: bool) -> None:
        v = bytes([seed]) * 6
        flags = M.BPF_EXIST if overwrite else M.BPF_ANY
        if len(self.model) == self.MAX and not overwrite:
            expect_errno(errno.E2BIG, self.m.push, v, flags)
            return
        self.m.push(v, flags)
        if len(self.model) == self.MAX:
            self.model.pop(0)  # BPF_EXIST drops the oldest, for queues and stacks alike
        self.model.append(v)

    @rule()
    def push_noexist(self) -> None:
        expect_errno(errno.EINVAL, self.m.push, bytes(6), M.BPF_NOEXIST)

    @rule()
    def pop(self) -> None:
        if not self.model:
            expect_errno(errno.ENOENT, self.m.pop)
            return
        want = self.next_out()
        assert self.m.pop() == want
        if self.kind == "queue":
            self.model.pop(0)
        else:
            self.model.pop()

    @rule()
    def peek(self) -> None:
        if not self.model:
            expect_errno(errno.ENOENT, self.m.peek)
            assert self.m.lookup(None) is None
        else:
            assert self.m.peek() == self.next_out()
            assert self.m.lookup(None) == self.next_out()

    @invariant()
    def same_size(self) -> None:
        if hasattr(self, "m"):
            assert self.m.count() == len(self.model)


class BloomMachine(SegmentMachine):
    """No false negatives: every value pushed is reported as maybe present."""

    @initialize(nhashes=st.integers(0, 15))
    def create(self, nhashes: int) -> None:
        self.m = self.seg.create_map("bloom_filter", 0, 5, 16, map_extra=nhashes)
        self.pushed: set[bytes] = set()

    @rule(v=st.binary(min_size=5, max_size=5))
    def push(self, v: bytes) -> None:
        self.m.push(v)
        self.pushed.add(v)

    @rule(v=st.binary(min_size=5, max_size=5))
    def peek(self, v: bytes) -> None:
        try:
            assert self.m.peek(v) == v
        except MapKeyError:
            assert v not in self.pushed

    @invariant()
    def no_false_negatives(self) -> None:
        for v in getattr(self, "pushed", ()):
            assert self.m.peek(v) == v


# --- LPM trie ----------------------------------------------------------------------

BYTE = st.sampled_from([0x00, 0x0A, 0x0B, 0x80, 0xC0, 0xFF])
PREFIX = st.sampled_from([0, 1, 2, 7, 8, 9, 12, 16, 17, 24, 31, 32])


def masked(data: bytes, plen: int) -> bytes:
    v = int.from_bytes(data, "big")
    mask = ((1 << plen) - 1) << (32 - plen) if plen else 0
    return (v & mask).to_bytes(4, "big")


class LpmMachine(SegmentMachine):
    MAX = 6

    @initialize()
    def create(self) -> None:
        self.m = self.seg.create_map("lpm_trie", 8, 4, self.MAX, flags=M.BPF_F_NO_PREALLOC)
        # (prefixlen, masked data) -> (value, data as last written)
        self.model: dict[tuple[int, bytes], tuple[bytes, bytes]] = {}

    @staticmethod
    def key(plen: int, data: bytes) -> bytes:
        return struct.pack("<I", plen) + data

    @rule(
        plen=PREFIX,
        data=st.tuples(BYTE, BYTE, BYTE, BYTE),
        v=st.integers(0, 2**32 - 1),
        flags=FLAGS,
    )
    def update(self, plen: int, data: tuple[int, ...], v: int, flags: int) -> None:
        raw = bytes(data)
        mk = (plen, masked(raw, plen))
        value = u32(v)
        if flags == M.BPF_NOEXIST and mk in self.model:
            expect_errno(errno.EEXIST, self.m.update, self.key(plen, raw), value, flags)
        elif flags == M.BPF_EXIST and mk not in self.model:
            expect_errno(errno.ENOENT, self.m.update, self.key(plen, raw), value, flags)
        elif mk not in self.model and len(self.model) == self.MAX:
            expect_errno(errno.ENOSPC, self.m.update, self.key(plen, raw), value, flags)
        else:
            self.m.update(self.key(plen, raw), value, flags)
            self.model[mk] = (value, raw)

    @rule(plen=PREFIX, data=st.tuples(BYTE, BYTE, BYTE, BYTE))
    def delete(self, plen: int, data: tuple[int, ...]) -> None:
        raw = bytes(data)
        mk = (plen, masked(raw, plen))
        if mk in self.model:
            self.m.delete(self.key(plen, raw))
            del self.model[mk]
        else:
            expect_errno(errno.ENOENT, self.m.delete, self.key(plen, raw))

    @rule(plen=st.sampled_from([8, 16, 24, 32]), data=st.tuples(BYTE, BYTE, BYTE, BYTE))
    def lookup(self, plen: int, data: tuple[int, ...]) -> None:
        raw = bytes(data)
        best = None
        for (p, md), (v, _) in self.model.items():
            if p <= plen and masked(raw, p) == md and (best is None or p > best[0]):
                best = (p, v)
        assert self.m.lookup(self.key(plen, raw)) == (best[1] if best else None)

    @rule()
    def bad_prefixlen(self) -> None:
        expect_errno(errno.EINVAL, self.m.update, self.key(33, bytes(4)), bytes(4))
        expect_errno(errno.EINVAL, self.m.delete, self.key(33, bytes(4)))

    @invariant()
    def same_keys(self) -> None:
        if not hasattr(self, "m"):
            return
        keys = list(self.m.keys())
        got = {}
        for k in keys:
            plen = struct.unpack_from("<I", k)[0]
            got[(plen, masked(k[4:], plen))] = k[4:]
        assert len(got) == len(keys)
        assert got == {mk: raw for mk, (_, raw) in self.model.items()}
        # the kernel's order: a more specific prefix comes before a covering one
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                pa, pb = struct.unpack_from("<I", a)[0], struct.unpack_from("<I", b)[0]
                if pa < pb:
                    assert masked(b[4:], pa) != masked(a[4:], pa), (a, b)
        assert self.m.count() == len(self.model)


# --- ring buffer --------------------------------------------------------------------

RING = 4096


class RingbufMachine(SegmentMachine):
    """Records come out in reservation order with their bytes; discarded ones never.
    The model tracks positions with the documented layout (8-byte header, 8-byte
    alignment, a discarded pad record instead of straddling the end)."""

    @initialize()
    def create(self) -> None:
        self.m = self.seg.create_map("ringbuf", 0, 0, RING)
        self.pending: dict[int, bytes] = {}
        self.committed: dict[int, tuple[bytes, bool]] = {}
        self.order: list[int] = []  # records in reservation order: addresses, or negative ids
        self.outputs = 0  # for the ids of records written by output, committed at once
        self.prod = 0
        self.cons = 0

    def reserve_model(self, size: int) -> int | None:
        """New producer position, or None when the record does not fit."""
        length = (size + 8 + 7) & ~7
        at = self.prod & (RING - 1)
        pad = RING - at if at + length > RING else 0
        if self.prod + pad + length - self.cons > RING - 1:
            return None
        return self.prod + pad + length

    @rule(data=st.binary(max_size=700))
    def output(self, data: bytes) -> None:
        new = self.reserve_model(len(data))
        r0, _ = M.call_helper(130, self.m.handle, data, len(data), 0)
        if new is None:
            assert r0 == (-errno.EAGAIN) & 0xFFFFFFFFFFFFFFFF
            return
        assert r0 == 0
        self.prod = new
        self.outputs += 1
        self.order.append(-self.outputs)
        self.committed[-self.outputs] = (data, False)

    @rule(data=st.binary(max_size=700))
    def reserve(self, data: bytes) -> None:
        new = self.reserve_model(len(data))
        addr, regions = M.call_helper(131, self.m.handle, len(data), 0)
        if new is None:
            assert addr == 0
            return
        assert addr != 0
        assert any(s <= addr and addr + len(data) <= e and w for s, e, w in regions)
        ctypes.memmove(addr, data, len(data))
        self.prod = new
        self.pending[addr] = data
        self.order.append(addr)

    @precondition(lambda self: bool(getattr(self, "pending", None)))
    @rule(pick=st.integers(0, 100), discard=st.booleans())
    def commit(self, pick: int, discard: bool) -> None:
        addr = sorted(self.pending)[pick % len(self.pending)]
        M.call_helper(133 if discard else 132, addr, 0)
        self.committed[addr] = (self.pending.pop(addr), discard)

    @rule()
    def consume(self) -> None:
        got: list[bytes] = []
        n = self.m.consume(got.append)
        want = []
        while self.order and self.order[0] in self.committed:
            data, discard = self.committed.pop(self.order.pop(0))
            if not discard:
                want.append(data)
        assert got == want
        assert n == len(want)
        self.cons = self.m.query(M.BPF_RB_CONS_POS)

    @invariant()
    def positions(self) -> None:
        if hasattr(self, "m"):
            assert self.m.query(M.BPF_RB_PROD_POS) == self.prod
            assert self.m.query(M.BPF_RB_RING_SIZE) == RING
            assert self.m.query(M.BPF_RB_AVAIL_DATA) == self.prod - self.cons


# --- prog array ---------------------------------------------------------------------


class ProgArrayMachine(SegmentMachine):
    MAX = 5

    @initialize()
    def create(self) -> None:
        self.m = self.seg.create_map("prog_array", 4, 4, self.MAX)
        self.model: dict[int, int] = {}

    @rule(i=st.integers(0, 7), pid=st.integers(0, 3), flags=st.integers(0, 2))
    def update(self, i: int, pid: int, flags: int) -> None:
        if flags != M.BPF_ANY:
            expect_errno(errno.EINVAL, self.m.update, u32(i), u32(pid), flags)
        elif i >= self.MAX:
            expect_errno(errno.E2BIG, self.m.update, u32(i), u32(pid), flags)
        elif pid == 0:
            expect_errno(errno.EINVAL, self.m.update, u32(i), u32(pid), flags)
        else:
            self.m.update(u32(i), u32(pid))
            self.model[i] = pid

    @rule(i=st.integers(0, 7))
    def delete(self, i: int) -> None:
        if i >= self.MAX:
            expect_errno(errno.E2BIG, self.m.delete, u32(i))
        elif i in self.model:
            self.m.delete(u32(i))
            del self.model[i]
        else:
            expect_errno(errno.ENOENT, self.m.delete, u32(i))

    @invariant()
    def same_contents(self) -> None:
        if hasattr(self, "m"):
            for i in range(self.MAX):
                want = u32(self.model[i]) if i in self.model else None
                assert self.m.lookup(u32(i)) == want


class MapInMapMachine(SegmentMachine):
    """Inner map ids go in when they match the template and come back out."""

    @initialize(kind=st.sampled_from(["array_of_maps", "hash_of_maps"]))
    def create(self, kind: str) -> None:
        self.template = self.seg.create_map("array", 4, 8, 2)
        self.outer = self.seg.create_map(kind, 4, 4, 3, inner_map_id=self.template.id)
        good = [self.seg.create_map("array", 4, 8, 2) for _ in range(2)]
        bad = [
            self.seg.create_map("array", 4, 8, 3),  # max_entries differs
            self.seg.create_map("array", 4, 16, 2),  # value_size differs
            self.seg.create_map("hash", 4, 8, 2),  # type differs
        ]
        self.good = {m.id for m in good} | {self.template.id}
        self.bad = {m.id for m in bad} | {self.outer.id}  # a map of maps cannot nest
        self.model: dict[int, int] = {}

    inner = st.integers(1, 8)

    @rule(i=st.integers(0, 2), inner_id=inner)
    def update(self, i: int, inner_id: int) -> None:
        if inner_id in self.good:
            self.outer.update(u32(i), u32(inner_id))
            self.model[i] = inner_id
        elif inner_id in self.bad:
            expect_errno(errno.EINVAL, self.outer.update, u32(i), u32(inner_id))
        else:
            expect_errno(errno.EBADF, self.outer.update, u32(i), u32(inner_id))

    @rule(i=st.integers(0, 2))
    def delete(self, i: int) -> None:
        if i in self.model:
            self.outer.delete(u32(i))
            del self.model[i]
        else:
            expect_errno(errno.ENOENT, self.outer.delete, u32(i))

    @rule(i=st.integers(0, 2))
    def program_lookup(self, i: int) -> None:
        r0, regions = M.call_helper(1, self.outer.handle, u32(i))
        want = self.seg.map(self.model[i]).handle if i in self.model else 0
        assert r0 == want
        assert regions == []

    @invariant()
    def same_contents(self) -> None:
        if hasattr(self, "outer"):
            for i in range(3):
                want = u32(self.model[i]) if i in self.model else None
                assert self.outer.lookup(u32(i)) == want


class PerfMachine(SegmentMachine):
    """PERF_EVENT_ARRAY: every record bpf_perf_event_output wrote comes out once, with
    its bytes (padded to 8 as the kernel pads raw samples), in order per CPU."""

    @initialize()
    def create(self) -> None:
        self.m = self.seg.create_map("perf_event_array", 4, 4, self.seg.ncpu)
        self.pending: list[bytes] = []

    @rule(data=st.binary(min_size=1, max_size=40))
    def output(self, data: bytes) -> None:
        r0, _ = M.call_helper(25, 0, self.m.handle, 0xFFFFFFFF, data, len(data))
        assert r0 == 0
        self.pending.append(data)

    @rule()
    def consume(self) -> None:
        got: list[tuple[int, bytes]] = []
        lost: list[int] = []
        n = self.m.perf_consume(None, lambda cpu, d: got.append((cpu, bytes(d))),
                                lambda cpu, c: lost.append(c))  # fmt: skip
        assert n == len(got) and not lost

        def padded(p: bytes) -> bytes:  # u32 size + data is a multiple of 8
            return p.ljust(((len(p) + 4 + 7) & ~7) - 4, b"\0")

        assert sorted(d for _, d in got) == sorted(padded(p) for p in self.pending)
        self.pending = []


class StackTraceMachine(SegmentMachine):
    """STACK_TRACE: a stored stack reads back under its id until replaced or deleted;
    storing a different stack in an occupied bucket is EEXIST without REUSE_STACKID,
    and ENOMEM with it when every preallocated record is in use (the kernel's rules)."""

    DEPTH = 4

    @initialize()
    def create(self) -> None:
        self.m = self.seg.create_map("stack_trace", 4, 8 * self.DEPTH, 4)
        self.model: dict[int, list[int]] = {}

    @rule(ips=st.lists(st.integers(1, 6), min_size=1, max_size=6), reuse=st.booleans())
    def store(self, ips: list[int], reuse: bool) -> None:
        flags = M.BPF_F_REUSE_STACKID if reuse else 0
        want = ips[: self.DEPTH]
        try:
            sid = self.m.store_stack(ips, flags)
        except MapError as e:
            if reuse:
                # like the kernel: replacing takes a free record first, and with every
                # record in use there is none
                assert e.errno == errno.ENOMEM and len(self.model) == 4
            else:
                assert e.errno == errno.EEXIST
            return
        assert 0 <= sid < 4
        self.model[sid] = want

    @rule(sid=st.integers(0, 3))
    def delete(self, sid: int) -> None:
        if sid in self.model:
            self.m.delete(u32(sid))
            del self.model[sid]
        else:
            expect_errno(errno.ENOENT, self.m.delete, u32(sid))

    @invariant()
    def reads_back(self) -> None:
        if not hasattr(self, "m"):
            return
        for sid, ips in self.model.items():
            assert self.m.stack(sid) == ips


for _machine in (
    HashMachine,
    PercpuHashMachine,
    LruMachine,
    ArrayMachine,
    QueueStackMachine,
    BloomMachine,
    LpmMachine,
    RingbufMachine,
    ProgArrayMachine,
    MapInMapMachine,
    PerfMachine,
    StackTraceMachine,
):
    _machine.TestCase.settings = SETTINGS


TestHash = HashMachine.TestCase
TestPercpuHash = PercpuHashMachine.TestCase
TestLru = LruMachine.TestCase
TestArray = ArrayMachine.TestCase
TestQueueStack = QueueStackMachine.TestCase
TestBloom = BloomMachine.TestCase
TestLpm = LpmMachine.TestCase
TestRingbuf = RingbufMachine.TestCase
TestProgArray = ProgArrayMachine.TestCase
TestMapInMap = MapInMapMachine.TestCase
TestPerf = PerfMachine.TestCase
TestStackTrace = StackTraceMachine.TestCase
