"""CO-RE: the types a userspace runtime exposes, and relocating programs against them.

Owns: ``runtime_btf(arch)``, a BTF description of the context types this runtime
hands to programs (``struct pt_regs`` for x86_64 and aarch64, the syscall tracepoint
contexts), and ``relocate``, which resolves CO-RE relocation records (``.BTF.ext``)
against a target BTF and patches the instructions, following libbpf's
``relo_core.c``: candidates are target types of a compatible kind whose name equals
the local name once ``___flavor`` suffixes are dropped; field paths are matched by
name through anonymous struct/union members and array indices; all candidates must
agree.

Where libbpf would "poison" an instruction it cannot relocate (and let the kernel's
verifier reject it if it is reachable), this module raises ElfError naming the
program, the instruction and the relocation, e.g. ``program 'handle' insn 12: CO-RE
relocation <byte_off> struct pt_regs.foo: no field 'foo' in the runtime's struct
pt_regs``. It never produces a guessed offset. Existence checks
(``bpf_core_field_exists``, ``bpf_core_type_exists``, ...) resolve to 0 instead.

Does not own: parsing BTF (bpftime.btf), finding relocations in ELF (bpftime.elf).

Runtime types:

* x86_64: ``struct pt_regs`` in the kernel's layout (r15 r14 r13 r12 bp bx r11 r10
  r9 r8 ax cx dx si di orig_ax ip cs flags sp ss, all unsigned long, 168 bytes),
  and the same layout under the <asm/ptrace.h> names (rdi, rsi, ..., eflags) as the
  flavour ``struct pt_regs___uapi``, so programs built without vmlinux.h, whose
  bpf_tracing.h reads ``rdi``, relocate too.
* aarch64: ``struct user_pt_regs { __u64 regs[31]; __u64 sp; __u64 pc; __u64
  pstate; }`` and ``struct pt_regs { union { struct user_pt_regs user_regs; struct
  { regs[31]; sp; pc; pstate; }; }; __u64 orig_x0; __s32 syscallno; }`` (the
  kernel's leading members; later kernel-only members are not provided).
* both: ``struct trace_entry``, ``struct trace_event_raw_sys_enter`` and
  ``struct trace_event_raw_sys_exit``, with the kernel's layouts.
"""

from __future__ import annotations

import platform
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import opcodes as op
from .btf import (
    COMPOSITES,
    ENUMS,
    INT_SIGNED,
    MAX_DEPTH,
    VOID,
    Btf,
    BtfType,
    CoreKind,
    CoreRelo,
    Kind,
    Member,
)
from .errors import ElfError

ARCHES = ("x86_64", "aarch64")
_ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

_KIND_NAMES = {
    CoreKind.FIELD_BYTE_OFFSET: "byte_off",
    CoreKind.FIELD_BYTE_SIZE: "byte_sz",
    CoreKind.FIELD_EXISTS: "field_exists",
    CoreKind.FIELD_SIGNED: "signed",
    CoreKind.FIELD_LSHIFT_U64: "lshift_u64",
    CoreKind.FIELD_RSHIFT_U64: "rshift_u64",
    CoreKind.TYPE_ID_LOCAL: "local_type_id",
    CoreKind.TYPE_ID_TARGET: "target_type_id",
    CoreKind.TYPE_EXISTS: "type_exists",
    CoreKind.TYPE_MATCHES: "type_matches",
    CoreKind.TYPE_SIZE: "type_size",
    CoreKind.ENUMVAL_EXISTS: "enumval_exists",
    CoreKind.ENUMVAL_VALUE: "enumval_value",
}
_FIELD_KINDS = frozenset(
    {
        CoreKind.FIELD_BYTE_OFFSET,
        CoreKind.FIELD_BYTE_SIZE,
        CoreKind.FIELD_EXISTS,
        CoreKind.FIELD_SIGNED,
        CoreKind.FIELD_LSHIFT_U64,
        CoreKind.FIELD_RSHIFT_U64,
    }
)
_TYPE_KINDS = frozenset(
    {
        CoreKind.TYPE_ID_LOCAL,
        CoreKind.TYPE_ID_TARGET,
        CoreKind.TYPE_EXISTS,
        CoreKind.TYPE_MATCHES,
        CoreKind.TYPE_SIZE,
    }
)
_ENUM_KINDS = frozenset({CoreKind.ENUMVAL_EXISTS, CoreKind.ENUMVAL_VALUE})
_MAX_SPEC = 64  # libbpf's BPF_CORE_SPEC_MAX_LEN


def host_arch() -> str:
    return platform.machine()


# -- the runtime's types ------------------------------------------------------------


class _Builder:
    """Lays out C structs with natural alignment into a list of BtfTypes."""

    def __init__(self) -> None:
        self.types: list[BtfType] = [VOID]
        self.align: dict[int, int] = {0: 1}

    def add(self, t: BtfType, align: int) -> int:
        self.types.append(t)
        self.align[len(self.types) - 1] = align
        return len(self.types) - 1

    def int_(self, name: str, size: int, signed: bool) -> int:
        t = BtfType(Kind.INT, name, size=size, encoding=INT_SIGNED if signed else 0, bits=size * 8)
        return self.add(t, size)

    def typedef(self, name: str, target: int) -> int:
        return self.add(BtfType(Kind.TYPEDEF, name, type=target), self.align[target])

    def array(self, elem: int, n: int, index: int) -> int:
        return self.add(
            BtfType(Kind.ARRAY, type=elem, index_type=index, nelems=n), self.align[elem]
        )

    def size(self, tid: int) -> int:
        return Btf(self.types).size_of(tid)

    def composite(self, kind: Kind, name: str, fields: Sequence[tuple[str, int]]) -> int:
        members, off, align = [], 0, 1
        for fname, ftype in fields:
            a = self.align[ftype]
            align = max(align, a)
            if kind == Kind.STRUCT:
                off = (off + a - 1) // a * a
                members.append(Member(fname, ftype, off * 8))
                off += self.size(ftype)
            else:
                members.append(Member(fname, ftype, 0))
                off = max(off, self.size(ftype))
        size = (off + align - 1) // align * align
        return self.add(BtfType(kind, name, size=size, members=tuple(members)), align)


# fmt: off
_X86_REGS = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
    "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
]
_X86_UAPI_REGS = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
    "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
]
# fmt: on


def _syscall_contexts(b: _Builder, index: int) -> None:
    u16 = b.int_("short unsigned int", 2, False)
    u8 = b.int_("unsigned char", 1, False)
    i32 = b.int_("int", 4, True)
    long_ = b.int_("long int", 8, True)
    ulong = b.int_("long unsigned int", 8, False)
    entry = b.composite(
        Kind.STRUCT,
        "trace_entry",
        [("type", u16), ("flags", u8), ("preempt_count", u8), ("pid", i32)],
    )
    args = b.array(ulong, 6, index)
    b.composite(
        Kind.STRUCT, "trace_event_raw_sys_enter", [("ent", entry), ("id", long_), ("args", args)]
    )
    b.composite(
        Kind.STRUCT, "trace_event_raw_sys_exit", [("ent", entry), ("id", long_), ("ret", long_)]
    )


def _x86_64() -> Btf:
    b = _Builder()
    index = b.int_("__ARRAY_SIZE_TYPE__", 4, False)
    ulong = b.int_("long unsigned int", 8, False)
    b.composite(Kind.STRUCT, "pt_regs", [(r, ulong) for r in _X86_REGS])
    b.composite(Kind.STRUCT, "pt_regs___uapi", [(r, ulong) for r in _X86_UAPI_REGS])
    _syscall_contexts(b, index)
    return Btf(b.types)


def _aarch64() -> Btf:
    b = _Builder()
    index = b.int_("__ARRAY_SIZE_TYPE__", 4, False)
    u64 = b.typedef("__u64", b.int_("long long unsigned int", 8, False))
    s32 = b.typedef("__s32", b.int_("int", 4, True))
    regs = b.array(u64, 31, index)
    tail = [("regs", regs), ("sp", u64), ("pc", u64), ("pstate", u64)]
    user = b.composite(Kind.STRUCT, "user_pt_regs", tail)
    anon = b.composite(Kind.STRUCT, "", tail)
    both = b.composite(Kind.UNION, "", [("user_regs", user), ("", anon)])
    b.composite(Kind.STRUCT, "pt_regs", [("", both), ("orig_x0", u64), ("syscallno", s32)])
    _syscall_contexts(b, index)
    return Btf(b.types)


def runtime_btf(arch: str | None = None) -> Btf:
    """The types this runtime exposes to programs on ``arch`` (default: this machine)."""
    name = arch or host_arch()
    canon = _ARCH_ALIASES.get(name)
    if canon is None:
        raise ElfError(
            f"CO-RE: no runtime type description for architecture '{name}'"
            f" (known: {', '.join(ARCHES)}); pass target_btf or arch"
        )
    return _x86_64() if canon == "x86_64" else _aarch64()


# -- names -------------------------------------------------------------------------


def essential_name(name: str) -> str:
    """``name`` without a ``___flavor`` suffix (libbpf's bpf_core_essential_name_len)."""
    n = len(name)
    for i in range(n - 5, -1, -1):
        s = name[i : i + 5]
        if s[0] != "_" and s[1:4] == "___" and s[4] != "_":
            return name[: i + 1]
    return name


def _names_match(a: str, b: str) -> bool:
    if not b:
        return not a
    return essential_name(a) == essential_name(b)


# -- specs -------------------------------------------------------------------------


@dataclass
class _Acc:
    type_id: int
    idx: int
    name: str | None  # None: an array index


@dataclass
class _Spec:
    btf: Btf
    root: int
    kind: CoreKind
    accs: list[_Acc] = field(default_factory=list)
    raw: list[int] = field(default_factory=list)
    bit_offset: int = 0


class _NoMatch(Exception):
    """A candidate does not match; the message says why (used in the final error)."""


def _skip(btf: Btf, tid: int) -> tuple[int, BtfType]:
    rid = btf.resolve(tid)
    return rid, btf.types[rid]


def _is_flex(btf: Btf, parent: _Acc | None, arr: BtfType) -> bool:
    if parent is None or parent.name is None or arr.nelems > 0:
        return False
    t = btf.types[parent.type_id]
    return parent.idx == len(t.members) - 1


def _parse_spec(btf: Btf, relo: CoreRelo) -> _Spec:
    """The local side of a relocation (libbpf's bpf_core_parse_spec)."""
    spec = _Spec(btf, relo.type_id, relo.kind)
    access = relo.access
    if relo.kind in _TYPE_KINDS:
        if access != "0":
            raise ValueError(f"type relocation with accessor '{access}' (expected '0')")
        return spec
    parts = access.split(":")
    if not access or len(parts) > _MAX_SPEC or not all(p.isdigit() for p in parts):
        raise ValueError(f"invalid accessor string '{access}'")
    spec.raw = [int(p) for p in parts]
    tid, t = _skip(btf, relo.type_id)
    first = spec.raw[0]
    if relo.kind in _ENUM_KINDS:
        if t.kind not in ENUMS or len(spec.raw) > 1 or first >= len(t.enumerators):
            raise ValueError(
                f"accessor '{access}' does not name an enumerator of {btf.format(tid)}"
            )
        spec.accs.append(_Acc(tid, first, t.enumerators[first].name))
        return spec
    spec.accs.append(_Acc(tid, first, None))
    spec.bit_offset = first * btf.size_of(tid) * 8
    for access_idx in spec.raw[1:]:
        tid, t = _skip(btf, tid)
        if t.kind in COMPOSITES:
            if access_idx >= len(t.members):
                raise ValueError(f"accessor {access_idx} is past the members of {btf.format(tid)}")
            m = t.members[access_idx]
            spec.bit_offset += m.bit_offset
            if m.name:
                spec.accs.append(_Acc(tid, access_idx, m.name))
            tid = m.type
        elif t.kind == Kind.ARRAY:
            parent = spec.accs[-1] if spec.accs else None
            flex = _is_flex(btf, parent, t)
            tid, _ = _skip(btf, t.type)
            if not flex and access_idx >= t.nelems:
                raise ValueError(
                    f"index {access_idx} is past the end of {btf.format(tid)}[{t.nelems}]"
                )
            spec.accs.append(_Acc(tid, access_idx, None))
            spec.bit_offset += access_idx * btf.size_of(tid) * 8
        else:
            raise ValueError(f"accessor {access_idx} applied to {btf.format(tid)} ({t.kind.name})")
    return spec


def _describe(spec: _Spec) -> str:
    """``<byte_off> struct pt_regs.di``, ``<enumval_value> enum state::S_RUN``."""
    btf = spec.btf
    head = f"<{_KIND_NAMES[spec.kind]}> {btf.format(spec.root)}"
    if spec.kind in _TYPE_KINDS:
        return head
    if spec.kind in _ENUM_KINDS:
        return f"{head}::{spec.accs[0].name}"
    path = ""
    for i, a in enumerate(spec.accs):
        if a.name is not None:
            path += f".{a.name}"
        elif i > 0 or a.idx > 0:
            path += f"[{a.idx}]"
    return head + path


# -- compatibility (libbpf's rules) ------------------------------------------------


def _kinds_compat(a: BtfType, b: BtfType) -> bool:
    return a.kind == b.kind or (a.kind in ENUMS and b.kind in ENUMS)


def _fields_compat(lb: Btf, lid: int, tb: Btf, tid: int) -> bool:
    for _ in range(MAX_DEPTH):
        lid, lt = _skip(lb, lid)
        tid, tt = _skip(tb, tid)
        if lt.kind in COMPOSITES and tt.kind in COMPOSITES:
            return True
        if not _kinds_compat(lt, tt):
            return False
        if lt.kind in (Kind.PTR, Kind.FLOAT):
            return True
        if lt.kind in ENUMS or lt.kind == Kind.FWD:
            ln, tn = essential_name(lt.name), essential_name(tt.name)
            return not ln or not tn or ln == tn
        if lt.kind == Kind.INT:
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if lt.kind != Kind.ARRAY:
            return False
        lid, tid = lt.type, tt.type
    raise ElfError("CO-RE: type chain too deep while comparing fields (a cycle?)")


def _types_compat(lb: Btf, lid: int, tb: Btf, tid: int, level: int = MAX_DEPTH) -> bool:
    if not _kinds_compat(lb.types[lid], tb.types[tid]):
        return False
    for _ in range(MAX_DEPTH):
        lid, lt = _skip(lb, lid)
        tid, tt = _skip(tb, tid)
        if not _kinds_compat(lt, tt):
            return False
        if lt.kind in COMPOSITES or lt.kind in ENUMS or lt.kind in (Kind.FWD, Kind.VOID):
            return True
        if lt.kind == Kind.INT:
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if lt.kind in (Kind.PTR, Kind.ARRAY):
            lid, tid = lt.type, tt.type
            continue
        if lt.kind == Kind.FUNC_PROTO:
            if len(lt.params) != len(tt.params) or level <= 0:
                return False
            for lp, tp in zip(lt.params, tt.params, strict=True):
                if not _types_compat(lb, lb.resolve(lp.type), tb, tb.resolve(tp.type), level - 1):
                    return False
            lid, tid = lt.type, tt.type
            continue
        return False
    raise ElfError("CO-RE: type chain too deep while comparing types (a cycle?)")


def _enums_match(lb: Btf, lt: BtfType, tb: Btf, tt: BtfType) -> bool:
    if lt.size != tt.size or len(lt.enumerators) > len(tt.enumerators):
        return False
    return all(
        any(_names_match(le.name, te.name) for te in tt.enumerators) for le in lt.enumerators
    )


def _types_match(
    lb: Btf, lid: int, tb: Btf, tid: int, behind_ptr: bool = False, level: int = MAX_DEPTH
) -> bool:
    """libbpf's __bpf_core_types_match (bpf_core_type_matches)."""
    if level <= 0:
        raise ElfError("CO-RE: types nest too deep while matching (a cycle?)")
    for _ in range(MAX_DEPTH):
        lid, lt = _skip(lb, lid)
        tid, tt = _skip(tb, tid)
        if not _names_match(lt.name, tt.name):
            return False
        lk, tk = lt.kind, tt.kind
        if lk == Kind.VOID:
            return lk == tk
        if lk == Kind.FWD:
            if behind_ptr and lk != tk:
                return (tk == Kind.STRUCT and not lt.kind_flag) or (
                    tk == Kind.UNION and lt.kind_flag
                )
            return lk == tk and lt.kind_flag == tt.kind_flag
        if lk in ENUMS:
            return tk in ENUMS and _enums_match(lb, lt, tb, tt)
        if lk in COMPOSITES:
            if behind_ptr:
                if lk == tk:
                    return True
                return tk == Kind.FWD and (lk == Kind.UNION) == tt.kind_flag
            if lk != tk or len(lt.members) > len(tt.members):
                return False
            for lm in lt.members:
                if not any(
                    _names_match(lm.name, tm.name)
                    and _types_match(lb, lm.type, tb, tm.type, behind_ptr, level - 1)
                    for tm in tt.members
                ):
                    return False
            return True
        if lk == Kind.INT:
            return (
                lk == tk
                and lt.size == tt.size
                and (lt.encoding & INT_SIGNED) == (tt.encoding & INT_SIGNED)
            )
        if lk == Kind.PTR:
            if lk != tk:
                return False
            behind_ptr = True
            lid, tid = lt.type, tt.type
            continue
        if lk == Kind.ARRAY:
            if lk != tk or lt.nelems != tt.nelems:
                return False
            lid, tid = lt.type, tt.type
            continue
        if lk == Kind.FUNC_PROTO:
            if lk != tk or len(lt.params) != len(tt.params):
                return False
            for lp, tp in zip(lt.params, tt.params, strict=True):
                if not _types_match(lb, lp.type, tb, tp.type, behind_ptr, level - 1):
                    return False
            lid, tid = lt.type, tt.type
            continue
        return False
    raise ElfError("CO-RE: type chain too deep while matching types (a cycle?)")


# -- matching a local spec against one candidate -----------------------------------


def _match_member(
    local: _Spec, lacc: _Acc, tb: Btf, targ_id: int, spec: _Spec, depth: int = 0
) -> int:
    """Find the local accessor's member in target type ``targ_id``; return its type id.

    Raises _NoMatch with the reason when there is no compatible member of that name.
    """
    if depth > MAX_DEPTH:
        raise ElfError("CO-RE: anonymous members nest too deep (a cycle?)")
    targ_id, tt = _skip(tb, targ_id)
    if tt.kind not in COMPOSITES:
        raise _NoMatch(f"the runtime's {tb.format(targ_id)} is not a struct or union")
    lt = local.btf.types[lacc.type_id]
    lm = lt.members[lacc.idx]
    for i, m in enumerate(tt.members):
        if len(spec.raw) >= _MAX_SPEC:
            raise _NoMatch("the field path is too long")
        spec.bit_offset += m.bit_offset
        spec.raw.append(i)
        if not m.name:
            try:
                return _match_member(local, lacc, tb, m.type, spec, depth + 1)
            except _NoMatch:
                pass
        elif m.name == lm.name:
            if not _fields_compat(local.btf, lm.type, tb, m.type):
                raise _NoMatch(
                    f"field '{m.name}' is {tb.format(m.type)} in the runtime's"
                    f" {tb.format(targ_id)}, incompatible with the program's"
                    f" {local.btf.format(lm.type)}"
                )
            spec.accs.append(_Acc(targ_id, i, m.name))
            return m.type
        spec.bit_offset -= m.bit_offset
        spec.raw.pop()
    raise _NoMatch(f"no field '{lm.name}' in the runtime's {tb.format(targ_id)}")


def _match(local: _Spec, tb: Btf, targ_id: int) -> _Spec:
    """Match ``local`` against candidate ``targ_id`` (libbpf's bpf_core_spec_match)."""
    spec = _Spec(tb, targ_id, local.kind)
    if local.kind in _TYPE_KINDS:
        if local.kind == CoreKind.TYPE_MATCHES:
            ok = _types_match(local.btf, local.root, tb, targ_id)
        else:
            ok = _types_compat(local.btf, local.root, tb, targ_id)
        if not ok:
            raise _NoMatch(f"the runtime's {tb.format(targ_id)} is not compatible")
        return spec
    if local.kind in _ENUM_KINDS:
        tid, tt = _skip(tb, targ_id)
        want = local.accs[0].name or ""
        if tt.kind in ENUMS:
            for i, e in enumerate(tt.enumerators):
                if essential_name(e.name) == essential_name(want):
                    spec.accs.append(_Acc(tid, i, e.name))
                    spec.raw.append(i)
                    return spec
        raise _NoMatch(f"no enumerator '{essential_name(want)}' in the runtime's {tb.format(tid)}")
    tid = targ_id
    for i, lacc in enumerate(local.accs):
        tid, tt = _skip(tb, tid)
        if lacc.name is not None:
            tid = _match_member(local, lacc, tb, tid, spec)
            continue
        if i > 0:
            if tt.kind != Kind.ARRAY:
                raise _NoMatch(f"the runtime's {tb.format(tid)} is not an array")
            parent = spec.accs[-1] if spec.accs else None
            if not _is_flex(tb, parent, tt) and lacc.idx >= tt.nelems:
                raise _NoMatch(
                    f"index {lacc.idx} is past the end of the runtime's {tb.format(tid)}"
                )
            tid, _ = _skip(tb, tt.type)
        spec.accs.append(_Acc(tid, lacc.idx, None))
        spec.raw.append(lacc.idx)
        spec.bit_offset += lacc.idx * tb.size_of(tid) * 8
    return spec


# -- computing values --------------------------------------------------------------


@dataclass
class _Field:
    value: int
    size: int = 0  # byte size of a non-bitfield field (load/store size)
    type_id: int = 0
    validate: bool = True  # bitfield layouts are ambiguous: the compiler's guess is not checked


class _Poison(Exception):
    """libbpf would poison the instruction; we refuse instead (message: why)."""


def _field_value(kind: CoreKind, spec: _Spec | None) -> _Field:
    if kind == CoreKind.FIELD_EXISTS:
        return _Field(1 if spec else 0)
    if spec is None:
        raise _Poison("")
    btf = spec.btf
    acc = spec.accs[-1]
    if acc.name is None:  # the last accessor is an array element
        size = btf.size_of(acc.type_id)
        if kind == CoreKind.FIELD_BYTE_OFFSET:
            return _Field(spec.bit_offset // 8, size, acc.type_id)
        if kind == CoreKind.FIELD_BYTE_SIZE:
            return _Field(size)
        raise _Poison(f"<{_KIND_NAMES[kind]}> cannot be applied to an array element")
    t = btf.types[acc.type_id]
    m = t.members[acc.idx]
    mt_id, mt = _skip(btf, m.type)
    bit_off = spec.bit_offset
    bit_sz = m.bitfield_size if t.kind_flag else 0
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = mt.size
        if byte_sz == 0:
            raise _Poison(f"bitfield '{acc.name}' has a type without size")
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise _Poison(f"bitfield '{acc.name}' cannot be read with one 64-bit load")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = btf.size_of(mt_id)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    if kind == CoreKind.FIELD_BYTE_OFFSET:
        if bitfield:
            return _Field(byte_off, validate=False)
        return _Field(byte_off, byte_sz, mt_id)
    if kind == CoreKind.FIELD_BYTE_SIZE:
        return _Field(byte_sz, validate=not bitfield)
    if kind == CoreKind.FIELD_SIGNED:
        return _Field(int(mt.signed))
    if kind == CoreKind.FIELD_LSHIFT_U64:
        return _Field(64 - (bit_off + bit_sz - byte_off * 8), validate=not bitfield)
    return _Field(64 - bit_sz)  # FIELD_RSHIFT_U64


def _type_value(kind: CoreKind, spec: _Spec | None) -> int:
    if spec is None:
        return 0
    if kind == CoreKind.TYPE_ID_TARGET:
        return spec.root
    if kind in (CoreKind.TYPE_EXISTS, CoreKind.TYPE_MATCHES):
        return 1
    return spec.btf.size_of(spec.root)  # TYPE_SIZE


def _enum_value(kind: CoreKind, spec: _Spec | None) -> int:
    if kind == CoreKind.ENUMVAL_EXISTS:
        return 1 if spec else 0
    if spec is None:
        raise _Poison("")
    acc = spec.accs[0]
    return spec.btf.types[acc.type_id].enumerators[acc.idx].value


@dataclass
class _Result:
    orig: int
    new: int
    validate: bool = True
    orig_sz: int = 0
    new_sz: int = 0
    bad_memsz: bool = False


def _calc(local: _Spec, targ: _Spec | None) -> _Result:
    """Expected (local) and new (target) values (libbpf's bpf_core_calc_relo)."""
    kind = local.kind
    if kind in _FIELD_KINDS:
        lf = _field_value(kind, local)
        tf = _field_value(kind, targ)
        res = _Result(lf.value, tf.value, lf.validate, lf.size, tf.size)
        if targ is not None and lf.size != tf.size:
            ot = local.btf.types[lf.type_id]
            nt = targ.btf.types[tf.type_id]
            safe = (ot.kind == Kind.PTR and nt.kind == Kind.PTR) or (
                ot.kind == Kind.INT and nt.kind == Kind.INT and not ot.signed and not nt.signed
            )
            res.bad_memsz = not safe
        return res
    if kind in _TYPE_KINDS:
        validate = kind != CoreKind.TYPE_ID_TARGET  # type ids may change when linking
        return _Result(_type_value(kind, local), _type_value(kind, targ), validate)
    return _Result(_enum_value(kind, local), _enum_value(kind, targ))


# -- patching ----------------------------------------------------------------------

_SLOT = struct.Struct("<BBhi")
_SIZE_CODE = {1: op.SZ_B, 2: op.SZ_H, 4: op.SZ_W, 8: op.SZ_DW}


def _patch(code: bytearray, idx: int, res: _Result, fail: _Fail) -> None:
    """Write the new value into the instruction (libbpf's bpf_core_patch_insn)."""
    pos = idx * 8
    opcode, regs, off, imm = _SLOT.unpack_from(code, pos)
    cls = op.cls(opcode)
    if cls in (op.CLS_ALU, op.CLS_ALU64):
        if op.src_bit(opcode) != op.SRC_K:
            raise fail("the instruction is not an ALU operation with an immediate")
        if res.validate and imm & 0xFFFFFFFF != res.orig & 0xFFFFFFFF:
            raise fail(f"the instruction holds {imm}, the object's BTF says {res.orig}")
        new = res.new & 0xFFFFFFFF
        _SLOT.pack_into(code, pos, opcode, regs, off, new - (1 << 32) if new >> 31 else new)
        return
    if cls in (op.CLS_LDX, op.CLS_ST, op.CLS_STX):
        if res.validate and off != res.orig:
            raise fail(f"the instruction's offset is {off}, the object's BTF says {res.orig}")
        if res.new > 0x7FFF:
            raise fail(f"the runtime's offset {res.new} does not fit in an instruction")
        if res.bad_memsz:
            raise fail(
                f"the field is {res.new_sz} bytes in the runtime and {res.orig_sz} in the"
                " program; access pointers, unsigned integers or fields of matching type"
                " and size"
            )
        if res.new_sz != res.orig_sz:
            have = op.SIZE_BYTES[op.mem_size(opcode)]
            if have != res.orig_sz:
                raise fail(f"the instruction accesses {have} bytes, expected {res.orig_sz}")
            code_sz = _SIZE_CODE.get(res.new_sz)
            if code_sz is None:
                raise fail(f"the runtime's field size {res.new_sz} cannot be loaded")
            opcode = op.mem_mode(opcode) | code_sz | cls
        _SLOT.pack_into(code, pos, opcode, regs, res.new, imm)
        return
    if opcode == op.LDDW and len(code) >= pos + 16:
        op2, regs2, off2, imm2 = _SLOT.unpack_from(code, pos + 8)
        if regs >> 4 or off or op2 or regs2 or off2:
            raise fail("the lddw instruction has an unexpected form")
        cur = (imm & 0xFFFFFFFF) | ((imm2 & 0xFFFFFFFF) << 32)
        if res.validate and cur != res.orig & 0xFFFFFFFFFFFFFFFF:
            raise fail(f"the instruction holds {cur}, the object's BTF says {res.orig}")
        new = res.new & 0xFFFFFFFFFFFFFFFF
        lo, hi = new & 0xFFFFFFFF, new >> 32
        _SLOT.pack_into(code, pos, opcode, regs, off, lo - (1 << 32) if lo >> 31 else lo)
        _SLOT.pack_into(code, pos + 8, 0, 0, 0, hi - (1 << 32) if hi >> 31 else hi)
        return
    raise fail(f"cannot relocate instruction with opcode 0x{opcode:02x}")


class _Fail:
    """Builds the ElfError for one relocation: ``<where>: CO-RE relocation <desc>: why``."""

    def __init__(self, where: str, desc: str, section: str, offset: int) -> None:
        self.where, self.desc, self.section, self.offset = where, desc, section, offset

    def __call__(self, why: str) -> ElfError:
        return ElfError(
            f"{self.where}: CO-RE relocation {self.desc}: {why}", self.section, self.offset
        )


def candidates(local: Btf, type_id: int, target: Btf) -> list[int]:
    """Target type ids a local type may relocate to: same kind family, same essential name."""
    lt = local.types[type_id]
    name = essential_name(lt.name)
    return [
        i
        for i, t in enumerate(target.types)
        if i and t.name and _kinds_compat(lt, t) and essential_name(t.name) == name
    ]


def relocate(
    code: bytearray,
    relo: CoreRelo,
    local: Btf,
    target: Btf,
    where: str,
    section: str,
    index: int,
) -> None:
    """Apply one CO-RE relocation to the instruction at slot ``index`` of ``code``.

    ``where`` names the instruction for messages (``program 'handle' insn 12``).
    """
    try:
        spec = _parse_spec(local, relo)
    except (ValueError, ElfError) as e:
        raise ElfError(
            f"{where}: invalid CO-RE relocation record ({e}); the object is corrupt, rebuild it",
            section,
            relo.insn_off,
        ) from e
    desc = _describe(spec)
    fail = _Fail(where, desc, section, relo.insn_off)
    if relo.kind == CoreKind.TYPE_ID_LOCAL:
        _patch(code, index, _Result(spec.root, spec.root, validate=False), fail)
        return
    lt = local.types[relo.type_id]
    if not lt.name:
        raise fail("relocations against anonymous types are not supported")
    found: _Spec | None = None
    result: _Result | None = None
    reasons: list[str] = []
    try:
        for cand in candidates(local, relo.type_id, target):
            try:
                cspec = _match(spec, target, cand)
            except _NoMatch as e:
                reasons.append(str(e))
                continue
            cres = _calc(spec, cspec)
            if found is None or result is None:
                found, result = cspec, cres
            elif cspec.bit_offset != found.bit_offset or cres.new != result.new:
                raise fail(
                    f"the runtime's types {target.format(found.root)} and"
                    f" {target.format(cspec.root)} both match but disagree"
                )
        if result is None:
            result = _calc(spec, None)
    except _Poison as e:
        kind_word = {Kind.ENUM: "enum", Kind.ENUM64: "enum", Kind.UNION: "union"}.get(
            lt.kind, "struct" if lt.kind == Kind.STRUCT else lt.kind.name.lower()
        )
        why = str(e) or (
            reasons[0]
            if reasons
            else f"no {kind_word} '{essential_name(lt.name)}' in the runtime's types"
        )
        raise fail(why) from None
    _patch(code, index, result, fail)
