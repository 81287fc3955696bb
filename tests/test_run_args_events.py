"""End to end: examples/args-and-events reads a string and an integer argument in a
uprobe and sends one struct per call through a ring buffer; `run` prints the records
decoded with BTF, and the bpf_printk lines, while the victim runs.

The victim (examples/args-and-events/victim.c) calls open_file("/tmp/file-<i>", i * 10)
for i in 0..N-1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

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
