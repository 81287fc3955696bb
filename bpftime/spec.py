"""What an eBPF ELF object describes, as plain data: ObjectSpec, ProgramSpec, MapSpec.

Owns: the spec records (cilium/ebpf's "spec before object": reading an ELF gives
frozen, deterministic data with no OS access) and the one edit a spec allows before
it is loaded, ``ObjectSpec.set_global`` (initial values of ``.data``/``.rodata``/
``.bss`` variables, e.g. ``const volatile`` configuration knobs).

Does not own: reading ELF (bpftime.elf), creating maps or loading programs (later
stages build live objects from these specs).

Instruction forms in ``ProgramSpec.insns`` (all relocated):

* map reference ``lddw rX, &map``: src 5 (BPF_PSEUDO_MAP_IDX), imm = index in
  ``ObjectSpec.maps``;
* global variable ``lddw rX, &var``: src 6 (BPF_PSEUDO_MAP_IDX_VALUE), imm = index of
  the section's map, second slot's imm = byte offset in its value;
* bpf-to-bpf call: ``call`` with src 1 and imm relative to the next instruction;
* function pointer (bpf_loop / bpf_for_each_map_elem callbacks): lddw src 4 with a
  relative imm; helper calls stay ``call imm`` with src 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .btf import Btf
from .errors import ElfError

# kernel enum bpf_map_type
MAP_TYPES: Mapping[int, str] = {
    1: "HASH",
    2: "ARRAY",
    3: "PROG_ARRAY",
    4: "PERF_EVENT_ARRAY",
    5: "PERCPU_HASH",
    6: "PERCPU_ARRAY",
    7: "STACK_TRACE",
    8: "CGROUP_ARRAY",
    9: "LRU_HASH",
    10: "LRU_PERCPU_HASH",
    11: "LPM_TRIE",
    12: "ARRAY_OF_MAPS",
    13: "HASH_OF_MAPS",
    14: "DEVMAP",
    15: "SOCKMAP",
    16: "CPUMAP",
    17: "XSKMAP",
    18: "SOCKHASH",
    19: "CGROUP_STORAGE",
    20: "REUSEPORT_SOCKARRAY",
    21: "PERCPU_CGROUP_STORAGE",
    22: "QUEUE",
    23: "STACK",
    24: "SK_STORAGE",
    25: "DEVMAP_HASH",
    26: "STRUCT_OPS",
    27: "RINGBUF",
    28: "INODE_STORAGE",
    29: "TASK_STORAGE",
    30: "BLOOM_FILTER",
    31: "USER_RINGBUF",
    32: "CGRP_STORAGE",
    33: "ARENA",
}
MAP_ARRAY = 2
MAP_PROG_ARRAY = 3
MAP_ARRAY_OF_MAPS = 12
MAP_HASH_OF_MAPS = 13


@dataclass(frozen=True)
class MapSpec:
    """A map the object declares.

    ``type`` is the kernel's map type id; ``key_type_id``/``value_type_id`` are BTF
    ids in ``ObjectSpec.btf`` (None without BTF). ``inner`` describes the maps an
    ARRAY_OF_MAPS/HASH_OF_MAPS holds (from ``__array(values, ...)``). ``init_values``
    are libbpf's ``.values = {...}`` initialisers: slot -> program name (PROG_ARRAY)
    or map name (map-in-map). Global data maps (``.data``, ``.rodata``, ``.bss``,
    ``.rodata.str1.1``, ``.data.custom``, ...) are ARRAYs with one entry whose value
    is the section: ``data`` holds its initial bytes (zeros for ``.bss``) and the map
    is named after the section (libbpf names it ``<object>.rodata`` truncated to 15
    characters; a spec has no object name, so the section name is used).
    """

    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    map_extra: int = 0
    key_type_id: int | None = None
    value_type_id: int | None = None
    inner: MapSpec | None = None
    init_values: Mapping[int, str] = field(default_factory=dict)
    data: bytes | None = None
    readonly: bool = False
    section: str = ""

    @property
    def type_name(self) -> str:
        return MAP_TYPES.get(self.type, str(self.type))


@dataclass(frozen=True)
class FuncInfo:
    """BTF func info: a (sub)program starts at this instruction; ``type_id`` is its FUNC."""

    name: str
    type_id: int


@dataclass(frozen=True)
class LineInfo:
    """BTF line info of an instruction: source file, line, column and the line's text."""

    file: str
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class ProgramSpec:
    """An entry program with every subprogram it reaches appended and all relocated.

    ``kind`` and ``attach`` come from the section name (bpftime.sections);
    ``func_info`` and ``line_info`` are keyed by instruction (slot) index in ``insns``.
    """

    name: str
    section: str
    kind: str
    attach: tuple[str | int | None, ...]
    sleepable: bool
    insns: bytes
    func_info: Mapping[int, FuncInfo]
    line_info: Mapping[int, LineInfo]
    license: str


@dataclass(frozen=True)
class GlobalVar:
    """Where a global variable lives: ``offset`` bytes into map ``map_index``'s value."""

    name: str
    map_index: int
    offset: int
    size: int
    type_id: int


class ObjectSpec:
    """Everything an ELF object declares: programs, maps, BTF, license and globals.

    ``maps`` is ordered: the pseudo map index in an ``lddw`` is a position in it.
    """

    def __init__(
        self,
        programs: Mapping[str, ProgramSpec],
        maps: list[MapSpec],
        btf: Btf | None,
        license: str,
        variables: list[GlobalVar],
    ) -> None:
        self.programs: dict[str, ProgramSpec] = dict(programs)
        self.maps = maps
        self.btf = btf
        self.license = license
        self._vars: dict[str, list[GlobalVar]] = {}
        for v in variables:
            self._vars.setdefault(v.name, []).append(v)

    def __repr__(self) -> str:
        return f"<ObjectSpec programs={list(self.programs)} maps={[m.name for m in self.maps]}>"

    def map(self, name: str) -> MapSpec:
        for m in self.maps:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.maps) or "none"
        raise ElfError(f"no map named '{name}' in the object (maps: {known})")

    @property
    def globals(self) -> list[str]:
        """Names of the variables ``set_global``/``get_global`` accept."""
        return list(self._vars)

    def _var(self, name: str) -> GlobalVar:
        found = self._vars.get(name)
        if not found:
            known = ", ".join(self._vars) or "none"
            raise ElfError(
                f"no global variable '{name}' in .data/.rodata/.bss (variables: {known})"
            )
        if len(found) > 1:
            where = ", ".join(self.maps[v.map_index].name for v in found)
            raise ElfError(f"global variable '{name}' is ambiguous: it is in {where}")
        return found[0]

    def get_global(self, name: str) -> object:
        """The initial value of a global variable, decoded through its BTF type."""
        v = self._var(name)
        data = self.maps[v.map_index].data
        assert self.btf is not None and data is not None  # variables come from BTF + data
        return self.btf.decode(v.type_id, data[v.offset : v.offset + v.size])

    def set_global(self, name: str, value: object) -> None:
        """Set the initial value of a global variable before the object is loaded.

        ``value`` is an int, ``bytes`` of the variable's size, a ``str`` for char
        arrays, a list for arrays or a dict for structs (see ``Btf.encode``). This is
        how ``const volatile`` knobs in ``.rodata`` are configured.
        """
        v = self._var(name)
        assert self.btf is not None
        raw = self.btf.encode(v.type_id, value)
        if len(raw) != v.size:
            raise ElfError(
                f"global variable '{name}' is {v.size} bytes, its BTF type"
                f" {self.btf.format(v.type_id)} {len(raw)}; the object is inconsistent"
            )
        m = self.maps[v.map_index]
        old = m.data or bytes(m.value_size)
        self.maps[v.map_index] = replace(m, data=old[: v.offset] + raw + old[v.offset + v.size :])
