"""End to end: examples/error-inject makes every third call of a function fail.

The victim (examples/error-inject/victim.c) calls open_config() 9 times and prints each
result, how many failed and how many times the function really ran. With the probe
(bpf_override_return(ctx, -ENOENT) on calls 3, 6, 9), those calls return -2 and the
function body does not run for them; the .rodata knob changes the rate.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

import bpftime

pytestmark = needs_uprobes

OBJ = REPO / "examples" / "error-inject" / "error_inject.bpf.o"


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    return build_c(REPO / "examples" / "error-inject" / "victim.c", "errinj_victim")


def test_every_third_call_fails(victim: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", str(OBJ), "--", str(victim)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 1, r.stderr  # the victim's status: some calls failed
    results = [int(v) for v in re.findall(r"^call \d+: (-?\d+)$", r.stdout, re.M)]
    assert results == [113, 113, -2] * 3
    assert "failed 3 of 9, open_config ran 6 times" in r.stdout
    assert "@inject_stats[0]: 9" in r.stdout and "@inject_stats[1]: 3" in r.stdout


def test_rodata_knob(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with bpftime.load(OBJ, rodata={"fail_every": 2}) as obj:
        with bpftime.spawn([str(victim), "9"], obj) as s:
            assert s.wait(60) == 1
        assert obj["inject_stats"][1] == 4
    assert "failed 4 of 9, open_config ran 5 times" in capfd.readouterr().out
