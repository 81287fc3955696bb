"""A uprobe must keep 256-bit vector arguments whole.

tests/victims/avx_victim.c passes two __m256d to a probed function; the program
(tests/objects/uprobe_avx.bpf.c) makes the agent call libc's memchr. With glibc told to
use its AVX2 string routines (which end with vzeroupper, clearing the upper halves of
ymm0-15), the victim's result is right only if the trampoline saves ymm registers whole;
with xmm-only saving it printed 25350.000 instead of 90962.500.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

import bpftime
from bpftime import uprobe

VICTIM = REPO / "tests" / "victims" / "avx_victim.c"
OBJ = REPO / "tests" / "objects" / "uprobe_avx.bpf.o"
AVX2_GLIBC = "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW"  # AVX2 routines, not EVEX


def _has_avx2() -> bool:
    with open("/proc/cpuinfo") as f:
        return any(line.startswith("flags") and " avx2" in line for line in f)


pytestmark = [needs_uprobes,
              pytest.mark.skipif(not _has_avx2(), reason="needs a CPU with AVX2")]  # fmt: skip


def test_m256_arguments_survive_a_probe(build_c, monkeypatch: pytest.MonkeyPatch,
                                        capfd: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    victim: Path = build_c(VICTIM, "avx_victim", "-mavx2")
    monkeypatch.setenv("GLIBC_TUNABLES", AVX2_GLIBC)
    plain = subprocess.run([str(victim), "100"], capture_output=True, text=True,
                           env=os.environ.copy())  # fmt: skip
    assert plain.stdout == "total 90962.500\n"
    with bpftime.load(OBJ) as obj:
        with uprobe.spawn([str(victim), "100"], obj) as s:
            assert s.wait(30) == 0
        assert obj["avx_hits"][0] == 100
    assert capfd.readouterr().out == plain.stdout
