"""Command line: ``python -m bpftime <command>``.

Owns argument parsing and exit statuses; each command's work lives in its own
module. Commands: ``conformance`` (run ubpf / bpf_conformance `.data` files),
``asm`` and ``disasm`` (the assembler on files), ``run`` (run raw or assembled
bytecode once or in a timed loop).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import BpftimeError


def _conformance(args: argparse.Namespace) -> int:
    from . import conformance

    engines = conformance.ENGINES if args.engine == "all" else (args.engine,)
    try:
        return conformance.run(args.paths, engines, args.json, sys.stdout)
    except FileNotFoundError as exc:
        print(f"bpftime: {exc}", file=sys.stderr)
        return 2


def _read_program(path: str) -> bytes:
    from . import asm

    p = Path(path)
    data = p.read_bytes()
    if p.suffix in (".s", ".asm", ".txt"):
        return asm.assemble(data.decode())
    return data


def _asm(args: argparse.Namespace) -> int:
    from . import asm

    code = asm.assemble(Path(args.file).read_text())
    if args.output:
        Path(args.output).write_bytes(code)
    else:
        sys.stdout.buffer.write(code)
    return 0


def _disasm(args: argparse.Namespace) -> int:
    from . import asm

    sys.stdout.write(asm.disassemble(Path(args.file).read_bytes()))
    sys.stdout.write("\n")
    return 0


def _run(args: argparse.Namespace) -> int:
    from ._program import Program, ubpf_test_helpers

    code = _read_program(args.file)
    helpers = ubpf_test_helpers() if args.ubpf_helpers else None
    prog = Program(code, engine=args.engine, helpers=helpers)
    mem = Path(args.data_in).read_bytes() if args.data_in else None
    res = prog.test_run(mem, repeat=args.repeat)
    print(f"retval {res.retval:#x} ({res.retval})")
    if args.repeat > 1:
        print(f"duration {res.duration_ns:.2f} ns/run over {res.repeat} runs")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bpftime", description="userspace eBPF runtime")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("conformance", help="run ubpf/bpf_conformance .data test files")
    c.add_argument("paths", nargs="+", metavar="PATH", help=".data files or directories")
    c.add_argument("--engine", choices=("interp", "jit", "all"), default="all")
    c.add_argument("--json", action="store_true", help="one JSON object per test")
    c.set_defaults(func=_conformance)

    a = sub.add_parser("asm", help="assemble a text file into bytecode")
    a.add_argument("file")
    a.add_argument("-o", "--output", help="write bytecode here instead of stdout")
    a.set_defaults(func=_asm)

    d = sub.add_parser("disasm", help="disassemble a bytecode file")
    d.add_argument("file")
    d.set_defaults(func=_disasm)

    r = sub.add_parser("run", help="run bytecode (.bin) or assembly (.s/.asm) once or in a loop")
    r.add_argument("file")
    r.add_argument("--engine", choices=("interp", "jit"), default="jit")
    r.add_argument("--data-in", help="file whose bytes are the input memory (r1, r2)")
    r.add_argument("--repeat", type=int, default=1)
    r.add_argument("--ubpf-helpers", action="store_true", help="register ubpf's test helpers 0-5")
    r.set_defaults(func=_run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except BpftimeError as exc:
        print(f"bpftime: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"bpftime: {exc}", file=sys.stderr)
        return 2
    return status
