"""End to end: ``python -m bpftime run examples/malloc/malloc.bpf.o -- victim`` counts
every malloc() of every thread of a real process, through libc, exactly.

The victim (examples/malloc/victim.c) runs THREADS threads that each call malloc
exactly CALLS times and print their thread ids; the maps printed at exit must hold
CALLS for each of those ids. Also: the command's exit status comes back, -j prints
NDJSON, --interval prints the maps while it runs, Ctrl-C reaches the command, and
``attach`` detaches on Ctrl-C leaving the process running.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

pytestmark = needs_uprobes

OBJ = REPO / "examples" / "malloc" / "malloc.bpf.o"
THREADS, CALLS = 4, 5000


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    return build_c(REPO / "examples" / "malloc" / "victim.c", "malloc_victim")


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpftime", "run", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)  # fmt: skip


def test_counts_every_malloc_per_thread(victim: Path) -> None:
    r = run(str(OBJ), "--", str(victim), str(THREADS), str(CALLS))
    assert r.returncode == 0, r.stderr
    tids = [int(t) for t in re.findall(r"^tid (\d+) malloc \d+$", r.stdout, re.M)]
    assert len(tids) == THREADS
    counts = {int(k): int(v) for k, v in re.findall(r"^@malloc_calls\[(\d+)\]: (\d+)$",
                                                    r.stdout, re.M)}  # fmt: skip
    for tid in tids:
        assert counts[tid] == CALLS


def test_json_and_exit_status(victim: Path, tmp_path: Path) -> None:
    r = run(str(OBJ), "-j", "--", str(victim), "2", "100")
    assert r.returncode == 0, r.stderr
    maps = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    (calls,) = [m for m in maps if m["map"] == "malloc_calls"]
    tids = [int(t) for t in re.findall(r"^tid (\d+)", r.stdout, re.M)]
    by_tid = {e["key"]: e["value"] for e in calls["entries"]}
    assert [by_tid[t] for t in tids] == [100, 100]
    bad = run(str(OBJ), "--", str(victim), "65")  # the victim refuses > 64 threads: status 2
    assert bad.returncode == 2


def test_interval_prints_while_running(victim: Path) -> None:
    sleeper = ["sh", "-c", f"{victim} 1 10 >/dev/null; sleep 1.5; {victim} 1 10 >/dev/null"]
    r = run(str(OBJ), "--interval", "0.5", "--", *sleeper)
    assert r.returncode == 0, r.stderr
    # printed several times while it ran, once more at the end; sh itself mallocs too
    assert r.stdout.count("@malloc_calls[") >= 2


def test_missing_object_and_command() -> None:
    r = run("no/such.bpf.o", "--", "true")
    assert r.returncode != 0 and "no/such.bpf.o" in r.stderr
    r = run(str(OBJ), "--", "no-such-command-bpftime")
    assert r.returncode == 1 and "not found on PATH" in r.stderr


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_is_forwarded_and_maps_printed() -> None:
    # as from an interactive shell: SIGINT not ignored (a background job's would be, and
    # the command inherits that)
    p = subprocess.Popen([sys.executable, "-m", "bpftime", "run", "-v", str(OBJ), "--", "sleep",
                          "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=REPO, preexec_fn=_default_sigint)  # fmt: skip
    assert p.stderr is not None
    while "running" not in (line := p.stderr.readline()):  # attached, Ctrl-C now forwarded
        assert line, "bpftime run ended before starting the command"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGINT, err  # sleep died of the forwarded SIGINT
    assert "@malloc_calls[" in out


def test_attach_command_detaches_on_ctrl_c(build_c) -> None:  # type: ignore[no-untyped-def]
    victim = build_c(REPO / "tests" / "victims" / "abi_victim.c", "abi_victim")
    obj = REPO / "tests" / "objects" / "uprobe_abi.bpf.o"
    proc = subprocess.Popen([str(victim), "1", "loop"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        p = subprocess.Popen([sys.executable, "-m", "bpftime", "attach", "-v", str(obj),
                              str(proc.pid), "--missing-probes", "ignore"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                             preexec_fn=_default_sigint)  # fmt: skip
        assert p.stderr is not None
        while "Ctrl-C detaches" not in (line := p.stderr.readline()):
            assert line, "bpftime attach ended before attaching"
        time.sleep(1)  # work() runs every millisecond
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        counts = dict(re.findall(r"^@counts\[(\d+)\]: (-?\d+)$", out, re.M))
        assert int(counts["9"]) > 100  # work() entries: called every millisecond
        time.sleep(0.3)
        assert proc.poll() is None  # detached, still running
    finally:
        proc.kill()
        proc.wait()
