"""PREVAIL's YAML test cases, translated for bpftime's verifier.

Each case has a pre-state, a snippet of PREVAIL assembly and the messages PREVAIL
reports; a case is *rejected* by PREVAIL when it has messages other than
"Code becomes unreachable" notices (those are dead-branch notes, not failures).
``translate`` turns a case into bytecode plus an entry state, or says why it
cannot (``Skip``): pre-states our domain cannot express (relations between
registers, disjunctive types, packets), PREVAIL-only instructions (``assume``,
legacy packet loads) and options that change PREVAIL's semantics
(``!allow_division_by_zero``, ``big_endian``). ``python tests/prevail.py DIR``
prints the agreement summary and every disagreement.

The harness's context is 64 bytes and its maps have 4-byte keys and values, as
in PREVAIL's YAML harness; PREVAIL's maps are untyped, ours are arrays (fd 0-7)
and a PROG_ARRAY (fd 8, ``map_fd_programs``).
"""

from __future__ import annotations

import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bpftime import opcodes as op
from bpftime.errors import VerifierError
from bpftime.verifier import (
    CTX,
    MAP_PTR,
    MEM,
    SCALAR,
    STACK,
    Context,
    MapInfo,
    Reg,
    verify_from,
)
from bpftime.verifier_domain import S64_MAX, S64_MIN, U64, Scalar, make
from bpftime.verifier_helpers import HELPERS

CTX64 = Context("PREVAIL test context", 64, True)
MAPS = [MapInfo(2, 4, 4, 4, name=f"fd{i}") for i in range(8)] + [
    MapInfo(3, 4, 4, 4, name="programs")
]
PROG_ARRAY_FD = 8
MAX_STEPS = 20_000


class Skip(Exception):
    """The case cannot be expressed for our verifier; the message says why."""


@dataclass
class Case:
    file: str
    name: str
    prevail_rejects: bool
    messages: list[str]
    code: bytes = b""
    regs: dict[int, Reg] = field(default_factory=dict)
    stack: dict[int, tuple[Reg | None, int]] = field(default_factory=dict)


@dataclass
class Outcome:
    case: Case
    ours_rejects: bool
    detail: str

    @property
    def agrees(self) -> bool:
        return self.ours_rejects == self.case.prevail_rejects


def load_cases(root: Path) -> list[tuple[str, dict[str, object]]]:
    out = []
    for f in sorted(root.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                out.append((f.name, doc))
    return out


def rejects(messages: list[str]) -> bool:
    return any("Code becomes unreachable" not in m for m in messages)


# --- pre-state ------------------------------------------------------------------

_NUM = r"-?\d+"
_RANGE = re.compile(rf"\[({_NUM}),\s*({_NUM})\]")


def _interval(text: str) -> tuple[int, int]:
    m = _RANGE.fullmatch(text.strip())
    if m:
        return int(m.group(1)), int(m.group(2))
    if re.fullmatch(_NUM, text.strip()):
        v = int(text)
        return v, v
    raise Skip(f"pre-state value '{text}' is not a number or interval")


def _pre_state(pre: list[str]) -> tuple[dict[int, Reg], dict[int, tuple[Reg | None, int]]]:
    regs: dict[int, dict[str, str]] = {}
    stack_specs: list[tuple[int, int, dict[str, str]]] = []
    for item in pre:
        item = item.replace(" ", "")
        if item.startswith(("meta_offset", "packet_size")):
            raise Skip("packet pre-state (bpftime has no packet programs)")
        if "-" in item.split("=")[0] and item.startswith("r") and "<=" in item:
            raise Skip("relational pre-state between registers")
        m = re.fullmatch(r"r(\d+)\.(\w+)(=|in)(.+)", item)
        if m:
            if m.group(3) == "in":
                raise Skip("disjunctive pre-state type")
            regs.setdefault(int(m.group(1)), {})[m.group(2)] = m.group(4)
            continue
        m = re.fullmatch(r"s\[(\d+)\.\.\.(\d+)\]\.(\w+)=(.+)", item)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            for spec in stack_specs:
                if spec[0] == lo and spec[1] == hi:
                    spec[2][m.group(3)] = m.group(4)
                    break
            else:
                stack_specs.append((lo, hi, {m.group(3): m.group(4)}))
            continue
        raise Skip(f"pre-state constraint '{item}' is not expressible")
    out: dict[int, Reg] = {}
    stack: dict[int, tuple[Reg | None, int]] = {}
    for r, f in regs.items():
        out[r] = _reg(r, f, stack)
    for lo, hi, f in stack_specs:
        if f.get("type") != "number":
            raise Skip(f"stack pre-state of type {f.get('type')}")
        s = _number(f)
        if lo % 8 == 0 and hi == lo + 7 and not s.is_unknown:
            stack[lo // 8] = (Reg(SCALAR, s), 0xFF)
            continue
        for b in range(lo, hi + 1):
            k = b // 8
            _sp, mask = stack.get(k, (None, 0))
            stack[k] = (None, mask | 1 << (b % 8))
    return out, stack


def _number(f: dict[str, str]) -> Scalar:
    smin, smax, umin, umax = S64_MIN, S64_MAX, 0, U64
    for key, val in f.items():
        if key == "svalue":
            smin, smax = _interval(val)
        elif key == "uvalue":
            if val.startswith("r"):
                continue  # uvalue=rN.svalue: the views agree, already stated
            umin, umax = _interval(val)
            if umin < 0:  # PREVAIL writes some unsigned values as negatives
                umin, umax = umin & U64, umax & U64
        elif key != "type":
            raise Skip(f"number constraint '{key}' is not expressible")
    s = make(0, U64, umin, umax, smin, smax)
    if s is None:
        raise Skip("contradictory pre-state")
    return s


def _reg(r: int, f: dict[str, str], stack: dict[int, tuple[Reg | None, int]]) -> Reg:
    t = f.get("type")
    if t == "number":
        return Reg(SCALAR, _number(f))
    if t == "stack":
        if "stack_offset" not in f:
            raise Skip("stack pointer with an unknown offset")
        lo, hi = _interval(f["stack_offset"])
        if (r == 10 and (lo, hi) != (512, 512)) or hi > 512:
            raise Skip("a stack larger than 512 bytes (PREVAIL's r10 is elsewhere)")
        nlo, size = _interval(f.get("stack_numeric_size", "0"))
        if (size and lo != hi) or nlo != size:
            raise Skip("numeric stack size that is variable or at a variable offset")
        for b in range(lo, lo + size):
            k = b // 8
            _sp, mask = stack.get(k, (None, 0))
            stack[k] = (None, mask | 1 << (b % 8))
        return Reg(STACK, Scalar.srange(lo - 512, hi - 512), 0)
    if t == "ctx":
        if "ctx_offset" not in f:
            raise Skip("context pointer with an unknown offset")
        return Reg(CTX, Scalar.srange(*_interval(f["ctx_offset"])))
    if t == "map_fd":
        if "map_fd" in f:
            return Reg(MAP_PTR, Scalar.const(0), int(f["map_fd"]))
        raise Skip("map_fd without a descriptor")
    if t == "map_fd_programs":
        return Reg(MAP_PTR, Scalar.const(0), PROG_ARRAY_FD)
    if t == "shared":
        if "shared_offset" not in f or "shared_region_size" not in f:
            raise Skip("shared pointer with an unknown offset or size")
        size = _interval(f["shared_region_size"])
        if size[0] != size[1]:
            raise Skip("shared region of a variable size")
        mem = Reg(MEM, Scalar.srange(*_interval(f["shared_offset"])), size[0])
        if "svalue" in f and _interval(f["svalue"])[0] <= 0:  # the address may be NULL
            mem = Reg(MEM, mem.s, mem.region, True, 1000 + r)
        return mem
    if t == "packet":
        raise Skip("packet pointer (bpftime has no packet programs)")
    raise Skip(f"register type '{t}' is not expressible")


# --- assembly -----------------------------------------------------------------

_ALU = {
    "+": op.OP_ADD, "-": op.OP_SUB, "*": op.OP_MUL, "/": op.OP_DIV, "%": op.OP_MOD,
    "|": op.OP_OR, "&": op.OP_AND, "^": op.OP_XOR, "<<": op.OP_LSH, ">>": op.OP_RSH,
    "s>>": op.OP_ARSH, "s/": op.OP_DIV, "s%": op.OP_MOD,
}  # fmt: skip
_JMP = {
    "==": op.JEQ, "!=": op.JNE, ">": op.JGT, ">=": op.JGE, "<": op.JLT, "<=": op.JLE,
    "s>": op.JSGT, "s>=": op.JSGE, "s<": op.JSLT, "s<=": op.JSLE, "&==": op.JSET,
}  # fmt: skip
_SIZES = {"8": op.SZ_B, "16": op.SZ_H, "32": op.SZ_W, "64": op.SZ_DW}
_ATOMIC = {
    "+=": op.ATOMIC_ADD, "|=": op.ATOMIC_OR, "&=": op.ATOMIC_AND, "^=": op.ATOMIC_XOR,
    "x=": op.ATOMIC_XCHG, "cx=": op.ATOMIC_CMPXCHG,
}  # fmt: skip
_REG = r"([rw])(\d+)"
_MEMX = r"\*\((u|s)(8|16|32|64) \*\)\(r(\d+) ([+-]) (\d+)\)"


def _slot(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, dst | src << 4, off, _s32(imm))


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _lddw(dst: int, value: int, src: int = 0, hi: int | None = None) -> bytes:
    value &= U64
    lo = value & 0xFFFFFFFF
    h = value >> 32 if hi is None else hi
    return _slot(op.LDDW, dst, src, 0, lo) + _slot(0, 0, 0, 0, h)


def _int(text: str) -> int:
    return int(text, 0)


def assemble(code: dict[str, object]) -> bytes:
    """Two passes: instruction sizes (lddw is 2 slots), then encoding with label targets."""
    lines: list[tuple[str | None, str]] = []
    for label, body in code.items():
        text = body if isinstance(body, str) else "\n".join(str(b) for b in (body or []))
        lines.append((label, ""))
        for raw in text.splitlines():
            line = raw.split(";")[0].strip()
            if line:
                lines.append((None, line))
    last = next((ln for lb, ln in reversed(lines) if lb is None), "")
    if not (last == "exit" or last.startswith("goto")):
        lines.append((None, "r0 = 0"))  # a snippet ends where PREVAIL's analysis ends
        lines.append((None, "exit"))
    labels: dict[str, int] = {}
    pc = 0
    for label, line in lines:
        if label is not None:
            labels[label] = pc
        else:
            pc += _size(line)
    out = b""
    pc = 0
    for label, line in lines:
        if label is None:
            chunk = _encode(line, pc, labels)
            out += chunk
            pc += len(chunk) // 8
    return out


def _size(line: str) -> int:
    if re.fullmatch(r"r\d+ = (-?\d+ll|0x[0-9a-fA-F]+ll|map_fd \d+|map_by_idx\(\d+\)).*", line):
        return 2
    if "map_val(" in line or "mva(" in line:
        return 2
    m = re.fullmatch(r"r\d+ = (-?\d+|0x[0-9a-fA-F]+)", line)
    if m and not -(1 << 31) <= _int(m.group(1)) < (1 << 31):
        return 2
    return 1


def _encode(line: str, pc: int, labels: dict[str, int]) -> bytes:
    line = re.sub(r"\s+", " ", line.replace("r0=r", "r0 = r"))
    line = re.sub(r"^(r\d+)=(r\d+)$", r"\1 = \2", line)
    if line.startswith("assume"):
        raise Skip("PREVAIL-only 'assume' instruction")
    if "skb[" in line:
        raise Skip("legacy packet load (no packets in bpftime)")
    if line == "exit":
        return _slot(op.CLS_JMP | op.EXIT)
    m = re.fullmatch(r"goto (<\w+>)", line)
    if m:
        return _slot(op.CLS_JMP | op.JA, off=_target(m.group(1), pc, labels))
    m = re.fullmatch(r"call (<\w+>)", line)
    if m:
        return _slot(op.CLS_JMP | op.CALL, src=op.PSEUDO_CALL,
                     imm=_target(m.group(1), pc, labels))  # fmt: skip
    m = re.fullmatch(r"call (\d+)", line)
    if m:
        if int(m.group(1)) not in HELPERS:
            raise Skip(f"helper {m.group(1)} is not one bpftime implements")
        return _slot(op.CLS_JMP | op.CALL, imm=int(m.group(1)))
    m = re.fullmatch(r"callx r(\d+)", line)
    if m:
        return _slot(op.CLS_JMP | op.SRC_X | op.CALL, dst=int(m.group(1)))
    m = re.fullmatch(rf"if {_REG} (\S+) (\S+) goto (<\w+>)", line)
    if m:
        if m.group(3) not in _JMP:
            raise Skip(f"PREVAIL-only comparison '{m.group(3)}'")
        cls = op.CLS_JMP32 if m.group(1) == "w" else op.CLS_JMP
        off = _target(m.group(5), pc, labels)
        return _operand(cls | _JMP[m.group(3)], int(m.group(2)), m.group(4), off)
    m = re.fullmatch(rf"lock {_MEMX} (\S+) r(\d+)( fetch)?", line)
    if m:
        if m.group(6) not in _ATOMIC:
            raise Skip(f"unknown atomic '{m.group(6)}'")
        imm = _ATOMIC[m.group(6)] | (op.ATOMIC_FETCH if m.group(8) else 0)
        sz = _SIZES[m.group(2)]
        return _slot(op.CLS_STX | op.MODE_ATOMIC | sz, int(m.group(3)), int(m.group(7)),
                     _sign(m.group(4), m.group(5)), imm)  # fmt: skip
    m = re.fullmatch(rf"{_MEMX} = (\S+)", line)
    if m:
        sz, dst, off = _SIZES[m.group(2)], int(m.group(3)), _sign(m.group(4), m.group(5))
        v = m.group(6)
        if v.startswith("r"):
            return _slot(op.CLS_STX | op.MODE_MEM | sz, dst, int(v[1:]), off)
        return _slot(op.CLS_ST | op.MODE_MEM | sz, dst, 0, off, _int(v))
    m = re.fullmatch(rf"r(\d+) = {_MEMX}", line)
    if m:
        mode = op.MODE_MEMSX if m.group(2) == "s" else op.MODE_MEM
        return _slot(op.CLS_LDX | mode | _SIZES[m.group(3)], int(m.group(1)), int(m.group(4)),
                     _sign(m.group(5), m.group(6)))  # fmt: skip
    m = re.fullmatch(r"r(\d+) = map_fd (\d+)", line)
    if m:
        return _lddw(int(m.group(1)), int(m.group(2)), op.PSEUDO_MAP_FD)
    m = re.fullmatch(r"r(\d+) = map_by_idx\((\d+)\)", line)
    if m:
        return _lddw(int(m.group(1)), int(m.group(2)), op.PSEUDO_MAP_IDX)
    m = re.fullmatch(r"r(\d+) = map_val\((\d+)\) \+ (\d+)", line)
    if m:
        return _lddw(int(m.group(1)), int(m.group(2)), op.PSEUDO_MAP_VALUE, int(m.group(3)))
    m = re.fullmatch(r"r(\d+) = mva\(map_by_idx\((\d+)\)\) \+ (\d+)", line)
    if m:
        return _lddw(int(m.group(1)), int(m.group(2)), op.PSEUDO_MAP_IDX_VALUE, int(m.group(3)))
    m = re.fullmatch(r"r(\d+) = (-?\d+|0x[0-9a-fA-F]+)ll", line)
    if m:
        return _lddw(int(m.group(1)), _int(m.group(2)))
    m = re.fullmatch(rf"{_REG} = (be|le|swap)(16|32|64) r\d+", line)
    if m:
        dst, bits = int(m.group(2)), int(m.group(4))
        if m.group(3) == "swap":
            return _slot(op.CLS_ALU64 | op.OP_END, dst, imm=bits)
        src_bit = op.SRC_X if m.group(3) == "be" else op.SRC_K
        return _slot(op.CLS_ALU | op.OP_END | src_bit, dst, imm=bits)
    m = re.fullmatch(rf"{_REG} = - ?{_REG}", line)
    if m:
        cls = op.CLS_ALU if m.group(1) == "w" else op.CLS_ALU64
        return _slot(cls | op.OP_NEG, int(m.group(2)))
    m = re.fullmatch(rf"{_REG} s(8|16|32)= {_REG}", line)
    if m:
        cls = op.CLS_ALU if m.group(1) == "w" else op.CLS_ALU64
        return _slot(cls | op.SRC_X | op.OP_MOV, int(m.group(2)), int(m.group(5)),
                     int(m.group(3)))  # fmt: skip
    m = re.fullmatch(rf"{_REG} = (\S+)", line)
    if m:
        cls = op.CLS_ALU if m.group(1) == "w" else op.CLS_ALU64
        v = m.group(3)
        wide = not v.startswith(("r", "w")) and not -(1 << 31) <= _int(v) < (1 << 31)
        if wide and cls == op.CLS_ALU64:
            return _lddw(int(m.group(2)), _int(v))
        return _operand(cls | op.OP_MOV, int(m.group(2)), v, 0)
    m = re.fullmatch(rf"{_REG} (\S+)= (\S+)", line)
    if m and m.group(3) in _ALU:
        cls = op.CLS_ALU if m.group(1) == "w" else op.CLS_ALU64
        off = 1 if m.group(3) in ("s/", "s%") else 0
        return _operand(cls | _ALU[m.group(3)], int(m.group(2)), m.group(4), 0, off)
    raise Skip(f"instruction not translated: '{line}'")


def _operand(opcode: int, dst: int, v: str, off: int, alu_off: int = 0) -> bytes:
    if v.startswith(("r", "w")):
        return _slot(opcode | op.SRC_X, dst, int(v[1:]), off or alu_off)
    return _slot(opcode, dst, 0, off or alu_off, _int(v))


def _sign(sign: str, n: str) -> int:
    return -int(n) if sign == "-" else int(n)


def _target(label: str, pc: int, labels: dict[str, int]) -> int:
    if label not in labels:
        raise Skip(f"jump to undefined label {label}")
    return labels[label] - pc - 1


# --- running ------------------------------------------------------------------

_SKIP_OPTIONS = {
    "!allow_division_by_zero": "PREVAIL option refusing division by zero (eBPF defines it)",
    "big_endian": "big-endian semantics (bpftime is little-endian)",
}


def translate(file: str, doc: dict[str, object]) -> Case:
    name = str(doc.get("test-case"))
    messages = [str(m) for m in (doc.get("messages") or [])]  # type: ignore[attr-defined]
    case = Case(file, name, rejects(messages), messages)
    if "expected-exception" in doc or "observe" in doc:
        raise Skip("tests PREVAIL's observation feature")
    for o in doc.get("options") or []:  # type: ignore[attr-defined]
        if o in _SKIP_OPTIONS:
            raise Skip(_SKIP_OPTIONS[o])
    pre = [str(p) for p in (doc.get("pre") or [])]  # type: ignore[attr-defined]
    case.regs, case.stack = _pre_state(pre)
    code = doc.get("code")
    assert isinstance(code, dict)
    case.code = assemble(code)
    return case


def run_case(case: Case) -> Outcome:
    try:
        verify_from(case.code, CTX64, MAPS, case.regs, case.stack, max_steps=MAX_STEPS)
    except VerifierError as exc:
        return Outcome(case, True, str(exc).splitlines()[0])
    return Outcome(case, False, "accepted")


def run_all(root: Path) -> tuple[list[Outcome], list[tuple[str, str, str]]]:
    outcomes: list[Outcome] = []
    skipped: list[tuple[str, str, str]] = []
    for file, doc in load_cases(root):
        try:
            case = translate(file, doc)
        except Skip as why:
            skipped.append((file, str(doc.get("test-case")), str(why)))
            continue
        outcomes.append(run_case(case))
    return outcomes, skipped


def summary(outcomes: list[Outcome], skipped: list[tuple[str, str, str]]) -> str:
    agree = sum(o.agrees for o in outcomes)
    n = len(outcomes)
    lines = [
        f"PREVAIL cases: {n + len(skipped)}, translated {n}, skipped {len(skipped)}",
        f"agreement on accept/reject: {agree}/{n} = {100.0 * agree / max(n, 1):.1f}%",
    ]
    reasons: dict[str, int] = {}
    for _, _, why in skipped:
        key = re.sub(r"'.*'", "'...'", why)
        reasons[key] = reasons.get(key, 0) + 1
    lines.append("skipped, by reason:")
    lines.extend(f"  {v:4d}  {k}" for k, v in sorted(reasons.items(), key=lambda x: -x[1]))
    lines.append("disagreements:")
    for o in outcomes:
        if not o.agrees:
            want = "reject" if o.case.prevail_rejects else "accept"
            lines.append(f"  {o.case.file}: {o.case.name}: PREVAIL {want}s; ours: {o.detail}")
            if o.case.messages:
                lines.append(f"      PREVAIL: {o.case.messages[0]}")
    return "\n".join(lines)


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    outs, skips = run_all(root)
    print(summary(outs, skips))
