"""The ubpf suite through `python -m bpftime conformance`, and the runner's own behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import UBPF_TESTS

needs_suite = pytest.mark.skipif(
    not UBPF_TESTS.is_dir(), reason=f"ubpf test suite not found at {UBPF_TESTS}"
)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bpftime", *args],
        capture_output=True,
        text=True,
        cwd=cwd or Path("/"),
        timeout=600,
    )


@needs_suite
def test_ubpf_suite_passes_on_both_engines() -> None:
    r = cli("conformance", str(UBPF_TESTS), "--engine", "all")
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines[-1].endswith(" passed, 0 failed")
    passed = int(lines[-1].split()[0])
    assert passed >= 150  # 104 files x 2 engines, minus the stated skips
    skips = [line for line in lines if line.startswith("SKIP ")]
    assert all(": " in s and len(s.split(": ", 1)[1]) > 20 for s in skips)


@needs_suite
def test_json_output_one_object_per_test() -> None:
    r = cli("conformance", str(UBPF_TESTS / "alu64.data"), str(UBPF_TESTS / "factorial.data"),
            "--json")  # fmt: skip
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(objs) == 4
    assert {(Path(o["file"]).name, o["engine"], o["status"]) for o in objs} == {
        ("alu64.data", "interp", "pass"),
        ("alu64.data", "jit", "pass"),
        ("factorial.data", "interp", "pass"),
        ("factorial.data", "jit", "pass"),
    }
    fact = [o for o in objs if o["file"].endswith("factorial.data")]
    assert all(o["got"] == "0x21c3677c82b40000" for o in fact)
    assert r.stderr.strip().endswith("4 passed, 0 failed")


def test_failure_is_reported_and_exit_status_is_1(tmp_path: Path) -> None:
    (tmp_path / "wrong.data").write_text("-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n")
    (tmp_path / "good.data").write_text(
        "-- raw\n0x00000007000000b7\n0x0000000000000095\n-- result\n0x7\n"
    )
    (tmp_path / "bytes.data").write_text(
        "-- raw\nb7 00 00 00 09 00 00 00\n95 00 00 00 00 00 00 00\n-- result\n0x9\n"
    )
    r = cli("conformance", str(tmp_path), "--engine", "interp")
    assert r.returncode == 1
    assert f"FAIL {tmp_path / 'wrong.data'} [interp]: wrong r0 (expected 0x2, got 0x1)" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "2 passed, 1 failed"


def test_expected_error_must_be_raised(tmp_path: Path) -> None:
    (tmp_path / "e.data").write_text("-- asm\nmov %r0, 1\nexit\n-- error\nshould be rejected\n")
    r = cli("conformance", str(tmp_path / "e.data"), "--engine", "jit")
    assert r.returncode == 1
    assert "expected rejection (should be rejected), but it ran" in r.stdout


def test_missing_path_is_a_clear_error() -> None:
    r = cli("conformance", "/nonexistent/x.data")
    assert r.returncode == 2
    assert "no such file or directory: /nonexistent/x.data" in r.stderr


def test_commands_work_from_the_source_checkout() -> None:
    # the repo root holds the uncompiled package folder; importing there must give the
    # installed build, so README commands work from the checkout
    repo = Path(__file__).resolve().parent.parent
    r = subprocess.run(
        [sys.executable, "-c", "import bpftime; print(bpftime.__file__); print(bpftime.Program)"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    path, prog = r.stdout.splitlines()
    assert Path(path).resolve().parent != repo / "bpftime"
    assert "bpftime._program.Program" in prog
    run = cli("run", "examples/bytesum.s", "--data-in", "examples/bytesum.in", cwd=repo)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == f"retval {sum(b'hello, eBPF'):#x} ({sum(b'hello, eBPF')})"
