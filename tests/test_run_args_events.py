"""End to end: examples/args-and-events reads a string and an integer argument in a
uprobe and sends one struct per call through a ring buffer and a perf buffer; `run`
prints the records decoded with BTF, and the bpf_printk lines, while the victim runs,
and at exit how many records each buffer dropped because it was full.

The victim (examples/args-and-events/victim.c) calls open_file("/tmp/file-<i>", i * 10)
for i in 0..N-1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

import bpftime

pytestmark = needs_uprobes

OBJ = REPO / "examples" / "args-and-events" / "args_events.bpf.o"
N = 7


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    return build_c(REPO / "examples" / "args-and-events" / "victim.c", "args_victim")


def test_records_and_printk(victim: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", "-j", str(OBJ), "--",
                        str(victim), str(N)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    records = [o["data"] for o in out if o["type"] == "ringbuf"]
    assert [(e["path"], e["flags"]) for e in records] == [(f"/tmp/file-{i}", i * 10)
                                                          for i in range(N)]  # fmt: skip
    # one ring per CPU: in order within a ring, not across them
    perf = sorted((o["data"] for o in out if o["type"] == "perf"), key=lambda e: e["flags"])
    assert {o["map"] for o in out if o["type"] == "perf"} == {"perf_events"}
    assert perf == records
    assert not [o for o in out if o["type"] == "lost"]
    assert len({e["pid"] for e in records}) == 1 and records[0]["pid"] == records[0]["tid"]
    printk = [o["data"] for o in out if o["type"] == "printk"]
    assert [p.rsplit(": ", 1)[1] for p in printk] == [f"open_file /tmp/file-{i}"
                                                       for i in range(N)]  # fmt: skip
    assert all(p.startswith(f"args_victim-{records[0]['pid']} ") for p in printk)


def test_text_output(victim: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", str(OBJ), "--", str(victim), "2"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert '"path": "/tmp/file-1"' in r.stdout
    assert "events: {" in r.stdout


def test_lost_records_counted(victim: Path) -> None:
    """Nothing is read while the victim runs: each ring keeps what fits and counts the
    rest; what was read plus what was lost is every call."""
    n = 20000  # 80-byte ring buffer records, 88-byte perf samples: far over 64 KiB rings
    with bpftime.spawn([str(victim), str(n)], OBJ, stdout=subprocess.DEVNULL) as s:
        assert s.wait(60) == 0
        got = {"ringbuf": 0, "perf": 0}
        while out := s.poll(0):
            for o in out:
                if o.kind in got:
                    got[o.kind] += 1
        lost = s.lost()
    assert set(lost) == {"events", "perf_events"}
    assert 0 < got["ringbuf"] < n and got["ringbuf"] + lost["events"] == n
    assert 0 < got["perf"] < n and got["perf"] + lost["perf_events"] == n


def test_lost_line_at_exit(victim: Path) -> None:
    n = 50000
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", "-j", "--no-print-maps",
                        str(OBJ), "--", str(victim), str(n)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    lost = {o["map"]: o["count"] for o in out if o["type"] == "lost"}
    assert lost["events"] > 0
    assert sum(o["type"] == "ringbuf" for o in out) + lost["events"] == n
    assert sum(o["type"] == "perf" for o in out) + lost.get("perf_events", 0) == n
    text = subprocess.run([sys.executable, "-m", "bpftime", "run", "--no-print-maps", str(OBJ),
                           "--", str(victim), str(n)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert re.search(r"^lost \d+ events on map events$", text.stdout, re.M)
