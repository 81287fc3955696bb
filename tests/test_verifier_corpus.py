"""The C corpus: clang -O2 programs the verifier must accept, and unsafe ones it must
refuse with the expected message and C line (tests/verifier/*.bpf.c, built by
``make -C tests/verifier``); the CLI and ``bpftime.load`` on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bpftime
from bpftime import VerifierError, elf
from bpftime.verify_spec import verify_program

CORPUS = Path(__file__).parent / "verifier"
ACCEPT = sorted(CORPUS.glob("accept_*.bpf.o"))
REJECT = CORPUS / "reject.bpf.o"


def _programs(paths: list[Path]) -> list[tuple[Path, str]]:
    return [(p, name) for p in paths for name in elf.load_spec(p).programs]


ACCEPTED = _programs(ACCEPT)

# program -> (first line of the message, C line it points at)
REJECTED = {
    "no_null_check": (
        "insn 7: R0 is map_value_or_null: null check required before access",
        "return *v + 1;",
    ),
    "unchecked_index": (
        "insn 11: R0 += R1: pointer arithmetic with an unbounded scalar (R1 is"
        " scalar(u[0, 18446744073709551608], bits(0x0, 0xfffffffffffffff8))); bound it with a"
        " comparison first",
        "return a[PT_REGS_PARM1(ctx)];",
    ),
    "off_by_one": (
        "insn 13: invalid access to map value of 'arr': R0+[0, 64] size 8 (offset range"
        " [0, 64]) is outside its 64 bytes",
        "return a[i];",
    ),
    "ringbuf_leak": (
        "insn 17: unreleased ringbuf memory reserved at insn 5: call bpf_ringbuf_submit or"
        " bpf_ringbuf_discard on every path",
        "}",
    ),
    "lock_leak": (
        "insn 19: bpf_spin_unlock is missing: the lock taken at insn 12 is still held at exit",
        "}",
    ),
    "write_rodata": (
        "insn 3: write into read-only map '.rodata' (R2)",
        "*(volatile __u64 *)&limit = PT_REGS_PARM1(ctx);",
    ),
    "write_ctx": (
        "insn 1: write to the context (R1+80): struct pt_regs is read-only",
        "ctx->rax = 0;",
    ),
    "pointer_into_map": (
        "insn 10: bpf_map_update_elem arg3: the memory R3 points to holds a spilled fp"
        " pointer (pointer leak)",
        "return bpf_map_update_elem(&counts, &key, &val, 0) && val;",
    ),
    "unbounded_loop": (
        "insn 4: infinite loop detected: the loop comes back here in a state it was in"
        " before, so nothing bounds it",
        "while (bpf_get_prandom_u32() != 7)",
    ),
    "stack_uninit": (
        "insn 8: invalid read from stack R2+[-32, -8] size 8: byte r10-24 is not initialized",
        "return buf[i];",
    ),
    "helper_size_unbounded": (
        "insn 4: bpf_probe_read_user arg2: R2 is scalar, an unbounded size; bound it with a"
        " comparison first",
        "return bpf_probe_read_user(buf, PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM1(ctx));",
    ),
}


def test_corpus_size() -> None:
    assert len(ACCEPTED) >= 30
    assert set(elf.load_spec(REJECT).programs) == set(REJECTED)


@pytest.mark.parametrize(("path", "name"), ACCEPTED, ids=[f"{p.stem}:{n}" for p, n in ACCEPTED])
def test_accepted(path: Path, name: str) -> None:
    spec = elf.load_spec(path)
    verify_program(spec, spec.programs[name])


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected(name: str) -> None:
    spec = elf.load_spec(REJECT)
    first, c_line = REJECTED[name]
    with pytest.raises(VerifierError) as info:
        verify_program(spec, spec.programs[name])
    e = info.value
    lines = str(e).splitlines()
    assert lines[0] == f"program {name!r} (section uprobe): {first}"
    assert e.source_line == c_line
    assert e.file == "./reject.bpf.c"
    assert lines[1] == f"  ; {c_line}  (./reject.bpf.c:{e.line})"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bpftime", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )


def test_cli_accepts() -> None:
    res = _cli(str(ACCEPT[0]))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "accepted" in res.stdout


def test_cli_rejects_with_status_1() -> None:
    res = _cli(str(REJECT), "-v")
    assert res.returncode == 1
    assert "no_null_check: rejected" in res.stdout
    assert "  ; return *v + 1;  (./reject.bpf.c:" in res.stdout
    assert "R0=map_value_or_null" in res.stdout  # -v: the register state


def test_load_verifies() -> None:
    with pytest.raises(VerifierError, match="no_null_check"):
        bpftime.load(REJECT)


def test_load_unverified_needs_a_loud_opt_out() -> None:
    with pytest.warns(UserWarning, match="NOT verified"):
        obj = bpftime.load(REJECT, unsafe_skip_verifier=True)
    obj.close()
