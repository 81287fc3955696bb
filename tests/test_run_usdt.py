"""End to end: examples/usdt's programs, written with libbpf's <bpf/usdt.bpf.h>, read
the arguments of a real process's USDT probes with bpf_usdt_arg.

The victim (examples/usdt/victim.c) fires demo:step, demo:mem and (while its semaphore
is held) demo:costly for i in 0..N-1 and prints what it passed; every record the
programs send must hold exactly those values: registers of 1, 4 and 8 bytes, signed
and not, a stack slot, constants. Also: the semaphore is 0 untraced, 1 while attached
and 0 again after detaching, and ``attach_usdt`` adds a program by hand with a cookie.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, needs_uprobes

import bpftime

pytestmark = needs_uprobes

OBJ = REPO / "examples" / "usdt" / "usdt.bpf.o"
N = 6


@pytest.fixture(scope="module")
def victim(build_c) -> Path:  # type: ignore[no-untyped-def]
    return build_c(REPO / "examples" / "usdt" / "victim.c", "usdt_victim")


def _printed(stdout: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {"step": [], "mem": [], "costly": []}
    for line in stdout.splitlines():
        word, *rest = line.split()
        if word in out:
            out[word].append(rest)
    return out


def test_arguments_match_what_the_victim_passed(victim: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bpftime", "run", "-j", str(OBJ), "--",
                        str(victim), str(N)], capture_output=True, text=True, timeout=120,
                       cwd=REPO)  # fmt: skip
    assert r.returncode == 0, r.stderr
    printed = _printed(r.stdout)
    records = [json.loads(x)["data"] for x in r.stdout.splitlines()
               if x.startswith('{"type": "ringbuf"')]  # fmt: skip
    by_probe = {p: [e for e in records if e["probe"] == p] for p in (1, 2, 3)}
    assert len(printed["step"]) == len(by_probe[1]) == N
    for (i, small, big, name), e in zip(printed["step"], by_probe[1], strict=True):
        assert e["argc"] == 4
        assert e["args"][:3] == [int(i), int(small), int(big)]
        assert e["name"] == name  # read through the pointer argument
    assert [e["args"][0] for e in by_probe[1]] == list(range(N))
    assert len(printed["mem"]) == len(by_probe[2]) == N
    for (slot, c42, cm7), e in zip(printed["mem"], by_probe[2], strict=True):
        assert (e["argc"], e["args"]) == (3, [int(slot), int(c42), int(cm7), 0])
    # the semaphore was set: the victim computed and printed the guarded probe's argument
    assert len(printed["costly"]) == len(by_probe[3]) == N
    assert [e["args"][0] for e in by_probe[3]] == [int(v) for (v,) in printed["costly"]]
    assert all(e["cookie"] == 0 for e in records)
    printk = [json.loads(x)["data"] for x in r.stdout.splitlines()
              if x.startswith('{"type": "printk"')]  # fmt: skip
    assert [p.rsplit(": ", 1)[1] for p in printk if ": step" in p] == [
        f"step {i} {small} {name}" for i, small, _big, name in printed["step"]]


def test_untraced_victim_skips_the_guarded_probe(victim: Path) -> None:
    r = subprocess.run([str(victim), "3"], capture_output=True, text=True, check=True)
    assert len(_printed(r.stdout)["step"]) == 3 and not _printed(r.stdout)["costly"]


def test_semaphore_held_while_attached(victim: Path) -> None:
    from elftools.elf.elffile import ELFFile

    with open(victim, "rb") as f:
        probes = ELFFile(f).get_section_by_name(".probes")["sh_addr"]
    proc = subprocess.Popen([str(victim), "100000", "5"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.2)
        with open(f"/proc/{proc.pid}/maps") as f:  # the PIE's first mapping is its base
            base = next(int(line.split("-")[0], 16) for line in f
                        if line.rstrip().endswith(str(victim)))  # fmt: skip

        def semaphore() -> int:
            with open(f"/proc/{proc.pid}/mem", "rb") as mem:
                mem.seek(base + probes)
                return int.from_bytes(mem.read(2), "little")

        assert semaphore() == 0
        with bpftime.attach(proc.pid, OBJ) as s:
            assert semaphore() == 1
            time.sleep(0.1)
            records = [o.data for o in s.poll(timeout=1.0) if o.kind == "ringbuf"]
            assert any(e["probe"] == 3 for e in records)
            s.detach()
            assert semaphore() == 0
        assert proc.poll() is None  # still running after detach
    finally:
        proc.kill()
        proc.wait()


def test_attach_usdt_by_hand_with_a_cookie(victim: Path) -> None:
    with bpftime.load(OBJ) as obj:
        # on_costly also at demo:step, where bpf_usdt_cookie returns 7
        obj.attach_usdt(name=str(victim), probe="demo:step", fn_name="on_costly", cookie=7)
        with open(os.devnull, "wb") as null, \
                bpftime.spawn([str(victim), "3"], obj, stdout=null.fileno()) as s:
            assert s.wait(60) == 0
            records = [o.data for o in s.poll() if o.kind == "ringbuf"]
        at_step = [e for e in records if e["cookie"] == 7]
        assert [(e["probe"], e["args"][0], e["argc"]) for e in at_step] == [(3, i, 4)
                                                                            for i in range(3)]
        assert len([e for e in records if e["probe"] == 1 and e["cookie"] == 0]) == 3
    with bpftime.load(OBJ) as obj, pytest.raises(ValueError, match="provider and probe"):
        obj.attach_usdt(name=str(victim), probe="step", fn_name="on_mem")


def test_missing_probe_is_a_clear_error(victim: Path, tmp_path: Path) -> None:
    with bpftime.load(OBJ) as obj:
        obj.attach_usdt(name=str(victim), probe="demo:nope", fn_name="on_mem")
        with pytest.raises(bpftime.AttachError, match=re.escape(
                "usdt " + str(victim) + ":demo:nope: no such probe in")) as e:  # fmt: skip
            bpftime.spawn([str(victim), "1"], obj)
        assert "demo:costly, demo:mem, demo:step" in str(e.value)
