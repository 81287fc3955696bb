"""bpftime.maps.Map: bcc's table API over raw maps, histogram text, events, queues.

Expected strings are bcc's output format written out by hand.
"""

from __future__ import annotations

import io
import struct

import pytest

import bpftime
from bpftime._program import kernel_helpers
from bpftime.maps import Map, format_linear_hist, format_log2_hist

HASH, ARRAY, PERCPU_ARRAY, PERF, QUEUE, STACK = 1, 2, 6, 4, 22, 23


@pytest.fixture
def seg() -> bpftime.Segment:
    with bpftime.Segment(size=16 << 20) as s:
        yield s


def test_dict_api_with_int_keys_and_values(seg: bpftime.Segment) -> None:
    m = Map(seg.create_map(HASH, 4, 8, 8, name="h"))
    m[1] = 10
    m[2] = 20
    assert m[1] == 10 and m.get(3) is None and m.get(3, "x") == "x"
    assert sorted(m.items()) == [(1, 10), (2, 20)]
    assert sorted(m.keys()) == [1, 2] and sorted(m.values()) == [10, 20]
    assert 1 in m and 3 not in m and len(m) == 2
    del m[1]
    with pytest.raises(KeyError):
        m[1]
    with pytest.raises(bpftime.MapKeyError):
        del m[1]
    m.update_elem(2, 21, flags=2)  # BPF_EXIST
    with pytest.raises(bpftime.MapError) as err:
        m.update_elem(2, 22, flags=1)  # BPF_NOEXIST on an existing key
    assert err.value.errno == 17
    m.clear()
    assert len(m) == 0


def test_bytes_keys_and_full_map(seg: bpftime.Segment) -> None:
    m = Map(seg.create_map(HASH, 4, 8, 2, name="h2"))
    m[b"\x01\x00\x00\x00"] = struct.pack("<Q", 5)
    m[2] = 6
    with pytest.raises(bpftime.MapError) as err:
        m[3] = 7
    assert err.value.errno == 7  # E2BIG


def test_array_clear_zeroes_and_percpu_values(seg: bpftime.Segment) -> None:
    a = Map(seg.create_map(ARRAY, 4, 8, 3, name="a"))
    a[1] = 9
    a.clear()
    assert a.items() == [(0, 0), (1, 0), (2, 0)]
    p = Map(seg.create_map(PERCPU_ARRAY, 4, 4, 2, name="p"))
    p[0] = list(range(p.ncpu))
    assert p[0] == list(range(p.ncpu))
    p[1] = 7  # one value: every CPU gets it
    assert p[1] == [7] * p.ncpu
    with pytest.raises(ValueError, match="needs"):
        p[0] = [1] * (p.ncpu + 1)


def test_batches(seg: bpftime.Segment) -> None:
    m = Map(seg.create_map(HASH, 4, 8, 16, name="b"))
    m.update_batch(range(5), [k * 100 for k in range(5)])
    assert m.lookup_batch([0, 4, 9]) == [0, 400, None]
    m.delete_batch([0, 1])
    assert sorted(m) == [2, 3, 4]


def test_queue_and_stack(seg: bpftime.Segment) -> None:
    q = Map(seg.create_map(QUEUE, 0, 4, 3, name="q"))
    s = Map(seg.create_map(STACK, 0, 4, 3, name="s"))
    for v in (1, 2, 3):
        q.push(v)
        s.push(v)
    assert q.peek() == 1 and s.peek() == 3
    assert [q.pop() for _ in range(3)] == [1, 2, 3]
    assert [s.pop() for _ in range(3)] == [3, 2, 1]
    with pytest.raises(KeyError, match="empty"):
        q.pop()


def test_log2_histogram_text() -> None:
    vals = [0] * 65
    vals[1], vals[3], vals[5] = 2, 10, 5
    assert format_log2_hist(vals, "usecs") == (
        "     usecs               : count     distribution\n"
        "         0 -> 1          : 2        |********                                |\n"
        "         2 -> 3          : 0        |                                        |\n"
        "         4 -> 7          : 10       |****************************************|\n"
        "         8 -> 15         : 0        |                                        |\n"
        "        16 -> 31         : 5        |********************                    |\n"
    )
    assert (
        format_log2_hist(vals, "usecs", strip_leading_zero=True)
        .splitlines()[1]
        .strip()
        .startswith("0 -> 1")
    )
    wide = [0] * 65
    wide[34] = 1
    lines = format_log2_hist(wide, "ns").splitlines()
    assert lines[0] == "               ns                            : count     distribution"
    assert lines[-1] == (
        "          8589934592 -> 17179869183          : 1        |********************|"
    )
    assert format_log2_hist([0] * 65) == ""


def test_linear_histogram_text() -> None:
    vals = [0] * 1025
    vals[0], vals[2] = 3, 1
    assert format_linear_hist(vals, "kbytes") == (
        "     kbytes        : count     distribution\n"
        "        0          : 3        |****************************************|\n"
        "        1          : 0        |                                        |\n"
        "        2          : 1        |*************                           |\n"
    )


def test_print_log2_hist_from_map(seg: bpftime.Segment) -> None:
    h = Map(seg.create_map(ARRAY, 4, 8, 65, name="hist"))
    h[2] = 4
    out = io.StringIO()
    h.print_log2_hist("bytes", out=out)
    assert out.getvalue().splitlines()[-1] == (
        "         2 -> 3          : 4        |****************************************|"
    )


def test_perf_event_output_read_back(seg: bpftime.Segment, engine: str) -> None:
    perf = seg.create_map(PERF, 4, 4, seg.ncpu, name="perf")
    text = """
        mov %r6, %r1
        stdw [%r10-8], 0x1234
        mov %r1, %r6
        lddw %r2, map_fd 3
        lddw %r3, 0xffffffff
        mov %r4, %r10
        add %r4, -8
        mov %r5, 8
        call 25
        exit
    """
    prog = bpftime.Program(bpftime.asm.assemble(text), engine=engine, helpers=kernel_helpers(),
                           maps={3: bpftime.MapBinding(handle=perf.handle)})  # fmt: skip
    for _ in range(3):
        assert prog.run(bytes(8)) == 0
    m = Map(perf)
    got: list[tuple[int, bytes]] = []
    assert m.perf_read(lambda cpu, data: got.append((cpu, bytes(data)))) == 3
    assert [d[:8] for _, d in got] == [struct.pack("<Q", 0x1234)] * 3
    assert m.perf_read(lambda cpu, data: None) == 0
