"""Assembler and disassembler for eBPF in ubpf's text syntax.

Owns: turning text (``mov %r0, 1``, ``ldxw %r1, [%r2+4]``, ``jeq %r1, 0x11, +2``,
``lddw %r1, map_fd 3``) into bytecode and bytecode back into text, labels, and
the ``.raw 0x<word>`` escape hatch. The disassembler prints ``.raw`` for every
slot whose canonical line would not assemble to the same bytes, so
``assemble(disassemble(code)) == code`` holds for any code whose length is a
multiple of 8.

Does not own: whether a program can run. The assembler encodes whatever the
syntax allows (registers up to %r15, legacy packet loads, jumps out of the
program); ``insn.py`` refuses what the engines cannot run. The disassembler
prints relative offsets, never labels.

Each mnemonic is a ``_Form``: its fixed encoding bits plus a ``_Shape``, the
syntax of its operands, with one parse and one show function per shape.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import opcodes as op
from .errors import AsmError

_SLOT = struct.Struct("<BBhi")
_WORD = struct.Struct("<Q")
_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|([0-9]+))")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*:")
_REG = re.compile(r"%r([0-9]+)")
_MEM = re.compile(r"\[\s*([^\]+\-\s]*)\s*([+-][^\]]*)?\]")
_MAP_VALUE = re.compile(r"([+-]?[0-9a-zA-Z]+)\s*([+-]\s*[0-9a-zA-Z]+)?")


@dataclass(frozen=True)
class _Insn:
    """The fields of one instruction; an lddw also carries its second slot's imm."""

    opcode: int
    dst: int
    src: int
    off: int
    imm: int
    word: int  # the first slot as one little-endian 64-bit word
    imm_hi: int = 0

    @classmethod
    def unpack(cls, chunk: bytes) -> _Insn:
        opcode, regs, off, imm = _SLOT.unpack_from(chunk)
        imm_hi = _SLOT.unpack_from(chunk, 8)[3] if len(chunk) == 16 else 0
        return cls(opcode, regs & 0x0F, regs >> 4, off, imm, _WORD.unpack_from(chunk)[0], imm_hi)


@dataclass(frozen=True)
class _Ctx:
    """Where an instruction is being assembled: its line, its slot, the labels."""

    line: int
    index: int
    labels: Mapping[str, int]

    def error(self, message: str) -> AsmError:
        return AsmError(f"line {self.line}: {message}", self.line)


@dataclass(frozen=True)
class _Form:
    """One mnemonic: the operand shape and the encoding bits the mnemonic fixes."""

    shape: _Shape
    opcode: int
    off: int = 0
    imm: int = 0


@dataclass(frozen=True)
class _Shape:
    """The operands of a family of mnemonics; ``syntax`` is quoted in errors."""

    syntax: str
    arity: int
    parse: Callable[[_Form, list[str], _Ctx], bytes]
    show: Callable[[_Form, _Insn], str]
    slots: int = 1
    sources: tuple[int, ...] = (op.SRC_K,)  # source bits the parse may add to the opcode


# ---- operand parsing -------------------------------------------------------


def _pack(opcode: int, dst: int, src: int, off: int, imm: int) -> bytes:
    return _SLOT.pack(opcode, dst | (src << 4), off, imm)


def _int(token: str, what: str, ctx: _Ctx) -> int:
    m = _INT.fullmatch(token)
    if m is None:
        raise ctx.error(f"expected {what}, got '{token}'")
    sign, hexdigits, decimal = m.groups()
    value = int(hexdigits, 16) if hexdigits else int(decimal, 10)
    return -value if sign == "-" else value


def _signed(value: int, bits: int, what: str, ctx: _Ctx) -> int:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not low <= value <= high:
        raise ctx.error(f"{what} {value} does not fit in {bits} bits ({low}..{high})")
    return value


def _s32(value: int) -> int:
    """The signed reading of a 32-bit pattern."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _imm32(token: str, ctx: _Ctx) -> int:
    """A 32-bit immediate, signed or unsigned (0xffffffff encodes as -1)."""
    value = _int(token, "an immediate", ctx)
    if not -(1 << 31) <= value < 1 << 32:
        raise ctx.error(f"immediate {token} does not fit in 32 bits")
    return _s32(value)


def _imm64(token: str, ctx: _Ctx) -> int:
    """A 64-bit immediate, signed or unsigned, as its unsigned pattern."""
    value = _int(token, "an immediate", ctx)
    if not -(1 << 63) <= value < 1 << 64:
        raise ctx.error(f"immediate {token} does not fit in 64 bits")
    return value & 0xFFFFFFFFFFFFFFFF


def _reg(token: str, ctx: _Ctx) -> int:
    m = _REG.fullmatch(token)
    if m is None:
        raise ctx.error(f"expected a register %r0..%r15, got '{token}'")
    number = int(m[1])
    if number > 15:
        raise ctx.error(f"register {token} does not exist (the field holds %r0..%r15)")
    return number


def _mem(token: str, ctx: _Ctx) -> tuple[int, int]:
    """``[%rN]``, ``[%rN+off]`` or ``[%rN-off]``; off must fit s16."""
    m = _MEM.fullmatch(token)
    if m is None:
        raise ctx.error(f"expected a memory operand like [%r1+8], got '{token}'")
    base = _reg(m[1], ctx)
    if m[2] is None:
        return base, 0
    offset = "".join(m[2].split())
    return base, _signed(_int(offset, "an offset", ctx), 16, "offset", ctx)


def _target(token: str, bits: int, ctx: _Ctx) -> int:
    """``+N``, ``-N`` or a label, as an offset from the next instruction."""
    if token[:1] in ("+", "-"):
        offset = _int(token, "an offset", ctx)
    elif _NAME.fullmatch(token):
        if token not in ctx.labels:
            raise ctx.error(f"unknown label '{token}'")
        offset = ctx.labels[token] - (ctx.index + 1)
    else:
        raise ctx.error(f"expected +N, -N or a label, got '{token}'")
    return _signed(offset, bits, "offset", ctx)


def _is_reg(token: str) -> bool:
    return token.startswith("%")


def _keyword(token: str) -> tuple[str, str]:
    """Split ``local next`` into (``local``, ``next``)."""
    head, *rest = token.split(None, 1)
    return head, rest[0] if rest else ""


# ---- operand printing ------------------------------------------------------


def _fmt_imm(value: int) -> str:
    return str(value) if abs(value) < 0x10000 else hex(value)


def _fmt_imm64(lo: int, hi: int) -> str:
    """Small values in signed decimal, large ones as unsigned hex (addresses, masks)."""
    value = (hi & 0xFFFFFFFF) << 32 | (lo & 0xFFFFFFFF)
    signed = value - (1 << 64) if value >= 1 << 63 else value
    return str(signed) if abs(signed) < 0x10000 else hex(value)


def _fmt_rel(offset: int) -> str:
    return f"{offset:+d}"


def _fmt_mem(reg: int, off: int) -> str:
    return f"[%r{reg}]" if off == 0 else f"[%r{reg}{off:+d}]"


def _fmt_source(insn: _Insn) -> str:
    return f"%r{insn.src}" if insn.opcode & op.SRC_X else _fmt_imm(insn.imm)


# ---- one parse and one show function per shape -----------------------------


def _parse_alu(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    dst = _reg(ops[0], ctx)
    if _is_reg(ops[1]):
        return _pack(form.opcode | op.SRC_X, dst, _reg(ops[1], ctx), form.off, form.imm)
    return _pack(form.opcode, dst, 0, form.off, _imm32(ops[1], ctx))


def _show_alu(form: _Form, insn: _Insn) -> str:
    return f"%r{insn.dst}, {_fmt_source(insn)}"


def _parse_reg_reg(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    return _pack(form.opcode, _reg(ops[0], ctx), _reg(ops[1], ctx), form.off, form.imm)


def _show_reg_reg(form: _Form, insn: _Insn) -> str:
    return f"%r{insn.dst}, %r{insn.src}"


def _parse_dst(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    return _pack(form.opcode, _reg(ops[0], ctx), 0, form.off, form.imm)


def _show_dst(form: _Form, insn: _Insn) -> str:
    return f"%r{insn.dst}"


def _parse_none(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    return _pack(form.opcode, 0, 0, form.off, form.imm)


def _show_none(form: _Form, insn: _Insn) -> str:
    return ""


def _parse_jump(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    return _pack(form.opcode, 0, 0, _target(ops[0], 16, ctx), form.imm)


def _show_jump(form: _Form, insn: _Insn) -> str:
    return _fmt_rel(insn.off)


def _parse_jump32(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    return _pack(form.opcode, 0, 0, form.off, _target(ops[0], 32, ctx))


def _show_jump32(form: _Form, insn: _Insn) -> str:
    return _fmt_rel(insn.imm)


def _parse_cond(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    dst, off = _reg(ops[0], ctx), _target(ops[2], 16, ctx)
    if _is_reg(ops[1]):
        return _pack(form.opcode | op.SRC_X, dst, _reg(ops[1], ctx), off, form.imm)
    return _pack(form.opcode, dst, 0, off, _imm32(ops[1], ctx))


def _show_cond(form: _Form, insn: _Insn) -> str:
    return f"%r{insn.dst}, {_fmt_source(insn)}, {_fmt_rel(insn.off)}"


def _parse_call(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    head, rest = _keyword(ops[0])
    if head == "local":
        return _pack(form.opcode, 0, op.PSEUDO_CALL, form.off, _target(rest, 32, ctx))
    return _pack(form.opcode, 0, 0, form.off, _imm32(ops[0], ctx))


def _show_call(form: _Form, insn: _Insn) -> str:
    if insn.src == op.PSEUDO_CALL:
        return f"local {_fmt_rel(insn.imm)}"
    return _fmt_imm(insn.imm)


def _parse_load(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    dst = _reg(ops[0], ctx)
    src, off = _mem(ops[1], ctx)
    return _pack(form.opcode, dst, src, off, form.imm)


def _show_load(form: _Form, insn: _Insn) -> str:
    return f"%r{insn.dst}, {_fmt_mem(insn.src, insn.off)}"


def _parse_store_imm(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    dst, off = _mem(ops[0], ctx)
    return _pack(form.opcode, dst, 0, off, _imm32(ops[1], ctx))


def _show_store_imm(form: _Form, insn: _Insn) -> str:
    return f"{_fmt_mem(insn.dst, insn.off)}, {_fmt_imm(insn.imm)}"


def _parse_store_reg(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    dst, off = _mem(ops[0], ctx)
    return _pack(form.opcode, dst, _reg(ops[1], ctx), off, form.imm)


def _show_store_reg(form: _Form, insn: _Insn) -> str:
    return f"{_fmt_mem(insn.dst, insn.off)}, %r{insn.src}"


def _parse_ld_abs(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    return _pack(form.opcode, 0, 0, form.off, _imm32(ops[0], ctx))


def _show_ld_abs(form: _Form, insn: _Insn) -> str:
    return _fmt_imm(insn.imm)


def _parse_ld_ind(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    return _pack(form.opcode, 0, _reg(ops[0], ctx), form.off, _imm32(ops[1], ctx))


def _show_ld_ind(form: _Form, insn: _Insn) -> str:
    return f"%r{insn.src}, {_fmt_imm(insn.imm)}"


# lddw's pseudo sources (src field of the first slot), by the keyword naming them
_LDDW_PSEUDO = {
    "map_fd": op.PSEUDO_MAP_FD,
    "map_value": op.PSEUDO_MAP_VALUE,
    "btf_id": op.PSEUDO_BTF_ID,
    "func": op.PSEUDO_FUNC,
    "map_idx": op.PSEUDO_MAP_IDX,
    "map_idx_value": op.PSEUDO_MAP_IDX_VALUE,
}
_LDDW_KEYWORD = {src: name for name, src in _LDDW_PSEUDO.items()}
_LDDW_WITH_OFFSET = (op.PSEUDO_MAP_VALUE, op.PSEUDO_MAP_IDX_VALUE)


def _lddw_pseudo(src: int, arg: str, ctx: _Ctx) -> tuple[int, int]:
    """The (first, second) imms of ``lddw %rD, <keyword> arg``."""
    if src == op.PSEUDO_FUNC:
        return _target(arg, 32, ctx), 0
    if src not in _LDDW_WITH_OFFSET:
        return _imm32(arg, ctx), 0
    m = _MAP_VALUE.fullmatch(arg)
    if m is None:
        raise ctx.error(f"expected N or N+OFF, got '{arg}'")
    offset = _imm32("".join(m[2].split()), ctx) if m[2] else 0
    return _imm32(m[1], ctx), offset


def _parse_lddw(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    dst = _reg(ops[0], ctx)
    head, rest = _keyword(ops[1])
    if head in _LDDW_PSEUDO:
        src = _LDDW_PSEUDO[head]
        lo, hi = _lddw_pseudo(src, rest, ctx)
    else:
        src, value = 0, _imm64(ops[1], ctx)
        lo, hi = _s32(value), _s32(value >> 32)
    return _pack(form.opcode, dst, src, form.off, lo) + _pack(0, 0, 0, 0, hi)


def _show_lddw(form: _Form, insn: _Insn) -> str:
    keyword = _LDDW_KEYWORD.get(insn.src)
    if keyword is None:
        return f"%r{insn.dst}, {_fmt_imm64(insn.imm, insn.imm_hi)}"
    if insn.src == op.PSEUDO_FUNC:
        return f"%r{insn.dst}, {keyword} {_fmt_rel(insn.imm)}"
    if insn.src in _LDDW_WITH_OFFSET:
        return f"%r{insn.dst}, {keyword} {_fmt_imm(insn.imm)}{insn.imm_hi:+d}"
    return f"%r{insn.dst}, {keyword} {_fmt_imm(insn.imm)}"


def _parse_raw(form: _Form, ops: list[str], ctx: _Ctx) -> bytes:
    value = _int(ops[0], "a 64-bit word", ctx)
    if not 0 <= value < 1 << 64:
        raise ctx.error(f"raw word {ops[0]} does not fit in 64 bits")
    return _WORD.pack(value)


def _show_raw(form: _Form, insn: _Insn) -> str:
    return f"0x{insn.word:016x}"


_BOTH = (op.SRC_K, op.SRC_X)
_ALU = _Shape("%rD, imm|%rS", 2, _parse_alu, _show_alu, sources=_BOTH)
_REG_REG = _Shape("%rD, %rS", 2, _parse_reg_reg, _show_reg_reg)
_DST = _Shape("%rD", 1, _parse_dst, _show_dst)
_NONE = _Shape("no operands", 0, _parse_none, _show_none)
_JUMP = _Shape("+off|label", 1, _parse_jump, _show_jump)
_JUMP32 = _Shape("+off|label", 1, _parse_jump32, _show_jump32)
_COND = _Shape("%rD, imm|%rS, +off|label", 3, _parse_cond, _show_cond, sources=_BOTH)
_CALL = _Shape("helper id|local label|local +off", 1, _parse_call, _show_call)
_LOAD = _Shape("%rD, [%rS+off]", 2, _parse_load, _show_load)
_STORE_IMM = _Shape("[%rD+off], imm", 2, _parse_store_imm, _show_store_imm)
_STORE_REG = _Shape("[%rD+off], %rS", 2, _parse_store_reg, _show_store_reg)
_LD_ABS = _Shape("imm", 1, _parse_ld_abs, _show_ld_abs)
_LD_IND = _Shape("%rS, imm", 2, _parse_ld_ind, _show_ld_ind)
_LDDW = _Shape(
    "%rD, imm64|map_fd N|map_value N+OFF|btf_id N|func label|map_idx N|map_idx_value N+OFF",
    2,
    _parse_lddw,
    _show_lddw,
    slots=2,
)
_RAW = _Shape("0x<64-bit word>", 1, _parse_raw, _show_raw)


# ---- the mnemonic table ----------------------------------------------------

_WIDTHS = {"": (op.CLS_ALU64, op.CLS_JMP, op.SZ_DW), "32": (op.CLS_ALU, op.CLS_JMP32, op.SZ_W)}
_ALU_OPS = {
    "add": op.OP_ADD, "sub": op.OP_SUB, "mul": op.OP_MUL, "div": op.OP_DIV,
    "or": op.OP_OR, "and": op.OP_AND, "lsh": op.OP_LSH, "rsh": op.OP_RSH,
    "mod": op.OP_MOD, "xor": op.OP_XOR, "mov": op.OP_MOV, "arsh": op.OP_ARSH,
}  # fmt: skip
_SIGNED_OPS = {"sdiv": op.OP_DIV, "smod": op.OP_MOD}  # offset 1 selects the signed form
_JUMP_OPS = {
    "jeq": op.JEQ, "jgt": op.JGT, "jge": op.JGE, "jset": op.JSET, "jne": op.JNE,
    "jsgt": op.JSGT, "jsge": op.JSGE, "jlt": op.JLT, "jle": op.JLE, "jslt": op.JSLT,
    "jsle": op.JSLE,
}  # fmt: skip
_SIZES = {"b": op.SZ_B, "h": op.SZ_H, "w": op.SZ_W, "dw": op.SZ_DW}
_ATOMIC_OPS = {
    "add": op.ATOMIC_ADD, "or": op.ATOMIC_OR, "and": op.ATOMIC_AND, "xor": op.ATOMIC_XOR,
    "fetch_add": op.ATOMIC_ADD | op.ATOMIC_FETCH, "fetch_or": op.ATOMIC_OR | op.ATOMIC_FETCH,
    "fetch_and": op.ATOMIC_AND | op.ATOMIC_FETCH, "fetch_xor": op.ATOMIC_XOR | op.ATOMIC_FETCH,
    "xchg": op.ATOMIC_XCHG, "cmpxchg": op.ATOMIC_CMPXCHG,
}  # fmt: skip
_ALU64_MOVX = op.CLS_ALU64 | op.SRC_X | op.OP_MOV
_ALU32_MOVX = op.CLS_ALU | op.SRC_X | op.OP_MOV


def _build_forms() -> dict[str, _Form]:
    forms: dict[str, _Form] = {}
    for suffix, (alu, jmp, size) in _WIDTHS.items():
        for name, code in _ALU_OPS.items():
            forms[name + suffix] = _Form(_ALU, alu | code)
        for name, code in _SIGNED_OPS.items():
            forms[name + suffix] = _Form(_ALU, alu | code, off=1)
        forms["neg" + suffix] = _Form(_DST, alu | op.OP_NEG)
        for name, code in _JUMP_OPS.items():
            forms[name + suffix] = _Form(_COND, jmp | code)
        for name, code in _ATOMIC_OPS.items():
            forms[f"lock_{name}{suffix}"] = _Form(
                _STORE_REG, op.CLS_STX | op.MODE_ATOMIC | size, imm=code
            )
    # sign-extending moves: the offset is the source width
    forms["movsx864"] = _Form(_REG_REG, _ALU64_MOVX, off=8)
    forms["movsx1664"] = _Form(_REG_REG, _ALU64_MOVX, off=16)
    forms["movsx3264"] = _Form(_REG_REG, _ALU64_MOVX, off=32)
    forms["movsx832"] = _Form(_REG_REG, _ALU32_MOVX, off=8)
    forms["movsx1632"] = _Form(_REG_REG, _ALU32_MOVX, off=16)
    for width in (16, 32, 64):
        forms[f"le{width}"] = _Form(_DST, op.CLS_ALU | op.SRC_K | op.OP_END, imm=width)
        forms[f"be{width}"] = _Form(_DST, op.CLS_ALU | op.SRC_X | op.OP_END, imm=width)
        forms[f"bswap{width}"] = _Form(_DST, op.CLS_ALU64 | op.SRC_K | op.OP_END, imm=width)
    forms["ja"] = _Form(_JUMP, op.CLS_JMP | op.JA)
    forms["ja32"] = forms["gotol"] = _Form(_JUMP32, op.CLS_JMP32 | op.JA)
    forms["call"] = _Form(_CALL, op.CLS_JMP | op.CALL)
    forms["callx"] = _Form(_DST, op.CLS_JMP | op.SRC_X | op.CALL)
    forms["exit"] = _Form(_NONE, op.CLS_JMP | op.EXIT)
    for name, size in _SIZES.items():
        forms[f"ldx{name}"] = _Form(_LOAD, op.CLS_LDX | op.MODE_MEM | size)
        if size != op.SZ_DW:
            forms[f"ldxs{name}"] = _Form(_LOAD, op.CLS_LDX | op.MODE_MEMSX | size)
        forms[f"st{name}"] = _Form(_STORE_IMM, op.CLS_ST | op.MODE_MEM | size)
        forms[f"stx{name}"] = _Form(_STORE_REG, op.CLS_STX | op.MODE_MEM | size)
        forms[f"ldabs{name}"] = _Form(_LD_ABS, op.CLS_LD | op.MODE_ABS | size)
        forms[f"ldind{name}"] = _Form(_LD_IND, op.CLS_LD | op.MODE_IND | size)
    forms["lddw"] = _Form(_LDDW, op.LDDW)
    return forms


_FORMS = _build_forms()
_RAW_FORM = _Form(_RAW, 0)
_DIRECTIVES = {".raw": _RAW_FORM}


def _build_candidates() -> dict[int, list[str]]:
    """Opcode byte -> the mnemonics that may print it, in table order (ja32 before gotol)."""
    candidates: dict[int, list[str]] = {}
    for name, form in _FORMS.items():
        for source in form.shape.sources:
            candidates.setdefault(form.opcode | source, []).append(name)
    return candidates


_CANDIDATES = _build_candidates()


# ---- entry points ----------------------------------------------------------


@dataclass(frozen=True)
class _Statement:
    line: int
    index: int
    form: _Form
    operands: list[str]


def _split(text: str) -> tuple[list[_Statement], dict[str, int]]:
    """First pass: statements with their slot index, and label -> slot index."""
    statements: list[_Statement] = []
    labels: dict[str, int] = {}
    label_lines: dict[str, int] = {}
    index = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0].strip()
        label = _LABEL.match(body)
        if label is not None:
            name = label[1]
            if name in labels:
                raise AsmError(
                    f"line {number}: duplicate label '{name}' (first defined on line "
                    f"{label_lines[name]})",
                    number,
                )
            labels[name], label_lines[name] = index, number
            body = body[label.end() :].strip()
        if not body:
            continue
        mnemonic, *rest = body.split(None, 1)
        form = _FORMS.get(mnemonic) or _DIRECTIVES.get(mnemonic)
        if form is None:
            raise AsmError(f"line {number}: unknown mnemonic '{mnemonic}'", number)
        operands = [o.strip() for o in rest[0].split(",")] if rest else []
        if len(operands) != form.shape.arity:
            raise AsmError(
                f"line {number}: {mnemonic} takes {form.shape.syntax}, "
                f"got {len(operands)} operand(s)",
                number,
            )
        statements.append(_Statement(number, index, form, operands))
        index += form.shape.slots
    return statements, labels


def assemble(text: str) -> bytes:
    """Assemble ubpf-syntax text into little-endian bytecode (lddw takes 16 bytes).

    Raises AsmError, with ``line`` set, for the first line that cannot be encoded.
    """
    statements, labels = _split(text)
    return b"".join(
        s.form.shape.parse(s.form, s.operands, _Ctx(s.line, s.index, labels)) for s in statements
    )


def _line(mnemonic: str, form: _Form, insn: _Insn) -> str:
    operands = form.shape.show(form, insn)
    return f"{mnemonic} {operands}" if operands else mnemonic


def _disassemble_at(code: bytes, pos: int) -> tuple[str, int]:
    """The canonical line for the instruction at byte ``pos``, and its size in slots."""
    for mnemonic in _CANDIDATES.get(code[pos], []):
        form = _FORMS[mnemonic]
        chunk = code[pos : pos + 8 * form.shape.slots]
        if len(chunk) < 8 * form.shape.slots:
            continue  # an lddw cut off by the end of the code
        text = _line(mnemonic, form, _Insn.unpack(chunk))
        # reserved fields and unknown variants only show up as a mismatch here
        if assemble(text) == chunk:
            return text, form.shape.slots
    return _line(".raw", _RAW_FORM, _Insn.unpack(code[pos : pos + 8])), 1


def disassemble(code: bytes) -> str:
    """One canonical line per instruction; ``.raw 0x...`` for slots with no such line."""
    if len(code) % 8:
        raise AsmError(f"code is {len(code)} bytes, not a multiple of 8")
    lines: list[str] = []
    pos = 0
    while pos < len(code):
        text, slots = _disassemble_at(code, pos)
        lines.append(text)
        pos += 8 * slots
    return "".join(f"{line}\n" for line in lines)
