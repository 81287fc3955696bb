"""Loading an ELF object into live programs and maps: ``bpftime.load(path)``.

Owns the step from an ObjectSpec (bpftime.elf: plain data) to live objects: a
shared-memory segment holding every map (bpftime._maps), global-data maps filled
with their sections, ``rodata`` settings applied before anything is created,
programs bound to their maps and to the kernel helpers, PROG_ARRAY and
map-in-map initial values, and the bpf_printk trace ring. Also reopening a
segment from another process (``open_segment``).

Does not own: ELF/BTF parsing, the map implementations, the engines.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import elf
from ._maps import Segment
from ._program import Program, kernel_helpers
from .errors import BpftimeError, LoadError, MapError
from .insn import MapBinding
from .maps import ARRAY_TYPES, Map
from .verify_spec import verify_spec

BT_F_RDONLY_PROG = 1 << 7
OF_MAPS = {12, 13}
PROG_ARRAY = 3
PERF_EVENT_ARRAY = 4
DEFAULT_SEGMENT_SIZE = 64 << 20


@dataclass(frozen=True)
class UprobeSpec:
    """A uprobe requested with ``BpfObject.attach_uprobe``: program, binary, where."""

    program: str
    binary: str
    symbol: str | None
    offset: int
    retprobe: bool
    replace: bool = False  # attach_ureplace: the program runs instead of the function


@dataclass(frozen=True)
class UsdtSpec:
    """A USDT probe requested with ``BpfObject.attach_usdt``: program, binary, probe and
    the cookie ``bpf_usdt_cookie`` returns."""

    program: str
    binary: str
    provider: str
    name: str
    cookie: int


class BpfObject:
    """Programs and maps of one loaded object, sharing one segment.

    ``obj.programs[name]`` are ``bpftime.Program``; ``obj.maps[name]`` and
    ``obj[name]`` are dict-like ``bpftime.maps.Map``. Use as a context manager (or
    call ``close()``) to release the segment.
    """

    def __init__(self, spec: Any, segment: Any, maps: dict[str, Map],
                 programs: dict[str, Program],
                 bindings: dict[int, MapBinding] | None = None) -> None:  # fmt: skip
        self.spec = spec
        # what each map index of the programs' lddw becomes, in this process
        self.bindings: dict[int, MapBinding] = bindings or {}
        self.segment = segment
        self.maps = maps
        self.programs = programs
        self.uprobes: list[UprobeSpec] = []
        self.tracepoints: list[tuple[str, str, str]] = []  # attach_tracepoint: program, tp
        self.usdts: list[UsdtSpec] = []

    @property
    def shm_name(self) -> str:
        return str(self.segment.name)

    def __getitem__(self, name: str) -> Map:
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError(f"no map {name!r}; maps: {', '.join(self.maps) or 'none'}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.maps

    def __iter__(self) -> Iterator[str]:
        return iter(self.maps)

    def __enter__(self) -> BpfObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the segment (unlinking its name if this object created it)."""
        if self.segment is not None:
            self.segment.__exit__(None, None, None)  # closes, and unlinks what we created
            self.segment = None

    def globals(self, section: str = ".bss") -> Any:
        """The global variables of a data section (.data, .rodata, .bss) as {name: value}."""
        if section not in self.maps:
            have = ", ".join(n for n in self.maps if n.startswith(".")) or "none"
            raise KeyError(f"no global data section {section!r}; have: {have}")
        return self.maps[section][0]

    # --- uprobes by hand (bcc's names); bpftime.spawn / bpftime.attach install them
    def attach_uprobe(self, name: str = "", sym: str = "", fn_name: str = "",
                      addr: int | None = None, sym_off: int = 0,
                      retprobe: bool = False, replace: bool = False) -> None:  # fmt: skip
        """Run program ``fn_name`` at ``name:sym+sym_off`` (or at file offset ``addr``)
        of binary ``name`` in the processes that ``bpftime.spawn``/``bpftime.attach``
        trace with this object, besides the programs whose sections name a target."""
        if fn_name not in self.programs:
            raise KeyError(f"no program {fn_name!r}; programs: {', '.join(self.programs)}")
        if not name or (not sym and addr is None):
            raise ValueError("attach_uprobe needs name (the binary) and sym or addr")
        symbol, offset = (sym, sym_off) if sym else (None, int(addr or 0) + sym_off)
        self.uprobes.append(UprobeSpec(fn_name, name, symbol, offset, retprobe, replace))

    def attach_uretprobe(self, name: str = "", sym: str = "", fn_name: str = "",
                         addr: int | None = None) -> None:  # fmt: skip
        """``attach_uprobe`` for the function's return."""
        self.attach_uprobe(name, sym, fn_name, addr, 0, retprobe=True)

    def attach_tracepoint(self, tp: str = "", fn_name: str = "") -> None:
        """Run program ``fn_name`` on tracepoint ``tp`` (bcc's ``"category:name"``, e.g.
        ``"syscalls:sys_enter_openat"`` or ``"raw_syscalls:sys_exit"``; ``/`` also
        separates) in the processes ``bpftime.spawn``/``bpftime.attach`` trace."""
        if fn_name not in self.programs:
            raise KeyError(f"no program {fn_name!r}; programs: {', '.join(self.programs)}")
        category, sep, name = tp.replace("/", ":").partition(":")
        if not sep or not category or not name:
            raise ValueError(f"tracepoint {tp!r}: expected category:name, e.g. "
                             "syscalls:sys_enter_openat")  # fmt: skip
        self.tracepoints.append((fn_name, category, name))

    def attach_ureplace(self, name: str = "", sym: str = "", fn_name: str = "",
                        addr: int | None = None) -> None:  # fmt: skip
        """Run program ``fn_name`` instead of function ``name:sym`` (or the one at file
        offset ``addr``): the function does not run and returns the program's return
        value, as bpftime's UREPLACE (``SEC("ureplace/<binary>:<function>")``) does."""
        self.attach_uprobe(name, sym, fn_name, addr, 0, replace=True)

    def attach_usdt(self, name: str = "", probe: str = "", fn_name: str = "",
                    provider: str = "", cookie: int = 0) -> None:  # fmt: skip
        """Run program ``fn_name`` at every site of USDT probe ``provider:probe`` of binary
        ``name`` (``probe`` may also be ``"provider:probe"``), as ``usdt/`` sections do;
        ``bpf_usdt_cookie`` returns ``cookie`` there. Installed by ``bpftime.spawn`` /
        ``bpftime.attach``, like ``attach_uprobe``."""
        if fn_name not in self.programs:
            raise KeyError(f"no program {fn_name!r}; programs: {', '.join(self.programs)}")
        if not provider and probe.count(":") == 1:
            provider, probe = probe.split(":")
        if not name or not provider or not probe or ":" in probe:
            raise ValueError("attach_usdt needs name (the binary), provider and probe "
                             "(or probe='provider:probe')")  # fmt: skip
        self.usdts.append(UsdtSpec(fn_name, name, provider, probe, cookie))

    # --- bpf_printk output
    def trace_lines(self) -> list[str]:
        """Lines bpf_printk wrote since the last call (``comm-pid [cpu] ts: msg``)."""
        lines: list[str] = []
        self.segment.trace_map.consume(
            lambda data: lines.append(bytes(data).rstrip(b"\0").decode(errors="replace"))
        )
        return lines

    def trace_print(self) -> None:
        """Print pending bpf_printk lines, like bcc's trace_print (without blocking)."""
        for line in self.trace_lines():
            print(line)


def load(path: str | os.PathLike[str] | bytes, rodata: Mapping[str, Any] | None = None,
         engine: str = "jit", shm_name: str | None = None, create: bool = True,
         segment_size: int = DEFAULT_SEGMENT_SIZE,
         unsafe_skip_verifier: bool = False,
         kconfig: Mapping[str, str] | None = None) -> BpfObject:  # fmt: skip
    """Load an eBPF ELF object: create its maps in a new segment and its programs.

    Every program is verified first (``bpftime.verifier``; VerifierError on a
    rejection). ``unsafe_skip_verifier=True`` loads unverified programs, with a
    warning: only for programs that never run inside another process.

    ``rodata`` sets global variables (``const volatile`` knobs in .rodata, or .data/.bss
    variables) by name before anything is created. With ``create=False`` the maps are
    not created but found by name in the existing segment ``shm_name`` (which another
    process loaded the same object into), so several processes share them.
    ``kconfig`` (``{"CONFIG_X": "y"}``) replaces the running kernel's configuration for
    the object's ``__kconfig`` externs.
    """
    spec = elf.load_spec(path, kconfig=kconfig)
    for name, value in (rodata or {}).items():
        spec.set_global(name, value)
    if unsafe_skip_verifier:
        warnings.warn(
            "bpftime.load(unsafe_skip_verifier=True): programs are NOT verified and may crash"
            " or corrupt any process they run in",
            stacklevel=2,
        )
    else:
        verify_spec(spec)
    if not create and not shm_name:
        raise LoadError("create=False needs shm_name: the segment whose maps to reuse")
    seg = Segment(shm_name, segment_size if create else 0, create)
    try:
        return _instantiate(spec, seg, engine, create)
    except BaseException:
        seg.close()
        raise


def _instantiate(spec: Any, seg: Any, engine: str, create: bool) -> BpfObject:
    if create:
        raws = [_create_map(seg, ms) for ms in spec.maps]
    else:
        raws = [_existing_map(seg, ms) for ms in spec.maps]
    bindings: dict[int, MapBinding] = {}
    for idx, (ms, raw) in enumerate(zip(spec.maps, raws, strict=True)):
        value_addr = int(raw.value_addr) if raw.type in ARRAY_TYPES and raw.type == 2 else 0
        bindings[idx] = MapBinding(
            handle=int(raw.handle),
            value_addr=value_addr,
            value_size=ms.value_size * ms.max_entries if value_addr else 0,
            writable=not ms.readonly,
        )
    helpers = kernel_helpers()
    trace = int(seg.trace_map.handle)
    programs: dict[str, Program] = {}
    for name, ps in spec.programs.items():
        try:
            programs[name] = Program(ps.insns, engine=engine, helpers=helpers, maps=bindings,
                                     trace=trace)  # fmt: skip
        except LoadError as exc:
            raise LoadError(f"program {name!r} (section {ps.section}): {exc}", exc.index) from exc
    by_name = {ms.name: raw for ms, raw in zip(spec.maps, raws, strict=True)}
    for ms, raw in zip(spec.maps, raws, strict=True) if create else ():
        for slot, target in sorted(ms.init_values.items()):
            if raw.type == PROG_ARRAY:
                if target not in programs:
                    raise LoadError(f"map {ms.name!r} slot {slot}: no program {target!r}")
                value = programs[target].id
            else:
                if target not in by_name:
                    raise LoadError(f"map {ms.name!r} slot {slot}: no map {target!r}")
                value = by_name[target].id
            raw.update(slot.to_bytes(4, "little"), value.to_bytes(4, "little"), 0)
        if ms.readonly:
            raw.freeze()
    btf = spec.btf
    maps = {
        ms.name: Map(raw, ms.name, btf, ms.key_type_id, ms.value_type_id)
        for ms, raw in zip(spec.maps, raws, strict=True)
    }
    return BpfObject(spec, seg, maps, programs, bindings)


def _create_map(seg: Any, ms: Any) -> Any:
    inner_id = 0
    if ms.type in OF_MAPS:
        if ms.inner is None:
            raise LoadError(f"map {ms.name!r}: a map of maps needs an inner map definition "
                            "(__array(values, ...))")  # fmt: skip
        inner_id = int(_create_map(seg, ms.inner).id)
    flags = ms.flags | (BT_F_RDONLY_PROG if ms.readonly else 0)
    max_entries = ms.max_entries
    if ms.type == PERF_EVENT_ARRAY and max_entries == 0:
        max_entries = int(seg.ncpu)  # libbpf: one slot per possible CPU
    try:
        raw = seg.create_map(ms.type, ms.key_size, ms.value_size, max_entries, flags,
                             ms.map_extra, inner_id, ms.name[:15])  # fmt: skip
    except MapError as exc:
        raise MapError(f"create map {ms.name!r}: {exc}", exc.errno) from exc
    if ms.data is not None:
        raw.update(bytes(4), bytes(ms.data).ljust(ms.value_size, b"\0"), 0)
    return raw


def _existing_map(seg: Any, ms: Any) -> Any:
    for raw in seg.maps():
        if raw.name == ms.name[:15]:
            shape = (raw.type, raw.key_size, raw.value_size, raw.max_entries)
            want = (ms.type, ms.key_size, ms.value_size, ms.max_entries)
            if shape != want:
                raise MapError(
                    f"map {ms.name!r} in segment {seg.name!r} has type/key/value/max_entries "
                    f"{shape}, but the object defines {want}", 22)  # fmt: skip
            return raw
    raise MapError(f"segment {seg.name!r} has no map {ms.name!r}; was the same object loaded "
                   "into it?", 2)  # fmt: skip


def open_segment(name: str, obj: str | os.PathLike[str] | None = None) -> dict[str, Map]:
    """The maps of a segment another process created, by name.

    With the object file they came from, maps are typed by its BTF; otherwise keys
    and values of 1, 2, 4 or 8 bytes read as ints and others as bytes.
    """
    seg = Segment(name, 0, False)
    types: dict[str, Any] = {}
    btf = None
    if obj is not None:
        spec = elf.load_spec(Path(obj))
        btf = spec.btf
        types = {ms.name[:15]: ms for ms in spec.maps}
    out: dict[str, Map] = {}
    trace_id = seg.trace_map.id
    for raw in seg.maps():
        if raw.id == trace_id:
            continue
        ms = types.get(raw.name)
        key_t = ms.key_type_id if ms else None
        val_t = ms.value_type_id if ms else None
        out[ms.name if ms else raw.name] = Map(raw, ms.name if ms else raw.name, btf, key_t, val_t)
    if not out:
        raise BpftimeError(f"segment {name!r} holds no maps")
    return out
