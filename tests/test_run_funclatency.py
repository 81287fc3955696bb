"""End to end: examples/funclatency (uprobe + uretprobe on the same function) prints a
log2 histogram of slow()'s latency in microseconds that matches what the victim did.

The victim (examples/funclatency/victim.c) calls slow() FAST times sleeping 1100 us
and SLOW times sleeping 20000 us: the histogram must hold exactly FAST + SLOW values,
none below the 1024 -> 2047 slot, FAST of them in 1024 -> 16383 and SLOW from 16384 up
(a sleep never ends early; on a loaded machine it may end a few ms late, which moves
a value up a slot or two, so the test allows that but no more).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

pytestmark = needs_uprobes

OBJ = REPO / "examples" / "funclatency" / "funclatency.bpf.o"
FAST, SLOW = 12, 5


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    # the probes name the binary funclatency_victim
    return build_c(REPO / "examples" / "funclatency" / "victim.c", "funclatency_victim")


def test_histogram_text(victim: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", str(OBJ), "--", str(victim),
                        str(FAST), str(SLOW)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"slow() called {FAST + SLOW} times" in r.stdout
    assert "@usecs_hist:" in r.stdout and "usecs" in r.stdout
    rows = {int(lo): int(n) for lo, n in re.findall(r"^\s+(\d+) -> \d+\s+: (\d+)", r.stdout, re.M)}
    assert sum(n for lo, n in rows.items() if lo < 1024) == 0
    assert sum(n for lo, n in rows.items() if 1024 <= lo < 16384) == FAST
    assert sum(n for lo, n in rows.items() if lo >= 16384) == SLOW


def test_histogram_json(victim: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", str(OBJ), "-j", "--",
                        str(victim), "3", "2"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    (hist,) = [json.loads(x) for x in r.stdout.splitlines() if '"hist"' in x]
    slots = hist["slots"]
    assert sum(slots[:11]) == 0 and sum(slots[11:15]) == 3 and sum(slots[15:]) == 2
