"""Syscall tracepoints in a real process must change nothing it computes.

tests/victims/sys_victim.c makes the syscalls the rewritten sites handle specially
(signals interrupting a blocking read with and without SA_RESTART, syscalls in a
signal handler, threads, fork, vfork, posix_spawn, execve, an inline `syscall` with
xmm registers live across it); tests/objects/sys_abi.bpf.o counts raw_syscalls
enters/exits per number and reads getppid's and close's tracepoint contexts. The
victim's output must be byte-identical with and without the programs, and the
counts must match what it did (it prints its own getppid count).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO

import bpftime
from bpftime import syscall_hooks, uprobe
from bpftime.errors import AttachError

SKIP = syscall_hooks.skip_reason()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")

VICTIM = REPO / "tests" / "victims" / "sys_victim.c"
OBJ = REPO / "tests" / "objects" / "sys_abi.bpf.o"
N = 300
GETPPID, CLOSE, CLONE, CLONE3, VFORK, EXECVE, EXIT_GROUP = 110, 3, 56, 435, 58, 59, 231
PPID_IN, PPID_OUT, CLOSE_BAD, CLOSE_EBADF, WRONG_PID = range(5)


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    return build_c(VICTIM, "sys_victim")


def test_tracepoints_change_nothing_and_count_exactly(victim: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # glibc's AVX2 routines (vzeroupper) rather than its EVEX ones on AVX-512 CPUs: the
    # programs' map helpers then clear ymm upper halves unless the entry saved them
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW")
    plain = subprocess.run([str(victim), str(N)], capture_output=True, text=True)
    assert plain.returncode == 9
    with bpftime.load(OBJ) as obj:
        with uprobe.spawn([str(victim), str(N)], obj) as s:
            status = s.wait(60)
            assert sorted(n for n, _ in s.syscall_programs) == sorted(obj.spec.programs)
        out = capfd.readouterr().out
        enters = dict(obj["enters"].items())
        exits = dict(obj["exits"].items())
        facts = [obj["facts"][i] for i in range(5)]
    assert status == 9
    assert out == plain.stdout
    assert "inline syscall keeps ymm: 0" not in out
    m = re.search(r"getppid calls: (\d+)", out)
    assert m
    calls = int(m[1])
    assert calls == N + 1 + 2 + 4 * N + 1  # loop, inline asm, 2 handlers, threads, fork child
    # the exec'd children (posix_spawn, execve) run a new image: no hooks there
    assert facts[PPID_IN] == facts[PPID_OUT] == enters[GETPPID] == exits[GETPPID] == calls
    assert facts[CLOSE_BAD] == facts[CLOSE_EBADF] == 1  # close(-1) -> -EBADF, once
    assert facts[WRONG_PID] == 0  # common_pid is the calling thread's id
    assert enters[CLONE3] >= 5  # 4 threads, posix_spawn
    assert enters[CLONE] == 2 and exits[CLONE] == 4  # two forks: each returns twice
    assert enters[VFORK] == 1
    assert enters[EXECVE] >= 2  # posix_spawn's and the fork child's execve
    assert enters[EXIT_GROUP] >= 3  # main, fork child, vfork child
    assert enters[1000] == exits[1000] == 1  # a number no syscall has: -ENOSYS, still seen
    assert "syscall(1000): -1 Function not implemented" in out
    assert EXIT_GROUP not in exits  # exit_group does not return


def test_override_return_skips_the_syscall(victim: Path,
                                           capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    plain = subprocess.run([str(victim), "10"], capture_output=True, text=True).stdout
    with (bpftime.load(REPO / "tests" / "objects" / "sys_override.bpf.o") as obj,
          uprobe.spawn([str(victim), "10"], obj) as s):  # fmt: skip
        assert s.wait(60) == 9
    out = capfd.readouterr().out
    assert "close(-1): -1 Bad file descriptor" in plain
    assert out == plain.replace("close(-1): -1 Bad file descriptor", "close(-1): 0 Success")


def test_attach_tracepoint_by_hand(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with bpftime.load(OBJ) as obj:
        obj.attach_tracepoint("syscalls:sys_enter_getppid", "ppid_enter")  # a second time
        with uprobe.spawn([str(victim), "10"], obj) as s:
            assert s.wait(60) == 9
        m = re.search(r"getppid calls: (\d+)", capfd.readouterr().out)
        assert m
        assert obj["facts"][PPID_IN] == 2 * int(m[1])
        assert obj["facts"][PPID_OUT] == int(m[1])


def test_not_a_syscall_tracepoint(victim: Path) -> None:
    with bpftime.load(OBJ) as obj:
        obj.attach_tracepoint("sched:sched_switch", "ppid_enter")
        with pytest.raises(AttachError, match="sched_switch"):
            uprobe.spawn([str(victim), "1"], obj)


def _mem(pid: int, addr: int, n: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb") as f:
        f.seek(addr)
        return f.read(n)


def _maps_page0(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as f:
        return any(line.startswith("00000000-") for line in f)


def test_attach_running_process_detach_restores_it(victim: Path) -> None:
    proc = subprocess.Popen([str(victim), "100000000"], stdout=subprocess.PIPE)
    try:
        time.sleep(0.2)  # in its getppid loop
        with bpftime.load(OBJ) as obj, uprobe.attach(proc.pid, obj) as s:
            assert _maps_page0(proc.pid)
            modules = [uprobe.Module(m.name, m.base, m.path)
                       for m in _modules(s)]  # fmt: skip
            sites, _ = syscall_hooks.target_sites(modules)
            assert sites and all(_mem(proc.pid, a, 2) == b"\xff\xd0" for a in sites)
            deadline = time.monotonic() + 20
            while obj["facts"][PPID_IN] < 1000 and time.monotonic() < deadline:
                time.sleep(0.01)
            s.detach()
            seen = obj["facts"][PPID_IN]
            assert seen >= 1000
            assert all(_mem(proc.pid, a, 2) == b"\x0f\x05" for a in sites)
            assert not _maps_page0(proc.pid)
            time.sleep(0.2)
            assert obj["facts"][PPID_IN] == seen  # no more reports after detach
        assert proc.poll() is None  # still running, unharmed
    finally:
        proc.kill()
        proc.wait()


def test_attach_again_after_detach(victim: Path) -> None:
    proc = subprocess.Popen([str(victim), "100000000"], stdout=subprocess.PIPE)
    try:
        time.sleep(0.2)
        for _ in range(2):  # the second session finds the agent already loaded
            with bpftime.load(OBJ) as obj, uprobe.attach(proc.pid, obj) as s:
                deadline = time.monotonic() + 20
                while obj["facts"][PPID_IN] < 1000 and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert obj["facts"][PPID_IN] >= 1000
                s.detach()
            assert not _maps_page0(proc.pid)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_page0_taken_is_a_clear_error(victim: Path) -> None:
    proc = subprocess.Popen([str(victim), "1", "page0"])
    try:
        time.sleep(0.2)
        assert proc.poll() is None
        with bpftime.load(OBJ) as obj, pytest.raises(AttachError, match="cannot map address 0"):
            uprobe.attach(proc.pid, obj)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def _modules(s: uprobe.Session) -> list[uprobe.Module]:
    assert s._script is not None
    return [uprobe.Module(n, int(b, 16), p) for n, b, p in s._script.exports_sync.modules()]
