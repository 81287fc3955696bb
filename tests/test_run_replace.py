"""End to end: replace mode (SEC("ureplace/...")) and `run`'s exit status.

The victim (examples/replace/victim.c) prints price_with_tax(p) for p = 100, 200, ...
(the function adds 20 %: 120, 240, ...), how many times the function ran, and exits
with the status it is given. With examples/replace's program the function never runs
and returns the price unchanged (the program's r0).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

import bpftime
from bpftime.errors import AttachError

pytestmark = needs_uprobes

OBJ = REPO / "examples" / "replace" / "replace.bpf.o"
API_OBJ = REPO / "tests" / "objects" / "ureplace_api.bpf.o"


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    return build_c(REPO / "examples" / "replace" / "victim.c", "replace_victim")


def _prices(out: str) -> list[int]:
    return [int(v) for v in re.findall(r"^price_with_tax\(\d+\): (-?\d+)$", out, re.M)]


def test_victim_alone(victim: Path) -> None:
    r = subprocess.run([str(victim), "4"], capture_output=True, text=True, timeout=60)
    assert _prices(r.stdout) == [120, 240, 360, 480]
    assert "ran 4 times" in r.stdout


def test_replaced_function_returns_program_value(victim: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", str(OBJ), "--", str(victim), "4"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert _prices(r.stdout) == [100, 200, 300, 400]
    assert "price_with_tax ran 0 times" in r.stdout
    assert "@replaced[0]: 4" in r.stdout


def test_attach_ureplace_by_hand(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with bpftime.load(API_OBJ) as obj:
        obj.attach_ureplace(name="replace_victim", sym="price_with_tax", fn_name="double_it")
        with bpftime.spawn([str(victim), "3"], obj, missing_probes="ignore") as s:
            assert s.wait(60) == 0
    out = capfd.readouterr().out
    assert _prices(out) == [200, 400, 600]
    assert "ran 0 times" in out


def test_negative_result_is_64_bit(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with bpftime.load(API_OBJ) as obj:
        obj.attach_ureplace(name="replace_victim", sym="price_with_tax", fn_name="minus_one")
        with bpftime.spawn([str(victim), "2"], obj, missing_probes="ignore") as s:
            assert s.wait(60) == 0
    assert _prices(capfd.readouterr().out) == [-1, -1]


def test_one_replacement_per_function(victim: Path) -> None:
    with bpftime.load(API_OBJ) as obj:
        obj.attach_ureplace(name="replace_victim", sym="price_with_tax", fn_name="double_it")
        obj.attach_ureplace(name="replace_victim", sym="price_with_tax", fn_name="minus_one")
        with pytest.raises(AttachError, match="already replaced by another program"):
            bpftime.spawn([str(victim), "1"], obj, missing_probes="ignore")


def test_ureplace_offset_refused() -> None:
    from bpftime.errors import ElfError
    from bpftime.sections import parse_section

    assert parse_section("ureplace/app:f", "p").kind == "ureplace"
    with pytest.raises(ElfError, match="ureplace replaces a whole function"):
        parse_section("ureplace/app:f+4", "p")


@pytest.mark.parametrize("status", [0, 3, 42, 255, 7, 1, 0, 9])
def test_exit_status_every_time(victim: Path, status: int,
                                capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """frida ptrace-attaches to the command again as its agent stops (the command
    exiting): the status must still reach us, every time."""
    with bpftime.spawn([str(victim), "2", str(status)], OBJ) as s:
        assert s.wait(60) == status
    assert _prices(capfd.readouterr().out) == [100, 200]


def test_run_exits_with_command_status(victim: Path) -> None:
    for status in (5, 0, 77):
        r = subprocess.run([sys.executable, "-m", "bpftime", "run", "--no-print-maps", str(OBJ),
                            "--", str(victim), "1", str(status)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert r.returncode == status, r.stderr
