"""bpftool's verbs on ELF objects: python -m bpftime prog list|dump|run, map dump."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bpftime

DEMO = Path(__file__).resolve().parent / "objects" / "demo.bpf.o"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpftime", *args], capture_output=True,
                          text=True, cwd="/", timeout=120)  # fmt: skip


def test_prog_list() -> None:
    r = cli("prog", "list", str(DEMO))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "0: syscall  name tail_target  section syscall  insns 5",
        "1: syscall  name demo  section syscall  insns 129",
        "2: syscall  name inc  section syscall  insns 14",
    ]
    rows = json.loads(cli("prog", "list", str(DEMO), "-j").stdout)
    assert [(p["name"], p["kind"]) for p in rows] == [
        ("tail_target", "syscall"), ("demo", "syscall"), ("inc", "syscall")]  # fmt: skip


def test_prog_dump_shows_source_lines() -> None:
    r = cli("prog", "dump", str(DEMO), "inc")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "; __u64 *v = bpf_map_lookup_elem(&counts, &key);  (demo.bpf.c:" in out
    assert "lddw %r1, map_idx 1" in out
    assert "lock_add [%r0], %r1" in out


def test_prog_run_prints_return_value_and_trace() -> None:
    r = cli("prog", "run", str(DEMO), "demo", "--repeat", "2", "--engine", "interp")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Return value: 1001, duration (average): ")
    assert [line.split(": ", 1)[1] for line in lines[1:]] == [
        "demo run 8 total 1", "demo run 9 total 2"]  # fmt: skip


def test_map_dump_of_an_object_shows_initial_values() -> None:
    r = cli("map", "dump", str(DEMO), "-j")
    assert r.returncode == 0, r.stderr
    maps = {m["name"]: m for m in json.loads(r.stdout)}
    assert maps[".data"]["entries"] == [{"key": 0, "value": {"calls": 7}}]
    assert maps["jumps"]["entries"] == [{"key": 1, "value": 1}]
    assert maps["counts"]["entries"] == []
    text = cli("map", "dump", str(DEMO), "--name", ".data").stdout
    assert text.splitlines() == [
        "map '.data': array  key 4B  value 4B  max_entries 1",
        'key: 0  value: {"calls": 7}',
        "Found 1 element",
    ]


def test_map_dump_of_a_live_segment() -> None:
    with bpftime.load(DEMO) as obj:
        for _ in range(3):
            obj.programs["inc"].run(bytes(8))  # key 0 absent: returns 1, no change
        obj["counts"][0] = 41
        obj.programs["inc"].run(bytes(8))
        r = cli("map", "dump", str(DEMO), "--shm", obj.shm_name, "--name", "counts")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1:] == ["key: 0  value: 42", "Found 1 element"]


def test_errors_name_what_is_missing() -> None:
    r = cli("prog", "run", str(DEMO), "nope")
    assert r.returncode == 1
    assert "no program 'nope'" in r.stderr and "tail_target" in r.stderr
    r = cli("prog", "list", "/nonexistent.o")
    assert r.returncode != 0 and "nonexistent.o" in r.stderr
