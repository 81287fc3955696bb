"""Probes on a library the target loads with dlopen after attach.

tests/victims/late_victim.c dlopens tests/victims/late_lib.c's library 300 ms after it
starts and calls into it 500 ms later; the session looks for new libraries every 50 ms
while it is polled, attaches the uprobe and uretprobe waiting for the library, and
rewrites the library's `syscall` instructions for the getppid tracepoint. Every call
must be counted.
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

SKIP = syscall_hooks.skip_reason()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")

OBJ = REPO / "tests" / "objects" / "uprobe_late.bpf.o"
N = 500


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("late")
    lib, exe = out / "liblate.so", out / "late_victim"
    subprocess.run(["gcc", "-O2", "-g", "-shared", "-fPIC", "-o", str(lib),
                    str(REPO / "tests" / "victims" / "late_lib.c")], check=True)  # fmt: skip
    subprocess.run(["gcc", "-O2", "-g", "-o", str(exe),
                    str(REPO / "tests" / "victims" / "late_victim.c"), "-ldl"],
                   check=True)  # fmt: skip
    return lib, exe


def test_probes_attach_when_the_library_is_loaded(built: tuple[Path, Path],
                                                  capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    lib, exe = built
    with bpftime.load(OBJ) as obj:
        obj.attach_uprobe(name=str(lib), sym="late_fn", fn_name="on_late_fn")
        obj.attach_uretprobe(name=str(lib), sym="late_fn", fn_name="on_late_ret")
        with uprobe.spawn([str(exe), str(lib), str(N)], obj) as s:
            assert len(s.pending) == 2  # not loaded at start
            deadline = time.monotonic() + 30
            while s.poll_exit() is None and time.monotonic() < deadline:
                s.poll(0.02)
            assert s.wait(1) == 0
            assert s.pending == []
        counts = [obj["late_counts"][i] for i in range(3)]
    out = capfd.readouterr().out
    m = re.search(r"late_fn sum (-?\d+) getppid (\d+)", out)
    assert m and int(m[2]) == N
    assert counts[0] == counts[1] == N  # every call of late_fn, entry and return
    assert counts[2] == N  # the library's inline getppid, rewritten after dlopen


def test_library_never_loaded_is_reported(built: tuple[Path, Path]) -> None:
    lib, exe = built
    with bpftime.load(OBJ) as obj:
        obj.attach_uprobe(name=str(lib), sym="late_fn", fn_name="on_late_fn")
        obj.attach_uretprobe(name=str(lib), sym="late_fn", fn_name="on_late_ret")
        with uprobe.spawn([str(exe), "/nonexistent/lib.so", "1"], obj) as s:
            assert s.wait(30) == 1  # its dlopen failed
            s.poll(0)
            assert s.pending == [f"uprobe {lib}:late_fn (on_late_fn)",
                                 f"uretprobe {lib}:late_fn (on_late_ret)"]  # fmt: skip
