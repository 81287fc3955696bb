"""The verifier on ELF objects: ``ObjectSpec`` (bpftime.elf) -> ``verifier.verify``.

Owns the thin translation from the loader's plain data to the verifier's: map
specs become ``MapInfo`` (with the ``struct bpf_spin_lock`` offset found in the
value's BTF type), BTF line info becomes ``SourceLine``, the program kind picks
the context layout. Does not own any rule (``verifier.py``).
"""

from __future__ import annotations

from dataclasses import replace

from .btf import Btf, Kind
from .errors import VerifierError
from .spec import MapSpec, ObjectSpec, ProgramSpec
from .verifier import MapInfo, SourceLine, VerifyStats, verify

_MAX_DEPTH = 8


def map_infos(spec: ObjectSpec) -> list[MapInfo]:
    """One MapInfo per map, in lddw index order; inner-map templates follow them."""
    out = [map_info(ms, spec.btf) for ms in spec.maps]
    for i, ms in enumerate(spec.maps):
        if ms.inner is not None:
            out.append(map_info(ms.inner, spec.btf))
            out[i] = replace(out[i], inner=len(out) - 1)
    return out


def map_info(ms: MapSpec, btf: Btf | None) -> MapInfo:
    lock = None
    if btf is not None and ms.value_type_id is not None:
        lock = _spin_lock_offset(btf, ms.value_type_id, 0, 0)
    return MapInfo(ms.type, ms.key_size, ms.value_size, ms.max_entries, ms.readonly, ms.name, lock)


def _spin_lock_offset(btf: Btf, type_id: int, base: int, depth: int) -> int | None:
    if depth > _MAX_DEPTH:
        return None
    t = btf.type(btf.resolve(type_id))
    if t.kind == Kind.STRUCT and t.name == "bpf_spin_lock":
        return base
    if t.kind in (Kind.STRUCT, Kind.UNION):
        for m in t.members:
            found = _spin_lock_offset(btf, m.type, base + m.bit_offset // 8, depth + 1)
            if found is not None:
                return found
    return None


def verify_program(
    spec: ObjectSpec, ps: ProgramSpec, verbose: bool = False, *, ctx_size: int = 512
) -> VerifyStats:
    """Verify one program of an object; VerifierError names the program and the C line."""
    maps = map_infos(spec)
    lines = {i: SourceLine(li.file, li.line, li.column, li.text) for i, li in ps.line_info.items()}
    try:
        return verify(ps.insns, ps.kind, maps, lines, verbose, section=ps.section,
                      ctx_size=ctx_size)  # fmt: skip
    except VerifierError as exc:
        raise VerifierError(
            f"program {ps.name!r} (section {ps.section}): {exc}",
            exc.index,
            exc.reason,
            exc.source_line,
            exc.file,
            exc.line,
            exc.state,
        ) from None


def verify_spec(spec: ObjectSpec, verbose: bool = False) -> dict[str, VerifyStats]:
    """Verify every program of an object; raises on the first rejection."""
    return {name: verify_program(spec, ps, verbose) for name, ps in spec.programs.items()}
