"""bpftime.load end to end: tests/objects/demo.bpf.c (BTF maps, global data, a ring
buffer, a per-CPU hash, a histogram, tail calls, bpf_printk) loaded and run on both
engines, its maps read from Python and from a second process.

Expected values are worked out from the C source by hand.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import bpftime
from bpftime.errors import BpftimeError

DEMO = Path(__file__).resolve().parent / "objects" / "demo.bpf.o"
RUNS = 5


@pytest.fixture(params=["interp", "jit"])
def obj(request: pytest.FixtureRequest) -> bpftime.BpfObject:
    with bpftime.load(DEMO, rodata={"factor": 3}, engine=request.param) as o:
        yield o


def run_demo(obj: bpftime.BpfObject) -> list[int]:
    return [obj.programs["demo"].run(bytes(64)) for _ in range(RUNS)]


def test_programs_and_maps_are_found(obj: bpftime.BpfObject) -> None:
    assert {"demo", "tail_target", "inc"} <= set(obj.programs)
    assert {"counts", "percpu", "events", "hist", "jumps"} <= set(obj.maps)


def test_tail_call_ends_in_the_target(obj: bpftime.BpfObject) -> None:
    # demo tail-calls jumps[1] = tail_target, which returns 1000 + factor (3)
    assert run_demo(obj) == [1003] * RUNS


def test_hash_percpu_and_globals(obj: bpftime.BpfObject) -> None:
    run_demo(obj)
    assert obj["counts"][1] == RUNS
    assert sum(obj["percpu"][1]) == RUNS * 3
    assert len(obj["percpu"][1]) == obj["percpu"].ncpu
    assert obj.globals(".bss")["total"] == RUNS * 3
    assert obj.globals(".data")["calls"] == 7 + RUNS
    assert obj.globals(".rodata")["factor"] == 3


def test_ringbuf_events_decoded(obj: bpftime.BpfObject) -> None:
    run_demo(obj)
    events: list[dict[str, object]] = []
    n = obj["events"].consume(events.append, event_type="event")
    assert n == RUNS
    import os

    assert [e["calls"] for e in events] == list(range(8, 8 + RUNS))
    assert all(e["pid"] == os.getpid() and e["msg"] == "hello" for e in events)
    assert obj["events"].consume(events.append) == 0


def test_log2_histogram_prints_like_bcc(obj: bpftime.BpfObject) -> None:
    run_demo(obj)  # calls goes 8..12: all in slot 4 ([8, 15])
    out = io.StringIO()
    obj["hist"].print_log2_hist("calls", out=out)
    assert out.getvalue() == (
        "     calls               : count     distribution\n"
        "         0 -> 1          : 0        |                                        |\n"
        "         2 -> 3          : 0        |                                        |\n"
        "         4 -> 7          : 0        |                                        |\n"
        "         8 -> 15         : 5        |****************************************|\n"
    )


def test_bpf_printk_lines(obj: bpftime.BpfObject) -> None:
    run_demo(obj)
    lines = obj.trace_lines()
    assert len(lines) == RUNS
    pat = re.compile(r"^\S.*-(\d+) +\[(\d{3})\] (\d+)\.(\d{6}): demo run (\d+) total (\d+)$")
    import os

    for i, line in enumerate(lines):
        m = pat.match(line)
        assert m, line
        assert int(m.group(1)) == os.getpid()
        assert int(m.group(5)) == 8 + i
        assert int(m.group(6)) == 3 * (i + 1)
    assert obj.trace_lines() == []


def test_second_process_reads_the_maps(obj: bpftime.BpfObject) -> None:
    run_demo(obj)
    script = (
        "import bpftime, sys\n"
        "maps = bpftime.open_segment(sys.argv[1], sys.argv[2])\n"
        "print(maps['counts'][1], sum(maps['percpu'][1]))\n"
    )
    r = subprocess.run([sys.executable, "-c", script, obj.shm_name, str(DEMO)],
                       capture_output=True, text=True, timeout=60, cwd="/")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(RUNS), str(RUNS * 3)]


def test_two_processes_increment_one_value_atomically() -> None:
    n = 1_000_000
    with bpftime.load(DEMO, engine="jit") as obj:
        obj["counts"][0] = 0
        script = (
            "import bpftime, sys\n"
            "obj = bpftime.load(sys.argv[1], shm_name=sys.argv[2], create=False)\n"
            f"obj.programs['inc'].test_run(repeat={n})\n"
            "obj.close()\n"
        )
        child = subprocess.Popen([sys.executable, "-c", script, str(DEMO), obj.shm_name],
                                 cwd="/", stderr=subprocess.PIPE, text=True)  # fmt: skip
        mine = threading.Thread(target=obj.programs["inc"].test_run, kwargs={"repeat": n})
        mine.start()
        mine.join()
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert obj["counts"][0] == 2 * n


def test_segment_is_released() -> None:
    obj = bpftime.load(DEMO)
    name = obj.shm_name
    assert Path("/dev/shm", name.lstrip("/")).exists()
    obj.close()
    assert not Path("/dev/shm", name.lstrip("/")).exists()


def test_bad_objects_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(BpftimeError):
        bpftime.load(bad)
    with pytest.raises((BpftimeError, OSError)):
        bpftime.load(tmp_path / "missing.o")
    with pytest.raises(BpftimeError, match="factorr"):
        bpftime.load(DEMO, rodata={"factorr": 1})
