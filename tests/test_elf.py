"""Loading the committed test objects into specs, checked against their C sources.

Expected values are written down from tests/bpf/*.bpf.c (and, for map order, flags
and relocation targets, from libbpf's own debug log of the same objects:
``bpftool -d gen skeleton X.bpf.o``); relocations are checked by running the loaded
programs on both engines with hand-made map bindings.
"""

from __future__ import annotations

import contextlib
import io
import struct

import pytest
from elftools.elf.elffile import ELFFile
from elfutil import OBJECTS, Bound, bpftool_dump, obj, section, section_header, symbol_offset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpftime
from bpftime import opcodes as o
from bpftime.elf import load_spec
from bpftime.errors import ElfError
from bpftime.insn import validate
from bpftime.sections import parse_section

_SLOT = struct.Struct("<BBhi")


def insns(code: bytes) -> list[tuple[int, int, int, int, int]]:
    """(opcode, dst, src, off, imm) per slot."""
    out = []
    for i in range(0, len(code), 8):
        opcode, regs, off, imm = _SLOT.unpack_from(code, i)
        out.append((opcode, regs & 0xF, regs >> 4, off, imm))
    return out


def lddws(code: bytes) -> dict[int, tuple[int, int, int]]:
    """slot -> (src, imm of the first half, imm of the second half) of each lddw."""
    s = insns(code)
    return {i: (x[2], x[4], s[i + 1][4]) for i, x in enumerate(s) if x[0] == o.LDDW}


def calls(code: bytes) -> dict[int, tuple[int, int]]:
    """slot -> (src, imm) of each call."""
    return {i: (x[2], x[4]) for i, x in enumerate(insns(code)) if x[0] == o.CLS_JMP | o.CALL}


# -- maps ----------------------------------------------------------------------------

MAPS = load_spec(obj("maps"))

# name, type, key_size, value_size, max_entries, flags, map_extra (maps.bpf.c; order and
# flags as libbpf logs them, except bloom_ulong, which libbpf 1.1 does not know yet)
MAP_TABLE = [
    ("inner_a", 2, 4, 4, 4, 0, 0),
    ("inner_b", 2, 4, 4, 4, 0, 0),
    ("outer", 12, 4, 4, 3, 0, 0),
    ("jmp", 3, 4, 4, 4, 0, 0),
    ("counts", 1, 8, 8, 1024, 1, 0),
    ("percpu", 5, 4, 8, 64, 0, 0),
    ("rb", 27, 0, 0, 4096, 0, 0),
    ("events_arr", 2, 4, 32, 8, 0, 0),
    ("lru", 9, 8, 24, 16, 0, 0),
    ("perf", 4, 4, 4, 0, 0, 0),
    ("queue", 22, 0, 4, 32, 0, 0),
    ("bloom", 30, 0, 8, 100, 0, 3),
    ("bloom_ulong", 30, 0, 4, 10, 0, 5),  # map_extra as libbpf 1.3's __ulong (an enum)
]


def test_btf_maps():
    got = [
        (m.name, m.type, m.key_size, m.value_size, m.max_entries, m.flags, m.map_extra)
        for m in MAPS.maps
    ]
    assert got == MAP_TABLE
    assert all(m.section == ".maps" and m.data is None and not m.readonly for m in MAPS.maps)
    assert MAPS.map("bloom").type_name == "BLOOM_FILTER"


@pytest.mark.parametrize(
    "name, key, value",
    [
        ("counts", "struct key2", "unsigned long long"),
        ("events_arr", "unsigned int", "struct event"),
        ("percpu", "int", "long"),
        ("jmp", "__u32", None),
        ("lru", None, None),
        ("rb", None, None),
        ("queue", None, "unsigned int"),
    ],
)
def test_map_btf_types(name, key, value):
    m = MAPS.map(name)
    fmt = MAPS.btf.format
    assert (fmt(m.key_type_id) if m.key_type_id else None) == key
    assert (fmt(m.value_type_id) if m.value_type_id else None) == value


def test_map_in_map_and_prog_array_initialisers():
    outer = MAPS.map("outer")
    assert outer.inner is not None
    inner = outer.inner
    assert (inner.name, inner.type, inner.key_size, inner.value_size, inner.max_entries) == (
        "outer.inner",
        2,
        4,
        4,
        4,
    )
    assert outer.init_values == {0: "inner_a", 2: "inner_b"}
    assert MAPS.map("jmp").init_values == {1: "tail_one", 3: "tail_two"}
    assert MAPS.map("counts").init_values == {}


def test_map_names_match_bpftool():
    dump = bpftool_dump(obj("maps"))
    maps_sec = next(d for d in dump if d.kind == "DATASEC" and d.name == ".maps")
    var_names = {d.id: d.name for d in dump if d.kind == "VAR"}
    assert {var_names[int(i["type_id"])] for i in maps_sec.items} == {m.name for m in MAPS.maps}


def test_map_relocations():
    # libbpf: insn #14, #24 counts (map 4), #32 percpu (5), #38 outer (2), #46 rb (6), #68 jmp (3)
    code = MAPS.programs["dispatch"].insns
    refs = {i: v for i, v in lddws(code).items() if v[0]}  # src 0: a plain constant
    assert refs == {
        14: (5, 4, 0),
        24: (5, 4, 0),
        32: (5, 5, 0),
        38: (5, 2, 0),
        46: (5, 6, 0),
        68: (5, 3, 0),
    }
    helpers = {imm for src, imm in calls(code).values() if src == 0}
    # lookup, update, tail_call, ktime_get_ns, get_current_pid_tgid, get_current_comm,
    # ringbuf_reserve, ringbuf_submit
    assert helpers == {1, 2, 12, 5, 14, 16, 131, 132}


def test_ringbuf_event_struct_decodes():
    btf = MAPS.btf
    (event,) = btf.find("event")
    raw = struct.pack("<iI16sQ", 42, 3, b"bash", 123456789)
    assert btf.decode(event, raw) == {"pid": 42, "flags": 3, "comm": "bash", "ts": 123456789}


def test_legacy_maps():
    spec = load_spec(obj("legacy"))
    got = [
        (m.name, m.type, m.key_size, m.value_size, m.max_entries, m.flags, m.section)
        for m in spec.maps
    ]
    assert got == [
        ("legacy_hash", 1, 4, 8, 128, 0, "maps"),
        ("legacy_array", 2, 4, 16, 2, 1024, "maps"),
    ]
    code = spec.programs["count"].insns
    assert lddws(code) == {4: (5, 0, 0), 9: (5, 1, 0)}
    assert spec.license == "GPL"


# -- global data ---------------------------------------------------------------------

GLOBALS_DATA = struct.pack("<i4x4qi", 5, 1, 2, 3, 4, 100)  # counter, history, calls
GLOBALS_RODATA = struct.pack("<iiB8s3x", 3, 2, 1, b"abc") + b"hits=%u counter=%d\0"


def test_global_data_maps():
    spec = load_spec(obj("globals"))
    got = [
        (m.name, m.type, m.key_size, m.value_size, m.max_entries, m.flags, m.readonly)
        for m in spec.maps
    ]
    # flags as libbpf sets them: BPF_F_MMAPABLE, plus BPF_F_RDONLY_PROG for .rodata*
    assert got == [
        (".data", 2, 4, 44, 1, 0x400, False),
        (".rodata", 2, 4, 39, 1, 0x480, True),
        (".data.custom", 2, 4, 4, 1, 0x400, False),
        (".bss", 2, 4, 4, 1, 0x400, False),
        (".rodata.str1.1", 2, 4, 9, 1, 0x480, True),
    ]
    data = [m.data for m in spec.maps]
    assert data == [GLOBALS_DATA, GLOBALS_RODATA, struct.pack("<i", 42), bytes(4), b"literal\n\0"]
    fmt = spec.btf.format
    assert [fmt(m.value_type_id) if m.value_type_id else None for m in spec.maps] == [
        "section .data",
        "section .rodata",
        "section .data.custom",
        "section .bss",
        None,
    ]


def test_globals_by_name():
    spec = load_spec(obj("globals"))
    assert spec.globals == [
        "counter",
        "history",
        "calls",
        "knob",
        "cfg",
        "printer.____fmt",
        "custom",
        "hits",
    ]
    assert spec.get_global("counter") == 5
    assert spec.get_global("history") == [1, 2, 3, 4]
    assert spec.get_global("cfg") == {"scale": 2, "mode": 1, "name": "abc"}
    assert spec.get_global("printer.____fmt") == "hits=%u counter=%d"
    assert spec.get_global("hits") == 0


def run(spec, name, engine, mem=b"", helpers=None):
    bound = Bound(spec)
    prog = bpftime.Program(
        spec.programs[name].insns, engine=engine, maps=bound.bindings, helpers=helpers or {}
    )
    return prog.run(mem), bound


def test_compute_runs_with_relocated_globals(engine):
    spec = load_spec(obj("globals"))
    # counter 5 -> 6; r = scale(6) + scale(7) = (6*2+3) + (7*2+3) = 32; hits = 32 + 3;
    # history[3] = 32; scale ran twice: calls 102; custom = 42 + 102; return 32 + mode 1
    r0, bound = run(spec, "compute", engine)
    assert r0 == 33
    assert bound.raw(0) == struct.pack("<i4x4qi", 6, 1, 2, 3, 32, 102)
    assert bound.raw(1) == GLOBALS_RODATA
    assert bound.raw(2) == struct.pack("<i", 144)
    assert bound.raw(3) == struct.pack("<I", 35)


@pytest.mark.parametrize(
    "name, value, r0",
    [
        ("knob", 10, 47),  # (12 + 10) + (14 + 10) + 1
        ("cfg", {"scale": 5, "mode": 2, "name": "xyz"}, 73),  # (30 + 3) + (35 + 3) + 2
        ("counter", 0, 1 * 2 + 3 + 2 * 2 + 3 + 1),
        ("knob", b"\x01\x00\x00\x00", 12 + 1 + 14 + 1 + 1),
    ],
)
def test_set_global_before_running(engine, name, value, r0):
    spec = load_spec(obj("globals"))
    spec.set_global(name, value)
    assert spec.get_global(name) == (value if not isinstance(value, bytes) else 1)
    assert run(spec, "compute", engine)[0] == r0


def test_set_global_leaves_neighbours_alone():
    spec = load_spec(obj("globals"))
    spec.set_global("history", [10, 20])
    assert spec.map(".data").data == struct.pack("<i4x4qi", 5, 10, 20, 0, 0, 100)
    spec.set_global("hits", 7)
    assert spec.map(".bss").data == struct.pack("<I", 7)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("nope", 1, "no global variable 'nope'"),
        ("knob", b"\x01", "is 4 bytes; got 1 bytes"),
        ("knob", 1 << 40, "does not fit in 32 bits"),
        ("cfg", {"colour": 1}, "has no member 'colour'"),
        ("cfg", 3, "expected a dict"),
    ],
)
def test_set_global_errors(name, value, message):
    spec = load_spec(obj("globals"))
    with pytest.raises(ElfError, match=message):
        spec.set_global(name, value)


def test_subprograms_are_appended_and_calls_relative():
    spec = load_spec(obj("globals"))
    compute = spec.programs["compute"]
    assert {i: f.name for i, f in compute.func_info.items()} == {
        0: "compute",
        31: "twice_scaled",
        39: "scale",
    }
    cs = calls(compute.insns)
    # compute calls twice_scaled; twice_scaled calls scale twice
    assert {i: i + 1 + imm for i, (src, imm) in cs.items() if src == 1} == {5: 31, 32: 39, 36: 39}
    assert len(compute.insns) // 8 == 31 + 8 + 14


def test_bpf_loop_callback_is_a_function_pointer():
    looper = load_spec(obj("globals")).programs["looper"]
    names = {i: f.name for i, f in looper.func_info.items()}
    assert names == {0: "looper", 14: "add_index", 19: "scale"}
    funcs = {i: v for i, v in lddws(looper.insns).items() if v[0] == o.PSEUDO_FUNC}
    assert list(funcs) == [5]
    _, imm, hi = funcs[5]
    assert (5 + 1 + imm, hi) == (14, 0)
    assert calls(looper.insns) == {8: (0, 181), 11: (1, 7)}  # bpf_loop; scale at 11 + 1 + 7


def test_printk_reads_its_format_from_rodata():
    printer = load_spec(obj("globals")).programs["printer"]
    # .rodata is map 1 (the format string is at 20), .rodata.str1.1 map 4
    assert lddws(printer.insns) == {0: (6, 0, 0), 3: (6, 3, 0), 6: (6, 1, 20), 10: (6, 4, 0)}
    assert calls(printer.insns) == {9: (0, 6), 13: (0, 6)}  # bpf_trace_printk


def test_line_info():
    compute = load_spec(obj("globals")).programs["compute"]
    first = compute.line_info[0]
    assert (first.file, first.line, first.column, first.text) == (
        "./globals.bpf.c",
        38,
        10,
        "\tcounter += 1;",
    )
    assert compute.line_info[31].text == "static __noinline int twice_scaled(int x)"
    assert compute.line_info[39].line == 24  # scale(): "calls += 1;"


# -- programs ------------------------------------------------------------------------

# name -> (section, kind, attach, sleepable), in source order
PROBES = {
    "first_in_section": ("uprobe", "uprobe", (), False),
    "second_in_section": ("uprobe", "uprobe", (), False),
    "on_malloc": (
        "uprobe//usr/lib/libc.so.6:malloc",
        "uprobe",
        ("/usr/lib/libc.so.6", "malloc", 0),
        False,
    ),
    "on_parse_off": ("uprobe/./app:parse+0x10", "uprobe", ("./app", "parse", 16), False),
    "on_parse_ret": ("uretprobe/./app:parse", "uretprobe", ("./app", "parse", 0), False),
    "sleepable": ("uprobe.s/./app:0x1234", "uprobe", ("./app", 0x1234, 0), True),
    "on_usdt": ("usdt/./app:myprov:probe1", "usdt", ("./app", "myprov", "probe1"), False),
    "on_openat": (
        "tracepoint/syscalls/sys_enter_openat",
        "tracepoint",
        ("syscalls", "sys_enter_openat"),
        False,
    ),
    "on_raw": ("raw_tp/sys_exit", "raw_tracepoint", ("sys_exit",), False),
    "on_xdp": ("xdp", "xdp", (), False),
    "on_tc": ("tc", "tc", (), False),
    "on_perf": ("perf_event", "perf_event", (), False),
    "on_socket": ("socket", "socket", (), False),
}


def test_program_kinds_and_attach_targets():
    spec = load_spec(obj("probes"))
    assert list(spec.programs) == list(PROBES)
    for name, p in spec.programs.items():
        assert (p.section, p.kind, p.attach, p.sleepable) == PROBES[name]
        assert p.license == "GPL"


def test_several_programs_in_one_section_run():
    spec = load_spec(obj("probes"))
    first = spec.programs["first_in_section"]
    # global_helper(1) - 2: a call to a global function in .text, through its symbol
    assert {i: f.name for i, f in first.func_info.items()} == {
        0: "first_in_section",
        4: "global_helper",
    }
    assert calls(first.insns) == {1: (1, 2)}
    assert bpftime.Program(first.insns).run() == 1
    assert bpftime.Program(spec.programs["second_in_section"].insns).run() == 2
    assert load_spec(obj("maps")).license == "Dual BSD/GPL"


def _text_symbols(path) -> set[str]:
    elf = ELFFile(io.BytesIO(path.read_bytes()))
    text = next(i for i, sec in enumerate(elf.iter_sections()) if sec.name == ".text")
    return {
        sym.name
        for sym in elf.get_section_by_name(".symtab").iter_symbols()
        if sym["st_shndx"] == text
    }


# objects made to fail (checked below) and the one that needs another object's BTF
_LOADABLE = [
    p
    for p in OBJECTS
    if p.name.split(".")[0] not in ("core_bad", "kprobe", "extern", "core_local", "kconfig")
]


@pytest.mark.parametrize("path", _LOADABLE, ids=lambda p: p.name)
def test_programs_match_bpftool_global_functions(path):
    """Programs are the global functions (bpftool) outside .text (the ELF symbols)."""
    spec = load_spec(path, arch="aarch64" if "arm64" in path.name else "x86_64")
    dump = bpftool_dump(path)
    funcs = {d.name for d in dump if d.kind == "FUNC" and d.attrs["linkage"] == "global"}
    assert set(spec.programs) == funcs - _text_symbols(path)


@pytest.mark.parametrize(
    "section, kind, attach, sleepable",
    [
        ("uprobe.s", "uprobe", (), True),
        ("uretprobe.s/./a:f", "uretprobe", ("./a", "f", 0), True),
        ("uprobe/./a:f+bar", "uprobe", ("./a", "f+bar", 0), False),
        ("uprobe/./a:0x10+8", "uprobe", ("./a", 0x10, 8), False),
        ("usdt.s/./a:p:n", "usdt", ("./a", "p", "n"), True),
        ("usdt", "usdt", (), False),
        ("tp/sched/sched_switch", "tracepoint", ("sched", "sched_switch"), False),
        ("tracepoint", "tracepoint", (), False),
        ("raw_tracepoint/sys_enter", "raw_tracepoint", ("sys_enter",), False),
        ("tc/ingress", "tc", ("ingress",), False),
        ("tcx/egress", "tc", ("egress",), False),
        ("classifier", "tc", (), False),
        ("xdp.frags", "xdp", (), False),
        ("syscall", "syscall", (), True),
    ],
)
def test_section_names(section, kind, attach, sleepable):
    k = parse_section(section, "p")
    assert (k.kind, k.attach, k.sleepable) == (kind, attach, sleepable)


@pytest.mark.parametrize(
    "section, message",
    [
        ("kprobe/do_sys_open", "'kprobe' is a kernel attach type, not supported in userspace"),
        ("kretprobe", "'kretprobe' is a kernel attach type"),
        ("fentry/vfs_read", "'fentry' is a kernel attach type"),
        ("fexit.s/x", "'fexit.s' is a kernel attach type"),
        ("lsm/file_open", "'lsm' is a kernel attach type"),
        ("iter/task", "'iter' is a kernel attach type"),
        ("cgroup/connect4", "'cgroup/connect4' is a kernel attach type"),
        ("raw_tp.w/x", "'raw_tp.w' is a kernel attach type"),
        ("uprobe.multi/./a:f*", "'uprobe.multi' is not supported by bpftime"),
        ("socket/x", "unknown section name"),
        ("xdpfoo", "unknown section name"),
        ("uprobe/./a", "expected <kind>/<binary>:<function>"),
        ("uretprobe/./a:f+8", "uretprobes do not support an offset"),
        ("usdt/./a:p", "expected usdt/<binary>:<provider>:<name>"),
        ("tp/syscalls", "expected tracepoint/<category>/<name>"),
    ],
)
def test_section_name_errors(section, message):
    with pytest.raises(ElfError, match=message) as e:
        parse_section(section, "prog")
    assert f"program 'prog' in section '{section}'" in str(e.value)
    assert e.value.section == section


def test_kprobe_object_is_refused():
    with pytest.raises(ElfError) as e:
        load_spec(obj("kprobe"))
    assert str(e.value).startswith(
        "program 'kernel_only' in section 'kprobe/do_sys_openat2': 'kprobe' is a kernel attach"
        " type, not supported in userspace"
    )
    assert e.value.section == "kprobe/do_sys_openat2"


def test_kconfig_extern_becomes_a_map_value():
    # tests/test_kconfig.py checks the values; here: the load becomes a .kconfig map load
    spec = load_spec(obj("extern"))
    (kmap,) = [m for m in spec.maps if m.name == ".kconfig"]
    assert (kmap.type, kmap.key_size, kmap.value_size, kmap.readonly) == (2, 4, 8, True)
    insns = spec.programs["uses_extern"].insns
    at = next(i for i in range(0, len(insns), 8) if insns[i] == 0x18)
    lddw = insns[at : at + 16]
    assert lddw[1] >> 4 == 6  # BPF_PSEUDO_MAP_IDX_VALUE: map index in imm, offset in imm2
    assert struct.unpack_from("<i", lddw, 4)[0] == spec.maps.index(kmap)
    assert struct.unpack_from("<i", lddw, 12)[0] == 0


def test_spec_is_deterministic_and_bytes_equal_path():
    a = load_spec(obj("globals"))
    b = load_spec(obj("globals").read_bytes())
    assert a.maps == b.maps
    assert a.programs == b.programs


def test_unknown_map_name():
    with pytest.raises(ElfError, match="no map named 'x' in the object"):
        MAPS.map("x")


# -- bad input -----------------------------------------------------------------------


def patched(name: str, edits: dict[int, bytes]) -> bytes:
    data = bytearray(obj(name).read_bytes())
    for off, raw in edits.items():
        data[off : off + len(raw)] = raw
    return bytes(data)


def _rel_entry(name: str, rel: str, index: int) -> int:
    return section_header(obj(name).read_bytes(), rel)[2] + 16 * index


def _bad_inputs():
    g = obj("globals").read_bytes()
    rel0 = _rel_entry("globals", ".relsyscall", 0)
    _, sym_hdr = symbol_offset(g, "counter")
    _, btf_hdr, btf_off = section_header(g, ".BTF")
    m = obj("maps").read_bytes()
    _, _, mbtf = section_header(m, ".BTF")
    rb_type = _find_array_nelems(section(obj("maps"), ".BTF"), 27)
    _, legacy_sym = symbol_offset(obj("legacy").read_bytes(), "legacy_hash")
    _, _, legacy_data = section_header(obj("legacy").read_bytes(), "maps")
    return [
        ("empty", b"", None, "not an ELF file"),
        ("text", b"hello world" * 10, None, "not an ELF file"),
        ("class32", patched("globals", {4: b"\x01"}), None, "not 64-bit"),
        ("bigendian", patched("globals", {5: b"\x02"}), None, "is big-endian"),
        (
            "machine",
            patched("globals", {18: struct.pack("<H", 62)}),
            None,
            r"ELF machine is EM_X86_64 \(62\), not EM_BPF",
        ),
        ("exec", patched("globals", {16: struct.pack("<H", 2)}), None, "not a relocatable object"),
        ("truncated", g[: len(g) // 2], None, "runs past the end of the file"),
        (
            "shoff",
            patched("globals", {0x28: struct.pack("<Q", 1 << 40)}),
            None,
            "section header table",
        ),
        (
            "reloc symbol",
            patched("globals", {rel0 + 8: struct.pack("<II", 1, 999)}),
            ".relsyscall",
            "relocation #0 refers to symbol #999, which does not exist",
        ),
        (
            "reloc offset",
            patched("globals", {rel0: struct.pack("<Q", 0x10000)}),
            ".relsyscall",
            "relocation #0 at 65536 is outside 'syscall'",
        ),
        (
            "reloc type",
            patched("globals", {rel0 + 8: struct.pack("<I", 3)}),
            "syscall",
            "unsupported relocation type 3 for lddw",
        ),
        (
            "reloc insn",
            patched("globals", {rel0: struct.pack("<Q", 16)}),
            "syscall",
            "program 'compute' insn 2: relocation against 'counter' on opcode 0x61",
        ),
        (
            "symbol section",
            patched("globals", {sym_hdr + 6: struct.pack("<H", 500)}),
            ".symtab",
            "symbol 'counter' .* is in section #500, which does not exist",
        ),
        ("btf magic", patched("globals", {btf_off: b"\x00\x00"}), ".BTF", "bad magic"),
        (
            "btf section size",
            patched("globals", {btf_hdr + 32: struct.pack("<Q", 1 << 33)}),
            None,
            "runs past the end of the file",
        ),
        (
            "btf map type",
            patched("maps", {mbtf + rb_type: struct.pack("<I", 99)}),
            ".maps",
            "map 'rb' has unknown map type 99",
        ),
        (
            "legacy map type",
            patched("legacy", {legacy_data: struct.pack("<I", 77)}),
            "maps",
            "map 'legacy_hash' has unknown map type 77",
        ),
        (
            "legacy map offset",
            patched("legacy", {legacy_sym + 8: struct.pack("<Q", 100)}),
            ".BTF",
            r"variable 'legacy_hash' \(20 bytes at 100\) is outside section 'maps'",
        ),
    ]


def _find_array_nelems(btf: bytes, nelems: int) -> int:
    """Offset (from the start of .BTF) of the nelems field of the only ARRAY of ``nelems``."""
    hdr_len = struct.unpack_from("<I", btf, 4)[0]
    hits = [
        p + 20
        for p in range(hdr_len, len(btf) - 24, 4)
        if btf[p + 4 : p + 8] == struct.pack("<I", 3 << 24)
        and btf[p + 20 : p + 24] == struct.pack("<I", nelems)
    ]
    assert len(hits) == 1
    return hits[0]


@pytest.mark.parametrize("case", _bad_inputs(), ids=lambda c: c[0])
def test_bad_input(case):
    _, data, section_name, message = case
    with pytest.raises(ElfError, match=message) as e:
        load_spec(data)
    assert e.value.section == section_name


def test_missing_file():
    with pytest.raises(ElfError, match=r"cannot read /nonexistent\.o"):
        load_spec("/nonexistent.o")


def test_maps_without_btf():
    data = obj("maps").read_bytes()
    _, btf_hdr, _ = section_header(data, ".BTF")
    _, ext_hdr, _ = section_header(data, ".BTF.ext")
    _, abbrev_hdr, _ = section_header(data, ".debug_abbrev")
    name = data[abbrev_hdr : abbrev_hdr + 4]  # both now called .debug_abbrev
    bad = bytearray(data)
    bad[btf_hdr : btf_hdr + 4] = name
    bad[ext_hdr : ext_hdr + 4] = name
    with pytest.raises(
        ElfError, match=r"the \.maps section needs BTF, but the object has no \.BTF"
    ):
        load_spec(bytes(bad))


# -- fuzzing: corrupt objects give a spec or an ElfError, never anything else -------

_BLOBS = [(p.name, p.read_bytes()) for p in OBJECTS]


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(range(len(_BLOBS))),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_corrupt_objects_never_crash(which, flips, cut):
    name, blob = _BLOBS[which]
    data = bytearray(blob)
    for where, value in flips:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    try:
        spec = load_spec(bytes(data), arch="aarch64" if "arm64" in name else "x86_64")
    except ElfError:
        return
    for var in spec.globals:  # values of a damaged but loadable object: same rule
        with contextlib.suppress(ElfError):
            spec.set_global(var, spec.get_global(var))


@pytest.mark.parametrize("path", _LOADABLE, ids=lambda p: p.name)
def test_every_program_passes_load_time_validation(path):
    """The relocated forms are the ones the engines accept (bpftime.insn.validate)."""
    spec = load_spec(path, arch="aarch64" if "arm64" in path.name else "x86_64")
    maps = {
        i: bpftime.MapBinding(0x1000 + i, 0x100000 * (i + 1), max(m.value_size, 1))
        for i, m in enumerate(spec.maps)
    }
    for prog in spec.programs.values():
        validate(prog.insns, range(512), maps)
