"""End to end: syscall tracepoint programs (examples/opensnoop, examples/syscount,
examples/mixed) inside a traced process with ``python -m bpftime run OBJ -- CMD``,
and the same objects in the kernel on the same victims as the oracle.

Three groups, by name (select with ``-k``):

* ``test_bpftime_*``: our runtime, through the CLI. Each checks what the victim is
  known to do, written down here (file names, flags, errno, call counts);
* ``test_kernel_*``: the same object in the kernel (perf_event_open tracepoints and
  uprobes, root), checked against the same expectations: proof that the examples
  and the expectations are right, independent of our runtime;
* ``test_bpftime_matches_kernel_*``: both on the same victim, compared.

The victims (examples/*/victim.c):

* opensnoop: ``opensnoop_victim DIR N`` opens DIR/file-0..N-1 with O_WRONLY|O_CREAT|
  O_TRUNC, DIR/file-0 with O_RDONLY, DIR/missing/nothing-here (ENOENT), and
  DIR/from-thread with O_WRONLY|O_CREAT|O_APPEND from a second thread; prints
  ``open PATH flags=F ret=R tid=T`` per open.
* syscount: ``syscount_victim N M``: N getppid() through libc, N through a
  ``syscall`` instruction in the executable (from a second thread), M openat() of a
  missing file.
* mixed: ``mixed_victim R``: do_work(r) writes r times (10 bytes each) for r in 1..R,
  and main writes once after each, then prints one line (one more write at exit).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, UPROBE_SKIP

from bpftime import elf, kernel, syscalls

EX = REPO / "examples"
OPENSNOOP = EX / "opensnoop" / "opensnoop.bpf.o"
SYSCOUNT = EX / "syscount" / "syscount.bpf.o"
MIXED = EX / "mixed" / "mixed.bpf.o"

O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_APPEND = 0, 0o1, 0o100, 0o1000, 0o2000
ENOENT = 2
NR_WRITE, NR_GETPPID, NR_OPENAT = 1, 110, 257
N_OPEN = 3
N_GETPPID, M_OPENAT = 1000, 7
ROUNDS = 4  # mixed: do_work writes 1+2+3+4 = 10 times, 100 bytes

_KOK, _KWHY = kernel.available()
_KSKIP = None if _KOK else _KWHY
if _KSKIP is None and syscalls.tracefs_root() is None:
    _KSKIP = syscalls.tracefs_note()
needs_kernel = pytest.mark.skipif(_KSKIP is not None, reason=_KSKIP or "")
needs_bpftime = pytest.mark.skipif(UPROBE_SKIP is not None, reason=UPROBE_SKIP or "")


@pytest.fixture(scope="module")
def victims(build_c: Callable[..., Path]) -> dict[str, Path]:
    return {n: build_c(EX / n / "victim.c", f"{n}_victim") for n in ("opensnoop", "syscount",
                                                                     "mixed")}  # fmt: skip


# --- running: ours (the CLI) and the kernel's --------------------------------------


def run_bpftime(obj: Path, argv: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """``python -m bpftime run -j OBJ -- ARGV``: the victim's lines and our JSON lines."""
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", "-j", str(obj), "--", *argv],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    return [x for x in lines if not x.startswith("{")], [json.loads(x) for x in lines
                                                         if x.startswith("{")]  # fmt: skip


def _file_offset(path: Path, symbol: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        e = ELFFile(f)
        (sym,) = [s for s in e.get_section_by_name(".symtab").iter_symbols() if s.name == symbol]
        for seg in e.iter_segments():
            lo = seg["p_vaddr"]
            if seg["p_type"] == "PT_LOAD" and lo <= sym["st_value"] < lo + seg["p_filesz"]:
                return int(sym["st_value"] - lo + seg["p_offset"])
    raise AssertionError(f"{symbol} is in no PT_LOAD segment of {path}")


def run_kernel(obj: Path, argv: list[str],
               collect: Callable[[Any], Any]) -> tuple[list[str], Any, int]:  # fmt: skip
    """Start ARGV stopped, load OBJ into the kernel with targ_tgid = its pid, attach
    every program (tracepoints by tracefs id, uprobes on ARGV[0] for that pid), let it
    run; returns its lines, collect(KernelObject) and its pid."""
    from bpftime.kernel_object import KernelObject, attach_tracepoint, attach_uprobe
    from bpftime.uprobe import launch_suspended

    spec = elf.load_spec(obj)
    r, w = os.pipe()
    child = launch_suspended(argv, w)
    pid = child.pid
    os.close(w)
    try:
        spec.set_global("targ_tgid", pid)
        with KernelObject(spec) as ko:
            for name, ps in spec.programs.items():
                fd = ko.programs[name].fd
                if ps.kind == "tracepoint":
                    tp = syscalls.resolve_tracepoint(str(ps.attach[0]), str(ps.attach[1]))
                    ko.links.append(attach_tracepoint(tp.tp_id, fd))
                else:
                    off = _file_offset(Path(argv[0]), str(ps.attach[1]))
                    ko.links.append(attach_uprobe(argv[0], off, fd, pid,
                                                  ps.kind == "uretprobe"))  # fmt: skip
            os.kill(pid, signal.SIGCONT)
            with os.fdopen(r) as f:
                out = f.read().splitlines()
            assert child.wait(60) == 0
            return out, collect(ko), pid
    finally:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            child.wait(10)


# --- opensnoop -------------------------------------------------------------------

# path, flags, ret (an errno, or "fd": the agent's own descriptors shift the numbers of
# the victim's in our runs; check_opensnoop compares them exactly with what the victim
# printed), from the main thread
Open = tuple[str, int, int | str, bool]


def victim_opens(lines: list[str]) -> list[tuple[str, int, int, int]]:
    """The victim's own report: (path, flags, ret, tid) per open."""
    out = []
    for line in lines:
        if line.startswith("open "):
            _, path, flags, ret, tid = line.split()
            out.append((path, int(flags[6:]), int(ret[4:]), int(tid[4:])))
    return out


def check_opensnoop(events: list[dict[str, Any]], lines: list[str], d: Path) -> list[Open]:
    """Events of the victim's opens in d must be exactly what it did; returns them
    normalized (pid-independent) for comparison."""
    mine = [e for e in events if str(e["fname"]).startswith(f"{d}/")]
    reported = victim_opens(lines)
    main_tid = reported[0][3]
    written = [(f"{d}/file-{i}", O_WRONLY | O_CREAT | O_TRUNC) for i in range(N_OPEN)] + [
        (f"{d}/file-0", O_RDONLY), (f"{d}/missing/nothing-here", O_RDONLY),
        (f"{d}/from-thread", O_WRONLY | O_CREAT | O_APPEND)]  # fmt: skip
    assert [(p, f) for p, f, _, _ in reported] == written
    assert [(e["fname"], e["flags"], e["ret"], e["tid"]) for e in mine] == reported
    assert [e["ret"] >= 0 for e in mine] == [True] * (N_OPEN + 1) + [False, True]
    assert mine[N_OPEN + 1]["ret"] == -ENOENT
    assert {e["pid"] for e in mine} == {main_tid}
    assert mine[-1]["tid"] != main_tid and all(e["tid"] == main_tid for e in mine[:-1])
    assert {e["comm"] for e in mine} == {"opensnoop_victi"}  # TASK_COMM_LEN 16, truncated
    return [(str(e["fname"]), int(e["flags"]), int(e["ret"]) if e["ret"] < 0 else "fd",
             e["tid"] == main_tid) for e in mine]  # fmt: skip


def _decode_open(rec: bytes) -> dict[str, Any]:
    # struct event { u32 pid, tid; s64 ret, flags; char comm[16]; char fname[128]; }
    pid, tid, ret, flags, comm, fname = struct.unpack("<IIqq16s128s", rec)
    return {"pid": pid, "tid": tid, "ret": ret, "flags": flags,
            "comm": comm.split(b"\0")[0].decode(), "fname": fname.split(b"\0")[0].decode()}  # fmt: skip


def kernel_opensnoop(victim: Path, d: Path) -> list[Open]:
    out, recs, _ = run_kernel(OPENSNOOP, [str(victim), str(d), str(N_OPEN)],
                              lambda ko: ko.ringbuf("events").read())  # fmt: skip
    return check_opensnoop([_decode_open(r) for r in recs], out, d)


def bpftime_opensnoop(victim: Path, d: Path) -> list[Open]:
    lines, js = run_bpftime(OPENSNOOP, [str(victim), str(d), str(N_OPEN)])
    events = [o["data"] for o in js if o["type"] == "ringbuf" and o["map"] == "events"]
    return check_opensnoop(events, lines, d)


@needs_kernel
def test_kernel_opensnoop(victims: dict[str, Path], tmp_path: Path) -> None:
    kernel_opensnoop(victims["opensnoop"], tmp_path)


@needs_bpftime
def test_bpftime_opensnoop(victims: dict[str, Path], tmp_path: Path) -> None:
    bpftime_opensnoop(victims["opensnoop"], tmp_path)


@needs_bpftime
@needs_kernel
def test_bpftime_matches_kernel_opensnoop(victims: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "b").mkdir()
    k = kernel_opensnoop(victims["opensnoop"], tmp_path / "k")
    b = bpftime_opensnoop(victims["opensnoop"], tmp_path / "b")
    assert [(p.replace("/b/", "/k/"), *rest) for p, *rest in b] == k


# --- syscount --------------------------------------------------------------------


def check_syscount(counts: dict[int, int], lines: list[str]) -> None:
    assert lines == [f"getppid {2 * N_GETPPID} openat {M_OPENAT}"]
    # getppid: nothing but the victim calls it; openat: libc may open files too
    assert counts[NR_GETPPID] == 2 * N_GETPPID
    assert counts[NR_OPENAT] >= M_OPENAT
    assert counts[NR_WRITE] >= 1  # the printf


def _u32_u64(ko: Any, name: str) -> dict[int, int]:
    return {struct.unpack("<I", k)[0]: struct.unpack("<Q", v)[0]
            for k, v in ko.maps[name].items()}  # fmt: skip


def kernel_syscount(victim: Path) -> dict[int, int]:
    out, counts, _ = run_kernel(SYSCOUNT, [str(victim), str(N_GETPPID), str(M_OPENAT)],
                                lambda ko: _u32_u64(ko, "syscalls"))  # fmt: skip
    check_syscount(counts, out)
    return counts


def bpftime_syscount(victim: Path) -> dict[int, int]:
    lines, js = run_bpftime(SYSCOUNT, [str(victim), str(N_GETPPID), str(M_OPENAT)])
    (m,) = [o for o in js if o["type"] == "map" and o["map"] == "syscalls"]
    counts = {int(e["key"]): int(e["value"]) for e in m["entries"]}
    check_syscount(counts, lines)
    return counts


@needs_kernel
def test_kernel_syscount(victims: dict[str, Path]) -> None:
    kernel_syscount(victims["syscount"])


@needs_bpftime
def test_bpftime_syscount(victims: dict[str, Path]) -> None:
    bpftime_syscount(victims["syscount"])


@needs_bpftime
@needs_kernel
def test_bpftime_matches_kernel_syscount(victims: dict[str, Path]) -> None:
    k = kernel_syscount(victims["syscount"])
    b = bpftime_syscount(victims["syscount"])
    # the calls the victim makes after its entry point are the same in both runs
    for nr in (NR_GETPPID, NR_OPENAT, NR_WRITE):
        assert b[nr] == k[nr], nr


# --- mixed: a uprobe and a tracepoint in one object --------------------------------


def check_mixed(writes: dict[int, int], work_bytes: int, lines: list[str]) -> None:
    assert lines == [f"writes in do_work {ROUNDS * (ROUNDS + 1) // 2}"]
    assert writes == {1: 10, 0: ROUNDS + 1}  # outside: one per round, and the printf
    assert work_bytes == 100


def kernel_mixed(victim: Path) -> tuple[dict[int, int], int]:
    def collect(ko: Any) -> tuple[dict[int, int], int]:
        w = {k: v for k, v in _u32_u64(ko, "writes").items() if v}
        return w, _u32_u64(ko, "work_bytes")[0]

    out, (writes, nbytes), _ = run_kernel(MIXED, [str(victim), str(ROUNDS)], collect)
    check_mixed(writes, nbytes, out)
    return writes, nbytes


def bpftime_mixed(victim: Path) -> tuple[dict[int, int], int]:
    # the uprobe section names the executable by its file name, which `run` finds
    lines, js = run_bpftime(MIXED, [str(victim), str(ROUNDS)])
    maps = {o["map"]: {int(e["key"]): int(e["value"]) for e in o["entries"]}
            for o in js if o["type"] == "map"}  # fmt: skip
    writes, nbytes = maps["writes"], maps["work_bytes"].get(0, 0)
    check_mixed(writes, nbytes, lines)
    return writes, nbytes


@needs_kernel
def test_kernel_mixed(victims: dict[str, Path]) -> None:
    kernel_mixed(victims["mixed"])


@needs_bpftime
def test_bpftime_mixed(victims: dict[str, Path]) -> None:
    bpftime_mixed(victims["mixed"])


@needs_bpftime
@needs_kernel
def test_bpftime_matches_kernel_mixed(victims: dict[str, Path]) -> None:
    assert bpftime_mixed(victims["mixed"]) == kernel_mixed(victims["mixed"])


# --- what `run` says about sections it cannot attach --------------------------------


@needs_bpftime
@pytest.mark.parametrize("section, message", [
    ("tracepoint/sched/sched_switch", "syscall tracepoints"),
    ("tracepoint/syscalls/sys_enter_stat", "sys_enter_newstat"),
])  # fmt: skip
def test_bpftime_refuses_non_syscall_tracepoints(section: str, message: str,
                                                 tmp_path: Path) -> None:  # fmt: skip
    """A section `run` cannot serve fails before the command runs, naming the section and
    what works instead (the object is built from examples/syscount with a new section)."""
    src = (EX / "syscount" / "syscount.bpf.c").read_text()
    c = tmp_path / "bad.bpf.c"
    c.write_text(src.replace('SEC("tracepoint/raw_syscalls/sys_enter")', f'SEC("{section}")'))
    o = tmp_path / "bad.bpf.o"
    if shutil.which("clang") is None:
        pytest.skip("needs clang to build the test object (apt-get install clang)")
    clang = subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-c", str(c), "-o", str(o),
                            "-I/usr/include/x86_64-linux-gnu"], capture_output=True)  # fmt: skip
    if clang.returncode:
        pytest.skip(f"clang could not build the test object: {clang.stderr[-200:]!r}")
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", str(o), "--", "true"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode != 0
    assert section in r.stderr and message in r.stderr
