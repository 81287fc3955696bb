"""bpftime.syscalls: the x86_64 syscall table, tracefs format parsing, resolving
``tracepoint/<category>/<name>`` sections, and the context bytes programs read.

Expected numbers and offsets are written down here (from the kernel's
syscall_64.tbl and tracefs formats), never taken from the module. The layout is
also checked against this machine's tracefs formats, read directly, and the
table's numbers against the kernel's own tracepoints (root, bpf).
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

import bpftime
from bpftime import kernel, syscalls
from bpftime.errors import AttachError

OPENSNOOP = REPO / "examples" / "opensnoop" / "opensnoop.bpf.o"
SYSCOUNT = REPO / "examples" / "syscount" / "syscount.bpf.o"
MIXED = REPO / "examples" / "mixed" / "mixed.bpf.o"

NEEDS_TRACEFS = pytest.mark.skipif(syscalls.tracefs_root() is None, reason=syscalls.tracefs_note())

OPENAT_FORMAT = """\
name: sys_enter_openat
ID: 782
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: "dfd: 0x%08lx, filename: 0x%08lx, flags: 0x%08lx, mode: 0x%08lx", ...
"""


@pytest.fixture
def no_tracefs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As on a machine where tracefs is not mounted: the built-in table only."""
    monkeypatch.setattr(syscalls, "TRACEFS_ROOTS", (Path("/nonexistent/tracefs"),))
    syscalls.syscall_table.cache_clear()
    syscalls.read_format.cache_clear()
    yield
    syscalls.syscall_table.cache_clear()
    syscalls.read_format.cache_clear()


# --- tracefs formats ---------------------------------------------------------


def test_parse_format_fields() -> None:
    fmt = syscalls.parse_format(OPENAT_FORMAT)
    assert (fmt.name, fmt.id, fmt.size) == ("sys_enter_openat", 782, 48)
    assert [(f.name, f.type, f.offset, f.size, f.signed) for f in fmt.fields] == [
        ("common_type", "unsigned short", 0, 2, False),
        ("common_flags", "unsigned char", 2, 1, False),
        ("common_preempt_count", "unsigned char", 3, 1, False),
        ("common_pid", "int", 4, 4, True),
        ("__syscall_nr", "int", 8, 4, True),
        ("dfd", "int", 16, 8, False),
        ("filename", "const char *", 24, 8, False),
        ("flags", "int", 32, 8, False),
        ("mode", "umode_t", 40, 8, False),
    ]


def test_parse_format_array_field() -> None:
    text = "name: sys_enter\nID: 443\n\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n"
    (f,) = syscalls.parse_format(text).fields
    assert (f.name, f.type, f.offset, f.size) == ("args", "unsigned long[6]", 16, 48)


@pytest.mark.parametrize("text, where", [
    ("name: x\nformat:\n", "line 1: no 'name:' or 'ID:' line"),
    ("name: x\nID: 7\n\tfield:int a;\toffset:8;\n", "line 3: malformed field line"),
    ("name: x\nID: seven\n", "line 2: bad id"),
])  # fmt: skip
def test_parse_format_rejects_garbage(text: str, where: str) -> None:
    with pytest.raises(AttachError, match=f"tracefs format /x/format {where}"):
        syscalls.parse_format(text, "/x/format")


# --- the table -----------------------------------------------------------------

# (name, nr, tracepoint): from arch/x86/entry/syscalls/syscall_64.tbl
KNOWN = [
    ("read", 0, "read"), ("write", 1, "write"), ("stat", 4, "newstat"),
    ("fstat", 5, "newfstat"), ("lstat", 6, "newlstat"), ("sendfile", 40, "sendfile64"),
    ("uname", 63, "newuname"), ("getppid", 110, "getppid"), ("umount2", 166, "umount"),
    ("set_thread_area", 205, None), ("openat", 257, "openat"), ("rseq", 334, "rseq"),
    ("clone3", 435, "clone3"), ("cachestat", 451, "cachestat"), ("mseal", 462, "mseal"),
    ("file_setattr", 469, "file_setattr"),
]  # fmt: skip


@pytest.mark.parametrize("tracefs", [True, False])
def test_known_numbers(tracefs: bool, request: pytest.FixtureRequest) -> None:
    if not tracefs:
        request.getfixturevalue("no_tracefs")
    table = syscalls.syscall_table()
    for name, nr, tp in KNOWN:
        s = table.by_nr[nr]
        assert (s.name, s.tracepoint) == (name, tp)
        assert table.nr(name) == nr and table.name(nr) == name
        if tp:
            assert table.nr(tp) == nr
    assert table.by_name["openat"].args == ("dfd", "filename", "flags", "mode")
    assert table.by_name["getppid"].args == ()
    with pytest.raises(AttachError, match=r"no system call 'opnat' on x86_64 \(did you mean openat"):
        table.nr("opnat")


def test_builtin_table_is_complete_up_to_rseq() -> None:
    """0..334 are all allocated on x86_64, every one must be in the table."""
    from bpftime import _syscall_table_x86_64 as t

    nrs = [row[0] for row in t.SYSCALLS]
    assert sorted(nrs) == nrs and len(set(nrs)) == len(nrs)
    assert set(range(335)) <= set(nrs)


# --- resolving sections --------------------------------------------------------


def test_resolve_builtin_ids(no_tracefs: None) -> None:
    tp = syscalls.resolve_tracepoint("syscalls", "sys_enter_openat")
    assert (tp.kind, tp.nr, tp.name, tp.ctx_size, tp.nargs) == ("enter", 257, "openat", 64, 4)
    assert (tp.tp_id, tp.id_source) == (0xC000 + 2 * 257, "builtin")
    tp = syscalls.resolve_tracepoint("syscalls", "sys_exit_openat")
    assert (tp.kind, tp.nr, tp.ctx_size, tp.tp_id) == ("exit", 257, 24, 0xC000 + 2 * 257 + 1)
    tp = syscalls.resolve_tracepoint("raw_syscalls", "sys_enter")
    assert (tp.kind, tp.nr, tp.name, tp.ctx_size, tp.nargs) == ("enter", None, None, 64, 6)
    tp = syscalls.resolve_tracepoint("raw_syscalls", "sys_exit")
    assert (tp.kind, tp.nr, tp.ctx_size) == ("exit", None, 24)
    assert tp.section == "tracepoint/raw_syscalls/sys_exit"
    tp = syscalls.resolve_tracepoint("syscalls", "sys_enter_newstat")
    assert (tp.nr, tp.name, tp.nargs) == (4, "stat", 2)


@NEEDS_TRACEFS
def test_resolve_takes_ids_from_tracefs() -> None:
    root = syscalls.tracefs_root()
    assert root is not None
    for cat, name in [("syscalls", "sys_enter_openat"), ("syscalls", "sys_exit_getppid"),
                      ("raw_syscalls", "sys_enter"), ("raw_syscalls", "sys_exit")]:  # fmt: skip
        tp = syscalls.resolve_tracepoint(cat, name)
        assert tp.tp_id == int((root / "events" / cat / name / "id").read_text())
        assert tp.id_source == "tracefs"


@pytest.mark.parametrize("category, name, message", [
    ("sched", "sched_switch", r"tracepoint sched/sched_switch: not a syscall tracepoint; "
     r"kernel tracepoints .* only syscall tracepoints run: tracepoint/syscalls/sys_enter_<name>"),
    ("raw_syscalls", "sys_enter_openat", "raw_syscalls has only sys_enter and sys_exit"),
    ("syscalls", "openat", r"expected sys_enter_<syscall> or sys_exit_<syscall>"),
    ("syscalls", "sys_enter_opnat", r"no system call 'opnat' on x86_64 \(did you mean openat"),
    ("syscalls", "sys_exit_stat", r"the kernel names the tracepoint of stat \(nr 4\) "
     r"sys_exit_newstat; use SEC\(\"tracepoint/syscalls/sys_exit_newstat\"\)"),
    ("syscalls", "sys_enter_set_thread_area", r"no tracepoint for set_thread_area \(nr 205\); "
     r"use tracepoint/raw_syscalls/sys_enter and test the id field against 205"),
])  # fmt: skip
def test_resolve_refuses(category: str, name: str, message: str) -> None:
    with pytest.raises(AttachError, match=message):
        syscalls.resolve_tracepoint(category, name)


def test_resolve_refuses_a_kernel_format_that_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = OPENAT_FORMAT.replace("offset:24;", "offset:28;")
    monkeypatch.setattr(syscalls, "read_format",
                        lambda c, n: syscalls.parse_format(moved))  # fmt: skip
    with pytest.raises(AttachError, match=r"sys_enter_openat: the kernel's format differs .*"
                       r"filename at 28 size 8, expected 24/8"):  # fmt: skip
        syscalls.resolve_tracepoint("syscalls", "sys_enter_openat")


# --- the layout against the kernel's formats -----------------------------------


def _fields(root: Path, cat: str, name: str) -> dict[str, tuple[int, int]]:
    """name -> (offset, size), parsed here without bpftime.syscalls."""
    out = {}
    for line in (root / "events" / cat / name / "format").read_text().splitlines():
        if line.strip().startswith("field:"):
            decl, off, size = (p.split(":", 1)[1] for p in line.strip().split(";")[:3])
            out[decl.split()[-1].split("[")[0].lstrip("*")] = (int(off), int(size))
    return out


HEADER = {"common_type": (0, 2), "common_flags": (2, 1), "common_preempt_count": (3, 1),
          "common_pid": (4, 4)}  # fmt: skip


@NEEDS_TRACEFS
def test_raw_syscalls_formats_match_the_64_and_24_byte_contexts() -> None:
    root = syscalls.tracefs_root()
    assert root is not None
    assert _fields(root, "raw_syscalls", "sys_enter") == {**HEADER, "id": (8, 8), "args": (16, 48)}
    assert _fields(root, "raw_syscalls", "sys_exit") == {**HEADER, "id": (8, 8), "ret": (16, 8)}


@NEEDS_TRACEFS
def test_every_syscall_format_matches_the_layout() -> None:
    root = syscalls.tracefs_root()
    assert root is not None
    events = sorted((root / "events" / "syscalls").glob("sys_e*_*"))
    assert len(events) > 600
    for d in events:
        fields = _fields(root, "syscalls", d.name)
        assert {k: fields.pop(k) for k in HEADER} == HEADER, d.name
        assert fields.pop("__syscall_nr") == (8, 4), d.name
        if d.name.startswith("sys_exit_"):
            assert fields == {"ret": (16, 8)}, d.name
        else:
            assert sorted(fields.values()) == [(16 + 8 * i, 8) for i in range(len(fields))]
            assert len(fields) <= 6
        # and bpftime agrees, through its own parser and resolve_tracepoint
        kind, _, call = d.name.removeprefix("sys_").partition("_")
        fmt = syscalls.read_format("syscalls", d.name)
        assert fmt is not None and syscalls.check_layout(fmt, kind, raw=False) == [], d.name
        tp = syscalls.resolve_tracepoint("syscalls", d.name)
        assert tp.ctx_size == (64 if kind == "enter" else 24)
        assert syscalls.syscall_table().by_tracepoint[call].nr == tp.nr


# --- context bytes -------------------------------------------------------------


def test_enter_context_bytes() -> None:
    ctx = syscalls.enter_context(257, (-100, 0x7FFF0000, 0o1101, 0o600), pid=4242, tp_id=782)
    assert len(ctx) == 64
    assert ctx[:8] == bytes.fromhex("0e030000 92100000")  # type 782, flags 0, pc 0, pid 4242
    assert struct.unpack_from("<q", ctx, 8) == (257,)
    assert struct.unpack_from("<6Q", ctx, 16) == ((1 << 64) - 100, 0x7FFF0000, 577, 384, 0, 0)
    with pytest.raises(ValueError, match="at most 6 arguments"):
        syscalls.enter_context(0, (0,) * 7)


def test_exit_context_bytes() -> None:
    ctx = syscalls.exit_context(257, -2, pid=7, tp_id=781)
    assert ctx == struct.pack("<HBBiqq", 781, 0, 0, 7, 257, -2)
    assert len(ctx) == 24


# --- the examples' programs on our engines, with these contexts ----------------


def test_syscount_counts_on_the_engines(engine: str) -> None:
    with bpftime.load(SYSCOUNT, engine=engine) as obj:
        prog = obj.programs["count_enter"]
        for nr, times in ((110, 3), (257, 2), (1, 1)):
            for _ in range(times):
                assert prog.run(syscalls.enter_context(nr, (1, 2, 3), pid=1)) == 0
        assert dict(obj["syscalls"]) == {110: 3, 257: 2, 1: 1}


def test_opensnoop_event_on_the_engines(engine: str) -> None:
    path = ctypes.create_string_buffer(b"/tmp/bpftime-opensnoop-unit")
    flags = os.O_WRONLY | os.O_CREAT
    with bpftime.load(OPENSNOOP, engine=engine) as obj:
        enter = syscalls.enter_context(257, (-100, ctypes.addressof(path), flags, 0o600))
        assert obj.programs["enter_openat"].run(enter) == 0
        assert len(obj["start"]) == 1
        assert obj.programs["exit_openat"].run(syscalls.exit_context(257, 5)) == 0
        assert len(obj["start"]) == 0
        events: list[dict[str, object]] = []
        obj["events"].consume(events.append, "struct event")
    (e,) = events
    assert (e["fname"], e["flags"], e["ret"]) == ("/tmp/bpftime-opensnoop-unit", flags, 5)
    assert (e["pid"], e["tid"]) == (os.getpid(), threading.get_native_id())


def test_mixed_counts_writes_inside_the_function(engine: str) -> None:
    with bpftime.load(MIXED, engine=engine) as obj:
        write = syscalls.enter_context(1, (1, 0, 10))
        regs = bytes(168)  # struct pt_regs: the uprobe programs do not read it
        obj.programs["count_write"].run(write)
        obj.programs["work_enter"].run(regs)
        obj.programs["count_write"].run(write)
        obj.programs["count_write"].run(syscalls.enter_context(1, (1, 0, 5)))
        obj.programs["work_exit"].run(regs)
        obj.programs["count_write"].run(write)
        assert dict(obj["writes"]) == {0: 2, 1: 2}
        assert dict(obj["work_bytes"]) == {0: 15}


# --- the table against the kernel's tracepoints ----------------------------------

_KOK, _KWHY = kernel.available()

# tracepoint -> (args): calls that are harmless with these arguments (most fail with
# EBADF/EFAULT/ENOENT, which still passes through the tracepoint)
HARMLESS: dict[str, tuple[int, ...]] = {
    "getppid": (), "newuname": (0,), "newstat": (0, 0), "newfstat": (-1, 0),
    "newlstat": (0, 0), "sendfile64": (-1, -1, 0, 0), "umount": (0, 0),
    "cachestat": (-1, 0, 0, 0), "mseal": (0, 0, 0), "fchmodat2": (-1, 0, 0, 0),
    "openat": (-100, 0, 0, 0),
}  # fmt: skip


@pytest.mark.bpf
@pytest.mark.skipif(not _KOK, reason=_KWHY)
@NEEDS_TRACEFS
@pytest.mark.parametrize("tp_name", sorted(HARMLESS))
def test_numbers_agree_with_the_kernel(tp_name: str) -> None:
    """Make syscall(nr) with the table's nr; the kernel's sys_enter_<tp_name> must fire
    and report that nr in __syscall_nr (so name, tracepoint and number agree)."""
    from bpftime import asm
    from bpftime.kernel_object import (
        BPF_PROG_TYPE_TRACEPOINT,
        KernelMap,
        attach_tracepoint,
    )

    nr = syscalls.syscall_table().nr(tp_name)
    tp = syscalls.resolve_tracepoint("syscalls", f"sys_enter_{tp_name}")
    seen = KernelMap(2, 4, 8, 1, name="seen")
    code = asm.assemble(f"""
        mov %r6, %r1
        call 14
        rsh %r0, 32
        jne %r0, {os.getpid()}, out
        ldxw %r7, [%r6+8]
        add %r7, 1000
        stw [%r10-4], 0
        lddw %r1, map_fd {seen.fd}
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, out
        stxdw [%r0+0], %r7
    out:
        mov %r0, 0
        exit
    """)
    with kernel.KernelProgram(code, BPF_PROG_TYPE_TRACEPOINT) as prog:
        link = attach_tracepoint(tp.tp_id, prog.fd)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in HARMLESS[tp_name]))
        finally:
            link.close()
    assert seen.lookup(bytes(4)) == struct.pack("<Q", 1000 + nr)
    seen.close()
