"""The JIT: eBPF -> LLVM IR (llvmlite.ir) -> native code at -O2.

Owns two separate steps:

* ``lower(decoded)`` builds an ``llvmlite.ir.Module`` from a DecodedProgram.
  Pure Python, no native state, no addresses of this process baked in except
  resolved lddw values: helpers are reached through the table the run context
  carries (``ctx->helpers[id]``), so the same lowering can later be emitted as
  position-independent code for another process.
* ``compile_program(decoded)`` runs the -O2 pipeline and MCJIT and returns a
  ``JitCode`` that owns the native code; its ``entry_address`` is a C function
  ``uint64_t entry(uint64_t r1, uint64_t r2, bt_ctx *ctx)`` that Cython calls
  without the GIL.

Each subprogram becomes one LLVM function ``i64 (i64 r1..r5, ptr ctx)`` with
its own 512-byte stack; the calling convention matches the interpreter
(src/bpftime/_interp.pyx). The JIT does no memory checking: it runs what the
validator (and, later, the verifier) accepted.
"""

from __future__ import annotations

import threading
from typing import Any

import llvmlite.binding as llvm
from llvmlite import ir

from . import opcodes as op
from .errors import JitError
from .insn import DecodedProgram, Insn

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = ir.PointerType(I8)
HELPER_FN = ir.FunctionType(I64, [I64] * 5 + [PTR])
SUB_FN = ir.FunctionType(I64, [I64] * 5 + [PTR])
ENTRY_FN = ir.FunctionType(I64, [I64, I64, PTR])

# bt_ctx fields the JIT touches: name -> (byte offset, type); pinned by static
# asserts in cext/bt_ctx.h
CTX_FIELDS = {
    "helpers": (0, I64),
    "helper_id": (8, I32),
    "depth": (12, I32),
    "exit_flag": (16, I32),
    "error": (20, I32),
    "exit_value": (24, I64),
    "error_pc": (32, I64),
    "error_addr": (40, I64),
    "pkt": (48, I64),
    "pkt_len": (56, I64),
}
EXIT_STOP = 1
EXIT_ERROR = 2
ERR_CALL_DEPTH = 3
ERR_CALLX_TARGET = 4

_MEM_TYPES = {op.SZ_B: I8, op.SZ_H: I16, op.SZ_W: I32, op.SZ_DW: I64}
_ATOMIC_RMW = {
    op.ATOMIC_ADD: "add",
    op.ATOMIC_OR: "or",
    op.ATOMIC_AND: "and",
    op.ATOMIC_XOR: "xor",
}
_CMP = {
    op.JEQ: "==",
    op.JNE: "!=",
    op.JGT: ">",
    op.JGE: ">=",
    op.JLT: "<",
    op.JLE: "<=",
    op.JSGT: ">",
    op.JSGE: ">=",
    op.JSLT: "<",
    op.JSLE: "<=",
}
_SIGNED_CMP = {op.JSGT, op.JSGE, op.JSLT, op.JSLE}


def _const(v: int, ty: ir.IntType = I64) -> ir.Constant:
    return ir.Constant(ty, v & ((1 << ty.width) - 1))


class _FunctionLowering:
    """Lowers one subprogram [start, end) into ``fn``."""

    def __init__(
        self, prog: DecodedProgram, funcs: dict[int, ir.Function], start: int, end: int
    ) -> None:
        self.prog = prog
        self.funcs = funcs
        self.start, self.end = start, end
        self.fn = funcs[start]
        entry = self.fn.append_basic_block("entry")
        self.b = ir.IRBuilder(entry)
        self.ctx = self.fn.args[5]
        self.regs = [self.b.alloca(I64, name=f"r{i}") for i in range(11)]
        stack = self.b.alloca(ir.ArrayType(I8, op.STACK_SIZE), name="stack")
        stack.align = 16
        for i in range(11):
            if 1 <= i <= 5:
                val = self.fn.args[i - 1]
            elif i == 10:
                top = self.b.gep(stack, [_const(0, I32), _const(op.STACK_SIZE, I32)])
                val = self.b.ptrtoint(top, I64)
            else:
                val = _const(0)
            self.b.store(val, self.regs[i])
        self.helpers_table = self.b.inttoptr(
            self.b.load(self._field_ptr("helpers", I64)), ir.PointerType(ir.PointerType(HELPER_FN))
        )
        self.blocks: dict[int, ir.Block] = {}
        for t in self._leaders():
            self.blocks[t] = self.fn.append_basic_block(f"L{t}")
        self.b.branch(self.blocks[start])
        self.unwind = self.fn.append_basic_block("unwind")
        ir.IRBuilder(self.unwind).ret(_const(0))

    def _field_ptr(self, name: str, ty: ir.IntType | None = None) -> ir.Value:
        off, fty = CTX_FIELDS[name]
        p = self.b.gep(self.ctx, [_const(off, I64)])
        return self.b.bitcast(p, ir.PointerType(ty or fty))

    def _leaders(self) -> list[int]:
        leaders = {self.start}
        for i in range(self.start, self.end):
            ins = self.prog.insns[i]
            if ins is None:
                continue
            k = ins.cls
            if k in (op.CLS_JMP, op.CLS_JMP32):
                a = op.alu_op(ins.opcode)
                if a not in (op.CALL, op.EXIT):
                    leaders.add(self._target(i, ins))
                if i + ins.size < self.end:
                    leaders.add(i + ins.size)
        return sorted(leaders)

    def _target(self, i: int, ins: Insn) -> int:
        if ins.opcode == op.CLS_JMP32 | op.JA:
            return i + 1 + ins.imm
        return i + 1 + ins.off

    # -- registers
    def get(self, r: int) -> ir.Value:
        return self.b.load(self.regs[r])

    def get32(self, r: int) -> ir.Value:
        return self.b.trunc(self.get(r), I32)

    def set(self, r: int, v: ir.Value) -> None:
        if v.type != I64:
            v = self.b.zext(v, I64)
        self.b.store(v, self.regs[r])

    def addr(self, base: int, off: int, ty: ir.IntType) -> ir.Value:
        a = self.b.add(self.get(base), _const(off))
        return self.b.inttoptr(a, ir.PointerType(ty))

    # -- the body
    def lower(self) -> None:
        i = self.start
        while i < self.end:
            ins = self.prog.insns[i]
            if ins is None:
                i += 1
                continue
            if i in self.blocks:
                blk = self.blocks[i]
                if not self.b.block.is_terminated:
                    self.b.branch(blk)
                self.b.position_at_end(blk)
            elif self.b.block.is_terminated:
                # dead code after an unconditional transfer; give it an unreachable block
                self.b.position_at_end(self.fn.append_basic_block(f"dead{i}"))
            self._insn(i, ins)
            i += ins.size
        if not self.b.block.is_terminated:
            self.b.unreachable()

    def _insn(self, i: int, ins: Insn) -> None:
        k = ins.cls
        if k in (op.CLS_ALU, op.CLS_ALU64):
            self._alu(ins, k == op.CLS_ALU64)
        elif k in (op.CLS_JMP, op.CLS_JMP32):
            self._jmp(i, ins, k == op.CLS_JMP32)
        elif k == op.CLS_LD:
            if ins.opcode == op.LDDW:
                self._lddw(i, ins)
            else:
                self._legacy_packet_load(i, ins)
        elif k == op.CLS_LDX:
            ty = _MEM_TYPES[op.mem_size(ins.opcode)]
            v = self.b.load(self.addr(ins.src, ins.off, ty), align=1)
            if op.mem_mode(ins.opcode) == op.MODE_MEMSX:
                self.set(ins.dst, self.b.sext(v, I64))
            else:
                self.set(ins.dst, v)
        elif k == op.CLS_ST:
            ty = _MEM_TYPES[op.mem_size(ins.opcode)]
            self.b.store(_const(ins.imm, ty), self.addr(ins.dst, ins.off, ty), align=1)
        else:
            self._stx(ins)

    def _lddw(self, i: int, ins: Insn) -> None:
        if ins.src == op.PSEUDO_FUNC:
            target = i + 1 + _s32(ins.imm & 0xFFFFFFFF)
            self.set(ins.dst, self.b.ptrtoint(self.funcs[target], I64))
        else:
            self.set(ins.dst, _const(self.prog.lddw_values[i]))

    def _legacy_packet_load(self, i: int, ins: Insn) -> None:
        """LD_ABS/LD_IND: r0 = big-endian bytes of the input; outside it, exit with r0 = 0."""
        b = self.b
        size = op.SIZE_BYTES[op.mem_size(ins.opcode)]
        ty = _MEM_TYPES[op.mem_size(ins.opcode)]
        off = _const(ins.imm)
        if op.mem_mode(ins.opcode) == op.MODE_IND:
            off32 = b.add(self.get32(ins.src), _const(ins.imm, I32))
            off = b.sext(off32, I64)
        length = b.load(self._field_ptr("pkt_len"))
        end = b.add(off, _const(size))
        outside = b.or_(b.icmp_signed("<", off, _const(0)), b.icmp_unsigned(">", end, length))
        bad = self.fn.append_basic_block(f"pkt_out{i}")
        ok = self.fn.append_basic_block(f"pkt_in{i}")
        b.cbranch(outside, bad, ok)
        b.position_at_end(bad)
        b.store(_const(EXIT_STOP, I32), self._field_ptr("exit_flag"))
        b.store(_const(0), self._field_ptr("exit_value"))
        b.branch(self.unwind)
        b.position_at_end(ok)
        addr = b.add(b.load(self._field_ptr("pkt")), off)
        v = b.load(b.inttoptr(addr, ir.PointerType(ty)), align=1)
        self.set(0, b.bswap(v) if size > 1 else v)

    def _stx(self, ins: Insn) -> None:
        size = op.mem_size(ins.opcode)
        ty = _MEM_TYPES[size]
        ptr = self.addr(ins.dst, ins.off, ty)
        src = self.get(ins.src)
        if ty != I64:
            src = self.b.trunc(src, ty)
        if op.mem_mode(ins.opcode) == op.MODE_MEM:
            self.b.store(src, ptr, align=1)
            return
        # atomics carry no align in llvmlite's IR, so LLVM assumes natural alignment,
        # which the kernel's verifier also demands of BPF atomics
        imm = ins.imm
        if imm == op.ATOMIC_CMPXCHG:
            expected = self.get(0)
            if ty != I64:
                expected = self.b.trunc(expected, ty)
            pair = self.b.cmpxchg(ptr, expected, src, "seq_cst", "seq_cst")
            self.set(0, self.b.extract_value(pair, 0))
            return
        rmw = "xchg" if imm == op.ATOMIC_XCHG else _ATOMIC_RMW[imm & ~op.ATOMIC_FETCH]
        old = self.b.atomic_rmw(rmw, ptr, src, "seq_cst")
        if imm & op.ATOMIC_FETCH:
            self.set(ins.src, old)

    def _alu(self, ins: Insn, is64: bool) -> None:
        b = self.b
        a = op.alu_op(ins.opcode)
        ty = I64 if is64 else I32
        bits = 64 if is64 else 32
        if a == op.OP_END:
            self._end(ins, is64)
            return
        d = self.get(ins.dst) if is64 else self.get32(ins.dst)
        if op.src_bit(ins.opcode) == op.SRC_X:
            s = self.get(ins.src) if is64 else self.get32(ins.src)
        else:
            s = _const(ins.imm, ty)
        zero, one, minus1 = _const(0, ty), _const(1, ty), _const(-1, ty)
        if a == op.OP_ADD:
            r = b.add(d, s)
        elif a == op.OP_SUB:
            r = b.sub(d, s)
        elif a == op.OP_MUL:
            r = b.mul(d, s)
        elif a == op.OP_OR:
            r = b.or_(d, s)
        elif a == op.OP_AND:
            r = b.and_(d, s)
        elif a == op.OP_XOR:
            r = b.xor(d, s)
        elif a == op.OP_LSH:
            r = b.shl(d, b.and_(s, _const(bits - 1, ty)))
        elif a == op.OP_RSH:
            r = b.lshr(d, b.and_(s, _const(bits - 1, ty)))
        elif a == op.OP_ARSH:
            r = b.ashr(d, b.and_(s, _const(bits - 1, ty)))
        elif a == op.OP_NEG:
            r = b.neg(d)
        elif a == op.OP_MOV:
            if ins.off:  # movsx
                src_full = self.get(ins.src)
                narrow = b.trunc(src_full, ir.IntType(ins.off))
                r = b.sext(narrow, ty)
            else:
                r = s
        elif a in (op.OP_DIV, op.OP_MOD):
            is_zero = b.icmp_unsigned("==", s, zero)
            if ins.off == 1:  # signed: x/0 = 0, x%0 = x, INT_MIN/-1 wraps, INT_MIN%-1 = 0
                is_m1 = b.icmp_unsigned("==", s, minus1)
                safe = b.select(b.or_(is_zero, is_m1), one, s)
                if a == op.OP_DIV:
                    q = b.sdiv(d, safe)
                    r = b.select(is_zero, zero, b.select(is_m1, b.neg(d), q))
                else:
                    m = b.srem(d, safe)
                    r = b.select(is_zero, d, b.select(is_m1, zero, m))
            else:
                safe = b.select(is_zero, one, s)
                if a == op.OP_DIV:
                    r = b.select(is_zero, zero, b.udiv(d, safe))
                else:
                    r = b.select(is_zero, d, b.urem(d, safe))
        else:  # pragma: no cover - the validator refuses other ops
            raise JitError(f"unexpected ALU op 0x{ins.opcode:02x}")
        self.set(ins.dst, r)

    def _end(self, ins: Insn, is64: bool) -> None:
        b = self.b
        width = ins.imm
        d = self.get(ins.dst)
        narrow = d if width == 64 else b.trunc(d, ir.IntType(width))
        to_be = is64 or op.src_bit(ins.opcode) == op.SRC_X
        if to_be:
            narrow = b.bswap(narrow)
        self.set(ins.dst, narrow)

    def _after_call(self, i: int) -> None:
        """Leave the function if the callee stopped the program."""
        b = self.b
        flag = b.load(self._field_ptr("exit_flag"))
        stopped = b.icmp_unsigned("!=", flag, _const(0, I32))
        note = self.fn.append_basic_block(f"stop{i}")
        cont = self.fn.append_basic_block(f"cont{i}")
        b.cbranch(stopped, note, cont)
        b.position_at_end(note)
        pc_ptr = self._field_ptr("error_pc")
        pc = b.load(pc_ptr)
        b.store(b.select(b.icmp_signed("<", pc, _const(0)), _const(i), pc), pc_ptr)
        b.branch(self.unwind)
        b.position_at_end(cont)

    def _fail(self, i: int, error: int, addr: ir.Value | None = None) -> None:
        b = self.b
        b.store(_const(EXIT_ERROR, I32), self._field_ptr("exit_flag"))
        b.store(_const(error, I32), self._field_ptr("error"))
        b.store(_const(i), self._field_ptr("error_pc"))
        if addr is not None:
            b.store(addr, self._field_ptr("error_addr"))
        b.branch(self.unwind)

    def _local_call(self, i: int, callee: ir.Value) -> None:
        b = self.b
        depth_ptr = self._field_ptr("depth")
        depth = b.load(depth_ptr)
        too_deep = b.icmp_unsigned(">=", b.add(depth, _const(1, I32)), _const(op.MAX_FRAMES, I32))
        fail = self.fn.append_basic_block(f"deep{i}")
        ok = self.fn.append_basic_block(f"call{i}")
        b.cbranch(too_deep, fail, ok)
        b.position_at_end(fail)
        self._fail(i, ERR_CALL_DEPTH)
        b.position_at_end(ok)
        b.store(b.add(depth, _const(1, I32)), depth_ptr)
        args = [self.get(r) for r in range(1, 6)] + [self.ctx]
        r0 = b.call(callee, args)
        b.store(depth, depth_ptr)
        self.set(0, r0)
        self._after_call(i)

    def _jmp(self, i: int, ins: Insn, is32: bool) -> None:
        b = self.b
        a = op.alu_op(ins.opcode)
        if a == op.EXIT:
            b.ret(self.get(0))
            return
        if a == op.JA:
            b.branch(self.blocks[self._target(i, ins)])
            return
        if a == op.CALL:
            if op.src_bit(ins.opcode) == op.SRC_X:
                self._callx(i, ins)
            elif ins.src == op.PSEUDO_CALL:
                self._local_call(i, self.funcs[i + 1 + ins.imm])
            else:
                self._helper_call(i, ins.imm)
            return
        if is32:
            d = self.get32(ins.dst)
            s = self.get32(ins.src) if op.src_bit(ins.opcode) else _const(ins.imm, I32)
        else:
            d = self.get(ins.dst)
            s = self.get(ins.src) if op.src_bit(ins.opcode) else _const(ins.imm)
        if a == op.JSET:
            cond = b.icmp_unsigned("!=", b.and_(d, s), _const(0, d.type))
        elif a in _SIGNED_CMP:
            cond = b.icmp_signed(_CMP[a], d, s)
        else:
            cond = b.icmp_unsigned(_CMP[a], d, s)
        b.cbranch(cond, self.blocks[self._target(i, ins)], self.blocks[i + 1])

    def _helper_call(self, i: int, hid: int) -> None:
        b = self.b
        slot = b.gep(self.helpers_table, [_const(hid)])
        fn = b.load(slot)
        b.store(_const(hid, I32), self._field_ptr("helper_id"))
        args = [self.get(r) for r in range(1, 6)] + [self.ctx]
        self.set(0, b.call(fn, args))
        self._after_call(i)

    def _callx(self, i: int, ins: Insn) -> None:
        b = self.b
        target = self.get(ins.dst)
        done = self.fn.append_basic_block(f"callx_done{i}")
        for entry in self.prog.entries:
            callee = self.funcs[entry]
            hit = b.icmp_unsigned("==", target, b.ptrtoint(callee, I64))
            yes = self.fn.append_basic_block(f"callx{i}_{entry}")
            no = self.fn.append_basic_block(f"callx{i}_not{entry}")
            b.cbranch(hit, yes, no)
            b.position_at_end(yes)
            self._local_call(i, callee)
            b.branch(done)
            b.position_at_end(no)
        self._fail(i, ERR_CALLX_TARGET, target)
        b.position_at_end(done)


def _s32(v: int) -> int:
    return v - (1 << 32) if v >> 31 else v


def lower(prog: DecodedProgram, name: str = "bpf_prog") -> ir.Module:
    """Build the IR module for ``prog``; its C entry point is ``<name>_entry``."""
    module = ir.Module(name=name)
    module.triple = llvm.get_process_triple()
    funcs: dict[int, ir.Function] = {}
    for start in prog.entries:
        f = ir.Function(module, SUB_FN, name=f"{name}_sub{start}")
        f.linkage = "internal"
        funcs[start] = f
    for k, start in enumerate(prog.entries):
        end = prog.entries[k + 1] if k + 1 < len(prog.entries) else len(prog.insns)
        _FunctionLowering(prog, funcs, start, end).lower()
    entry = ir.Function(module, ENTRY_FN, name=f"{name}_entry")
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    r1, r2, ctx = entry.args
    r0 = b.call(funcs[0], [r1, r2, _const(0), _const(0), _const(0), ctx])
    flag_ptr = b.bitcast(b.gep(ctx, [_const(CTX_FIELDS["exit_flag"][0])]), ir.PointerType(I32))
    val_ptr = b.bitcast(b.gep(ctx, [_const(CTX_FIELDS["exit_value"][0])]), ir.PointerType(I64))
    stopped = b.icmp_unsigned("==", b.load(flag_ptr), _const(EXIT_STOP, I32))
    b.ret(b.select(stopped, b.load(val_ptr), r0))
    return module


_init_lock = threading.Lock()
_initialized = False


def _init_llvm() -> None:
    global _initialized
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialized = True


class JitCode:
    """Owns the native code of one program (its MCJIT engine and LLVM module)."""

    def __init__(self, engine: Any, module_ref: Any, entry_address: int, ir_text: str) -> None:
        self._engine = engine
        self._module_ref = module_ref
        self.entry_address = entry_address
        self.ir_text = ir_text

    def assembly(self) -> str:
        """Native assembly of the optimised module, for inspection."""
        tm = llvm.Target.from_default_triple().create_target_machine(opt=2)
        return str(tm.emit_assembly(self._module_ref))


def optimize(module: ir.Module) -> Any:
    """Parse, verify and run the -O2 pipeline; returns the llvmlite ModuleRef."""
    _init_llvm()
    text = str(module)
    try:
        ref = llvm.parse_assembly(text)
        ref.verify()
    except RuntimeError as exc:
        raise JitError(f"generated IR is invalid: {exc}") from exc
    tm = llvm.Target.from_default_triple().create_target_machine(opt=2)
    pto = llvm.create_pipeline_tuning_options(speed_level=2)
    pb = llvm.create_pass_builder(tm, pto)
    pm = pb.getModulePassManager()
    pm.run(ref, pb)
    return ref


def compile_program(prog: DecodedProgram, name: str = "bpf_prog") -> JitCode:
    """Lower, optimise at -O2 and JIT ``prog`` into this process."""
    module = lower(prog, name)
    ref = optimize(module)
    tm = llvm.Target.from_default_triple().create_target_machine(opt=2)
    engine = llvm.create_mcjit_compiler(ref, tm)
    engine.finalize_object()
    addr = engine.get_function_address(f"{name}_entry")
    if not addr:
        raise JitError(f"JIT produced no entry point {name}_entry")
    return JitCode(engine, ref, addr, str(module))
