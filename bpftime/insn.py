"""Decoding and load-time validation of eBPF bytecode.

Owns: turning raw bytes into ``Insn`` records, refusing every malformed
encoding (unknown opcodes, non-zero reserved fields, registers above r10,
writes to r10, jumps outside the program, into the middle of an lddw or into
another subprogram, lddw without its second half, subprograms that fall off
their end, unknown helper ids, self-jumps), finding the subprograms, and
resolving the pseudo lddw forms (map fd, map value) through the bindings the
caller gives. The result, ``DecodedProgram``, is plain data both engines use.

Does not own: safety proofs (memory bounds, initialised registers, loop
termination); that is the verifier's job. Every rejection goes through
``_reject`` so messages read the same: ``insn 12: <what>; <what to do>``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from . import opcodes as op
from .errors import LoadError

_SLOT = struct.Struct("<BBhi")
_PACKED = struct.Struct("<HBBiq")  # bt_insn in cext/bt_insn.h


@dataclass(frozen=True)
class Insn:
    """One decoded instruction; an lddw carries its full 64-bit imm and size 2."""

    opcode: int
    dst: int
    src: int
    off: int
    imm: int
    size: int = 1  # slots: 2 for lddw

    @property
    def cls(self) -> int:
        return self.opcode & 0x07


@dataclass(frozen=True)
class MapBinding:
    """What an lddw map pseudo-instruction becomes.

    ``handle`` is the 64-bit value ``lddw rX, map`` (src 1/5) loads; ``value_addr``
    and ``value_size`` describe the memory ``lddw rX, map_value`` (src 2/6) points
    into, which the interpreter also accepts as a region.
    """

    handle: int
    value_addr: int = 0
    value_size: int = 0
    writable: bool = True


@dataclass
class DecodedProgram:
    """A validated program: instructions by slot, subprogram entries, packed form."""

    insns: list[Insn | None]  # None marks the second slot of an lddw
    entries: list[int]  # sorted subprogram start indices; entries[0] == 0
    helper_ids: set[int]
    # per slot: decoded op (raw | variant), off (memory offset or absolute target), imm
    packed: bytes = b""
    regions: list[tuple[int, int, bool]] = field(default_factory=list)
    # lddw slot index -> value the interpreter and JIT load (resolved pseudo forms)
    lddw_values: dict[int, int] = field(default_factory=dict)

    def subprogram_of(self, index: int) -> int:
        """Start index of the subprogram holding ``index``."""
        start = 0
        for e in self.entries:
            if e > index:
                break
            start = e
        return start

    def subprogram_end(self, start: int) -> int:
        i = self.entries.index(start)
        return self.entries[i + 1] if i + 1 < len(self.entries) else len(self.insns)


# check_target(insn index, target index, what) -> target, or raises LoadError
_TargetCheck = Callable[[int, int, str], int]


def _reject(index: int | None, message: str) -> LoadError:
    where = f"insn {index}: " if index is not None else ""
    return LoadError(f"{where}{message}", index)


def decode(code: bytes | bytearray | memoryview) -> list[Insn | None]:
    """Split bytecode into instructions (lddw joined with its second slot).

    Only checks what decoding needs; ``validate`` checks the rest.
    """
    data = bytes(code)
    if len(data) % 8:
        raise _reject(None, f"program size {len(data)} is not a multiple of 8 bytes")
    n = len(data) // 8
    if n == 0:
        raise _reject(None, "program is empty; it needs at least an exit instruction")
    if n > op.MAX_INSNS:
        raise _reject(None, f"program has {n} instructions, more than the limit {op.MAX_INSNS}")
    out: list[Insn | None] = []
    i = 0
    while i < n:
        opcode, regs, off, imm = _SLOT.unpack_from(data, i * 8)
        dst, src = regs & 0x0F, regs >> 4
        if opcode == op.LDDW:
            if i + 1 >= n:
                raise _reject(i, "incomplete lddw: the second half of the instruction is missing")
            op2, regs2, off2, imm2 = _SLOT.unpack_from(data, (i + 1) * 8)
            if op2 or regs2 or off2:
                raise _reject(
                    i + 1, "invalid lddw second half: opcode, registers and offset must be 0"
                )
            full = (imm & 0xFFFFFFFF) | ((imm2 & 0xFFFFFFFF) << 32)
            out.append(Insn(opcode, dst, src, off, full, 2))
            out.append(None)
            i += 2
            continue
        out.append(Insn(opcode, dst, src, off, imm))
        i += 1
    return out


def _signed64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >> 63 else v


def validate(
    code: bytes | bytearray | memoryview,
    helper_ids: Iterable[int] = (),
    maps: Mapping[int, MapBinding] | None = None,
) -> DecodedProgram:
    """Decode and validate; raise LoadError naming the first bad instruction."""
    insns = decode(code)
    helpers = set(helper_ids)
    maps = maps or {}
    n = len(insns)
    entries = {0}
    targets: list[tuple[int, int]] = []  # (from, to) of jumps, checked against subprograms
    packed: list[tuple[int, int, int, int, int]] = []
    lddw_values: dict[int, int] = {}
    regions: list[tuple[int, int, bool]] = []
    used_helpers: set[int] = set()

    def check_target(i: int, t: int, what: str) -> int:
        if t < 0 or t >= n:
            raise _reject(
                i, f"{what} out of bounds: target {t} is outside the program (0..{n - 1})"
            )
        if insns[t] is None:
            raise _reject(i, f"{what} to the middle of an lddw at insn {t - 1}")
        return t

    for i, ins in enumerate(insns):
        if ins is None:
            packed.append((0, 0, 0, 0, 0))
            continue
        c = ins.opcode
        if ins.dst > 10:
            raise _reject(i, f"invalid destination register r{ins.dst}: registers are r0-r10")
        if ins.src > 10 and not (c == op.LDDW or c == op.CLS_JMP | op.CALL):
            raise _reject(i, f"invalid source register r{ins.src}: registers are r0-r10")
        klass = ins.cls
        dec_op, dec_off, dec_imm = c, ins.off, ins.imm

        if klass in (op.CLS_ALU, op.CLS_ALU64):
            dec_op = _check_alu(i, ins)
        elif klass in (op.CLS_JMP, op.CLS_JMP32):
            dec_op, dec_off = _check_jmp(i, ins, helpers, check_target, entries, targets)
            if dec_op == op.CLS_JMP | op.CALL:
                used_helpers.add(ins.imm)
        elif klass == op.CLS_LD:
            if c == op.LDDW:
                dec_op, dec_off, dec_imm = _check_lddw(i, ins, maps, check_target, entries, regions)
                lddw_values[i] = dec_imm
            else:
                _check_legacy_packet(i, ins)
        elif klass == op.CLS_LDX:
            _check_ldx(i, ins)
        elif klass == op.CLS_ST:
            if op.mem_mode(c) != op.MODE_MEM:
                raise _reject(i, f"unknown opcode 0x{c:02x} (ST supports only the MEM mode)")
            if ins.src:
                raise _reject(i, "invalid source register: ST stores an immediate; src must be 0")
        else:  # CLS_STX
            dec_op = _check_stx(i, ins)
        if ins.dst == 10 and _writes_dst(ins):
            raise _reject(i, "frame pointer r10 is read-only")
        packed.append((dec_op, ins.dst, ins.src, dec_off, _signed64(dec_imm)))

    ordered = sorted(entries)
    # each subprogram must end in exit or an unconditional jump, and jumps stay inside it
    for k, start in enumerate(ordered):
        end = ordered[k + 1] if k + 1 < len(ordered) else n
        last = end - 1
        if insns[last] is None:
            last -= 1
        tail = insns[last]
        assert tail is not None
        if not _is_terminator(tail):
            what = "program" if end == n else f"subprogram at insn {start}"
            raise _reject(
                last,
                f"{what} does not end with exit or an unconditional jump: execution would "
                "fall off its end",
            )
    for src_i, dst_i in targets:
        a, b = _span(ordered, src_i), _span(ordered, dst_i)
        if a != b:
            raise _reject(
                src_i,
                f"jump out of bounds: target {dst_i} is in another subprogram"
                f" (this one starts at insn {a}); use call for bpf-to-bpf calls",
            )
    buf = b"".join(_PACKED.pack(*p) for p in packed)
    return DecodedProgram(insns, ordered, used_helpers, buf, regions, lddw_values)


def _span(ordered: list[int], index: int) -> int:
    start = 0
    for e in ordered:
        if e > index:
            break
        start = e
    return start


def _is_terminator(ins: Insn) -> bool:
    if ins.opcode == op.CLS_JMP | op.EXIT:
        return True
    return ins.opcode in (op.CLS_JMP | op.JA, op.CLS_JMP32 | op.JA)


def _writes_dst(ins: Insn) -> bool:
    k = ins.cls
    if k in (op.CLS_ALU, op.CLS_ALU64, op.CLS_LDX):
        return True
    return ins.opcode == op.LDDW


_ALU_OPS = {
    op.OP_ADD, op.OP_SUB, op.OP_MUL, op.OP_DIV, op.OP_OR, op.OP_AND, op.OP_LSH, op.OP_RSH,
    op.OP_NEG, op.OP_MOD, op.OP_XOR, op.OP_MOV, op.OP_ARSH, op.OP_END,
}  # fmt: skip


def _check_alu(i: int, ins: Insn) -> int:
    c, a = ins.opcode, op.alu_op(ins.opcode)
    is64 = ins.cls == op.CLS_ALU64
    if a not in _ALU_OPS:
        raise _reject(i, f"unknown opcode 0x{c:02x}")
    if a == op.OP_END:
        if is64 and op.src_bit(c):
            raise _reject(i, f"unknown opcode 0x{c:02x} (ALU64 byte swap has no register form)")
        if ins.src or ins.off:
            raise _reject(i, "byte swap: src and offset must be 0")
        if ins.imm not in (16, 32, 64):
            raise _reject(i, f"invalid endian immediate {ins.imm}: must be 16, 32 or 64")
        return c | op.V_END[ins.imm]
    if a == op.OP_NEG:
        if op.src_bit(c) or ins.src or ins.off or ins.imm:
            raise _reject(i, "neg: source bit, src, offset and imm must be 0")
        return c
    if op.src_bit(c) == op.SRC_K:
        if ins.src:
            raise _reject(i, "invalid source register: immediate form needs src = 0")
    elif ins.imm:
        raise _reject(i, "register form needs imm = 0")
    if a in (op.OP_DIV, op.OP_MOD):
        if ins.off not in (0, 1):
            raise _reject(i, f"invalid offset {ins.off} for div/mod: 0 (unsigned) or 1 (signed)")
        return c | (op.V_SIGNED if ins.off == 1 else 0)
    if a == op.OP_MOV and ins.off:
        allowed = (8, 16, 32) if is64 else (8, 16)
        if op.src_bit(c) == op.SRC_K or ins.off not in allowed:
            raise _reject(
                i, f"invalid offset {ins.off} for mov: movsx takes a register and {allowed}"
            )
        return c | op.V_SX[ins.off]
    if ins.off:
        raise _reject(i, f"offset must be 0 for this ALU instruction, not {ins.off}")
    return c


_COND_JUMPS = {
    op.JEQ, op.JGT, op.JGE, op.JSET, op.JNE, op.JSGT, op.JSGE, op.JLT, op.JLE, op.JSLT, op.JSLE,
}  # fmt: skip


def _check_jmp(
    i: int,
    ins: Insn,
    helpers: set[int],
    check_target: _TargetCheck,
    entries: set[int],
    targets: list[tuple[int, int]],
) -> tuple[int, int]:
    c, a = ins.opcode, op.alu_op(ins.opcode)
    is32 = ins.cls == op.CLS_JMP32
    tgt = check_target
    if a == op.JA:
        if op.src_bit(c) or ins.src or ins.dst:
            raise _reject(i, "ja: source bit and registers must be 0")
        if is32:  # gotol: offset in imm
            if ins.off:
                raise _reject(i, "gotol (ja32): offset must be 0, the target is in imm")
            t = i + 1 + ins.imm
        else:
            if ins.imm:
                raise _reject(i, "ja: imm must be 0")
            t = i + 1 + ins.off
        tgt(i, t, "jump")
        if t == i:
            raise _reject(i, "infinite loop: the jump targets itself")
        targets.append((i, t))
        return c, t
    if a == op.CALL:
        if is32:
            raise _reject(i, f"unknown opcode 0x{c:02x} (call exists only in the JMP class)")
        if op.src_bit(c) == op.SRC_X:  # callx: target address in dst
            if ins.src or ins.off or ins.imm:
                raise _reject(i, "callx: src, offset and imm must be 0; the target is in dst")
            return c, 0
        if ins.dst or ins.off:
            raise _reject(i, "call: dst and offset must be 0")
        if ins.src == 0:
            if ins.imm not in helpers:
                raise _reject(
                    i,
                    f"call to unknown helper function {ins.imm}: no helper is registered with"
                    " this id",
                )
            return c, 0
        if ins.src == op.PSEUDO_CALL:
            t = tgt(i, i + 1 + ins.imm, "call")
            entries.add(t)
            return c | op.V_FUNC, t
        if ins.src == op.PSEUDO_KFUNC_CALL:
            raise _reject(
                i,
                f"call to kernel function (kfunc, BTF id {ins.imm}) is not supported in userspace",
            )
        raise _reject(i, f"invalid source register {ins.src} for call")
    if a == op.EXIT:
        if is32:
            raise _reject(i, f"unknown opcode 0x{c:02x} (exit exists only in the JMP class)")
        if op.src_bit(c) or ins.src or ins.dst or ins.off or ins.imm:
            raise _reject(i, "exit: registers, offset and imm must be 0")
        return c, 0
    if a not in _COND_JUMPS:
        raise _reject(i, f"unknown opcode 0x{c:02x}")
    if op.src_bit(c) == op.SRC_K:
        if ins.src:
            raise _reject(i, "invalid source register: immediate compare needs src = 0")
    elif ins.imm:
        raise _reject(i, "register compare needs imm = 0")
    t = i + 1 + ins.off
    tgt(i, t, "jump")
    targets.append((i, t))
    return c, t


def _check_lddw(
    i: int,
    ins: Insn,
    maps: Mapping[int, MapBinding],
    check_target: _TargetCheck,
    entries: set[int],
    regions: list[tuple[int, int, bool]],
) -> tuple[int, int, int]:
    if ins.off:
        raise _reject(i, "lddw: offset must be 0")
    lo, hi = ins.imm & 0xFFFFFFFF, ins.imm >> 32
    if ins.src == 0:
        return op.LDDW, 0, ins.imm
    if ins.src in (
        op.PSEUDO_MAP_FD,
        op.PSEUDO_MAP_IDX,
        op.PSEUDO_MAP_VALUE,
        op.PSEUDO_MAP_IDX_VALUE,
    ):
        kind = "map" if ins.src in (op.PSEUDO_MAP_FD, op.PSEUDO_MAP_IDX) else "map value"
        if hi and kind == "map":
            raise _reject(i, "lddw of a map: the second imm must be 0")
        binding = maps.get(lo)
        if binding is None:
            raise _reject(
                i,
                f"lddw refers to {kind} {lo}, but no map is bound to it; load the program from"
                " its object so its maps are created",
            )
        if kind == "map":
            return op.LDDW, 0, binding.handle
        if hi >= max(binding.value_size, 1):
            raise _reject(
                i, f"lddw map value offset {hi} is outside the value ({binding.value_size} bytes)"
            )
        regions.append((binding.value_addr, binding.value_size, binding.writable))
        return op.LDDW, 0, binding.value_addr + hi
    if ins.src == op.PSEUDO_FUNC:
        if hi:
            raise _reject(i, "lddw of a function: the second imm must be 0")
        t = check_target(i, i + 1 + _signed32(lo), "function reference")
        entries.add(t)
        return op.LDDW | op.V_FUNC, t, 0
    if ins.src == op.PSEUDO_BTF_ID:
        raise _reject(i, "lddw of a kernel symbol (BTF id) is not supported in userspace")
    raise _reject(i, f"invalid source register for lddw: {ins.src}")


def _check_legacy_packet(i: int, ins: Insn) -> None:
    """LD_ABS / LD_IND (RFC 9669 section 5.5): deprecated, but part of the ISA."""
    c, mode = ins.opcode, op.mem_mode(ins.opcode)
    if mode not in (op.MODE_ABS, op.MODE_IND) or op.mem_size(c) == op.SZ_DW:
        raise _reject(i, f"unknown opcode 0x{c:02x}")
    if ins.dst or ins.off:
        raise _reject(i, "legacy packet load: dst and offset must be 0 (the result goes to r0)")
    if mode == op.MODE_ABS and ins.src:
        raise _reject(i, "legacy packet load (abs): src must be 0")


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _check_ldx(i: int, ins: Insn) -> None:
    c, mode, size = ins.opcode, op.mem_mode(ins.opcode), op.mem_size(ins.opcode)
    if mode == op.MODE_MEM or (mode == op.MODE_MEMSX and size != op.SZ_DW):
        if ins.imm:
            raise _reject(i, "load: imm must be 0")
        return
    raise _reject(i, f"unknown opcode 0x{c:02x}")


def _check_stx(i: int, ins: Insn) -> int:
    c, mode, size = ins.opcode, op.mem_mode(ins.opcode), op.mem_size(ins.opcode)
    if mode == op.MODE_MEM:
        if ins.imm:
            raise _reject(i, "store: imm must be 0")
        return c
    if mode == op.MODE_ATOMIC and size in (op.SZ_W, op.SZ_DW):
        variant = op.V_ATOMIC.get(ins.imm)
        if variant is None:
            raise _reject(i, f"unknown atomic operation 0x{ins.imm:x}")
        return c | variant
    raise _reject(i, f"unknown opcode 0x{c:02x}")
