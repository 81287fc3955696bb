"""Command line: ``python -m bpftime <command>``.

Owns argument parsing, output formats and exit statuses; each command's work lives
in its own module. Commands: ``conformance`` (run ubpf / bpf_conformance `.data`
files), ``asm`` and ``disasm`` (the assembler on files), ``run`` (run raw or
assembled bytecode once or in a timed loop; ``run OBJ -- CMD`` traces CMD with
OBJ's uprobes, see bpftime.trace_cli), ``attach OBJ PID``, bpftool's verbs on ELF
objects: ``prog list|dump|run`` and ``map dump``, and ``verify`` (the static verifier
on every program of an ELF object; exit status 1 on a rejection).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import trace_cli
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
    if args.cmd:
        args.obj = args.file
        return trace_cli.run_cmd(args)
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


def _json(value: object) -> str:
    return json.dumps(value, default=_jsonable, indent=None)


def _jsonable(value: object) -> object:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def _prog(args: argparse.Namespace) -> int:
    from . import asm, elf

    spec = elf.load_spec(Path(args.obj))
    progs = spec.programs
    if args.verb == "list":
        rows = [
            {"name": p.name, "section": p.section, "kind": p.kind, "insns": len(p.insns) // 8}
            for p in progs.values()
        ]
        if args.json:
            print(_json(rows))
        else:
            for i, r in enumerate(rows):
                head = f"{i}: {r['kind']}  name {r['name']}"
                print(f"{head}  section {r['section']}  insns {r['insns']}")
        return 0
    names = [args.name] if args.name else list(progs)
    for name in names:
        if name not in progs:
            print(f"bpftime: no program {name!r} in {args.obj}; programs: {', '.join(progs)}",
                  file=sys.stderr)  # fmt: skip
            return 1
    if args.verb == "dump":
        for name in names:
            p = progs[name]
            print(f"{name}:  ; section {p.section}")
            lines = asm.disassemble(p.insns).splitlines()
            slot = 0
            shown_line = None
            for text in lines:
                info = p.line_info.get(slot)
                if info is not None and info.line and info != shown_line:
                    print(f"; {info.text.strip()}  ({Path(info.file).name}:{info.line})")
                    shown_line = info
                print(f"{slot:5}: {text}")
                slot += 2 if text.startswith("lddw") else 1
        return 0
    from .object import load

    name = names[0]
    with load(Path(args.obj), engine=args.engine) as obj:
        data = Path(args.data_in).read_bytes() if args.data_in else bytes(64)
        res = obj.programs[name].test_run(data, repeat=args.repeat)
        if args.json:
            print(_json({"retval": res.retval, "duration_ns": res.duration_ns,
                         "repeat": res.repeat}))  # fmt: skip
        else:
            print(f"Return value: {res.retval}, duration (average): {res.duration_ns:.0f}ns")
        if args.data_out:
            Path(args.data_out).write_bytes(res.data_out)
        for line in obj.trace_lines():
            print(line)
    return 0


def _map(args: argparse.Namespace) -> int:
    from .object import load, open_segment

    if args.shm:
        maps = open_segment(args.shm, args.obj)
        return _dump_maps(maps, args)
    if not args.obj:
        print("bpftime: map dump needs an object file or --shm NAME", file=sys.stderr)
        return 2
    with load(Path(args.obj)) as obj:
        return _dump_maps(obj.maps, args)


def _dump_maps(maps: dict[str, Any], args: argparse.Namespace) -> int:
    selected = [args.name] if args.name else list(maps)
    out = []
    for name in selected:
        if name not in maps:
            print(f"bpftime: no map {name!r}; maps: {', '.join(maps)}", file=sys.stderr)
            return 1
        m = maps[name]
        entries = [] if m.type in (4, 27) else m.items()
        out.append({"name": name, "type": m.type_name, "key_size": m.raw.key_size,
                    "value_size": m.raw.value_size, "max_entries": m.max_entries,
                    "entries": [{"key": k, "value": v} for k, v in entries]})  # fmt: skip
    if args.json:
        print(_json(out))
        return 0
    for mp in out:
        print(f"map {mp['name']!r}: {mp['type']}  key {mp['key_size']}B  value "
              f"{mp['value_size']}B  max_entries {mp['max_entries']}")  # fmt: skip
        for e in mp["entries"]:
            print(f"key: {_json(e['key'])}  value: {_json(e['value'])}")
        n = len(mp["entries"])
        print(f"Found {n} element{'s' if n != 1 else ''}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from . import elf
    from .errors import VerifierError
    from .verify_spec import verify_program

    spec = elf.load_spec(args.obj)
    status = 0
    for name, ps in spec.programs.items():
        try:
            stats = verify_program(spec, ps, args.verbose)
        except VerifierError as exc:
            print(f"{name}: rejected\n{exc}")
            status = 1
            continue
        print(
            f"{name}: accepted ({stats.insns} insns, {stats.steps} explored,"
            f" {stats.states} states)"
        )
    return status


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

    r = sub.add_parser(
        "run",
        help="run OBJ -- CMD: trace CMD with OBJ's uprobes; run FILE: run bytecode (.bin) or "
        "assembly (.s/.asm) once or in a loop",
        usage="%(prog)s [options] OBJ -- CMD [ARGS...]\n       %(prog)s [options] FILE",
        epilog="With -- CMD: start CMD, attach OBJ's uprobe/uretprobe programs, stream "
        "bpf_printk and ring buffer output, print the maps when CMD exits and exit with its "
        "status (-j, --no-print-maps, --missing-probes, -i, -v apply). Without: run FILE's "
        "bytecode (--engine, --data-in, --repeat, --ubpf-helpers apply).",
    )
    r.add_argument("file", help="ELF object with uprobes (with CMD), or bytecode/assembly")
    r.add_argument("--engine", choices=("interp", "jit"), default="jit")
    r.add_argument("--data-in", help="file whose bytes are the input memory (r1, r2)")
    r.add_argument("--repeat", type=int, default=1)
    r.add_argument("--ubpf-helpers", action="store_true", help="register ubpf's test helpers 0-5")
    trace_cli.add_options(r)
    r.set_defaults(func=_run)

    at = sub.add_parser("attach", help="trace a running process with OBJ's uprobes until Ctrl-C")
    at.add_argument("obj", help="ELF object with uprobe/uretprobe programs")
    at.add_argument("pid", type=int)
    trace_cli.add_options(at)
    at.set_defaults(func=trace_cli.attach_cmd)

    pr = sub.add_parser("prog", help="programs of an ELF object (bpftool's verbs)")
    pr.add_argument("verb", choices=("list", "dump", "run"))
    pr.add_argument("obj", help="ELF object file")
    pr.add_argument("name", nargs="?", help="program name (default: all; run: the first)")
    pr.add_argument("--data-in", help="input memory for run")
    pr.add_argument("--data-out", help="write the memory after the run here")
    pr.add_argument("--repeat", type=int, default=1)
    pr.add_argument("--engine", choices=("interp", "jit"), default="jit")
    pr.add_argument("-j", "--json", action="store_true")
    pr.set_defaults(func=_prog)

    mp = sub.add_parser("map", help="maps of an ELF object or a live segment (bpftool's verbs)")
    mp.add_argument("verb", choices=("dump",))
    mp.add_argument("obj", nargs="?", help="ELF object file (types the maps with its BTF)")
    mp.add_argument("--shm", help="dump the maps of this live shared-memory segment")
    mp.add_argument("--name", help="only this map")
    mp.add_argument("-j", "--json", action="store_true")
    mp.set_defaults(func=_map)

    v = sub.add_parser("verify", help="run the static verifier on every program of an ELF object")
    v.add_argument("obj", help="ELF object (.o)")
    v.add_argument("-v", "--verbose", action="store_true", help="register state at a rejection")
    v.set_defaults(func=_verify)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd: list[str] = []
    if "--" in argv:  # run OBJ [options] -- CMD [ARGS...]: CMD's own options stay its own
        cut = argv.index("--")
        argv, cmd = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    args.cmd = cmd
    try:
        status: int = args.func(args)
    except BpftimeError as exc:
        print(f"bpftime: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"bpftime: {exc}", file=sys.stderr)
        return 2
    return status
