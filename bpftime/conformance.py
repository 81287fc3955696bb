"""Runner for the `.data` test files of the ubpf and bpf_conformance suites.

Owns: parsing the format (sections ``-- asm``, ``-- raw``, ``-- mem``,
``-- result``, ``-- error``, with ``@ file`` includes), deciding what each file
tests, running it on an engine with ubpf's test helpers, and reporting.

What a file tests, in order:
* ``-- pyelf`` or ``-- reload``: ubpf-specific machinery (an ELF generator, a VM
  that is loaded twice) with no counterpart here: skipped, with that reason.
* ``-- error``: the program must be refused, at load (LoadError) or, for
  runtime faults the interpreter checks, at run (ExecutionError). An
  ``-- error`` file may also carry a stale ``-- result`` (ubpf's value for an
  unchecked engine); the error wins. ``-- no jit`` files skip the JIT: it does no
  runtime memory checks and relies on the verifier.
* ``-- result``: r0 after one run must equal it.
* ``-- asm`` with ``-- raw`` and nothing to run: an assembler test; the
  assembled bytes must equal the raw words.

Does not own: the engines or the assembler.
"""

from __future__ import annotations

import json
import re
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from . import asm
from ._program import Program, ubpf_test_helpers
from .errors import AsmError, ExecutionError, LoadError
from .opcodes import MAX_INSNS

ENGINES = ("interp", "jit")


@dataclass
class DataFile:
    """The sections of one `.data` file."""

    path: Path
    sections: dict[str, list[str]] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)  # "asm" -> "@ file" etc.

    def has(self, name: str) -> bool:
        return name in self.sections


@dataclass
class Outcome:
    file: str
    engine: str
    status: str  # "pass" | "fail" | "skip"
    reason: str = ""
    expected: str | None = None
    got: str | None = None
    notes: list[str] = field(default_factory=list)


_SECTION = re.compile(r"^--\s+(\S+(?:\s+(?:jit|register offset|pattern))?)\s*(.*)$")


def parse(path: Path) -> DataFile:
    """Split a `.data` file into its sections (raw lines, comments kept for now)."""
    df = DataFile(path)
    current: str | None = None
    for line in path.read_text().splitlines():
        m = _SECTION.match(line)
        if m:
            name, arg = m.group(1), m.group(2).strip()
            if name == "error pattern":
                name, arg = "error", "pattern"
            current = name
            df.sections.setdefault(name, [])
            df.args[name] = arg
            continue
        if current is not None:
            df.sections[current].append(line)
    return df


def _strip(lines: Iterable[str]) -> list[str]:
    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _included(df: DataFile, name: str) -> list[str] | None:
    """Lines of a section, following ``@ file`` includes; None when absent."""
    if name not in df.sections:
        return None
    arg = df.args.get(name, "")
    if arg.startswith("@"):
        return (df.path.parent / arg[1:].strip()).read_text().splitlines()
    return df.sections[name]


def raw_bytes(lines: Iterable[str]) -> bytes:
    """The ``-- raw`` section in either of its forms.

    Form 1: one 64-bit instruction word per token (``0x00000000000000b7``, low byte =
    opcode). Form 2: the little-endian bytes of each instruction as eight hex byte
    tokens per line (``b7 00 00 00 00 00 00 00``).
    """
    out = bytearray()
    for line in _strip(lines):
        toks = line.replace(",", " ").split()
        if len(toks) == 8 and all(re.fullmatch(r"[0-9a-fA-F]{2}", t) for t in toks):
            out += bytes(int(t, 16) for t in toks)
            continue
        for t in toks:
            out += struct.pack("<Q", int(t, 16) & 0xFFFFFFFFFFFFFFFF)
    return bytes(out)


def mem_bytes(lines: Iterable[str]) -> bytes:
    """Input memory: hex bytes (``00 11 22``), or tcpdump -x lines (``0x0010:  0040 a8de``)."""
    out = bytearray()
    for line in _strip(lines):
        for tok in line.split():
            if tok.endswith(":"):
                continue  # tcpdump offset column
            out += bytes.fromhex(tok)
    return bytes(out)


def _code(df: DataFile) -> tuple[bytes | None, str | None]:
    """(program bytes, assembler error)."""
    asm_lines = _included(df, "asm")
    if asm_lines is not None:
        try:
            return asm.assemble("\n".join(asm_lines)), None
        except AsmError as exc:
            return None, str(exc)
    raw = _included(df, "raw")
    if raw is not None:
        return raw_bytes(raw), None
    return None, "file has neither -- asm nor -- raw"


def _result(df: DataFile) -> int | None:
    lines = _strip(df.sections.get("result", []))
    return int(lines[0], 16) if lines else None


def _known_conflict(df: DataFile, code: bytes) -> str | None:
    """Why an ``-- error`` file's expectation is ubpf's own rule rather than the ISA's."""
    error = " ".join(df.sections["error"])
    if code[:1] == b"\x06" and "unknown opcode 0x06" in error:
        return (
            "RFC 9669 (ISA v4) defines opcode 0x06 as gotol (ja32), which bpftime runs;"
            " this ubpf file predates v4 and expects it refused"
        )
    if "too many instructions" in error and len(code) // 8 <= MAX_INSNS:
        return (
            f"ubpf caps programs at 65536 instructions; bpftime follows the kernel's limit"
            f" for privileged programs ({MAX_INSNS}), and this {len(code) // 8}-instruction"
            " program is within it"
        )
    return None


def run_file(df: DataFile, engine: str) -> Outcome:
    name = str(df.path)
    out = Outcome(name, engine, "pass")
    if df.has("pyelf"):
        out.status = "skip"
        out.reason = (
            "ubpf ELF-loader case (-- pyelf builds an ELF with ubpf's Python generator);"
            " ELF objects are loaded by bpftime.load, tested with its own corpus"
        )
        return out
    if df.has("reload"):
        out.status = "skip"
        out.reason = (
            "ubpf VM API case (-- reload loads twice into one VM); a bpftime.Program is"
            " immutable and every load makes a new one"
        )
        return out
    if df.has("unload"):
        out.notes.append("-- unload: each Program is a fresh load, so this is a plain run")
    code, asm_error = _code(df)
    if code is None:
        return Outcome(name, engine, "fail", f"cannot build the program: {asm_error}")
    expect_error = df.has("error")
    expected = _result(df)
    conflict = _known_conflict(df, code) if expect_error else None
    if conflict:
        out.status = "skip"
        out.reason = f"known conflict: {conflict}"
        return out
    if expect_error and df.has("no jit") and engine == "jit":
        out.status = "skip"
        why = " ".join(_strip(df.sections["no jit"]))
        out.reason = (
            "runtime memory fault that only the interpreter checks; the JIT runs verified"
            f" code without checks (ubpf: {why})"
        )
        return out
    if df.has("asm") and df.has("raw") and not expect_error and expected is None:
        raw = raw_bytes(df.sections["raw"])
        if code == raw:
            out.reason = "assembler vector"
            return out
        return Outcome(name, engine, "fail", "assembled bytes differ from -- raw",
                       raw.hex(), code.hex())  # fmt: skip
    if df.has("no register offset"):
        out.notes.append("-- no register offset: ubpf JIT option, not applicable")
    mem = None
    mem_lines = _included(df, "mem")
    if mem_lines is not None:
        mem = mem_bytes(mem_lines)
    try:
        prog = Program(code, engine=engine, helpers=ubpf_test_helpers())
        r0 = prog.run(mem)
    except (LoadError, ExecutionError) as exc:
        stage = "load" if isinstance(exc, LoadError) else "run"
        if expect_error:
            out.reason = f"rejected at {stage}: {exc}"
            if expected is not None:
                out.notes.append("stale -- result beside -- error: the error wins")
            return out
        want = None if expected is None else hex(expected)
        return Outcome(name, engine, "fail", f"{stage} failed: {exc}", want)
    if expect_error:
        why = " ".join(_strip(df.sections["error"]))
        return Outcome(name, engine, "fail", f"expected rejection ({why}), but it ran",
                       "rejected", hex(r0))  # fmt: skip
    if expected is None:
        return Outcome(name, engine, "fail", "file has no -- result and no -- error", None, hex(r0))
    if r0 != expected:
        return Outcome(name, engine, "fail", "wrong r0", hex(expected), hex(r0))
    out.got = hex(r0)
    out.expected = hex(expected)
    return out


def discover(paths: Iterable[str]) -> Iterator[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(p.rglob("*.data"))
        elif p.exists():
            yield p
        else:
            raise FileNotFoundError(f"conformance: no such file or directory: {p}")


def run(paths: Iterable[str], engines: Iterable[str], as_json: bool, out: TextIO) -> int:
    """Run every file on every engine; print results; return the exit status."""
    passed = failed = skipped = 0
    for path in discover(paths):
        df = parse(path)
        for engine in engines:
            o = run_file(df, engine)
            if o.status == "pass":
                passed += 1
            elif o.status == "fail":
                failed += 1
            else:
                skipped += 1
            if as_json:
                out.write(json.dumps(o.__dict__) + "\n")
            elif o.status == "fail":
                exp = f" (expected {o.expected}, got {o.got})" if o.expected or o.got else ""
                out.write(f"FAIL {o.file} [{o.engine}]: {o.reason}{exp}\n")
            elif o.status == "skip":
                out.write(f"SKIP {o.file} [{o.engine}]: {o.reason}\n")
    summary = f"{passed} passed, {failed} failed"
    if as_json:
        sys.stderr.write(f"{skipped} skipped (reasons in the objects)\n{summary}\n")
    else:
        out.write(f"{skipped} skipped (reasons above)\n{summary}\n")
    return 1 if failed else 0
