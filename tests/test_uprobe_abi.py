"""Uprobes and uretprobes in a real process must change nothing it computes.

tests/victims/abi_victim.c calls functions that stress a hook (18 arguments with
stack-passed integers and doubles, recursion, struct returns in rax:rdx and through
memory, varargs, longjmp out of a uretprobe'd function, four threads, callers that
keep values in caller-saved registers under gcc's -fipa-ra, calls with rsp not
16-byte aligned); tests/objects/uprobe_abi.bpf.c counts entries and returns and reads
arguments, a stack argument and return registers. The victim's output must be
byte-identical with and without the probes, and the counts must match what the
victim did: N calls of each function, or the numbers it prints itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

import bpftime
from bpftime import uprobe
from bpftime.errors import AttachError

pytestmark = needs_uprobes

VICTIM = REPO / "tests" / "victims" / "abi_victim.c"
PROBES = REPO / "tests" / "objects" / "uprobe_abi.bpf.o"
ERRORS = REPO / "tests" / "objects" / "uprobe_errors.bpf.o"
N = 200
(MIX_IN, MIX_OUT, FIB_IN, FIB_OUT, FIB_RET_SUM, PAIR_A_SUM, PAIR_B_SUM, JUMP_IN, JUMP_OUT,
 WORK_IN, WORK_OUT, MIX_I7_SUM, BIG_OUT, VSUM_IN, MIX_I1_SUM, WORK_RET_SUM, RZ_IN, RZ_ARG_SUM,
 OFF_IN) = range(19)  # fmt: skip


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    return build_c(VICTIM, "abi_victim")


def _traced(victim: Path, capfd: pytest.CaptureFixture[str],
            obj: bpftime.BpfObject) -> tuple[int | None, str]:  # fmt: skip
    with uprobe.spawn([str(victim), str(N)], obj) as s:
        status = s.wait(60)
    return status, capfd.readouterr().out


def test_probes_change_nothing_and_count_exactly(victim: Path,
                                                 capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    plain = subprocess.run([str(victim), str(N)], capture_output=True, text=True)
    assert plain.returncode == 3
    with bpftime.load(PROBES) as obj:
        # by_offset's section names file offset 0; point it at vsum's first byte
        ps = obj.spec.programs["by_offset"]
        obj.spec.programs["by_offset"] = replace(ps, attach=("abi_victim", None,
                                                             _file_offset(victim, "vsum")))  # fmt: skip
        status, out = _traced(victim, capfd, obj)
        counts = dict(obj["counts"].items())
    assert status == 3
    assert out == plain.stdout
    fib = re.search(r"fib_calls (\d+) fib_ret_sum (\d+)", out)
    threads = re.search(r"threads (\d+)", out)
    assert fib and threads
    i_sum = N * (N - 1) // 2
    assert counts[MIX_IN] == counts[MIX_OUT] == N
    assert counts[MIX_I1_SUM] == i_sum  # first integer argument (rdi)
    assert counts[MIX_I7_SUM] == 7 * N + i_sum  # first stack-passed argument
    assert counts[FIB_IN] == counts[FIB_OUT] == int(fib[1])  # recursion
    assert counts[FIB_RET_SUM] == int(fib[2])  # rax at each return
    assert counts[PAIR_A_SUM] == i_sum and counts[PAIR_B_SUM] == -i_sum  # rax:rdx
    assert counts[BIG_OUT] == N
    assert counts[VSUM_IN] == N
    assert counts[JUMP_IN] == N and counts[JUMP_OUT] == 0  # left by longjmp
    assert counts[WORK_IN] == counts[WORK_OUT] == 4 * N  # four threads
    assert counts[WORK_RET_SUM] == int(threads[1])
    assert counts[RZ_IN] == N and counts[RZ_ARG_SUM] == i_sum  # mid-function, red zone kept
    assert f"redzone {2 * i_sum}" in out
    assert counts[OFF_IN] == N  # binary:0xoffset form


def test_tail_calls_in_the_target(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with bpftime.load(REPO / "tests" / "objects" / "uprobe_tailcall.bpf.o") as obj:
        status, out = _traced(victim, capfd, obj)
        counts = [obj["tc_counts"][i] for i in range(3)]
    fib = re.search(r"fib_calls (\d+)", out)
    assert status == 3 and fib
    # every fib entry tail-called into tail_target; the code after the call never ran
    assert counts == [int(fib[1]), int(fib[1]), 0]


def test_func_arg_helpers_in_the_target(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with bpftime.load(REPO / "tests" / "objects" / "uprobe_funcargs.bpf.o") as obj:
        status, out = _traced(victim, capfd, obj)
        sums = [obj["fa_sums"][i] for i in range(9)]
    fib = re.search(r"fib_calls (\d+) fib_ret_sum (\d+)", out)
    assert status == 3 and fib
    i_sum = N * (N - 1) // 2
    # mix(i, 0.5, 2, 1.25, 3, 2.5, 4, ...): integer arguments i, 2, 3, 4, 5, 6
    assert sums[:6] == [i_sum, 2 * N, 3 * N, 4 * N, 5 * N, 6 * N]
    assert sums[6] == 6 * N  # bpf_get_func_arg_cnt
    assert sums[7] == -22 * N  # argument 6 is not in a register: -EINVAL each time
    assert sums[8] == int(fib[2])  # bpf_get_func_ret in the uretprobe


def _file_offset(path: Path, symbol: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        (sym,) = [s for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name == symbol]
        for seg in elf.iter_segments():
            lo = seg["p_vaddr"]
            if seg["p_type"] == "PT_LOAD" and lo <= sym["st_value"] < lo + seg["p_filesz"]:
                return int(sym["st_value"] - lo + seg["p_offset"])
    raise AssertionError(f"{symbol} not found")


def _only(obj: bpftime.BpfObject, name: str) -> bpftime.BpfObject:
    for other in [p for p in obj.spec.programs if p != name]:
        del obj.spec.programs[other]
    return obj


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("too_short", r"abi_victim:tiny: only 5 bytes of code there; a hook needs at least 16"),
        ("no_symbol", r"no function 'no_such_function' in .*abi_victim's symbol tables"),
        ("no_binary", r"binary './no/such/binary' does not exist"),
        ("not_loaded", r"binary 'libnotloaded.so.1': not a library process \d+ has loaded"),
        ("no_target", r"the section names no target"),
        ("bad_offset", r"abi_victim:0x7fffffff: that offset is in no loaded segment"),
    ],
)
def test_attach_errors(victim: Path, program: str, message: str) -> None:
    with bpftime.load(ERRORS) as obj, pytest.raises(AttachError, match=message):
        uprobe.spawn([str(victim), "1"], _only(obj, program))


def test_missing_probes_warn_skips(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with bpftime.load(ERRORS) as obj, uprobe.spawn([str(victim), "1"], obj, "warn") as s:
        assert s.wait(30) == 3
        assert len(s.skipped) == 6
    assert capfd.readouterr().err.count("warning: program") == 6


def test_untraceable_process() -> None:
    with bpftime.load(PROBES) as obj, pytest.raises(AttachError, match="no such process"):
        uprobe.attach(2**22 + 12345, obj)


def test_short_function_frida_cannot_move(build_c) -> None:  # type: ignore[no-untyped-def]
    # mkpair at -O2 is 10 bytes (mov, mov, neg, ret): too short for the 16-byte jump
    short = build_c(VICTIM, "abi_victim_short", "-DTOUCH()=0")
    with bpftime.load(PROBES) as obj, pytest.raises(AttachError, match=r"pair_out|cannot hook"):
        uprobe.spawn([str(short), "1"], _only(obj, "pair_out"))


def test_missing_command() -> None:
    with bpftime.load(PROBES) as obj, pytest.raises(AttachError, match="not found on PATH"):
        uprobe.spawn(["no-such-command-bpftime"], obj)


def test_attach_running_process_and_detach(victim: Path) -> None:
    proc = subprocess.Popen([str(victim), "1", "loop"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        while b"fib_calls" not in proc.stdout.readline():
            pass
        with bpftime.load(PROBES) as obj:
            obj.spec.programs.pop("by_offset")  # names file offset 0: not code
            with uprobe.attach(proc.pid, obj) as s:
                deadline = time.monotonic() + 20
                while obj["counts"][WORK_IN] < 20 and time.monotonic() < deadline:
                    time.sleep(0.01)
                s.detach()
                seen = obj["counts"][WORK_IN]
                assert seen >= 20
                time.sleep(0.2)
                assert obj["counts"][WORK_IN] - seen <= 1  # hooks are gone
        time.sleep(0.2)
        assert proc.poll() is None  # still running, unharmed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert os.WIFSIGNALED(proc.returncode) or proc.returncode == -signal.SIGKILL


def test_attach_uprobe_by_hand(victim: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # bcc's API: work_in also runs at fib's entry, attached by hand
    with bpftime.load(PROBES) as obj:
        for other in [p for p in obj.spec.programs if p != "work_in"]:
            del obj.spec.programs[other]
        with pytest.raises(KeyError, match="no program 'nope'"):
            obj.attach_uprobe(name="abi_victim", sym="work", fn_name="nope")
        obj.attach_uprobe(name="abi_victim", sym="fib", fn_name="work_in")
        with uprobe.spawn([str(victim), "1"], obj) as s:
            assert s.wait(30) == 3
            assert {p.target.what for p in s.probes} == {"work", "fib"}
        fib = re.search(r"fib_calls (\d+)", capfd.readouterr().out)
        assert fib and obj["counts"][WORK_IN] == 4 + int(fib[1])


def test_rebase_moves_only_addresses() -> None:
    b = {0: bpftime.MapBinding(handle=0x1040),
         1: bpftime.MapBinding(handle=0x1080, value_addr=0x1200, value_size=8, writable=False)}  # fmt: skip
    assert uprobe.rebase(b, 0x1000, 0x9000) == {
        0: bpftime.MapBinding(handle=0x9040),
        1: bpftime.MapBinding(handle=0x9080, value_addr=0x9200, value_size=8, writable=False),
    }
