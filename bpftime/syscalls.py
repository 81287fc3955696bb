"""System calls and their tracepoints: the x86_64 syscall table, tracefs formats, and
the context a syscall tracepoint program reads.

Owns:

* the syscall table of the host architecture (x86_64): number <-> name, the name of
  each call's tracepoint (``sys_enter_newstat`` for ``stat``: the kernel names
  tracepoints after the ``SYSCALL_DEFINE``, not after ``__NR_``), and the argument
  names and types. Argument lists come from tracefs when it is readable, else from
  the built-in table ``bpftime._syscall_table_x86_64`` (generated from a kernel's
  tracefs by ``tools/gen_syscall_table.py``). Numbers always come from the built-in
  table: tracefs does not show them.
* tracefs ``format`` parsing (``parse_format``): per tracepoint its id and fields
  (name, type, offset, size, signed);
* ``resolve_tracepoint(category, name)``: what a ``tracepoint/<category>/<name>``
  section means for a runtime that runs the program inside the traced process:
  enter or exit, which syscall (None = every syscall, ``raw_syscalls``), the
  tracepoint id (tracefs's when readable, else a stable number of our own) and the
  context size. Non-syscall tracepoints and unknown syscalls raise AttachError;
* ``enter_context``/``exit_context``: the context bytes, the reference layout for
  the in-process dispatcher and for tests that run programs on the engines.

Context layout (little endian), the kernel's ``struct trace_event_raw_sys_enter`` /
``sys_exit`` and its per-syscall formats::

    0      2     3               4          8                16              64
    +------+-----+---------------+----------+----------------+---- ... ------+
    | type | flg | preempt_count | pid (s32)| nr             | args[0..5] u64|  enter
    +------+-----+---------------+----------+----------------+---- ... ------+
    |         common header (8 bytes)       | nr             | ret (s64)     |  exit (24)

``type`` is the tracepoint id (``common_type``), ``pid`` the thread id
(``common_pid``, the kernel's ``current->pid``). ``nr`` is ``int __syscall_nr`` in
``sys_enter_<name>``/``sys_exit_<name>`` (4 bytes, then 4 bytes of padding) and
``long id`` in ``raw_syscalls``; ``enter_context`` writes it as 8 bytes, which
serves both. A ``sys_enter_<name>`` format lists only that call's arguments (slot
``i`` at offset 16 + 8*i); the context is 64 bytes for every enter tracepoint.

Does not own: hooking syscalls in a process (the agent), attaching programs
(bpftime.uprobe), the verifier's context sizes (bpftime.verifier).
"""

from __future__ import annotations

import difflib
import functools
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from . import _syscall_table_x86_64 as _builtin
from .errors import AttachError

ARCH = "x86_64"
TRACEFS_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))

HEADER_SIZE = 8
NR_OFFSET = 8
ARGS_OFFSET = 16
RET_OFFSET = 16
MAX_ARGS = 6
ENTER_CTX_SIZE = ARGS_OFFSET + 8 * MAX_ARGS  # 64
EXIT_CTX_SIZE = RET_OFFSET + 8  # 24

# the common header every trace event starts with: (name, offset, size, signed)
COMMON_FIELDS = (
    ("common_type", 0, 2, False),
    ("common_flags", 2, 1, False),
    ("common_preempt_count", 3, 1, False),
    ("common_pid", 4, 4, True),
)

# Our own tracepoint ids when tracefs is unreadable: they fill the u16 common_type,
# stay clear of the kernel's (a few thousand at most), and do not depend on the
# order of anything: 0xC000 + 2 * nr (+1 for exit); raw_syscalls below that.
OWN_ID_BASE = 0xC000
OWN_ID_RAW_ENTER = OWN_ID_BASE - 2
OWN_ID_RAW_EXIT = OWN_ID_BASE - 1

SYSCALL_CATEGORIES = ("syscalls", "raw_syscalls")
_SUPPORTED = (
    "tracepoint/syscalls/sys_enter_<name>, tracepoint/syscalls/sys_exit_<name>,"
    " tracepoint/raw_syscalls/sys_enter and tracepoint/raw_syscalls/sys_exit (or tp/...)"
)


# --- tracefs formats ---------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of a tracefs format: ``field:<type> <name>; offset:..; size:..; signed:..;``."""

    name: str
    type: str
    offset: int
    size: int
    signed: bool


@dataclass(frozen=True)
class TracepointFormat:
    """A tracefs ``events/<category>/<name>/format`` file: the event id and its fields
    (the common header included, in file order)."""

    name: str
    id: int
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        known = ", ".join(f.name for f in self.fields)
        raise KeyError(f"tracepoint {self.name} has no field {name!r} (fields: {known})")

    @property
    def size(self) -> int:
        """Bytes up to the end of the last field."""
        return max((f.offset + f.size for f in self.fields), default=0)


def _format_error(where: str, lineno: int, why: str) -> AttachError:
    return AttachError(f"tracefs format {where} line {lineno}: {why}; is this a tracefs "
                       "events/<category>/<name>/format file?")  # fmt: skip


def _parse_field(decl: str, where: str, lineno: int) -> Field:
    # "field:const char * filename;\toffset:24;\tsize:8;\tsigned:0;"
    parts = [p.strip() for p in decl.split(";") if p.strip()]
    attrs: dict[str, str] = {}
    for p in parts[1:]:
        key, sep, value = p.partition(":")
        if sep:
            attrs[key.strip()] = value.strip()
    declaration = parts[0].removeprefix("field:").strip() if parts else ""
    if not declaration or not {"offset", "size", "signed"} <= attrs.keys():
        raise _format_error(where, lineno, f"malformed field line {decl.strip()!r}")
    # the name is the last word; pointers and array bounds stay in the type:
    # "const char * filename" -> "const char *", "unsigned long args[6]" -> "unsigned long[6]"
    head, _, name = declaration.rpartition(" ")
    stars = len(name) - len(name.lstrip("*"))
    name = name.lstrip("*")
    ftype = f"{head} {'*' * stars}" if stars else head
    if "[" in name:
        name, _, bound = name.partition("[")
        ftype = f"{ftype}[{bound}"
    try:
        return Field(name, ftype, int(attrs["offset"]), int(attrs["size"]),
                     attrs["signed"] == "1")  # fmt: skip
    except ValueError as exc:
        raise _format_error(where, lineno, f"bad number in {decl.strip()!r}") from exc


def parse_format(text: str, where: str = "<text>") -> TracepointFormat:
    """Parse a tracefs ``format`` file; AttachError naming ``where`` if it is not one."""
    name, tp_id, fields = "", None, []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("name:"):
            name = s.removeprefix("name:").strip()
        elif s.startswith("ID:"):
            try:
                tp_id = int(s.removeprefix("ID:").strip())
            except ValueError as exc:
                raise _format_error(where, lineno, f"bad id {s!r}") from exc
        elif s.startswith("field:"):
            fields.append(_parse_field(s, where, lineno))
    if tp_id is None or not name:
        raise _format_error(where, 1, "no 'name:' or 'ID:' line")
    return TracepointFormat(name, tp_id, tuple(fields))


def tracefs_root() -> Path | None:
    """The mounted tracefs whose events this process can read, or None."""
    for root in TRACEFS_ROOTS:
        if os.access(root / "events", os.R_OK | os.X_OK) and (root / "events").is_dir():
            return root
    return None


def tracefs_note() -> str:
    """Why tracefs is not readable, for skip reasons and messages."""
    if tracefs_root() is not None:
        return "tracefs is readable"
    return ("tracefs is not readable here (mount it as root: mount -t tracefs nodev "
            "/sys/kernel/tracing)")  # fmt: skip


@functools.cache
def read_format(category: str, name: str, root: Path | None = None) -> TracepointFormat | None:
    """The tracefs format of ``category/name``, or None when tracefs or the event is
    not readable."""
    root = root or tracefs_root()
    if root is None:
        return None
    path = root / "events" / category / name / "format"
    try:
        text = path.read_text()
    except OSError:
        return None
    return parse_format(text, str(path))


# --- the syscall table -------------------------------------------------------


@dataclass(frozen=True)
class Syscall:
    """One system call: ``tracepoint`` is the name after ``sys_enter_``/``sys_exit_``
    (None when the kernel has no tracepoint for it); ``args``/``arg_types`` its
    arguments (empty when unknown, i.e. no tracepoint)."""

    nr: int
    name: str
    tracepoint: str | None
    args: tuple[str, ...]
    arg_types: tuple[str, ...]


class SyscallTable:
    """Syscalls by number, by name and by tracepoint name."""

    def __init__(self, syscalls: list[Syscall], source: str) -> None:
        self.source = source
        self.by_nr = {s.nr: s for s in syscalls}
        self.by_name = {s.name: s for s in syscalls}
        self.by_tracepoint = {s.tracepoint: s for s in syscalls if s.tracepoint}

    def __len__(self) -> int:
        return len(self.by_nr)

    def nr(self, name: str) -> int:
        """The number of syscall ``name`` (``__NR_`` or tracepoint spelling)."""
        s = self.by_name.get(name) or self.by_tracepoint.get(name)
        if s is None:
            raise AttachError(f"no system call {name!r} on {ARCH}{_close(name, self.by_name)}")
        return s.nr

    def name(self, nr: int) -> str:
        s = self.by_nr.get(nr)
        if s is None:
            raise AttachError(f"no system call number {nr} on {ARCH}")
        return s.name


def _close(name: str, known: object) -> str:
    near = difflib.get_close_matches(name, list(known), n=3)  # type: ignore[call-overload]
    return f" (did you mean {', '.join(near)}?)" if near else ""


def _builtin_syscalls() -> list[Syscall]:
    return [Syscall(nr, name, tp, tuple(a for _, a in args), tuple(t for t, _ in args))
            for nr, name, tp, args in _builtin.SYSCALLS]  # fmt: skip


def _args_from_format(fmt: TracepointFormat) -> tuple[tuple[str, ...], tuple[str, ...]]:
    fields = [f for f in fmt.fields if f.offset >= ARGS_OFFSET]
    return tuple(f.name for f in fields), tuple(f.type for f in fields)


@functools.cache
def syscall_table() -> SyscallTable:
    """The host's syscall table: the built-in numbers and tracepoint names, with the
    argument lists read from tracefs when it is readable."""
    syscalls = _builtin_syscalls()
    root = tracefs_root()
    if root is None:
        return SyscallTable(syscalls, f"built-in table ({_builtin.SOURCE})")
    out = []
    for s in syscalls:
        fmt = read_format("syscalls", f"sys_enter_{s.tracepoint}") if s.tracepoint else None
        if fmt is not None:
            names, types = _args_from_format(fmt)
            s = Syscall(s.nr, s.name, s.tracepoint, names, types)
        out.append(s)
    return SyscallTable(out, f"built-in numbers, arguments from {root}")


# --- tracepoints ---------------------------------------------------------------


@dataclass(frozen=True)
class SyscallTracepoint:
    """What a ``tracepoint/<category>/<event>`` program sees when run in-process.

    ``kind``: 'enter' or 'exit'; ``nr``: the syscall number, None for every syscall
    (``raw_syscalls``); ``name``: the syscall's name (``__NR_`` spelling), None for
    ``raw_syscalls``; ``tp_id``: tracefs's id (``id_source`` 'tracefs') or our own
    stable number ('builtin'), the context's ``common_type``; ``ctx_size``: 64 (enter)
    or 24 (exit); ``nargs``: the arguments the format lists (6 for raw_syscalls).
    """

    category: str
    event: str
    kind: str
    nr: int | None
    name: str | None
    tp_id: int
    ctx_size: int
    nargs: int
    id_source: str

    @property
    def section(self) -> str:
        return f"tracepoint/{self.category}/{self.event}"


def _not_syscall(category: str, name: str, why: str) -> AttachError:
    return AttachError(f"tracepoint {category}/{name}: {why}. Inside a traced process only "
                       f"syscall tracepoints run: {_SUPPORTED}")  # fmt: skip


def check_layout(fmt: TracepointFormat, kind: str, raw: bool) -> list[str]:
    """Where a kernel format disagrees with the context layout we build (empty: agrees)."""
    problems = []
    for fname, off, size, signed in COMMON_FIELDS:
        try:
            f = fmt.field(fname)
        except KeyError:
            problems.append(f"no field {fname}")
            continue
        if (f.offset, f.size, f.signed) != (off, size, signed):
            problems.append(f"{fname} at {f.offset} size {f.size} signed {f.signed}, "
                            f"expected {off}/{size}/{signed}")  # fmt: skip
    nr_name, nr_size = ("id", 8) if raw else ("__syscall_nr", 4)
    want: list[tuple[str, int, int]] = [(nr_name, NR_OFFSET, nr_size)]
    if kind == "exit":
        want.append(("ret", RET_OFFSET, 8))
    elif raw:
        want.append(("args", ARGS_OFFSET, 8 * MAX_ARGS))
    else:
        rest = [f for f in fmt.fields if f.offset >= ARGS_OFFSET]
        if len(rest) > MAX_ARGS:
            problems.append(f"{len(rest)} arguments, at most {MAX_ARGS} fit")
        want += [(f.name, ARGS_OFFSET + 8 * i, 8) for i, f in enumerate(rest)]
    for fname, off, size in want:
        try:
            f = fmt.field(fname)
        except KeyError:
            problems.append(f"no field {fname}")
            continue
        if (f.offset, f.size) != (off, size):
            problems.append(f"{fname} at {f.offset} size {f.size}, expected {off}/{size}")
    limit = ENTER_CTX_SIZE if kind == "enter" else EXIT_CTX_SIZE
    if fmt.size > limit:
        problems.append(f"format is {fmt.size} bytes, the context {limit}")
    return problems


def _with_kernel_id(tp: SyscallTracepoint, raw: bool) -> SyscallTracepoint:
    fmt = read_format(tp.category, tp.event)
    if fmt is None:
        return tp
    problems = check_layout(fmt, tp.kind, raw)
    if problems:
        raise AttachError(f"tracepoint {tp.category}/{tp.event}: the kernel's format differs "
                          f"from the layout bpftime builds ({'; '.join(problems)}); programs "
                          "written for this kernel would read the wrong bytes")  # fmt: skip
    nargs = tp.nargs if raw or tp.kind == "exit" else len(_args_from_format(fmt)[0])
    return SyscallTracepoint(tp.category, tp.event, tp.kind, tp.nr, tp.name, fmt.id,
                             tp.ctx_size, nargs, "tracefs")  # fmt: skip


def resolve_tracepoint(category: str, name: str) -> SyscallTracepoint:
    """The syscall tracepoint ``category/name`` (a section's ``tracepoint/<category>/<name>``).

    AttachError for tracepoints that are not syscall tracepoints, for syscalls this
    architecture does not have, for syscalls the kernel has no tracepoint for, and
    when tracefs's format disagrees with the layout ``enter_context`` builds.
    """
    if category == "raw_syscalls":
        if name not in ("sys_enter", "sys_exit"):
            raise _not_syscall(category, name, "raw_syscalls has only sys_enter and sys_exit")
        kind = name.removeprefix("sys_")
        tp = SyscallTracepoint(category, name, kind, None, None,
                               OWN_ID_RAW_ENTER if kind == "enter" else OWN_ID_RAW_EXIT,
                               ENTER_CTX_SIZE if kind == "enter" else EXIT_CTX_SIZE,
                               MAX_ARGS if kind == "enter" else 0, "builtin")  # fmt: skip
        return _with_kernel_id(tp, raw=True)
    if category != "syscalls":
        why = ("not a syscall tracepoint; kernel tracepoints fire inside the kernel, which a "
               "userspace runtime cannot see")
        raise _not_syscall(category, name, why)
    for kind in ("enter", "exit"):
        prefix = f"sys_{kind}_"
        if name.startswith(prefix):
            call = name.removeprefix(prefix)
            break
    else:
        raise _not_syscall(category, name, "expected sys_enter_<syscall> or sys_exit_<syscall>")
    table = syscall_table()
    s = table.by_tracepoint.get(call)
    if s is None:
        other = table.by_name.get(call)
        if other is not None and other.tracepoint:
            event = f"sys_{kind}_{other.tracepoint}"
            raise AttachError(f"tracepoint {category}/{name}: the kernel names the tracepoint "
                              f"of {call} (nr {other.nr}) {event}; use "
                              f'SEC("tracepoint/syscalls/{event}")')  # fmt: skip
        if other is not None:
            raise AttachError(f"tracepoint {category}/{name}: the kernel has no tracepoint for "
                              f"{call} (nr {other.nr}); use tracepoint/raw_syscalls/sys_{kind} "
                              f"and test the id field against {other.nr}")  # fmt: skip
        raise AttachError(f"tracepoint {category}/{name}: no system call {call!r} on {ARCH}"
                          f"{_close(call, table.by_tracepoint)} ({table.source})")  # fmt: skip
    own = OWN_ID_BASE + 2 * s.nr + (kind == "exit")
    tp = SyscallTracepoint(category, name, kind, s.nr, s.name, own,
                           ENTER_CTX_SIZE if kind == "enter" else EXIT_CTX_SIZE,
                           len(s.args) if kind == "enter" else 0, "builtin")  # fmt: skip
    return _with_kernel_id(tp, raw=False)


# --- contexts ------------------------------------------------------------------


def _header(tp_id: int, pid: int, flags: int, preempt_count: int) -> bytes:
    return struct.pack("<HBBi", tp_id & 0xFFFF, flags, preempt_count, pid)


def enter_context(nr: int, args: tuple[int, ...] | list[int] = (), *, pid: int = 0,
                  tp_id: int = 0, flags: int = 0, preempt_count: int = 0) -> bytes:  # fmt: skip
    """The 64-byte context of an enter tracepoint (``sys_enter_<name>`` or
    ``raw_syscalls/sys_enter``): header, ``nr`` as 8 bytes at 8, ``args`` (at most 6,
    each taken modulo 2**64; missing ones are 0) at 16 + 8*i. ``pid`` is the thread
    id."""
    if len(args) > MAX_ARGS:
        raise ValueError(f"a syscall has at most {MAX_ARGS} arguments, got {len(args)}")
    slots = [a & (1 << 64) - 1 for a in args] + [0] * (MAX_ARGS - len(args))
    return _header(tp_id, pid, flags, preempt_count) + struct.pack("<q6Q", nr, *slots)


def exit_context(nr: int, ret: int, *, pid: int = 0, tp_id: int = 0, flags: int = 0,
                 preempt_count: int = 0) -> bytes:  # fmt: skip
    """The 24-byte context of an exit tracepoint: header, ``nr`` at 8, ``ret`` (s64,
    e.g. -2 for ENOENT) at 16."""
    return _header(tp_id, pid, flags, preempt_count) + struct.pack("<qq", nr, ret)


def main(argv: list[str] | None = None) -> int:
    """``python -m bpftime.syscalls [NAME|NR ...]``: print the table (or some rows)."""
    args = sys.argv[1:] if argv is None else argv
    table = syscall_table()
    rows = list(table.by_nr.values())
    if args:
        rows = [table.by_nr[int(a)] if a.isdigit() else table.by_nr[table.nr(a)] for a in args]
    print(f"# {ARCH} syscalls: {table.source}")
    for s in sorted(rows, key=lambda s: s.nr):
        tp = s.tracepoint or "-"
        sig = ", ".join(f"{t} {n}" for t, n in zip(s.arg_types, s.args, strict=True))
        print(f"{s.nr:4d} {s.name:24s} {tp:24s} ({sig})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
