"""Reading eBPF ELF objects (``clang -target bpf``) into an ObjectSpec, as libbpf does.

Owns: ``load_spec``, which checks the ELF (64-bit, little-endian, EM_BPF, relocatable),
reads sections, symbols and relocations (structures decoded with pyelftools, every
offset and size bounds-checked here first), parses ``.BTF``/``.BTF.ext`` (bpftime.btf)
and fills in DATASEC sizes and variable offsets from ELF symbols; collects maps
(BTF-defined ``.maps`` with inner maps and ``.values`` initialisers, the legacy
``maps`` section, global data sections as ARRAY maps); finds programs by section
name (bpftime.sections) and their subprograms in ``.text``; applies CO-RE
relocations (bpftime.core) and map, global-data, call and function-pointer
relocations; lays out libbpf's ``__kconfig`` externs in a read-only ``.kconfig`` map
(values from bpftime.kconfig); and links each entry program with the subprograms it
reaches (appended after it in first-reached order, as libbpf does), carrying func and
line info along.

Map order, which the pseudo map indices in ``lddw`` refer to: legacy ``maps``
definitions (by offset), then BTF-defined maps (by offset in ``.maps``), then one map
per global data section (by section index), then ``.kconfig`` -- libbpf's order.

Does not own: the spec records (bpftime.spec), BTF parsing (bpftime.btf), CO-RE
matching (bpftime.core), anything that touches the OS beyond reading the file (an
object with ``CONFIG_*`` externs reads the kernel's configuration, unless ``kconfig``
gives one).

Every problem raises ElfError saying what is wrong and where (section, offset,
symbol, program and instruction) and, where it helps, what to do.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from elftools.elf.structs import ELFStructs

from . import core, kconfig, sections
from . import opcodes as op
from .btf import (
    INT_BOOL,
    INT_CHAR,
    VAR_EXTERN,
    VAR_GLOBAL,
    VAR_STATIC,
    Btf,
    BtfExt,
    BtfType,
    Kind,
    replace_datasec,
)
from .errors import ElfError
from .spec import (
    MAP_ARRAY,
    MAP_ARRAY_OF_MAPS,
    MAP_HASH_OF_MAPS,
    MAP_PROG_ARRAY,
    MAP_TYPES,
    FuncInfo,
    GlobalVar,
    LineInfo,
    MapSpec,
    ObjectSpec,
    ProgramSpec,
)

EM_BPF = 247
R_BPF_NONE = 0
R_BPF_64_64 = 1
R_BPF_64_32 = 10
SHF_EXECINSTR = 0x4
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10
# a global data section becomes one map value; the kernel refuses array values this big too
MAX_DATA_SECTION = 1 << 24
_HDR_SIZE = 64
_SHDR_SIZE = 64
_SYM_SIZE = 24
_REL_SIZE = 16
_SLOT = struct.Struct("<BBhi")
_MAP_DEF = struct.Struct("<5I")  # legacy struct bpf_map_def
_REBUILD = "the object is corrupt; rebuild it with clang -target bpf"

# symbol section index markers
_UNDEF = -1
_SPECIAL = -2  # SHN_ABS, SHN_COMMON and the rest of the reserved range
_KCONFIG = -3  # the .kconfig map has no section

Source = str | os.PathLike[str] | bytes | bytearray | memoryview


def _err(what: str, section: str | None = None, offset: int | None = None) -> ElfError:
    where = ""
    if section is not None:
        where = f"section '{section}'" + (f" offset {offset}" if offset is not None else "") + ": "
    return ElfError(where + what, section, offset)


@dataclass
class _Section:
    index: int
    name: str
    type: str | int
    flags: int
    data: bytes  # b"" for NOBITS; ``size`` is the real size
    size: int
    link: int
    info: int
    entsize: int

    @property
    def is_code(self) -> bool:
        return self.type == "SHT_PROGBITS" and bool(self.flags & SHF_EXECINSTR) and self.size > 0


@dataclass
class _Symbol:
    index: int
    name: str
    bind: str
    type: str
    shndx: int
    value: int
    size: int


@dataclass
class _Func:
    """A function in a code section: slots [start, end) of the section."""

    name: str
    section: _Section
    start: int
    end: int
    entry: bool  # an entry program (not in .text)

    def where(self, index: int) -> str:
        role = "program" if self.entry else "subprogram"
        return f"{role} '{self.name}' insn {index - self.start}"


@dataclass
class _Code:
    """A code section being relocated: instructions and its bpf-to-bpf references."""

    section: _Section
    code: bytearray
    funcs: list[_Func]
    # slot -> slot in .text it calls (call src 1) or takes the address of (lddw src 4)
    targets: dict[int, int] = field(default_factory=dict)

    def func_at(self, index: int) -> _Func | None:
        for f in self.funcs:
            if f.start <= index < f.end:
                return f
        return None


@dataclass
class _MapDraft:
    """A map being collected; becomes a MapSpec once .values initialisers are known."""

    spec: MapSpec
    section: int  # ELF section index
    offset: int  # offset of its definition (or 0 for data sections)
    size: int  # size of its definition
    values_offset: int = -1  # byte offset of the .values member in a BTF definition
    init_values: dict[int, str] = field(default_factory=dict)


def load_spec(
    source: Source,
    *,
    arch: str | None = None,
    target_btf: Btf | None = None,
    kconfig: Mapping[str, str] | None = None,
) -> ObjectSpec:
    """Read an eBPF object (a path or its bytes) into an ObjectSpec.

    CO-RE relocations resolve against ``target_btf`` if given, else against the
    types this runtime exposes on ``arch`` (default: this machine; see bpftime.core).
    ``kconfig`` (``{"CONFIG_X": "y", ...}``) replaces the running kernel's
    configuration for ``CONFIG_*`` externs. Raises ElfError for anything the object
    does not provide or gets wrong.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ElfError(f"cannot read {os.fspath(source)!s}: {e.strerror or e}") from e
    return _Loader(data, arch, target_btf, kconfig).load()


class _Loader:
    def __init__(
        self,
        data: bytes,
        arch: str | None,
        target_btf: Btf | None,
        kconfig: Mapping[str, str] | None = None,
    ) -> None:
        self.data = data
        self.kconfig = kconfig
        self.externs: dict[str, int] = {}  # __kconfig extern -> offset in .kconfig
        self.arch = arch
        self.target = target_btf
        self.sections: list[_Section] = []
        self.symbols: list[_Symbol] = []
        self.btf: Btf | None = None
        self.ext: BtfExt | None = None
        self.maps: list[_MapDraft] = []
        self.text: _Section | None = None
        self.codes: dict[int, _Code] = {}
        self.license = ""

    # -- ELF structure ----------------------------------------------------------------

    def load(self) -> ObjectSpec:
        self._read_elf()
        self._read_btf()
        self._collect_maps()
        self._kconfig_map()
        self._collect_functions()
        for code in self.codes.values():
            self._relocate(code)
        programs = {}
        for code in self.codes.values():
            for f in code.funcs:
                if f.entry:
                    programs[f.name] = self._link(f)
        maps = [self._finish_map(m) for m in self.maps]
        return ObjectSpec(programs, maps, self.btf, self.license, self._variables())

    def _read_elf(self) -> None:
        d = self.data
        if len(d) < _HDR_SIZE or d[:4] != b"\x7fELF":
            raise _err(
                f"not an ELF file ({len(d)} bytes, no ELF magic); pass a clang -target bpf .o"
            )
        if d[4] != 2:
            raise _err(f"ELF class {d[4]} is not 64-bit; eBPF objects are ELF64")
        if d[5] != 1:
            what = "big-endian" if d[5] == 2 else f"of unknown byte order {d[5]}"
            raise _err(
                f"the ELF is {what}; build for a little-endian target (-target bpf or bpfel)"
            )
        structs = ELFStructs(little_endian=True, elfclass=64)
        structs.create_basic_structs()
        hdr = structs.Elf_Ehdr.parse(d[:_HDR_SIZE])
        machine = struct.unpack_from("<H", d, 18)[0]
        if machine != EM_BPF:
            raise _err(
                f"ELF machine is {hdr.e_machine} ({machine}), not EM_BPF ({EM_BPF});"
                " compile with clang -target bpf"
            )
        if hdr.e_type != "ET_REL":
            raise _err(
                f"ELF type is {hdr.e_type}, not a relocatable object (ET_REL);"
                " load the .o that clang -c produced"
            )
        structs.create_advanced_structs(hdr.e_type, hdr.e_machine, hdr.e_ident.EI_OSABI)
        shoff, shnum, shentsize, shstrndx = (
            hdr.e_shoff,
            hdr.e_shnum,
            hdr.e_shentsize,
            hdr.e_shstrndx,
        )
        if shnum == 0 or shentsize != _SHDR_SIZE:
            raise _err(
                f"no usable section header table (e_shnum {shnum},"
                f" e_shentsize {shentsize}); {_REBUILD}"
            )
        if shoff + shnum * _SHDR_SIZE > len(d):
            raise _err(
                f"section header table ({shnum} entries at {shoff}) runs past the end of the"
                f" file ({len(d)} bytes); the file is truncated or corrupt"
            )
        if shstrndx >= shnum:
            raise _err(f"section name table index {shstrndx} is not a section; {_REBUILD}")
        headers = [
            structs.Elf_Shdr.parse(d[shoff + i * _SHDR_SIZE : shoff + (i + 1) * _SHDR_SIZE])
            for i in range(shnum)
        ]
        for i, h in enumerate(headers):
            if h.sh_type != "SHT_NOBITS" and h.sh_offset + h.sh_size > len(d):
                raise _err(
                    f"section #{i} ({h.sh_size} bytes at {h.sh_offset}) runs past the end of"
                    f" the file ({len(d)} bytes); the file is truncated or corrupt"
                )
        names = headers[shstrndx]
        name_data = d[names.sh_offset : names.sh_offset + names.sh_size]
        for i, h in enumerate(headers):
            name = _cstring(name_data, h.sh_name, f"name of section #{i}")
            body = b"" if h.sh_type == "SHT_NOBITS" else d[h.sh_offset : h.sh_offset + h.sh_size]
            self.sections.append(
                _Section(
                    i,
                    name,
                    h.sh_type,
                    h.sh_flags,
                    body,
                    h.sh_size,
                    h.sh_link,
                    h.sh_info,
                    h.sh_entsize,
                )
            )
        symtabs = [s for s in self.sections if s.type == "SHT_SYMTAB"]
        if len(symtabs) != 1:
            raise _err(f"expected one symbol table, found {len(symtabs)}; {_REBUILD}")
        self._read_symbols(symtabs[0], structs)
        for s in self.sections:
            if s.name == "license" and s.type == "SHT_PROGBITS":
                self.license = s.data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
            if s.name == ".text" and s.is_code:
                self.text = s

    def _read_symbols(self, symtab: _Section, structs: ELFStructs) -> None:
        if symtab.size % _SYM_SIZE or (symtab.entsize and symtab.entsize != _SYM_SIZE):
            raise _err(
                f"symbol table size {symtab.size} is not a multiple of {_SYM_SIZE}", symtab.name
            )
        if (
            not 0 < symtab.link < len(self.sections)
            or self.sections[symtab.link].type != "SHT_STRTAB"
        ):
            raise _err(
                f"symbol table links to section #{symtab.link}, not a string table", symtab.name
            )
        strtab = self.sections[symtab.link].data
        for i in range(symtab.size // _SYM_SIZE):
            e = structs.Elf_Sym.parse(symtab.data[i * _SYM_SIZE : (i + 1) * _SYM_SIZE])
            name = _cstring(strtab, e.st_name, f"name of symbol #{i}")
            shndx = e.st_shndx
            if shndx == "SHN_UNDEF":
                idx = _UNDEF
            elif isinstance(shndx, int) and shndx < len(self.sections):
                idx = shndx
            elif isinstance(shndx, int) and shndx < 0xFF00:
                raise _err(
                    f"symbol '{name}' (#{i}) is in section #{shndx}, which does not exist",
                    symtab.name,
                    i * _SYM_SIZE,
                )
            else:
                idx = _SPECIAL
            self.symbols.append(
                _Symbol(
                    i, name, str(e.st_info.bind), str(e.st_info.type), idx, e.st_value, e.st_size
                )
            )

    def _section(self, name: str) -> _Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    # -- BTF --------------------------------------------------------------------------

    def _read_btf(self) -> None:
        sec = self._section(".BTF")
        if sec is None:
            if self._section(".BTF.ext") is not None:
                raise _err(f"the object has .BTF.ext but no .BTF; {_REBUILD}", ".BTF.ext")
            return
        btf = Btf.parse(sec.data)
        changes: dict[int, BtfType] = {}
        for tid, t in enumerate(btf.types):
            if t.kind == Kind.DATASEC:
                fixed = self._fixup_datasec(btf, t)
                if fixed is not None:
                    changes[tid] = fixed
        self.btf = btf.with_types(changes) if changes else btf
        ext = self._section(".BTF.ext")
        if ext is not None:
            self.ext = BtfExt.parse(ext.data, self.btf)

    def _fixup_datasec(self, btf: Btf, t: BtfType) -> BtfType | None:
        """Fill in the size and global variable offsets clang leaves 0 (libbpf's fix-up)."""
        sec = self._section(t.name)
        if sec is None:  # .kconfig, .ksyms: extern-backed, nothing to fix
            return None
        offsets: dict[int, int] = {}
        for v in t.vars:
            var = btf.types[v.type]
            if var.kind != Kind.VAR:
                raise _err(
                    f"DATASEC '{t.name}' lists type [{v.type}] {var.kind.name}, not a VAR;"
                    f" {_REBUILD}",
                    ".BTF",
                )
            if var.linkage in (VAR_STATIC, VAR_EXTERN):
                continue  # clang already gives static variables their offsets
            sym = self._find_var_symbol(var.name, sec.index)
            if sym is None:
                raise _err(
                    f"BTF variable '{var.name}' of DATASEC '{t.name}' has no ELF symbol;"
                    f" {_REBUILD}",
                    ".BTF",
                )
            offsets[v.type] = sym.value
        if t.size and t.size != sec.size:
            raise _err(
                f"DATASEC '{t.name}' is {t.size} bytes but the section has {sec.size}; {_REBUILD}",
                ".BTF",
            )
        size = sec.size
        for v in t.vars:
            off = offsets.get(v.type, v.offset)
            if off + v.size > size:
                name = btf.types[v.type].name
                raise _err(
                    f"variable '{name}' ({v.size} bytes at {off}) is outside section '{t.name}'"
                    f" ({size} bytes); {_REBUILD}",
                    ".BTF",
                )
        return replace_datasec(t, size, offsets)

    def _find_var_symbol(self, name: str, shndx: int) -> _Symbol | None:
        for s in self.symbols:
            if (
                s.name == name
                and s.shndx == shndx
                and s.type == "STT_OBJECT"
                and s.bind in ("STB_GLOBAL", "STB_WEAK")
            ):
                return s
        return None

    def _require_btf(self, why: str) -> Btf:
        if self.btf is None:
            raise _err(f"{why} needs BTF, but the object has no .BTF section; compile with -g")
        return self.btf

    # -- maps -------------------------------------------------------------------------

    def _collect_maps(self) -> None:
        legacy = self._section("maps")
        if legacy is not None and legacy.type == "SHT_PROGBITS" and legacy.size:
            self._legacy_maps(legacy)
        btf_maps = self._section(".maps")
        if btf_maps is not None and btf_maps.size:
            self._btf_maps(btf_maps)
        for s in self.sections:
            kind = _data_kind(s)
            if kind is not None and s.size:
                self._data_map(s, kind)
        if btf_maps is not None:
            rel = self._rel_for(btf_maps)
            if rel is not None:
                self._map_inits(btf_maps, rel)

    def _legacy_maps(self, sec: _Section) -> None:
        syms = sorted(
            (s for s in self.symbols if s.shndx == sec.index and s.type != "STT_SECTION"),
            key=lambda s: s.value,
        )
        if not syms or sec.size % len(syms):
            raise _err(
                f"cannot tell the map definition size: {len(syms)} map symbols in"
                f" {sec.size} bytes; {_REBUILD}",
                sec.name,
            )
        def_size = sec.size // len(syms)
        for sym in syms:
            raw = sec.data[sym.value : sym.value + def_size]
            if len(raw) != def_size:
                raise _err(
                    f"map '{sym.name}' definition at {sym.value} runs past the section",
                    sec.name,
                    sym.value,
                )
            if def_size < _MAP_DEF.size:
                raw = raw + bytes(_MAP_DEF.size - def_size)
            elif any(raw[_MAP_DEF.size :]):
                raise _err(
                    f"map '{sym.name}' sets fields after map_flags in its struct bpf_map_def;"
                    " only type, key_size, value_size, max_entries and map_flags are supported",
                    sec.name,
                    sym.value,
                )
            mtype, key_size, value_size, max_entries, flags = _MAP_DEF.unpack_from(raw)
            self._check_map_type(sym.name, mtype, sec.name)
            spec = MapSpec(
                sym.name, mtype, key_size, value_size, max_entries, flags, section=sec.name
            )
            self.maps.append(_MapDraft(spec, sec.index, sym.value, def_size))

    def _check_map_type(self, name: str, mtype: int, section: str) -> None:
        if mtype == 0:
            raise _err(f"map '{name}' has no type; add __uint(type, BPF_MAP_TYPE_...)", section)
        if mtype not in MAP_TYPES:
            raise _err(
                f"map '{name}' has unknown map type {mtype} (known: 1-{max(MAP_TYPES)})", section
            )

    def _btf_maps(self, sec: _Section) -> None:
        btf = self._require_btf("the .maps section")
        datasecs = btf.find(".maps", Kind.DATASEC)
        if not datasecs:
            raise _err(f"no BTF DATASEC describes the .maps section; {_REBUILD}", sec.name)
        for v in btf.types[datasecs[0]].vars:
            var = btf.types[v.type]
            if var.linkage not in (VAR_STATIC, VAR_GLOBAL):
                raise _err(f"map '{var.name}' has unsupported linkage {var.linkage}", sec.name)
            def_id = btf.resolve(var.type)
            def_t = btf.types[def_id]
            if def_t.kind != Kind.STRUCT:
                raise _err(f"map '{var.name}' is a {btf.format(def_id)}, not a struct", sec.name)
            if def_t.size > v.size or v.offset + v.size > sec.size:
                raise _err(
                    f"map '{var.name}' definition does not fit its variable; {_REBUILD}",
                    sec.name,
                    v.offset,
                )
            spec, values_off = self._map_def(btf, var.name, def_t, inner=False)
            self.maps.append(_MapDraft(spec, sec.index, v.offset, v.size, values_off))

    def _map_def(self, btf: Btf, name: str, t: BtfType, inner: bool) -> tuple[MapSpec, int]:
        """Parse a BTF map definition (libbpf's parse_btf_map_def)."""
        ints: dict[str, int] = {}
        key_id = value_id = None
        key_size = value_size = 0
        inner_spec: MapSpec | None = None
        values_off = -1

        def fail(what: str) -> ElfError:
            return _err(f"map '{name}': {what}", ".maps")

        for i, m in enumerate(t.members):
            mt = btf.types[m.type]
            # numa_node and pinning are parsed and ignored: userspace has no NUMA
            # placement of maps and no bpffs to pin them in
            enum = btf.types[btf.resolve(m.type)]
            if m.name == "map_extra" and enum.kind in (Kind.ENUM, Kind.ENUM64):
                # libbpf >= 1.3: __ulong(map_extra, v) is an enum with the one value v
                if len(enum.enumerators) != 1:
                    raise fail("'map_extra' is an enum, but not __ulong() (one enumerator)")
                ints[m.name] = enum.enumerators[0].value & 0xFFFFFFFFFFFFFFFF
            elif m.name in (
                "type",
                "max_entries",
                "map_flags",
                "numa_node",
                "key_size",
                "value_size",
                "map_extra",
                "pinning",
            ):
                arr = btf.types[mt.type] if mt.kind == Kind.PTR else mt
                if mt.kind != Kind.PTR or arr.kind != Kind.ARRAY:
                    raise fail(
                        f"'{m.name}' is not declared with __uint(); got {btf.format(m.type)}"
                    )
                ints[m.name] = arr.nelems
            elif m.name in ("key", "value"):
                if mt.kind != Kind.PTR:
                    raise fail(
                        f"'{m.name}' is not declared with __type(); got {btf.format(m.type)}"
                    )
                size = btf.size_of(mt.type)
                if m.name == "key":
                    key_id, key_size = mt.type, size
                else:
                    value_id, value_size = mt.type, size
            elif m.name == "values":
                if inner:
                    raise fail("multi-level inner maps are not supported")
                if i != len(t.members) - 1:
                    raise fail("'values' must be the last member")
                inner_spec = self._values_def(btf, name, ints.get("type", 0), m.type, fail)
                values_off = m.bit_offset // 8
            else:
                raise fail(f"unknown field '{m.name}'")
        mtype = ints.get("type", 0)
        self._check_map_type(name, mtype, ".maps")
        for which, explicit, from_type in (
            ("key", ints.get("key_size"), key_size),
            ("value", ints.get("value_size"), value_size),
        ):
            if explicit is not None and from_type and explicit != from_type:
                raise fail(f"conflicting {which} size {explicit} != {from_type}")
        if values_off >= 0:
            if ints.get("value_size", 4) != 4:
                raise fail(f"conflicting value size {ints['value_size']} != 4")
            value_size = 4
        spec = MapSpec(
            name,
            mtype,
            ints.get("key_size", key_size),
            ints.get("value_size", value_size),
            ints.get("max_entries", 0),
            ints.get("map_flags", 0),
            ints.get("map_extra", 0),
            key_id,
            value_id,
            inner_spec,
            section=".maps",
        )
        return spec, values_off

    def _values_def(
        self, btf: Btf, name: str, mtype: int, type_id: int, fail: Callable[[str], ElfError]
    ) -> MapSpec | None:
        is_mim = mtype in (MAP_ARRAY_OF_MAPS, MAP_HASH_OF_MAPS)
        if not is_mim and mtype != MAP_PROG_ARRAY:
            raise fail("'values' is only for map-in-map and prog-array maps")
        arr = btf.types[type_id]
        if arr.kind != Kind.ARRAY or arr.nelems:
            raise fail("'values' is not declared with __array() (a zero-sized array)")
        ptr = btf.types[btf.resolve(arr.type)]
        if ptr.kind != Kind.PTR:
            raise fail(f"'values' element is {btf.format(arr.type)}, not a pointer")
        target_id = btf.resolve(ptr.type)
        target = btf.types[target_id]
        if not is_mim:
            if target.kind != Kind.FUNC_PROTO:
                raise fail(f"prog-array 'values' points to {btf.format(target_id)}, not a function")
            return None
        if target.kind != Kind.STRUCT:
            raise fail(f"inner map definition is {btf.format(target_id)}, not a struct")
        return self._map_def(btf, f"{name}.inner", target, inner=True)[0]

    def _data_map(self, sec: _Section, kind: str) -> None:
        value_id = None
        if self.btf is not None:
            ids = self.btf.find(sec.name, Kind.DATASEC)
            value_id = ids[0] if ids else None
        if sec.size > MAX_DATA_SECTION:
            raise _err(
                f"{sec.size} bytes of global data; a global data section may have at most"
                f" {MAX_DATA_SECTION} bytes (it becomes one map value)",
                sec.name,
            )
        readonly = kind == "rodata"
        flags = BPF_F_MMAPABLE | (BPF_F_RDONLY_PROG if readonly else 0)
        data = bytes(sec.size) if kind == "bss" else sec.data
        spec = MapSpec(
            sec.name,
            MAP_ARRAY,
            4,
            sec.size,
            1,
            flags,
            0,
            None,
            value_id,
            None,
            {},
            data,
            readonly,
            sec.name,
        )
        self.maps.append(_MapDraft(spec, sec.index, 0, sec.size))

    def _map_inits(self, sec: _Section, rel: _Section) -> None:
        """``.values = {...}`` initialisers from .rel.maps (libbpf's collect_map_relos)."""
        names = {m.spec.name for m in self.maps}
        for off, _kind, sym in self._relocs(rel, sec):
            draft = next(
                (
                    m
                    for m in self.maps
                    if m.section == sec.index and m.offset <= off and off + 8 <= m.offset + m.size
                ),
                None,
            )
            if draft is None or draft.values_offset < 0:
                raise _err(
                    f"relocation against '{sym.name}' is not in a map's .values", sec.name, off
                )
            m = draft.spec
            slot_off = off - draft.offset - draft.values_offset
            if slot_off < 0 or slot_off % 8:
                raise _err(
                    f"relocation against '{sym.name}' is not at a .values slot of map '{m.name}'",
                    sec.name,
                    off,
                )
            slot = slot_off // 8
            if slot >= m.max_entries:
                raise _err(
                    f"map '{m.name}': .values slot {slot} is past max_entries {m.max_entries}",
                    sec.name,
                    off,
                )
            if m.type == MAP_PROG_ARRAY:
                func = self._entry_at(sym)
                if func is None:
                    raise _err(
                        f"map '{m.name}' slot {slot}: '{sym.name}' is not a program", sec.name, off
                    )
                draft.init_values[slot] = func
            else:
                if sym.shndx != sec.index or sym.name not in names:
                    raise _err(
                        f"map '{m.name}' slot {slot}: '{sym.name}' is not a map", sec.name, off
                    )
                draft.init_values[slot] = sym.name

    def _entry_at(self, sym: _Symbol) -> str | None:
        if sym.type != "STT_FUNC" or not 0 <= sym.shndx < len(self.sections):
            return None
        s = self.sections[sym.shndx]
        return sym.name if s.is_code and s is not self.text else None

    def _finish_map(self, m: _MapDraft) -> MapSpec:
        if not m.init_values:
            return m.spec
        return replace(m.spec, init_values=dict(sorted(m.init_values.items())))

    def _variables(self) -> list[GlobalVar]:
        out: list[GlobalVar] = []
        if self.btf is None:
            return out
        for idx, m in enumerate(self.maps):
            tid = m.spec.value_type_id
            if m.spec.data is None or tid is None:
                continue
            for v in self.btf.types[tid].vars:
                var = self.btf.types[v.type]
                out.append(GlobalVar(var.name, idx, v.offset, v.size, var.type))
        return out

    # -- __kconfig externs ------------------------------------------------------------

    def _kconfig_map(self) -> None:
        """libbpf's ``.kconfig`` map: one read-only value holding every ``__kconfig``
        extern at an offset aligned for its type."""
        if self.btf is None:
            return
        btf = self.btf
        secs = btf.find(".kconfig", Kind.DATASEC)
        if not secs:
            return
        data = bytearray()
        for v in btf.types[secs[0]].vars:
            var = btf.types[v.type]
            if var.kind != Kind.VAR or var.linkage != VAR_EXTERN:
                raise _err(f"DATASEC '.kconfig' lists '{var.name}', not an extern variable;"
                           f" {_REBUILD}", ".BTF")  # fmt: skip
            kind, size, signed = self._extern_type(var.name, var.type)
            sym = next((s for s in self.symbols if s.name == var.name and s.shndx == _UNDEF),
                       None)  # fmt: skip
            weak = sym is not None and sym.bind == "STB_WEAK"
            value = kconfig.lookup(var.name, self.kconfig)
            if value is None and not weak:
                where = ("the kernel configuration does not set it (/proc/config.gz,"
                         " /boot/config-<release>)" if var.name.startswith("CONFIG_")
                         else "this runtime does not know it")  # fmt: skip
                raise _err(f"extern '{var.name}' (__kconfig): {where}; declare it __weak to"
                           " read 0 instead", ".kconfig")  # fmt: skip
            raw = bytes(size) if value is None else kconfig.encode(var.name, value, kind,
                                                                   size, signed)  # fmt: skip
            align = 1 if kind == "string" else size
            data.extend(bytes(-len(data) % align))
            self.externs[var.name] = len(data)
            data.extend(raw)
        if not data:
            return
        data.extend(bytes(-len(data) % 8))
        spec = MapSpec(".kconfig", MAP_ARRAY, 4, len(data), 1, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG,
                       data=bytes(data), readonly=True, section=".kconfig")  # fmt: skip
        self.maps.append(_MapDraft(spec, _KCONFIG, 0, len(data)))

    def _extern_type(self, name: str, type_id: int) -> tuple[str, int, bool]:
        """(kind, size, signed) of a __kconfig extern's type, as libbpf classifies it."""
        assert self.btf is not None
        btf = self.btf
        t = btf.types[btf.resolve(type_id)]
        if t.kind == Kind.INT and t.encoding & INT_BOOL:
            return "bool", t.size, False
        if t.kind in (Kind.ENUM, Kind.ENUM64) and t.name == "libbpf_tristate":
            return "tristate", t.size, False
        if t.kind == Kind.INT and t.size == 1 and (t.encoding & INT_CHAR or t.name == "char"):
            return "char", 1, False
        if t.kind == Kind.ARRAY:
            elem = btf.types[btf.resolve(t.type)]
            if elem.kind == Kind.INT and elem.size == 1 and t.nelems:
                return "string", t.nelems, False
        if t.kind in (Kind.INT, Kind.ENUM, Kind.ENUM64) and t.size in (1, 2, 4, 8):
            return "int", t.size, t.signed
        raise _err(f"extern '{name}' (__kconfig) has type {btf.format(type_id)}; use a"
                   " bool, enum libbpf_tristate, char, an integer or a char array",
                   ".kconfig")  # fmt: skip

    # -- programs ---------------------------------------------------------------------

    def _collect_functions(self) -> None:
        for s in self.sections:
            if not s.is_code:
                continue
            if s.size % 8:
                raise _err(f"code size {s.size} is not a multiple of 8 bytes; {_REBUILD}", s.name)
            syms = sorted(
                (y for y in self.symbols if y.shndx == s.index and y.type == "STT_FUNC"),
                key=lambda y: y.value,
            )
            if not syms:
                raise _err("code without function symbols; compile the program with clang", s.name)
            funcs: list[_Func] = []
            end_prev = 0
            for y in syms:
                if y.value % 8 or y.size % 8 or y.size == 0 or y.value + y.size > s.size:
                    raise _err(
                        f"function '{y.name}' ({y.size} bytes at {y.value}) does not fit"
                        f" the section's {s.size} bytes of instructions; {_REBUILD}",
                        s.name,
                        y.value,
                    )
                if y.value < end_prev:
                    raise _err(
                        f"function '{y.name}' overlaps the function before it; {_REBUILD}",
                        s.name,
                        y.value,
                    )
                end_prev = y.value + y.size
                entry = s is not self.text
                if entry:
                    sections.parse_section(s.name, y.name)
                funcs.append(_Func(y.name, s, y.value // 8, end_prev // 8, entry))
            self.codes[s.index] = _Code(s, bytearray(s.data), funcs)
        names: dict[str, str] = {}
        for code in self.codes.values():
            for f in code.funcs:
                if f.entry and f.name in names:
                    raise _err(
                        f"two programs are called '{f.name}' (sections '{names[f.name]}'"
                        f" and '{f.section.name}')",
                        f.section.name,
                    )
                if f.entry:
                    names[f.name] = f.section.name

    def _rel_for(self, target: _Section) -> _Section | None:
        for s in self.sections:
            if s.type in ("SHT_REL", "SHT_RELA") and s.info == target.index:
                if s.type == "SHT_RELA":
                    raise _err(
                        "RELA relocations are not supported for eBPF; compile with clang", s.name
                    )
                return s
        return None

    def _relocs(self, rel: _Section, target: _Section) -> list[tuple[int, int, _Symbol]]:
        """(offset in target, type, symbol) of each relocation, bounds-checked."""
        if rel.size % _REL_SIZE:
            raise _err(
                f"relocation section size {rel.size} is not a multiple of {_REL_SIZE}", rel.name
            )
        if rel.link >= len(self.sections) or self.sections[rel.link].type != "SHT_SYMTAB":
            raise _err(f"relocations refer to section #{rel.link}, not the symbol table", rel.name)
        out = []
        for i in range(rel.size // _REL_SIZE):
            r_offset, r_info = struct.unpack_from("<QQ", rel.data, i * _REL_SIZE)
            sym_idx, rtype = r_info >> 32, r_info & 0xFFFFFFFF
            if r_offset >= target.size:
                raise _err(
                    f"relocation #{i} at {r_offset} is outside '{target.name}'"
                    f" ({target.size} bytes); {_REBUILD}",
                    rel.name,
                    i * _REL_SIZE,
                )
            if sym_idx >= len(self.symbols) or sym_idx == 0:
                raise _err(
                    f"relocation #{i} refers to symbol #{sym_idx}, which does not exist"
                    f" ({len(self.symbols)} symbols); {_REBUILD}",
                    rel.name,
                    i * _REL_SIZE,
                )
            if rtype == R_BPF_NONE:
                continue
            out.append((r_offset, rtype, self.symbols[sym_idx]))
        return out

    def _relocate(self, code: _Code) -> None:
        sec = code.section
        if self.ext is not None and sec.name in self.ext.core_relos:
            self._core(code)
        rel = self._rel_for(sec)
        handled: set[int] = set()
        if rel is not None:
            for off, rtype, sym in self._relocs(rel, sec):
                if off % 8:
                    raise _err(
                        f"relocation at {off} is not at an instruction; {_REBUILD}", sec.name, off
                    )
                idx = off // 8
                func = code.func_at(idx)
                if func is None:
                    raise _err(
                        f"relocation against '{sym.name}' is outside every function", sec.name, off
                    )
                self._relocate_insn(code, func, idx, rtype, sym)
                handled.add(idx)
        self._local_calls(code, handled)

    def _relocate_insn(self, code: _Code, func: _Func, idx: int, rtype: int, sym: _Symbol) -> None:
        sec = code.section
        off = idx * 8
        where = func.where(idx)
        opcode, regs, ioff, imm = _SLOT.unpack_from(code.code, off)

        def fail(what: str) -> ElfError:
            return _err(f"{where}: {what}", sec.name, off)

        if sym.shndx == _UNDEF and sym.name in self.externs and opcode == op.LDDW:
            if off + 16 > len(code.code) or rtype != R_BPF_64_64:
                raise fail(f"extern '{sym.name}' is not loaded by a whole lddw; {_REBUILD}")
            kmap = next(i for i, m in enumerate(self.maps) if m.section == _KCONFIG)
            self._set_lddw(code.code, off, op.PSEUDO_MAP_IDX_VALUE, kmap, self.externs[sym.name])
            return
        if sym.shndx == _UNDEF:
            raise fail(
                f"refers to extern '{sym.name}'; only __kconfig externs are supported"
                " in userspace (__ksym variables and kfuncs are not)"
            )
        if opcode == op.CLS_JMP | op.CALL:
            if rtype != R_BPF_64_32:
                raise fail(
                    f"unsupported relocation type {rtype} for a call (expected {R_BPF_64_32})"
                )
            if regs >> 4 != op.PSEUDO_CALL:
                raise fail(f"relocated call has src {regs >> 4}, not a bpf-to-bpf call (1)")
            if self.text is None or sym.shndx != self.text.index:
                raise fail(
                    f"calls '{sym.name}' outside .text; called functions must be static or"
                    " global functions without SEC()"
                )
            if sym.value % 8:
                raise fail(f"call target '{sym.name}' at {sym.value} is not an instruction")
            code.targets[idx] = sym.value // 8 + imm + 1
            return
        if opcode != op.LDDW or off + 16 > len(code.code):
            raise fail(
                f"relocation against '{sym.name}' on opcode 0x{opcode:02x}; only lddw and"
                " call instructions can be relocated"
            )
        if rtype != R_BPF_64_64:
            raise fail(f"unsupported relocation type {rtype} for lddw (expected {R_BPF_64_64})")
        if sym.shndx == _SPECIAL:
            raise fail(
                f"relocation against '{sym.name}', which is in no section; initialise the"
                " global variable (or compile with -fno-common)"
            )
        target = self.sections[sym.shndx]
        if target is self.text:
            pos = sym.value + imm
            if pos % 8 or not 0 <= pos < target.size:
                raise fail(f"function address '{sym.name}'+{imm} is not an instruction of .text")
            code.targets[idx] = pos // 8
            _SLOT.pack_into(code.code, off, opcode, (regs & 0x0F) | (op.PSEUDO_FUNC << 4), ioff, 0)
            return
        for map_idx, m in enumerate(self.maps):
            if m.section != sym.shndx:
                continue
            if m.spec.data is None:  # a map definition: the symbol is the map
                if m.offset != sym.value:
                    continue
                self._set_lddw(code.code, off, op.PSEUDO_MAP_IDX, map_idx, 0)
                return
            value_off = imm + sym.value
            if not 0 <= value_off < m.spec.value_size:
                raise fail(
                    f"'{sym.name}'+{imm} is outside section '{target.name}'"
                    f" ({m.spec.value_size} bytes)"
                )
            self._set_lddw(code.code, off, op.PSEUDO_MAP_IDX_VALUE, map_idx, value_off)
            return
        if any(m.section == sym.shndx for m in self.maps):
            raise fail(f"'{sym.name}' at offset {sym.value} of '{target.name}' is not a map")
        raise fail(
            f"relocation against '{sym.name}' in section '{target.name}', which is neither"
            " a map nor global data"
        )

    @staticmethod
    def _set_lddw(code: bytearray, off: int, src: int, lo: int, hi: int) -> None:
        opcode, regs, ioff, _ = _SLOT.unpack_from(code, off)
        _SLOT.pack_into(code, off, opcode, (regs & 0x0F) | (src << 4), ioff, lo)
        _SLOT.pack_into(code, off + 8, 0, 0, 0, hi)

    def _local_calls(self, code: _Code, handled: set[int]) -> None:
        """bpf-to-bpf calls inside .text need no relocation: imm is relative already."""
        sec = code.section
        n = len(code.code) // 8
        idx = 0
        while idx < n:
            opcode, regs, _ioff, imm = _SLOT.unpack_from(code.code, idx * 8)
            src = regs >> 4
            if idx not in handled:
                if opcode == op.CLS_JMP | op.CALL and src == op.PSEUDO_CALL:
                    func = code.func_at(idx)
                    where = func.where(idx) if func else f"insn {idx}"
                    if sec is not self.text:
                        raise _err(
                            f"{where}: bpf-to-bpf call without a relocation outside .text;"
                            f" {_REBUILD}",
                            sec.name,
                            idx * 8,
                        )
                    code.targets[idx] = idx + imm + 1
                elif opcode == op.LDDW and src == op.PSEUDO_FUNC:
                    raise _err(
                        f"insn {idx}: function address without a relocation; {_REBUILD}",
                        sec.name,
                        idx * 8,
                    )
            idx += 2 if opcode == op.LDDW else 1

    def _core(self, code: _Code) -> None:
        assert self.ext is not None and self.btf is not None
        sec = code.section
        if self.target is None:
            self.target = core.runtime_btf(self.arch)
        for relo in self.ext.core_relos[sec.name]:
            if relo.insn_off % 8 or relo.insn_off >= sec.size:
                raise _err(
                    f"CO-RE relocation at {relo.insn_off} is not an instruction of the"
                    f" section; {_REBUILD}",
                    ".BTF.ext",
                )
            idx = relo.insn_off // 8
            func = code.func_at(idx)
            where = func.where(idx) if func else f"section '{sec.name}' insn {idx}"
            core.relocate(code.code, relo, self.btf, self.target, where, sec.name, idx)

    # -- linking ----------------------------------------------------------------------

    def _text_func(self, start: int, caller: _Func, at: int) -> _Func:
        assert self.text is not None
        text = self.codes[self.text.index]
        for f in text.funcs:
            if f.start == start:
                return f
        raise _err(
            f"{caller.where(at)}: calls .text insn {start}, which is not the start of a"
            f" function; {_REBUILD}",
            caller.section.name,
            at * 8,
        )

    def _link(self, entry: _Func) -> ProgramSpec:
        """The entry program plus every subprogram it reaches (libbpf's reloc_code order)."""
        out = bytearray()
        placed: dict[int, int] = {}  # id(func) -> first slot in out
        funcs: list[tuple[_Func, int]] = []
        # depth-first, appending a subprogram when first reached, as libbpf does
        stack: list[tuple[_Func, int]] = []

        def place(f: _Func) -> None:
            placed[id(f)] = len(out) // 8
            funcs.append((f, len(out) // 8))
            out.extend(self.codes[f.section.index].code[f.start * 8 : f.end * 8])
            stack.append((f, f.start))

        place(entry)
        while stack:
            f, i = stack.pop()
            code = self.codes[f.section.index]
            while i < f.end:
                target = code.targets.get(i)
                if target is None:
                    i += 1
                    continue
                callee = self._text_func(target, f, i)
                if id(callee) not in placed:
                    stack.append((f, i))
                    place(callee)
                    break
                here = placed[id(f)] + i - f.start
                rel = placed[id(callee)] - here - 1
                opcode, regs, ioff, _ = _SLOT.unpack_from(out, here * 8)
                _SLOT.pack_into(out, here * 8, opcode, regs, ioff, rel)
                i += 1
        kind = sections.parse_section(entry.section.name, entry.name)
        return ProgramSpec(
            name=entry.name,
            section=entry.section.name,
            kind=kind.kind,
            attach=kind.attach,
            sleepable=kind.sleepable,
            insns=bytes(out),
            func_info=self._func_info(funcs),
            line_info=self._line_info(funcs),
            license=self.license,
        )

    def _func_info(self, funcs: list[tuple[_Func, int]]) -> dict[int, FuncInfo]:
        out: dict[int, FuncInfo] = {}
        if self.ext is None or self.btf is None:
            return out
        for f, pos in funcs:
            for rec in self.ext.func_info.get(f.section.name, ()):
                if f.start * 8 <= rec.insn_off < f.end * 8 and not rec.insn_off % 8:
                    name = self.btf.types[rec.type_id].name
                    out[pos + rec.insn_off // 8 - f.start] = FuncInfo(name, rec.type_id)
        return dict(sorted(out.items()))

    def _line_info(self, funcs: list[tuple[_Func, int]]) -> dict[int, LineInfo]:
        out: dict[int, LineInfo] = {}
        if self.ext is None:
            return out
        for f, pos in funcs:
            for rec in self.ext.line_info.get(f.section.name, ()):
                if f.start * 8 <= rec.insn_off < f.end * 8 and not rec.insn_off % 8:
                    out[pos + rec.insn_off // 8 - f.start] = LineInfo(
                        rec.file, rec.line, rec.column, rec.text
                    )
        return dict(sorted(out.items()))


def _data_kind(s: _Section) -> str | None:
    """libbpf's global data sections: .data*, .rodata* (PROGBITS) and .bss* (NOBITS)."""

    def named(prefix: str) -> bool:
        return s.name == prefix or s.name.startswith(prefix + ".")

    if s.type == "SHT_PROGBITS" and not s.flags & SHF_EXECINSTR:
        if named(".data"):
            return "data"
        if named(".rodata"):
            return "rodata"
    if s.type == "SHT_NOBITS" and named(".bss"):
        return "bss"
    return None


def _cstring(table: bytes, off: int, what: str) -> str:
    if off >= len(table):
        raise _err(
            f"{what}: string offset {off} is outside its string table ({len(table)} bytes);"
            f" {_REBUILD}"
        )
    end = table.find(b"\0", off)
    return table[off : end if end >= 0 else len(table)].decode("utf-8", errors="replace")


__all__ = ["ElfError", "MapSpec", "ObjectSpec", "ProgramSpec", "load_spec"]
