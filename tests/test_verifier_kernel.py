"""Differential test against the kernel's verifier: nothing the kernel refuses for a
memory-safety reason may be accepted by ours.

The programs are the map-free hand-written ones of test_verifier_rules.py that do
not read the context (the kernel loads them as socket filters, whose context is
not ours); each is loaded into the kernel with bpf(BPF_PROG_LOAD).
"""

from __future__ import annotations

import re

import pytest
from test_verifier_rules import CASES, MAPS

from bpftime import kernel
from bpftime.asm import assemble
from bpftime.errors import KernelError, VerifierError
from bpftime.verifier import verify

_OK, _REASON = kernel.available()
pytestmark = [pytest.mark.bpf, pytest.mark.skipif(not _OK, reason=_REASON)]

# kernel refusals that are not about memory safety: what a socket filter may call
NOT_SAFETY = (
    "unknown func",
    "cannot call",
    "program of this type cannot use helper",
    "missing btf func_info",  # callbacks need BTF in the kernel
)

_CTX_ACCESS = re.compile(r"\[%r1[+\]]")
PORTABLE = [
    c for c in CASES if c[1] == "uprobe" and "map_idx" not in c[2] and not _CTX_ACCESS.search(c[2])
]


def _kernel_refusal(code: bytes) -> str | None:
    try:
        with kernel.KernelProgram(code):
            return None
    except KernelError as exc:
        return str(exc)


@pytest.mark.parametrize(("name", "prog_type", "source", "expected"), PORTABLE,
                         ids=[c[0] for c in PORTABLE])  # fmt: skip
def test_kernel_refusals_are_ours(
    name: str, prog_type: str, source: str, expected: str | None
) -> None:
    code = assemble(source)
    refusal = _kernel_refusal(code)
    if refusal is None or any(s in refusal for s in NOT_SAFETY):
        return
    with pytest.raises(VerifierError):
        verify(code, "socket", MAPS, max_steps=100_000)


def test_enough_programs() -> None:
    assert len(PORTABLE) >= 25
