"""BTF, the BPF Type Format: parsing, type queries, and values in and out of bytes.

Owns: parsing a ``.BTF`` section (every kind: INT, PTR, ARRAY, STRUCT, UNION, ENUM,
ENUM64, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC,
FLOAT, DECL_TAG, TYPE_TAG) into ``Btf``, a tuple of frozen ``BtfType`` records indexed
by type id; parsing ``.BTF.ext`` (func info, line info, CO-RE relocation records) into
``BtfExt``; the queries loaders need (``resolve``, ``size_of``, ``format``, ``find``);
and turning bytes into Python values and back (``decode``/``encode``).

Does not own: the ELF file (bpftime.elf fills in DATASEC sizes and offsets from ELF
symbols, as libbpf does, through ``Btf.with_types``), CO-RE matching rules
(bpftime.core). Every problem raises ElfError naming the type id or the record,
with ``section`` set to ``.BTF`` or ``.BTF.ext`` when the bytes themselves are bad.

Layout of the parts parsed here (little-endian; the object must match the host)::

    header:  magic 0xEB9F u16 | version u8 | flags u8 | hdr_len u32
             | type_off u32 | type_len u32 | str_off u32 | str_len u32
    type:    name_off u32 | info u32 | size_or_type u32 | kind-specific tail
    info:    bit 31 kind_flag | bits 24-28 kind | bits 0-15 vlen
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from .errors import ElfError

BTF_MAGIC = 0xEB9F
_HDR = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_PAIR = struct.Struct("<II")
_TRIPLE = struct.Struct("<III")
_EXT_HDR = struct.Struct("<HBBIIIII")

# INT encoding bits
INT_SIGNED = 1
INT_CHAR = 2
INT_BOOL = 4

# VAR linkage
VAR_STATIC = 0
VAR_GLOBAL = 1
VAR_EXTERN = 2

# nesting deeper than this is treated as a reference cycle (libbpf uses 32)
MAX_DEPTH = 32
# type sizes are u32 in BTF and in the kernel's map attributes
MAX_SIZE = 0xFFFFFFFF


class Kind(enum.IntEnum):
    VOID = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# kinds that only qualify another type: resolve() skips them (and typedefs)
MODIFIERS = frozenset({Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
COMPOSITES = frozenset({Kind.STRUCT, Kind.UNION})
ENUMS = frozenset({Kind.ENUM, Kind.ENUM64})


@dataclass(frozen=True)
class Member:
    """A STRUCT/UNION member; ``bitfield_size`` is 0 unless the struct's kind_flag is set."""

    name: str
    type: int
    bit_offset: int
    bitfield_size: int = 0


@dataclass(frozen=True)
class Enumerator:
    name: str
    value: int


@dataclass(frozen=True)
class Param:
    name: str
    type: int


@dataclass(frozen=True)
class VarSecinfo:
    """A DATASEC entry: VAR ``type`` at ``offset`` in the section, ``size`` bytes."""

    type: int
    offset: int
    size: int


@dataclass(frozen=True)
class BtfType:
    """One BTF type. Fields a kind does not use keep their defaults.

    ``type`` is the referenced type (PTR, TYPEDEF, modifiers, FUNC's FUNC_PROTO,
    FUNC_PROTO's return type, VAR, tags, ARRAY's element type); ``size`` the byte
    size (INT, FLOAT, STRUCT, UNION, ENUM, ENUM64, DATASEC). ``linkage`` is FUNC's
    vlen or VAR's linkage.
    """

    kind: Kind
    name: str = ""
    size: int = 0
    type: int = 0
    kind_flag: bool = False
    encoding: int = 0
    bits: int = 0
    bit_offset: int = 0
    index_type: int = 0
    nelems: int = 0
    linkage: int = 0
    component_idx: int = -1
    members: tuple[Member, ...] = ()
    enumerators: tuple[Enumerator, ...] = ()
    params: tuple[Param, ...] = ()
    vars: tuple[VarSecinfo, ...] = ()

    @property
    def signed(self) -> bool:
        """INT with the signed encoding, or an enum with kind_flag (signed values)."""
        if self.kind == Kind.INT:
            return bool(self.encoding & INT_SIGNED)
        return self.kind in ENUMS and self.kind_flag


VOID = BtfType(Kind.VOID)


def _bad(message: str, offset: int | None = None, section: str = ".BTF") -> ElfError:
    where = f"{section}" + (f" offset {offset}" if offset is not None else "")
    return ElfError(f"{where}: {message}; the object is corrupt, rebuild it", section, offset)


class _Strings:
    def __init__(self, data: bytes, section: str) -> None:
        self.data = data
        self.section = section

    def get(self, off: int, what: str) -> str:
        if off >= len(self.data):
            raise _bad(
                f"{what}: string offset {off} is outside the string table ({len(self.data)} bytes)",
                section=self.section,
            )
        end = self.data.find(b"\0", off)
        if end < 0:
            raise _bad(f"{what}: string at {off} is not NUL-terminated", section=self.section)
        return self.data[off:end].decode("utf-8", errors="replace")


@dataclass(frozen=True)
class FuncInfoRec:
    """A ``.BTF.ext`` func info record: a function starts at ``insn_off`` (bytes)."""

    insn_off: int
    type_id: int


@dataclass(frozen=True)
class LineInfoRec:
    """A ``.BTF.ext`` line info record for the instruction at ``insn_off`` (bytes)."""

    insn_off: int
    file: str
    text: str
    line: int
    column: int


class CoreKind(enum.IntEnum):
    """CO-RE relocation kinds (enum bpf_core_relo_kind)."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


@dataclass(frozen=True)
class CoreRelo:
    """A CO-RE relocation record: ``access`` is the accessor string, e.g. ``0:1:2``."""

    insn_off: int
    type_id: int
    access: str
    kind: CoreKind


@dataclass(frozen=True)
class BtfExt:
    """``.BTF.ext``: per ELF section name, the records in the order the object lists them."""

    func_info: Mapping[str, tuple[FuncInfoRec, ...]]
    line_info: Mapping[str, tuple[LineInfoRec, ...]]
    core_relos: Mapping[str, tuple[CoreRelo, ...]]

    @classmethod
    def parse(cls, data: bytes, btf: Btf) -> BtfExt:
        """Parse ``.BTF.ext`` bytes; strings come from ``btf``'s string table."""
        sec = ".BTF.ext"
        if len(data) < 8:
            raise _bad(f"{len(data)} bytes is too short for a header", 0, sec)
        magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data)
        if magic != BTF_MAGIC:
            raise _bad(f"bad magic 0x{magic:04x}, expected 0x{BTF_MAGIC:04x}", 0, sec)
        if version != 1:
            raise _bad(f"unsupported version {version}", 2, sec)
        if hdr_len < 24 or hdr_len > len(data):
            raise _bad(f"header length {hdr_len} is invalid", 4, sec)
        head = data[:hdr_len] + bytes(max(0, 32 - hdr_len))
        f_off, f_len, l_off, l_len, c_off, c_len = struct.unpack_from("<6I", head, 8)
        if hdr_len < 32:
            c_off = c_len = 0
        strings = btf.strings
        funcs: dict[str, tuple[FuncInfoRec, ...]] = {}
        lines: dict[str, tuple[LineInfoRec, ...]] = {}
        relos: dict[str, tuple[CoreRelo, ...]] = {}
        for sec_name, recs in _ext_blocks(data, hdr_len, f_off, f_len, 8, "func info", strings):
            items_f = []
            for o in recs:
                fi = FuncInfoRec(*_PAIR.unpack_from(data, o))
                if fi.type_id >= len(btf.types) or btf.types[fi.type_id].kind != Kind.FUNC:
                    raise _bad(f"func info at {o} names type [{fi.type_id}], not a FUNC", o, sec)
                items_f.append(fi)
            funcs[sec_name] = tuple(items_f)
        for sec_name, recs in _ext_blocks(data, hdr_len, l_off, l_len, 16, "line info", strings):
            items = []
            for o in recs:
                insn_off, file_off, line_off, line_col = struct.unpack_from("<4I", data, o)
                items.append(
                    LineInfoRec(
                        insn_off,
                        strings.get(file_off, f".BTF.ext line info at {o}"),
                        strings.get(line_off, f".BTF.ext line info at {o}"),
                        line_col >> 10,
                        line_col & 0x3FF,
                    )
                )
            lines[sec_name] = tuple(items)
        for sec_name, recs in _ext_blocks(
            data, hdr_len, c_off, c_len, 16, "CO-RE relocation", strings
        ):
            items_c = []
            for o in recs:
                insn_off, type_id, access_off, kind = struct.unpack_from("<4I", data, o)
                if kind not in CoreKind._value2member_map_:
                    raise _bad(f"CO-RE relocation at {o} has unknown kind {kind}", o, sec)
                if type_id >= len(btf.types):
                    raise _bad(f"CO-RE relocation at {o} names unknown type [{type_id}]", o, sec)
                access = strings.get(access_off, f".BTF.ext CO-RE relocation at {o}")
                items_c.append(CoreRelo(insn_off, type_id, access, CoreKind(kind)))
            relos[sec_name] = tuple(items_c)
        return cls(funcs, lines, relos)


def _ext_blocks(
    data: bytes,
    hdr_len: int,
    off: int,
    length: int,
    min_rec: int,
    what: str,
    strings: _Strings,
) -> Iterator[tuple[str, list[int]]]:
    """Yield (section name, record offsets) of each block of one .BTF.ext sub-section.

    A sub-section is ``rec_size u32`` then blocks of ``sec_name_off u32 | num_info u32 |
    records``; records may be longer than the part this version knows (libbpf rule).
    """
    sec = ".BTF.ext"
    if length == 0:
        return
    start = hdr_len + off
    end = start + length
    if start > len(data) or end > len(data) or length < 4:
        raise _bad(f"{what} ({length} bytes at {start}) is outside the section", start, sec)
    (rec_size,) = _U32.unpack_from(data, start)
    if rec_size < min_rec or rec_size % 4:
        raise _bad(f"{what} record size {rec_size} is invalid", start, sec)
    pos = start + 4
    while pos < end:
        if pos + 8 > end:
            raise _bad(f"{what} block at {pos} is truncated", pos, sec)
        name_off, num = _PAIR.unpack_from(data, pos)
        name = strings.get(name_off, f".BTF.ext {what} block at {pos}")
        body = pos + 8
        if num == 0 or body + num * rec_size > end:
            raise _bad(f"{what} block at {pos} has an invalid record count {num}", pos, sec)
        yield name, [body + i * rec_size for i in range(num)]
        pos = body + num * rec_size


class Btf:
    """Parsed BTF: ``types[id]`` for every type id (``types[0]`` is void).

    Type ids referenced by any type are checked to exist when the Btf is built, so
    queries never index out of range; reference cycles are caught by a depth limit.
    """

    def __init__(self, types: Sequence[BtfType], strings: bytes = b"\0") -> None:
        self.types: tuple[BtfType, ...] = (VOID, *types[1:]) if types else (VOID,)
        self.strings = _Strings(strings, ".BTF")
        n = len(self.types)
        for tid, t in enumerate(self.types):
            for ref in _refs(t):
                if ref >= n:
                    raise _bad(
                        f"type [{tid}] {t.kind.name} refers to type [{ref}], which does not exist"
                    )

    # -- construction ---------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes) -> Btf:
        """Parse a ``.BTF`` section."""
        if len(data) < _HDR.size:
            raise _bad(f"{len(data)} bytes is too short for a header", 0)
        magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HDR.unpack_from(
            data
        )
        if magic == 0x9FEB:
            raise ElfError(
                ".BTF: big-endian BTF; build the object for a little-endian target"
                " (-target bpf or bpfel)",
                ".BTF",
                0,
            )
        if magic != BTF_MAGIC:
            raise _bad(f"bad magic 0x{magic:04x}, expected 0x{BTF_MAGIC:04x}", 0)
        if version != 1:
            raise _bad(f"unsupported version {version}", 2)
        if hdr_len < _HDR.size or hdr_len > len(data):
            raise _bad(f"header length {hdr_len} is invalid", 4)
        body = data[hdr_len:]
        if type_off + type_len > len(body) or str_off + str_len > len(body):
            raise _bad(
                f"type section ({type_len} bytes at {type_off}) or string section"
                f" ({str_len} bytes at {str_off}) is outside the {len(body)} bytes after"
                " the header",
                hdr_len,
            )
        strings = body[str_off : str_off + str_len]
        if str_len and strings[0] != 0:
            raise _bad("the string section does not start with an empty string", hdr_len + str_off)
        tab = _Strings(strings, ".BTF")
        types = [VOID]
        tdata = body[type_off : type_off + type_len]
        pos = 0
        while pos < len(tdata):
            t, pos = _parse_type(tdata, pos, tab, len(types), hdr_len + type_off)
            types.append(t)
        return cls(types, strings)

    def with_types(self, changes: Mapping[int, BtfType]) -> Btf:
        """A copy with some types replaced (used for DATASEC fix-ups)."""
        types = list(self.types)
        for tid, t in changes.items():
            types[tid] = t
        return Btf(types, self.strings.data)

    # -- queries --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.types)

    def type(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise ElfError(f"BTF type [{type_id}] does not exist ({len(self.types)} types)")
        return self.types[type_id]

    def find(self, name: str, kind: Kind | None = None) -> list[int]:
        """Ids of the types called ``name`` (of ``kind``, if given), in id order."""
        return [
            i
            for i, t in enumerate(self.types)
            if t.name == name and (kind is None or t.kind == kind)
        ]

    def resolve(self, type_id: int) -> int:
        """Skip typedefs and const/volatile/restrict/type_tag modifiers."""
        tid = type_id
        for _ in range(MAX_DEPTH):
            t = self.type(tid)
            if t.kind != Kind.TYPEDEF and t.kind not in MODIFIERS:
                return tid
            tid = t.type
        raise ElfError(f"BTF type [{type_id}]: typedef/modifier chain too deep (a cycle?)")

    def size_of(self, type_id: int) -> int:
        """Byte size, as libbpf's btf__resolve_size (through typedefs, modifiers, VARs)."""
        tid, mult = type_id, 1
        for _ in range(MAX_DEPTH):
            t = self.type(tid)
            if t.kind in (Kind.INT, Kind.FLOAT, Kind.STRUCT, Kind.UNION, Kind.DATASEC) or (
                t.kind in ENUMS
            ):
                size = t.size * mult
                break
            if t.kind == Kind.PTR:
                size = 8 * mult
                break
            if t.kind == Kind.TYPEDEF or t.kind in MODIFIERS or t.kind == Kind.VAR:
                tid = t.type
            elif t.kind == Kind.ARRAY:
                mult *= t.nelems
                tid = t.type
            else:
                raise ElfError(f"BTF type [{tid}] {self.format(tid)} ({t.kind.name}) has no size")
        else:
            raise ElfError(f"BTF type [{type_id}]: type chain too deep (a cycle?)")
        if size > MAX_SIZE:
            raise ElfError(f"BTF type [{type_id}] is {size} bytes, larger than BTF allows")
        return size

    def member_bits(self, t: BtfType, m: Member) -> tuple[int, int]:
        """(bit offset, bit size) of a member, bitfields of either encoding included."""
        if m.bitfield_size:
            return m.bit_offset, m.bitfield_size
        mt = self.type(self.resolve(m.type))
        if mt.kind == Kind.INT and (mt.bit_offset or mt.bits != mt.size * 8):
            return m.bit_offset + mt.bit_offset, mt.bits
        return m.bit_offset, 0

    def format(self, type_id: int) -> str:
        """A C-like spelling: ``struct pt_regs``, ``const char[16]``, ``int (*)(void *)``."""
        return self._fmt(type_id, "", 0).strip()

    def _fmt(self, tid: int, inner: str, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise ElfError(f"BTF type [{tid}]: type chain too deep (a cycle?)")
        t = self.type(tid)
        k = t.kind
        sep = inner if inner.startswith("[") else f" {inner}" if inner else ""
        if k == Kind.VOID:
            return f"void{sep}"
        if k in (Kind.INT, Kind.FLOAT, Kind.TYPEDEF):
            return f"{t.name}{sep}"
        if k in COMPOSITES or k in ENUMS or k == Kind.FWD:
            tag = {Kind.STRUCT: "struct", Kind.UNION: "union"}.get(k, "enum")
            if k == Kind.FWD:
                tag = "union" if t.kind_flag else "struct"
            return f"{tag} {t.name or '(anon)'}{sep}"
        if k == Kind.PTR:
            return self._fmt(t.type, f"*{inner}", depth + 1)
        if k in (Kind.CONST, Kind.VOLATILE, Kind.RESTRICT):
            word = k.name.lower()
            target = self.type(t.type)
            if target.kind == Kind.PTR:  # int *const p
                return self._fmt(t.type, f"{word} {inner}".strip(), depth + 1)
            return f"{word} {self._fmt(t.type, inner, depth + 1)}"
        if k == Kind.TYPE_TAG:
            return self._fmt(
                t.type, f'__attribute__((btf_type_tag("{t.name}"))) {inner}', depth + 1
            )
        if k == Kind.ARRAY:
            wrapped = f"({inner})" if inner.startswith("*") else inner
            return self._fmt(t.type, f"{wrapped}[{t.nelems}]", depth + 1)
        if k == Kind.FUNC_PROTO:
            params = (
                ", ".join(
                    "..."
                    if p.type == 0 and i == len(t.params) - 1
                    else self._fmt(p.type, p.name, depth + 1).strip()
                    for i, p in enumerate(t.params)
                )
                or "void"
            )
            wrapped = f"({inner})" if inner.startswith("*") else inner
            return self._fmt(t.type, f"{wrapped}({params})", depth + 1)
        if k == Kind.FUNC:
            return self._fmt(t.type, t.name, depth + 1)
        if k == Kind.VAR:
            return self._fmt(t.type, t.name, depth + 1)
        if k == Kind.DATASEC:
            return f"section {t.name}"
        # DECL_TAG
        tagged = self._fmt(t.type, "", depth + 1).strip()
        return f'__attribute__((btf_decl_tag("{t.name}"))) on {tagged}'

    # -- values ---------------------------------------------------------------------

    def decode(self, type_id: int, data: bytes | bytearray | memoryview) -> object:
        """Read a value of ``type_id`` from the first ``size_of(type_id)`` bytes of ``data``.

        Integers keep their sign, bitfields are extracted, structs and unions become
        dicts (members of anonymous struct/union members are merged in, as C sees
        them), arrays lists, char arrays ``str`` up to the first NUL, enums the
        enumerator's name when one matches (else the int), pointers ints, floats
        floats (other float sizes stay bytes), DATASECs dicts of their variables.
        """
        size = self.size_of(type_id)
        buf = bytes(data)
        if len(buf) < size:
            raise ElfError(
                f"cannot decode {self.format(type_id)}: needs {size} bytes, got {len(buf)}"
            )
        return self._decode(type_id, buf, 0, 0)

    def _decode(self, type_id: int, buf: bytes, off: int, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise ElfError(f"BTF type [{type_id}]: nesting too deep (a cycle?)")
        tid = self.resolve(type_id)
        t = self.types[tid]
        k = t.kind
        if k == Kind.VAR:
            return self._decode(t.type, buf, off, depth + 1)
        if k == Kind.INT:
            raw = int.from_bytes(buf[off : off + t.size], "little")
            if t.bit_offset or t.bits != t.size * 8:
                return self._bits(t, raw, t.bit_offset, t.bits)
            return self._bits(t, raw, 0, t.size * 8)
        if k == Kind.PTR:
            return int.from_bytes(buf[off : off + 8], "little")
        if k in ENUMS:
            return self._bits(t, int.from_bytes(buf[off : off + t.size], "little"), 0, t.size * 8)
        if k == Kind.FLOAT:
            fmt = {2: "<e", 4: "<f", 8: "<d"}.get(t.size)
            return struct.unpack_from(fmt, buf, off)[0] if fmt else buf[off : off + t.size]
        if k == Kind.ARRAY:
            elem = self.types[self.resolve(t.type)]
            if self._is_char(elem):
                chars = buf[off : off + t.nelems]
                return chars.split(b"\0", 1)[0].decode("utf-8", errors="surrogateescape")
            esize = self.size_of(t.type)
            if esize == 0 and t.nelems:
                raise ElfError(f"{self.format(tid)}: an array of zero-size elements has no values")
            return [self._decode(t.type, buf, off + i * esize, depth + 1) for i in range(t.nelems)]
        if k in COMPOSITES:
            out: dict[str, object] = {}
            for m in t.members:
                bit_off, bit_size = self.member_bits(t, m)
                if bit_size:
                    if not m.name:
                        continue  # unnamed padding bitfield
                    mt = self.types[self.resolve(m.type)]
                    nbytes = (bit_off % 8 + bit_size + 7) // 8
                    start = off + bit_off // 8
                    raw = int.from_bytes(buf[start : start + nbytes], "little")
                    out[m.name] = self._bits(mt, raw, bit_off % 8, bit_size)
                    continue
                if bit_off % 8:
                    raise ElfError(
                        f"{self.format(tid)}: member '{m.name}' at bit {bit_off}"
                        " is not byte aligned"
                    )
                value = self._decode(m.type, buf, off + bit_off // 8, depth + 1)
                if m.name:
                    out[m.name] = value
                elif isinstance(value, dict):
                    out.update(value)
            return out
        if k == Kind.DATASEC:
            res: dict[str, object] = {}
            for v in t.vars:
                var = self.types[v.type]
                if v.offset + v.size <= len(buf) - off:
                    res[var.name] = self._decode(v.type, buf, off + v.offset, depth + 1)
            return res
        raise ElfError(f"BTF type [{tid}] {self.format(tid)} ({k.name}) has no value to decode")

    @staticmethod
    def _is_char(t: BtfType) -> bool:
        return (
            t.kind == Kind.INT and t.size == 1 and (t.name == "char" or bool(t.encoding & INT_CHAR))
        )

    @staticmethod
    def _bits(t: BtfType, raw: int, shift: int, nbits: int) -> object:
        v = (raw >> shift) & ((1 << nbits) - 1)
        if t.kind == Kind.INT and t.encoding & INT_BOOL:
            return bool(v)
        if t.signed and nbits and v >> (nbits - 1):
            v -= 1 << nbits
        if t.kind in ENUMS:
            mask = (1 << nbits) - 1
            for e in t.enumerators:
                if e.value & mask == v & mask:
                    return e.name
        return v

    def encode(self, type_id: int, value: object) -> bytes:
        """The inverse of ``decode``: ``size_of(type_id)`` bytes for ``value``.

        Accepts ints (either sign, range-checked), bools, enumerator names, ``bytes``
        of exactly the type's size for any type, ``str`` for char arrays, lists for
        arrays (missing elements are zero) and dicts for structs, unions and DATASECs
        (missing members are zero, unknown ones are an error).
        """
        buf = bytearray(self.size_of(type_id))
        self._encode(type_id, value, buf, 0, 0)
        return bytes(buf)

    def _encode(self, type_id: int, value: object, buf: bytearray, off: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ElfError(f"BTF type [{type_id}]: nesting too deep (a cycle?)")
        tid = self.resolve(type_id)
        t = self.types[tid]
        k = t.kind
        what = self.format(type_id)
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            size = self.size_of(tid)
            if len(raw) != size:
                raise ElfError(f"{what} is {size} bytes; got {len(raw)} bytes")
            buf[off : off + size] = raw
            return
        if k == Kind.VAR:
            self._encode(t.type, value, buf, off, depth + 1)
        elif k in (Kind.INT, Kind.PTR) or k in ENUMS:
            size = 8 if k == Kind.PTR else t.size
            nbits = size * 8
            shift = 0
            if k == Kind.INT and (t.bit_offset or t.bits != nbits):
                shift, nbits = t.bit_offset, t.bits
            v = self._int_value(t, value, nbits, what)
            cur = int.from_bytes(buf[off : off + size], "little")
            mask = ((1 << nbits) - 1) << shift
            cur = (cur & ~mask) | ((v << shift) & mask)
            buf[off : off + size] = cur.to_bytes(size, "little")
        elif k == Kind.FLOAT:
            fmt = {2: "<e", 4: "<f", 8: "<d"}.get(t.size)
            if fmt is None or not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ElfError(f"{what}: expected a float (or {t.size} bytes), got {value!r}")
            struct.pack_into(fmt, buf, off, float(value))
        elif k == Kind.ARRAY:
            elem = self.types[self.resolve(t.type)]
            if isinstance(value, str) and self._is_char(elem):
                raw = value.encode("utf-8", errors="surrogateescape")
                if len(raw) > t.nelems:
                    raise ElfError(f"{what}: string of {len(raw)} bytes does not fit")
                buf[off : off + len(raw)] = raw
                return
            if not isinstance(value, (list, tuple)):
                raise ElfError(f"{what}: expected a list (or bytes), got {type(value).__name__}")
            if len(value) > t.nelems:
                raise ElfError(f"{what}: {len(value)} elements do not fit in {t.nelems}")
            esize = self.size_of(t.type)
            for i, item in enumerate(value):
                self._encode(t.type, item, buf, off + i * esize, depth + 1)
        elif k in COMPOSITES or k == Kind.DATASEC:
            if not isinstance(value, Mapping):
                raise ElfError(f"{what}: expected a dict (or bytes), got {type(value).__name__}")
            left = dict(value)
            self._encode_fields(tid, left, buf, off, depth)
            if left:
                names = ", ".join(repr(n) for n in left)
                raise ElfError(f"{what} has no member {names}")
        else:
            raise ElfError(f"BTF type [{tid}] {what} ({k.name}) has no value to encode")

    def _encode_fields(
        self, tid: int, left: dict[object, object], buf: bytearray, off: int, depth: int
    ) -> None:
        """Encode the members of ``tid`` named in ``left``, removing them from it."""
        t = self.types[tid]
        if t.kind == Kind.DATASEC:
            for v in t.vars:
                name = self.types[v.type].name
                if name in left:
                    self._encode(v.type, left.pop(name), buf, off + v.offset, depth + 1)
            return
        for m in t.members:
            bit_off, bit_size = self.member_bits(t, m)
            if not m.name:
                inner = self.resolve(m.type)
                if self.types[inner].kind in COMPOSITES and not bit_size:
                    self._encode_fields(inner, left, buf, off + bit_off // 8, depth + 1)
                continue
            if m.name not in left:
                continue
            value = left.pop(m.name)
            if bit_size:
                mt = self.types[self.resolve(m.type)]
                bits = self._int_value(mt, value, bit_size, f"{self.format(tid)}.{m.name}")
                start = off + bit_off // 8
                nbytes = (bit_off % 8 + bit_size + 7) // 8
                cur = int.from_bytes(buf[start : start + nbytes], "little")
                mask = ((1 << bit_size) - 1) << (bit_off % 8)
                cur = (cur & ~mask) | ((bits << (bit_off % 8)) & mask)
                buf[start : start + nbytes] = cur.to_bytes(nbytes, "little")
            else:
                self._encode(m.type, value, buf, off + bit_off // 8, depth + 1)

    @staticmethod
    def _int_value(t: BtfType, value: object, nbits: int, what: str) -> int:
        if isinstance(value, str) and t.kind in ENUMS:
            for e in t.enumerators:
                if e.name == value:
                    return e.value & ((1 << nbits) - 1)
            raise ElfError(f"{what}: no enumerator {value!r}")
        if not isinstance(value, int):
            raise ElfError(f"{what}: expected an int, got {type(value).__name__}")
        if not -(1 << (nbits - 1)) <= value < (1 << nbits):
            raise ElfError(f"{what}: {value} does not fit in {nbits} bits")
        return value & ((1 << nbits) - 1)


def _refs(t: BtfType) -> Iterator[int]:
    """Every type id a type refers to."""
    if t.kind in (
        Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.FUNC,
        Kind.FUNC_PROTO, Kind.VAR, Kind.DECL_TAG, Kind.TYPE_TAG,
    ):  # fmt: skip
        yield t.type
    elif t.kind == Kind.ARRAY:
        yield t.type
        yield t.index_type
    for m in t.members:
        yield m.type
    for p in t.params:
        yield p.type
    for v in t.vars:
        yield v.type


def _parse_type(data: bytes, pos: int, tab: _Strings, tid: int, base: int) -> tuple[BtfType, int]:
    """Parse the type at ``pos`` of the type section; return it and the next position."""
    at = base + pos
    if pos + _TYPE.size > len(data):
        raise _bad(f"type [{tid}] is truncated", at)
    name_off, info, size_or_type = _TYPE.unpack_from(data, pos)
    pos += _TYPE.size
    vlen, kind_no, kflag = info & 0xFFFF, (info >> 24) & 0x1F, bool(info >> 31)
    if kind_no == 0 or kind_no not in Kind._value2member_map_:
        raise _bad(f"type [{tid}] has unknown kind {kind_no}", at)
    kind = Kind(kind_no)
    name = tab.get(name_off, f"type [{tid}] {kind.name}")

    def need(n: int) -> None:
        if pos + n > len(data):
            raise _bad(f"type [{tid}] {kind.name} '{name}' is truncated", at)

    if kind == Kind.INT:
        need(4)
        (word,) = _U32.unpack_from(data, pos)
        enc, bit_off, bits = (word >> 24) & 0x0F, (word >> 16) & 0xFF, word & 0xFF
        if size_or_type not in (1, 2, 4, 8, 16) or bits == 0 or bit_off + bits > size_or_type * 8:
            raise _bad(f"type [{tid}] INT '{name}' has an invalid size or bit layout", at)
        t = BtfType(kind, name, size=size_or_type, encoding=enc, bits=bits, bit_offset=bit_off)
        return t, pos + 4
    if kind == Kind.ARRAY:
        need(12)
        elem, index, nelems = _TRIPLE.unpack_from(data, pos)
        return BtfType(kind, name, type=elem, index_type=index, nelems=nelems), pos + 12
    if kind in COMPOSITES:
        need(12 * vlen)
        members = []
        for i in range(vlen):
            m_name, m_type, m_off = _TRIPLE.unpack_from(data, pos + 12 * i)
            bits_size = (m_off >> 24) if kflag else 0
            bit_off = (m_off & 0xFFFFFF) if kflag else m_off
            members.append(
                Member(tab.get(m_name, f"member {i} of type [{tid}]"), m_type, bit_off, bits_size)
            )
        t = BtfType(kind, name, size=size_or_type, kind_flag=kflag, members=tuple(members))
        return t, pos + 12 * vlen
    if kind == Kind.ENUM:
        need(8 * vlen)
        enums = []
        for i in range(vlen):
            e_name, raw = _PAIR.unpack_from(data, pos + 8 * i)
            value = raw - (1 << 32) if kflag and raw >> 31 else raw
            enums.append(Enumerator(tab.get(e_name, f"enumerator {i} of type [{tid}]"), value))
        if size_or_type not in (1, 2, 4, 8):
            raise _bad(f"type [{tid}] ENUM '{name}' has invalid size {size_or_type}", at)
        t = BtfType(kind, name, size=size_or_type, kind_flag=kflag, enumerators=tuple(enums))
        return t, pos + 8 * vlen
    if kind == Kind.ENUM64:
        need(12 * vlen)
        enums = []
        for i in range(vlen):
            e_name, lo, hi = _TRIPLE.unpack_from(data, pos + 12 * i)
            raw = lo | (hi << 32)
            value = raw - (1 << 64) if kflag and raw >> 63 else raw
            enums.append(Enumerator(tab.get(e_name, f"enumerator {i} of type [{tid}]"), value))
        if size_or_type not in (1, 2, 4, 8):
            raise _bad(f"type [{tid}] ENUM64 '{name}' has invalid size {size_or_type}", at)
        t = BtfType(kind, name, size=size_or_type, kind_flag=kflag, enumerators=tuple(enums))
        return t, pos + 12 * vlen
    if kind == Kind.FUNC_PROTO:
        need(8 * vlen)
        params = []
        for i in range(vlen):
            p_name, p_type = _PAIR.unpack_from(data, pos + 8 * i)
            params.append(Param(tab.get(p_name, f"parameter {i} of type [{tid}]"), p_type))
        return BtfType(kind, name, type=size_or_type, params=tuple(params)), pos + 8 * vlen
    if kind == Kind.VAR:
        need(4)
        (linkage,) = _U32.unpack_from(data, pos)
        return BtfType(kind, name, type=size_or_type, linkage=linkage), pos + 4
    if kind == Kind.DATASEC:
        need(12 * vlen)
        secinfo = tuple(VarSecinfo(*_TRIPLE.unpack_from(data, pos + 12 * i)) for i in range(vlen))
        return BtfType(kind, name, size=size_or_type, vars=secinfo), pos + 12 * vlen
    if kind == Kind.DECL_TAG:
        need(4)
        (component,) = _I32.unpack_from(data, pos)
        return BtfType(kind, name, type=size_or_type, component_idx=component), pos + 4
    if kind == Kind.FLOAT:
        if size_or_type not in (2, 4, 8, 12, 16):
            raise _bad(f"type [{tid}] FLOAT '{name}' has invalid size {size_or_type}", at)
        return BtfType(kind, name, size=size_or_type), pos
    if kind == Kind.FUNC:
        return BtfType(kind, name, type=size_or_type, linkage=vlen), pos
    if kind == Kind.FWD:
        return BtfType(kind, name, kind_flag=kflag), pos
    # PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG: just the referenced type
    return BtfType(kind, name, type=size_or_type), pos


def replace_datasec(t: BtfType, size: int, offsets: Mapping[int, int]) -> BtfType:
    """A DATASEC with its size set and VAR offsets replaced (by VAR type id), sorted by offset."""
    secinfo = [replace(v, offset=offsets.get(v.type, v.offset)) for v in t.vars]
    secinfo.sort(key=lambda v: v.offset)
    return replace(t, size=size, vars=tuple(secinfo))
