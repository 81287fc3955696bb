"""``python -m bpftime run OBJ -- CMD`` and ``python -m bpftime attach OBJ PID``.

Owns the command-line face of uprobes in another process: loading the object,
starting the session (bpftime.uprobe), streaming bpf_printk lines, ring buffer
records and perf buffer samples (one line each, NDJSON with ``-j``; records
decoded with the object's ``struct <map>_event`` or ``struct event`` when its BTF
has one, else hex), reporting records lost because a ring was full when the
session ends (``lost N events on map X``), printing the maps
bpftrace-style (periodically with ``--interval``, and at the end), forwarding
Ctrl-C and returning the traced command's exit status.

Maps are printed as ``@name[key]: value`` sorted by value, as bpftrace does. A map
whose name contains ``hist`` with integer keys and values is a log2 histogram
(key = slot, as bpf_log2l counts) and is printed as bcc's histogram text. Maps of
global data (``.bss``, ``.data``, ``.rodata``, ``.kconfig``), ring buffers and the maps
of libbpf's ``<bpf/usdt.bpf.h>`` (``__bpf_usdt_*``, argument specs) are not printed.

Does not own: attaching (bpftime.uprobe), map decoding (bpftime.maps).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from types import FrameType
from typing import Any

from .maps import format_log2_hist
from .object import BpfObject, load
from .uprobe import Output, Session, attach, spawn

RINGBUF, PERF_EVENT_ARRAY = 27, 4


def _jsonable(value: object) -> object:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def _dumps(value: object) -> str:
    return json.dumps(value, default=_jsonable)


def _is_hist(name: str, entries: list[tuple[Any, Any]]) -> bool:
    return "hist" in name.lower() and all(
        isinstance(k, int) and isinstance(v, int) for k, v in entries
    )


def print_maps(obj: BpfObject, as_json: bool, out: Any = None) -> None:
    """Every map's entries, bpftrace-style (or one JSON object per map)."""
    out = out or sys.stdout
    for name, m in obj.maps.items():
        if name.startswith((".", "__bpf_usdt_")) or m.type in (RINGBUF, PERF_EVENT_ARRAY):
            continue
        entries = [(k, v) for k, v in m.items() if not (m.type in (2, 6) and not v)]
        hist = _is_hist(name, entries)
        if as_json:
            if hist:
                slots = [0] * (max((k for k, _ in entries), default=-1) + 1)
                for k, v in entries:
                    slots[k] = v
                out.write(_dumps({"type": "hist", "map": name, "slots": slots}) + "\n")
            else:
                out.write(_dumps({"type": "map", "map": name,
                                  "entries": [{"key": k, "value": v} for k, v in entries]})
                          + "\n")  # fmt: skip
            continue
        if hist:
            slots = [0] * 65
            for k, v in entries:
                if 0 <= k < len(slots):
                    slots[k] = v
            label = name.lower().replace("_hist", "").replace("hist", "") or "value"
            out.write(f"@{name}:\n{format_log2_hist(slots, label)}\n")
            continue
        with contextlib.suppress(TypeError):
            entries.sort(key=lambda kv: kv[1])
        for k, v in entries:
            out.write(f"@{name}[{_dumps(k) if not isinstance(k, int) else k}]: "
                      f"{v if isinstance(v, int) else _dumps(v)}\n")  # fmt: skip
        out.write("\n")
    out.flush()


def _emit(line: str) -> None:
    # one write per line: the traced command shares our stdout, and print() writes the
    # line and its newline separately, so the command's output could land in between
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _printer(as_json: bool) -> Any:
    def show(o: Output) -> None:
        if as_json:
            _emit(_dumps({"type": o.kind, "map": o.source or None, "data": o.data}))
        elif o.kind == "printk":
            _emit(str(o.data))
        else:
            data = o.data.hex() if isinstance(o.data, (bytes, bytearray)) else _dumps(o.data)
            _emit(f"{o.source}: {data}")

    return show


def print_lost(session: Session, as_json: bool) -> None:
    """``lost N events on map X`` for each ring or perf buffer that dropped records, and
    the probes whose library was never loaded."""
    for what in session.pending:
        print(f"bpftime: warning: {what} was never attached: its library was not loaded",
              file=sys.stderr)  # fmt: skip
    for name, n in session.lost().items():
        if n:
            _emit(_dumps({"type": "lost", "map": name, "count": n}) if as_json
                  else f"lost {n} events on map {name}")  # fmt: skip


def _stream(session: Session, args: argparse.Namespace, stop: list[bool]) -> None:
    """Print output (and the maps every --interval) until stop[0] or the process ends."""
    show = _printer(args.json)
    last = time.monotonic()
    while not stop[0] and session.poll_exit() is None and _alive(session.pid):
        session.poll(0.1, show)
        if args.interval and time.monotonic() - last >= args.interval:
            last = time.monotonic()
            print_maps(session.obj, args.json)
    session.poll(0, show)


def _load(args: argparse.Namespace) -> BpfObject:
    return load(args.obj)


def run_cmd(args: argparse.Namespace) -> int:
    """``run OBJ -- CMD``: exit status of CMD (128 + n if a signal killed it)."""
    cmd = list(args.cmd)
    if not cmd:
        print("bpftime: run OBJ -- CMD [ARGS...]: no command given", file=sys.stderr)
        return 2
    obj = _load(args)
    with obj:
        t0 = time.monotonic()
        session = spawn(cmd, obj, args.missing_probes, args.verbose)
        with session:
            tty_group = _terminal_signals_child()

            def forward(signum: int, frame: FrameType | None) -> None:
                # a terminal's Ctrl-C reaches the command already (same process group)
                if not tty_group or signum != signal.SIGINT:
                    session.kill(signum)

            old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                if args.verbose and session.started_s is not None:
                    print(f"bpftime: {cmd[0]} running {session.started_s - t0:.3f} s after "
                          f"start (pid {session.pid})", file=sys.stderr, flush=True)  # fmt: skip
                _stream(session, args, [False])
            finally:
                for s, h in old.items():
                    signal.signal(s, h)
            status = session.wait()
            session.poll(0, _printer(args.json))  # what the last moments produced
            print_lost(session, args.json)
            session.detach()
            if not args.no_print_maps:
                print_maps(obj, args.json)
    return status if status is not None else 1


def _terminal_signals_child() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def attach_cmd(args: argparse.Namespace) -> int:
    """``attach OBJ PID``: trace until Ctrl-C or the process exits; then detach."""
    obj = _load(args)
    stop = [False]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop[0] = True  # also during setup: then detach as soon as attached

    with obj:
        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with attach(args.pid, obj, args.missing_probes, args.verbose) as session:
                if args.verbose:
                    print(f"bpftime: tracing process {args.pid}; Ctrl-C detaches",
                          file=sys.stderr, flush=True)  # fmt: skip
                _stream(session, args, stop)
                print_lost(session, args.json)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        if not args.no_print_maps:
            print_maps(obj, args.json)
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--json", action="store_true", help="NDJSON output")
    p.add_argument("--no-print-maps", action="store_true", help="do not print maps at the end")
    p.add_argument("--missing-probes", choices=("error", "warn", "ignore"), default="error",
                   help="a program whose target cannot be found: fail, warn and skip, or "
                        "skip silently")  # fmt: skip
    p.add_argument("-i", "--interval", type=float, default=0,
                   help="also print the maps every INTERVAL seconds")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="say what gets attached where")
