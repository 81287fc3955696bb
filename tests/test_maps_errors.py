"""Every refusal of a segment, a map attribute, a flag or an operation.

Table-driven: each case names what it checks and the errno the kernel gives for
the same request (where the kernel has one); messages are checked where their
wording is part of the contract.
"""

from __future__ import annotations

import array
import errno
import mmap
import os
import struct
from collections.abc import Callable, Iterator

import pytest

from bpftime import MapError, MapKeyError, RawMap, Segment
from bpftime import _maps as M

E = errno


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


@pytest.fixture
def seg() -> Iterator[Segment]:
    with Segment(size=4 << 20) as s:
        yield s


def raises(e: int, fn: Callable[..., object], *args: object, **kw: object) -> MapError:
    with pytest.raises(MapError) as info:
        fn(*args, **kw)
    assert info.value.errno == e, str(info.value)
    if isinstance(info.value, MapKeyError):
        assert e == E.ENOENT
    return info.value


# --- segments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, e",
    [
        ("", E.EINVAL),
        ("no-slash", E.EINVAL),
        ("/", E.EINVAL),
        ("/a/b", E.EINVAL),
        ("/bad name", E.EINVAL),
        ("/.", E.EINVAL),
        ("/" + "x" * 63, E.ENAMETOOLONG),
    ],
)
def test_bad_segment_name(name: str, e: int) -> None:
    err = raises(e, Segment, name)
    assert "segment name" in str(err)


def test_segment_too_small() -> None:
    err = raises(E.EINVAL, Segment, size=4096)
    assert "too small" in str(err)


def test_open_missing_segment() -> None:
    err = raises(E.ENOENT, Segment, f"/bpftime-test-missing-{os.getpid()}", create=False)
    assert "no segment named" in str(err)


def test_open_needs_a_name() -> None:
    raises(E.EINVAL, Segment, None, create=False)


def test_create_existing_segment(seg: Segment) -> None:
    err = raises(E.EEXIST, Segment, seg.name)
    assert "already exists" in str(err)


def shm_path(name: str) -> str:
    return "/dev/shm" + name


@pytest.fixture
def foreign() -> Iterator[str]:
    """A shm object bpftime did not create."""
    name = f"/bpftime-test-foreign-{os.getpid()}"
    yield name
    if os.path.exists(shm_path(name)):
        os.unlink(shm_path(name))


def test_open_foreign_object(foreign: str) -> None:
    with open(shm_path(foreign), "wb") as f:
        f.write(b"not a segment".ljust(1 << 16, b"\0"))
    err = raises(E.EINVAL, Segment, foreign, create=False)
    assert "is not a bpftime segment (magic" in str(err)


def test_open_truncated_object(foreign: str) -> None:
    with open(shm_path(foreign), "wb") as f:
        f.write(b"x" * 100)
    err = raises(E.EINVAL, Segment, foreign, create=False)
    assert "smaller than the header" in str(err)


def patched_segment(name: str, offset: int, fmt: str, value: int) -> None:
    """Create a segment, then overwrite one header field behind its back."""
    s = Segment(name, size=1 << 20)
    s.close()
    with open(shm_path(name), "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
        struct.pack_into(fmt, mm, offset, value)


def test_open_other_version(foreign: str) -> None:
    patched_segment(foreign, 8, "<I", 99)  # version follows the 8-byte magic
    err = raises(E.EPROTO, Segment, foreign, create=False)
    assert "layout version 99" in str(err)


def test_open_other_header_size(foreign: str) -> None:
    patched_segment(foreign, 12, "<I", 64)
    err = raises(E.EPROTO, Segment, foreign, create=False)
    assert "64-byte header" in str(err)


def test_open_resized_segment(foreign: str) -> None:
    Segment(foreign, size=1 << 20).close()
    os.truncate(shm_path(foreign), 2 << 20)
    err = raises(E.EINVAL, Segment, foreign, create=False)
    assert "damaged" in str(err)


def test_segment_full(seg: Segment) -> None:
    seg.create_map("array", 4, 1 << 20, 3)
    err = raises(E.ENOMEM, seg.create_map, "array", 4, 1 << 20, 1, name="big")
    assert str(err).startswith("create map 'big' (array): segment ")
    assert "is full" in str(err) and "create a larger segment" in str(err)


def test_map_larger_than_segment(seg: Segment) -> None:
    raises(E.E2BIG, seg.create_map, "array", 4, 1 << 20, 1 << 20)


def test_map_directory_full() -> None:
    with Segment(size=2 << 20) as s:
        for _ in range(M.MAX_MAPS):
            s.create_map("array", 4, 4, 1)
        err = raises(E.ENOSPC, s.create_map, "array", 4, 4, 1)
        assert f"already holds {M.MAX_MAPS} maps" in str(err)


def test_closed_segment(seg: Segment) -> None:
    m = seg.create_map("hash", 4, 4, 4, name="h")
    seg.close()
    raises(E.EBADF, seg.create_map, "hash", 4, 4, 4)
    err = raises(E.EBADF, m.lookup, u32(0))
    assert "is closed" in str(err)
    seg.close()  # closing twice is fine


def test_no_such_map(seg: Segment) -> None:
    raises(E.ENOENT, seg.map, 7)
    raises(E.ENOENT, seg.map, 0)


# --- map attributes ----------------------------------------------------------------

CREATE_ERRORS = [
    # (what, type, key, value, max_entries, kwargs, errno)
    ("unknown type id", 99, 4, 4, 1, {}, E.EINVAL),
    ("unknown type name", "hashmap", 4, 4, 1, {}, E.EINVAL),
    ("hash key_size 0", "hash", 0, 4, 1, {}, E.EINVAL),
    ("hash value_size 0", "hash", 4, 0, 1, {}, E.EINVAL),
    ("hash max_entries 0", "hash", 4, 4, 0, {}, E.EINVAL),
    ("hash key larger than the stack", "hash", 513, 4, 1, {}, E.E2BIG),
    ("hash huge value", "hash", 4, 1 << 22, 1, {}, E.E2BIG),
    ("hash unknown flag", "hash", 4, 4, 1, {"flags": 1 << 13}, E.EINVAL),
    ("hash mmapable", "hash", 4, 4, 1, {"flags": M.BPF_F_MMAPABLE}, E.EINVAL),
    ("NO_COMMON_LRU on a plain hash", "hash", 4, 4, 1, {"flags": M.BPF_F_NO_COMMON_LRU}, E.EINVAL),
    ("LRU without prealloc", "lru_hash", 4, 4, 1, {"flags": M.BPF_F_NO_PREALLOC}, E.EOPNOTSUPP),
    ("NUMA node for per-CPU", "percpu_hash", 4, 4, 1, {"flags": M.BPF_F_NUMA_NODE}, E.EINVAL),
    ("per-CPU hash value too big", "percpu_hash", 4, 32769, 1, {}, E.E2BIG),
    ("RDONLY with WRONLY", "hash", 4, 4, 1, {"flags": M.BPF_F_RDONLY | M.BPF_F_WRONLY}, E.EINVAL),
    (
        "RDONLY_PROG with WRONLY_PROG",
        "array",
        4,
        4,
        1,
        {"flags": M.BPF_F_RDONLY_PROG | M.BPF_F_WRONLY_PROG},
        E.EINVAL,
    ),
    ("map_extra on a hash", "hash", 4, 4, 1, {"map_extra": 1}, E.EINVAL),
    ("inner_map_id on a hash", "hash", 4, 4, 1, {"inner_map_id": 1}, E.EINVAL),
    ("name too long", "hash", 4, 4, 1, {"name": "a" * 16}, E.EINVAL),
    ("name with a dash", "hash", 4, 4, 1, {"name": "a-b"}, E.EINVAL),
    ("array key_size 8", "array", 8, 4, 1, {}, E.EINVAL),
    ("array value_size 0", "array", 4, 0, 1, {}, E.EINVAL),
    ("array max_entries 0", "array", 4, 4, 0, {}, E.EINVAL),
    ("array NO_PREALLOC", "array", 4, 4, 1, {"flags": M.BPF_F_NO_PREALLOC}, E.EINVAL),
    ("array PRESERVE_ELEMS", "array", 4, 4, 1, {"flags": M.BPF_F_PRESERVE_ELEMS}, E.EINVAL),
    ("per-CPU array mmapable", "percpu_array", 4, 4, 1, {"flags": M.BPF_F_MMAPABLE}, E.EINVAL),
    ("per-CPU array value too big", "percpu_array", 4, 40000, 1, {}, E.E2BIG),
    ("prog array value_size 8", "prog_array", 4, 8, 1, {}, E.EINVAL),
    ("prog array RDONLY_PROG", "prog_array", 4, 4, 1, {"flags": M.BPF_F_RDONLY_PROG}, E.EINVAL),
    ("perf array key_size 8", "perf_event_array", 8, 4, 1, {}, E.EINVAL),
    ("perf array value_size 8", "perf_event_array", 4, 8, 1, {}, E.EINVAL),
    ("ringbuf not a power of 2", "ringbuf", 0, 0, 12288, {}, E.EINVAL),
    ("ringbuf not page aligned", "ringbuf", 0, 0, 2048, {}, E.EINVAL),
    ("ringbuf size 0", "ringbuf", 0, 0, 0, {}, E.EINVAL),
    ("ringbuf with a key", "ringbuf", 4, 0, 4096, {}, E.EINVAL),
    ("ringbuf with a value", "ringbuf", 0, 4, 4096, {}, E.EINVAL),
    ("ringbuf RDONLY", "ringbuf", 0, 0, 4096, {"flags": M.BPF_F_RDONLY}, E.EINVAL),
    ("queue with a key", "queue", 4, 4, 1, {}, E.EINVAL),
    ("stack value_size 0", "stack", 0, 0, 1, {}, E.EINVAL),
    ("queue NO_PREALLOC", "queue", 0, 4, 1, {"flags": M.BPF_F_NO_PREALLOC}, E.EINVAL),
    ("bloom with a key", "bloom_filter", 4, 4, 1, {}, E.EINVAL),
    ("bloom map_extra beyond 4 bits", "bloom_filter", 0, 4, 1, {"map_extra": 16}, E.EINVAL),
    ("bloom max_entries 0", "bloom_filter", 0, 4, 0, {}, E.EINVAL),
    ("LPM without NO_PREALLOC", "lpm_trie", 8, 4, 1, {}, E.EINVAL),
    ("LPM key without data", "lpm_trie", 4, 4, 1, {"flags": M.BPF_F_NO_PREALLOC}, E.EINVAL),
    ("LPM key too long", "lpm_trie", 261, 4, 1, {"flags": M.BPF_F_NO_PREALLOC}, E.EINVAL),
    ("LPM value_size 0", "lpm_trie", 8, 0, 1, {"flags": M.BPF_F_NO_PREALLOC}, E.EINVAL),
    ("stack trace value not a multiple of 8", "stack_trace", 4, 12, 1, {}, E.EINVAL),
    ("stack trace key_size 8", "stack_trace", 8, 16, 1, {}, E.EINVAL),
    ("stack trace deeper than 127", "stack_trace", 4, 128 * 8, 1, {}, E.EINVAL),
    (
        "stack trace build ids",
        "stack_trace",
        4,
        16,
        1,
        {"flags": M.BPF_F_STACK_BUILD_ID},
        E.EOPNOTSUPP,
    ),
    ("map of maps without inner map", "array_of_maps", 4, 4, 1, {}, E.EBADF),
    ("map of maps with missing inner map", "hash_of_maps", 4, 4, 1, {"inner_map_id": 99}, E.EBADF),
]


@pytest.mark.parametrize(
    "what, kind, key, value, max_entries, kw, e", CREATE_ERRORS, ids=[c[0] for c in CREATE_ERRORS]
)
def test_create_refused(
    seg: Segment,
    what: str,
    kind: object,
    key: int,
    value: int,
    max_entries: int,
    kw: dict[str, object],
    e: int,
) -> None:
    err = raises(e, seg.create_map, kind, key, value, max_entries, **kw)
    assert str(err).startswith("create map "), str(err)


def test_create_refusal_message(seg: Segment) -> None:
    err = raises(E.EINVAL, seg.create_map, "ringbuf", 0, 0, 5000, name="events")
    assert str(err) == (
        "create map 'events' (ringbuf): ring buffer size (max_entries) 5000 must be a power "
        "of 2 and a multiple of 4096; EINVAL"
    )


def test_map_of_maps_templates(seg: Segment) -> None:
    inner = seg.create_map("array", 4, 4, 1)
    outer = seg.create_map("array_of_maps", 4, 4, 1, inner_map_id=inner.id)
    raises(E.EINVAL, seg.create_map, "hash_of_maps", 4, 4, 1, inner_map_id=outer.id)
    progs = seg.create_map("prog_array", 4, 4, 1)
    raises(E.EOPNOTSUPP, seg.create_map, "array_of_maps", 4, 4, 1, inner_map_id=progs.id)
    raises(E.EINVAL, seg.create_map, "hash_of_maps", 4, 8, 1, inner_map_id=inner.id)


def test_inner_map_flag_allows_other_sizes(seg: Segment) -> None:
    template = seg.create_map("array", 4, 4, 1, flags=M.BPF_F_INNER_MAP)
    outer = seg.create_map("array_of_maps", 4, 4, 2, inner_map_id=template.id)
    bigger = seg.create_map("array", 4, 4, 10, flags=M.BPF_F_INNER_MAP)
    outer.update(u32(0), u32(bigger.id))
    other_flags = seg.create_map("array", 4, 4, 1)
    raises(E.EINVAL, outer.update, u32(1), u32(other_flags.id))
    raises(E.EINVAL, outer.update, u32(1), u32(bigger.id), M.BPF_NOEXIST)


# --- operations ---------------------------------------------------------------------


@pytest.fixture
def counts(seg: Segment) -> RawMap:
    return seg.create_map("hash", 4, 8, 4, name="counts")


def test_full_hash_message(counts: RawMap) -> None:
    for i in range(4):
        counts.update(u32(i), bytes(8))
    err = raises(E.E2BIG, counts.update, u32(9), bytes(8))
    assert str(err) == (
        "map 'counts' (hash): update: map is full (max_entries 4); delete elements, create it "
        "larger, or use an LRU hash; E2BIG"
    )
    counts.update(u32(3), b"\1" * 8)  # replacing a key still works when full


def test_missing_key_message(counts: RawMap) -> None:
    err = raises(E.ENOENT, counts.delete, u32(5))
    assert isinstance(err, MapKeyError) and isinstance(err, KeyError)
    assert str(err) == "map 'counts' (hash): delete: no such key; ENOENT"
    assert counts.lookup(u32(5)) is None


def test_wrong_sizes(counts: RawMap) -> None:
    err = raises(E.EINVAL, counts.lookup, b"abc")
    assert str(err) == "map 'counts' (hash): lookup: key must be 4 bytes, got 3; EINVAL"
    raises(E.EINVAL, counts.update, u32(1), bytes(7))
    raises(E.EINVAL, counts.delete, bytes(5))
    raises(E.EINVAL, counts.lookup_batch, bytes(6))
    raises(E.EINVAL, counts.update_batch, [u32(1)], [bytes(7)])
    raises(E.EINVAL, counts.update_batch, [u32(1), u32(2)], [bytes(8)])
    with pytest.raises(TypeError):
        counts.lookup("abcd")


@pytest.mark.parametrize("flags", [3, M.BPF_F_LOCK, 1 << 32])
def test_bad_update_flags(counts: RawMap, flags: int) -> None:
    err = raises(E.EINVAL, counts.update, u32(1), bytes(8), flags)
    assert f"flags {flags:#x} are not valid for hash maps" in str(err)


def test_flag_semantics(counts: RawMap) -> None:
    raises(E.ENOENT, counts.update, u32(1), bytes(8), M.BPF_EXIST)
    counts.update(u32(1), bytes(8), M.BPF_NOEXIST)
    err = raises(E.EEXIST, counts.update, u32(1), bytes(8), M.BPF_NOEXIST)
    assert "key exists, and flags has BPF_NOEXIST" in str(err)


def test_batch_errors_name_the_element(counts: RawMap) -> None:
    counts.update_batch([u32(0), u32(1)], [bytes(8)] * 2)
    err = raises(E.EEXIST, counts.update_batch, [u32(2), u32(1)], [bytes(8)] * 2, M.BPF_NOEXIST)
    assert "update_batch (element 1)" in str(err)
    assert counts.lookup(u32(2)) == bytes(8)  # the elements before the failure stay
    err = raises(E.ENOENT, counts.delete_batch, [u32(0), u32(7)])
    assert "delete_batch (element 1)" in str(err)
    assert counts.lookup(u32(0)) is None


def test_frozen_and_access_flags(seg: Segment) -> None:
    m = seg.create_map("array", 4, 4, 2, name="cfg")
    m.update(u32(0), b"abcd")
    m.freeze()
    err = raises(E.EPERM, m.update, u32(0), b"wxyz")
    assert "map is frozen" in str(err)
    raises(E.EBUSY, m.freeze)
    assert m.lookup(u32(0)) == b"abcd"
    ro = seg.create_map("hash", 4, 4, 2, flags=M.BPF_F_RDONLY)
    raises(E.EPERM, ro.update, u32(0), b"abcd")
    raises(E.EPERM, ro.freeze)
    assert ro.lookup(u32(0)) is None
    wo = seg.create_map("hash", 4, 4, 2, flags=M.BPF_F_WRONLY)
    wo.update(u32(0), b"abcd")
    raises(E.EPERM, wo.lookup, u32(0))
    raises(E.EPERM, wo.next_key, None)
    wo.delete(u32(0))


def test_program_side_permissions(seg: Segment) -> None:
    rodata = seg.create_map("array", 4, 8, 1, flags=M.BPF_F_RDONLY_PROG)
    r0, _ = M.call_helper(2, rodata.handle, u32(0), bytes(8), 0)
    assert r0 == (-E.EPERM) & (2**64 - 1)
    addr, regions = M.call_helper(1, rodata.handle, u32(0))
    assert addr == rodata.value_addr
    assert [w for s, e, w in regions if s <= addr < e] == [False]
    rodata.update(u32(0), b"12345678")  # user space may still write it


def test_operations_a_type_lacks(seg: Segment) -> None:
    rb = seg.create_map("ringbuf", 0, 0, 4096, name="events")
    err = raises(E.EOPNOTSUPP, rb.lookup, None)
    assert str(err) == "map 'events' (ringbuf): lookup: not supported for ringbuf maps; EOPNOTSUPP"
    raises(E.EOPNOTSUPP, rb.count)
    raises(E.EOPNOTSUPP, rb.pop)
    raises(E.EOPNOTSUPP, rb.perf_consume, 0, print)
    h = seg.create_map("hash", 4, 4, 1)
    raises(E.EOPNOTSUPP, h.consume, print)
    raises(E.EOPNOTSUPP, h.push, b"abcd")
    raises(E.EOPNOTSUPP, lambda: h.value_addr)
    raises(E.EOPNOTSUPP, h.stack, 0)
    q = seg.create_map("queue", 0, 4, 2)
    err = raises(E.EINVAL, q.delete, None)
    assert "use pop()" in str(err)
    raises(E.EINVAL, q.next_key, None)
    raises(E.EINVAL, q.push, b"abcd", M.BPF_NOEXIST)
    raises(E.EOPNOTSUPP, q.lookup_batch, [b""])
    raises(E.ENOENT, q.pop)
    bloom = seg.create_map("bloom_filter", 0, 4, 8)
    raises(E.EINVAL, bloom.lookup, None)
    raises(E.EINVAL, bloom.peek)
    raises(E.EINVAL, bloom.push, b"abcd", M.BPF_EXIST)
    raises(E.EOPNOTSUPP, bloom.delete, None)
    raises(E.EOPNOTSUPP, bloom.pop)
    raises(E.EOPNOTSUPP, bloom.next_key, None)
    arr = seg.create_map("array", 4, 4, 2)
    err = raises(E.EINVAL, arr.delete, u32(0))
    assert "array elements cannot be deleted" in str(err)
    raises(E.EOPNOTSUPP, arr.lookup_and_delete, u32(0))
    perf = seg.create_map("perf_event_array", 4, 4, 2)
    raises(E.EOPNOTSUPP, perf.lookup, u32(0))
    raises(E.EOPNOTSUPP, perf.update, u32(0), u32(1))
    raises(E.EINVAL, perf.perf_consume, seg.ncpu, print)


def test_batch_inputs(seg: Segment) -> None:
    h = seg.create_map("hash", 4, 4, 4)
    assert h.lookup_batch([]) == []
    assert h.lookup_batch(b"") == []
    h.update_batch(array.array("I", [1, 2]), [bytearray(b"abcd"), memoryview(b"efgh")])
    assert h.lookup_batch([u32(2), u32(1), u32(3)]) == [b"efgh", b"abcd", None]
    with pytest.raises(TypeError):
        h.lookup_batch([1, 2])  # ints are not keys


def test_stack_trace_errors(seg: Segment) -> None:
    st = seg.create_map("stack_trace", 4, 32, 3, name="stacks")  # 4 buckets, 3 records
    sid = st.store_stack([1, 2, 3])
    assert st.store_stack([1, 2, 3]) == sid
    # find a stack whose id collides with sid (ids are hashes masked to a bucket)
    for k in range(1000):
        try:
            other = st.store_stack([k])
        except MapError as e:
            assert e.errno == E.EEXIST and "BPF_F_REUSE_STACKID" in str(e)
            collider = [k]
            break
        st.delete(u32(other))
    assert st.store_stack(collider, M.BPF_F_REUSE_STACKID) == sid
    assert st.stack(sid) == collider
    assert st.store_stack(collider, M.BPF_F_FAST_STACK_CMP) == sid
    raises(E.EFAULT, st.store_stack, [1, 2], 2)  # skip 2 of 2 frames
    assert st.store_stack([7, 8, *collider], 2) == sid  # skipping 2 frames leaves the collider
    raises(E.EINVAL, st.store_stack, [1], 1 << 12)
    raises(E.EINVAL, st.update, u32(0), bytes(32))
    raises(E.E2BIG, st.delete, u32(4))
    st.delete(u32(sid))
    raises(E.ENOENT, st.stack, sid)
    raises(E.ENOENT, st.delete, u32(sid))


def test_stack_trace_pool_exhausted(seg: Segment) -> None:
    st = seg.create_map("stack_trace", 4, 16, 1)  # one bucket, one record
    st.store_stack([1])
    err = raises(E.ENOMEM, st.store_stack, [2], M.BPF_F_REUSE_STACKID)  # as the kernel
    assert "every stack record is in use" in str(err)


def test_perf_output_errors(seg: Segment) -> None:
    perf = seg.create_map("perf_event_array", 4, 4, seg.ncpu + 1)
    out = lambda flags: M.call_helper(25, 0, perf.handle, flags, b"x", 1)[0]  # noqa: E731
    assert out(seg.ncpu + 1) == (-E.E2BIG) & (2**64 - 1)  # index beyond max_entries
    assert out(seg.ncpu) == (-E.ENOENT) & (2**64 - 1)  # no ring for that index
    assert out(1 << 32) == (-E.EINVAL) & (2**64 - 1)  # flags beyond the index
    assert out(M.BPF_F_CURRENT_CPU) == 0


def test_map_in_map_program_updates(seg: Segment) -> None:
    inner = seg.create_map("array", 4, 4, 1)
    outer = seg.create_map("hash_of_maps", 4, 4, 2, inner_map_id=inner.id)
    for hid, args in ((2, (u32(0), u32(inner.id), 0)), (3, (u32(0),))):
        r0, _ = M.call_helper(hid, outer.handle, *args)
        assert r0 == (-E.EOPNOTSUPP) & (2**64 - 1)


def test_helper_errors(seg: Segment) -> None:
    h = seg.create_map("hash", 4, 4, 2)
    r0, _ = M.call_helper(164, h.handle, 0, 0, 1, callback=lambda *a: 0)
    assert r0 == (-E.EINVAL) & (2**64 - 1)  # flags must be 0
    r0, _ = M.call_helper(164, h.handle, 0, 0, 0)
    assert r0 == (-E.EOPNOTSUPP) & (2**64 - 1)  # no engine callback
    q = seg.create_map("queue", 0, 4, 1)
    r0, _ = M.call_helper(87, q.handle, b"abcd", M.BPF_NOEXIST)
    assert r0 == (-E.EINVAL) & (2**64 - 1)
    r0, _ = M.call_helper(88, q.handle, bytearray(4))
    assert r0 == (-E.ENOENT) & (2**64 - 1)
    rb = seg.create_map("ringbuf", 0, 0, 4096)
    assert M.call_helper(130, rb.handle, b"x", 1, 4)[0] == (-E.EINVAL) & (2**64 - 1)
    assert M.call_helper(131, rb.handle, 8, 1)[0] == 0  # reserve with flags: NULL
    assert M.call_helper(131, rb.handle, 4096, 0)[0] == 0  # larger than the ring
    assert M.trace_write(None, b"hello") == -E.ENOENT
    with pytest.raises(ValueError):
        M.call_helper(5, 0)


def test_lookup_batch_packed_matches_single_lookups() -> None:
    with Segment(size=8 << 20) as seg:
        m = seg.create_map(1, 4, 8, 16)
        m.update(struct.pack("<I", 3), struct.pack("<Q", 9))
        m.update(struct.pack("<I", 5), struct.pack("<Q", 11))
        values, present = m.lookup_batch(struct.pack("<III", 3, 4, 5), packed=True)
        assert present == b"\x01\x00\x01"
        assert values == struct.pack("<QQQ", 9, 0, 11)
        assert m.lookup_batch([struct.pack("<I", 4)]) == [None]


def test_update_batch_stops_at_the_first_failure() -> None:
    # more elements than a lock chunk, into a map that fills up part-way
    with Segment(size=8 << 20) as seg:
        m = seg.create_map("hash", 4, 8, 100)
        keys = b"".join(struct.pack("<I", i) for i in range(150))
        values = b"".join(struct.pack("<Q", i * 3) for i in range(150))
        with pytest.raises(MapError, match=r"update_batch \(element 100\)") as info:
            m.update_batch(keys, values)
        assert info.value.errno == errno.E2BIG
        assert m.count() == 100
        assert m.lookup(struct.pack("<I", 99)) == struct.pack("<Q", 297)
        assert m.lookup(struct.pack("<I", 100)) is None
        m.update_batch(keys[:400], values[:800], M.BPF_EXIST)
        with pytest.raises(MapError) as info:
            m.update_batch(keys[:400], values[:800], M.BPF_NOEXIST)
        assert info.value.errno == errno.EEXIST
