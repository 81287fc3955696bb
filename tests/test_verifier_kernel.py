"""Differential test against the kernel's verifier: nothing the kernel refuses for a
memory-safety reason may be accepted by ours.

The programs: the map-free hand-written ones of test_verifier_rules.py that do
not read the context (loaded as socket filters, whose context is not ours), and the
uprobe/tracepoint programs of the C corpus, loaded as kprobe/tracepoint programs
with their maps created in the kernel (except those whose callbacks or spin locks
need BTF there). The kernel must also accept every program of the accepted corpus.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
from pathlib import Path

import pytest
from test_verifier_rules import CASES, MAPS

from bpftime import elf, kernel
from bpftime import opcodes as op
from bpftime.asm import assemble
from bpftime.errors import KernelError, VerifierError
from bpftime.spec import MapSpec, ObjectSpec
from bpftime.verifier import verify
from bpftime.verify_spec import map_infos, verify_program

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


# --- the C corpus, maps created in the kernel -----------------------------------------

CORPUS = Path(__file__).parent / "verifier"
BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_MAP_FREEZE = 0, 2, 22
BPF_F_RDONLY_PROG = 1 << 7
PROG_TYPES = {"uprobe": 2, "uretprobe": 2, "tracepoint": 5}  # KPROBE, TRACEPOINT
_U32 = ctypes.c_uint32


class _MapCreate(ctypes.Structure):
    _fields_ = [(n, _U32) for n in ("map_type", "key_size", "value_size", "max_entries", "flags")]


class _MapElem(ctypes.Structure):
    _fields_ = [("map_fd", _U32), ("pad", _U32), ("key", ctypes.c_uint64),
                ("value", ctypes.c_uint64), ("flags", ctypes.c_uint64)]  # fmt: skip


def _kernel_map(ms: MapSpec) -> int:
    entries = ms.max_entries or 64  # perf event arrays: libbpf's "one per CPU"
    flags = BPF_F_RDONLY_PROG if ms.readonly else 0
    fd = kernel._bpf(
        BPF_MAP_CREATE, _MapCreate(ms.type, ms.key_size, ms.value_size, entries, flags)
    )
    if ms.data is not None:
        key = ctypes.c_uint32(0)
        val = ctypes.create_string_buffer(bytes(ms.data), ms.value_size)
        kernel._bpf(
            BPF_MAP_UPDATE_ELEM, _MapElem(fd, 0, ctypes.addressof(key), ctypes.addressof(val), 0)
        )
        if ms.readonly:
            kernel._bpf(BPF_MAP_FREEZE, _MapElem(fd))
    return fd


def _with_fds(code: bytes, fds: list[int]) -> bytes:
    """lddw map index (src 5/6) -> map fd (src 1/2)."""
    buf = bytearray(code)
    for i in range(0, len(buf), 8):
        if buf[i] == op.LDDW and buf[i + 1] >> 4 in (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_IDX_VALUE):
            src = op.PSEUDO_MAP_FD if buf[i + 1] >> 4 == op.PSEUDO_MAP_IDX else op.PSEUDO_MAP_VALUE
            idx = struct.unpack_from("<i", buf, i + 4)[0]
            buf[i + 1] = (buf[i + 1] & 0x0F) | src << 4
            struct.pack_into("<i", buf, i + 4, fds[idx])
    return bytes(buf)


def _needs_btf(spec: ObjectSpec, code: bytes) -> bool:
    """Callbacks and spin locks need BTF in the kernel, which these loads do not pass."""
    infos = map_infos(spec)
    for i in range(0, len(code), 8):
        if code[i] != op.LDDW:
            continue
        src = code[i + 1] >> 4
        idx = struct.unpack_from("<i", code, i + 4)[0]
        if src == op.PSEUDO_FUNC:
            return True
        if (
            src in (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_IDX_VALUE)
            and infos[idx].spin_lock_off is not None
        ):
            return True
    return False


# safe programs the kernel refuses because it proves less than ours, with the reason
KERNEL_LESS_PRECISE = {
    "ptr_walk": "the kernel learns nothing from comparing two pointers into one stack frame",
}

C_PROGRAMS = [
    (p, n)
    for p in sorted(CORPUS.glob("*.bpf.o"))
    for n, ps in elf.load_spec(p).programs.items()
    if ps.kind in PROG_TYPES
]


@pytest.mark.parametrize(("path", "name"), C_PROGRAMS, ids=[f"{p.stem}:{n}" for p, n in C_PROGRAMS])
def test_c_corpus_kernel_refusals_are_ours(path: Path, name: str) -> None:
    spec = elf.load_spec(path)
    ps = spec.programs[name]
    if _needs_btf(spec, ps.insns):
        pytest.skip("needs BTF in the kernel (callback or spin lock)")
    fds = [_kernel_map(ms) for ms in spec.maps]
    try:
        try:
            with kernel.KernelProgram(_with_fds(ps.insns, fds), PROG_TYPES[ps.kind]):
                refusal = None
        except KernelError as exc:
            refusal = str(exc)
    finally:
        for fd in fds:
            os.close(fd)
    ours: VerifierError | None = None
    try:
        verify_program(spec, ps)
    except VerifierError as exc:
        ours = exc
    if name in KERNEL_LESS_PRECISE:
        assert refusal is not None and ours is None, "no longer a precision difference"
        return
    if refusal is not None and not any(s in refusal for s in NOT_SAFETY):
        assert ours is not None, f"the kernel refuses {name}, ours accepts:\n{refusal}"
    if path.name.startswith("accept_"):  # the corpus itself: the kernel agrees it is safe
        assert refusal is None, refusal
