"""The static verifier: refuses, before it runs, any program that could harm its host.

Owns: an abstract interpreter over eBPF bytecode in the kernel verifier's style.
Every path is explored (depth first) with an abstract state per path: each
register is uninitialised, a scalar (``verifier_domain.Scalar``: known bits plus
unsigned/signed bounds) or a typed pointer (context, stack frame, map value,
map, ringbuf memory, function) with an offset that is itself a Scalar; each
stack frame holds 64 slots of 8 bytes, each a spilled register or bytes known
to be initialised. States are saved at jump targets; a path whose state is
covered by a saved one that finished is pruned (the kernel's ``is_state_visited``),
and one covered by a saved state that is still its own ancestor is an infinite
loop. Dead registers (a static liveness pass) are ignored when comparing, and
scalars whose value cannot reach a safety check (a static relevance pass standing
in for the kernel's precision tracking) are compared by type only.

What it proves, on every path:
  * registers are read only after being written; r0 is set at exit and is a
    scalar there; bpf-to-bpf calls get a fresh 512-byte frame, the caller's
    r6-r9 are kept and r1-r5 are dead after any call; recursion and more than
    ``MAX_FRAMES`` frames are refused;
  * every load, store, atomic and helper memory argument is in bounds of its
    region and of the right kind: the context (layout per program type,
    ``CONTEXTS``), the stack (reads only of initialised bytes), map values
    (only after the null check), ringbuf memory (which must be submitted or
    discarded on every path), read-only maps never written;
  * pointer arithmetic only adds/subtracts bounded scalars; pointers never go
    into maps, the context, ringbuf memory, r0 at exit or scalar helper arguments;
  * helper calls match ``verifier_helpers.HELPERS`` (argument kinds, sizes, map
    types); tail calls only through PROG_ARRAY maps;
  * termination: loops are explored until their state stops changing (a
    bounded loop ends, an unbounded one is "infinite loop detected"), bpf_loop and
    bpf_for_each_map_elem callbacks are verified too, and ``max_steps`` caps the
    total work with a "program too complex" error;
  * spin locks are released on every path and no call is made while one is held.

Does NOT check: alignment (bpftime runs on x86-64 and arm64, where unaligned
accesses are safe); the NUL terminator of constant strings (``bpf_snprintf``,
``bpf_strncmp`` format arguments are only checked to be read-only map values);
the contents of ``.rodata`` (loads from maps are unknown scalars); which inner map
a map-in-map lookup returns (any map of the outer map's template);
relations between registers (``r1 < r2`` bounds each alone; only two pointers into
one object compare by offset); packets (bpftime has no packet programs) and
BTF-typed pointers (kfuncs, ``PTR_TO_BTF_ID``). The raw-memory context of
``syscall``/``socket``/``tc``/``xdp``/``perf_event``/test programs is ``ctx_size``
bytes (default 512) that the caller must provide; r2 there is an unknown scalar.
Indirect calls (``callx``) are accepted only with a register known to hold a
helper id.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from . import opcodes as op
from . import verifier_domain as d
from .errors import LoadError, VerifierError
from .insn import Insn, MapBinding, validate
from .verifier_domain import Scalar
from .verifier_helpers import ARRAY, HELPERS, RESERVED_MAP_TYPES, Arg, Proto, Ret, map_type_name

MAX_FRAMES = 8
STACK_SIZE = 512
MAX_STEPS = 250_000
MAX_VAR_OFF = 1 << 29  # the kernel's BPF_MAX_VAR_OFF
MAX_MEM_SIZE = 1 << 29
MAX_STATES_PER_INSN = 32  # saved states per jump target
_SLOTS = STACK_SIZE // 8


# --- inputs -------------------------------------------------------------------


@dataclass(frozen=True)
class MapInfo:
    """A map as the verifier sees it; ``type`` is the kernel's ``enum bpf_map_type``.

    ``spin_lock_off`` is the offset of the ``struct bpf_spin_lock`` in the value,
    if it has one (from BTF).
    """

    type: int
    key_size: int
    value_size: int
    max_entries: int = 1
    readonly: bool = False
    name: str = ""
    spin_lock_off: int | None = None
    inner: int | None = None  # map-in-map: index of the inner map's template in ``maps``


@dataclass(frozen=True)
class SourceLine:
    """BTF line info for the instruction where it starts."""

    file: str
    line: int
    column: int = 0
    text: str = ""


@dataclass(frozen=True)
class Context:
    """The memory r1 points at on entry."""

    name: str
    size: int
    writable: bool


PT_REGS = Context("struct pt_regs", 168, False)  # x86-64: 21 u64 registers
CONTEXTS: dict[str, Context] = {
    "uprobe": PT_REGS,
    "uretprobe": PT_REGS,
    "ureplace": PT_REGS,  # any r0: it becomes the replaced function's return value
    "usdt": PT_REGS,
    "kprobe": PT_REGS,
    "kretprobe": PT_REGS,
    # syscall tracepoints: {u16 type; u8 flags; u8 preempt_count; s32 pid; s64 id; u64 args[6]}
    "sys_enter": Context("struct trace_event_raw_sys_enter", 64, False),
    # {8-byte common header; s64 id; s64 ret}
    "sys_exit": Context("struct trace_event_raw_sys_exit", 24, False),
    # struct bpf_raw_tracepoint_args for sys_enter/sys_exit: {u64 args[2]}
    "raw_tracepoint": Context("struct bpf_raw_tracepoint_args", 16, False),
}
# helpers whose memory argument is an array of format arguments (pointers allowed)
FORMAT_DATA_HELPERS = ("bpf_trace_vprintk", "bpf_snprintf")
# programs bpftime runs only on input memory (test_run / Program.run), never as hooks
RAW_CONTEXT_KINDS = ("syscall", "socket", "test", "xdp", "tc", "perf_event")


def context_for(prog_type: str, section: str = "", ctx_size: int = 512) -> Context:
    """The context layout of a program type (``section`` picks the tracepoint)."""
    if prog_type == "tracepoint":
        name = section.rsplit("/", 1)[-1]
        if name.startswith("sys_enter"):
            return CONTEXTS["sys_enter"]
        if name.startswith("sys_exit"):
            return CONTEXTS["sys_exit"]
        raise VerifierError(
            f"unknown tracepoint format for section '{section}': bpftime has the syscall"
            " tracepoints (sys_enter_*, sys_exit_*)",
            reason="unknown tracepoint",
        )
    if prog_type in CONTEXTS:
        return CONTEXTS[prog_type]
    if prog_type in RAW_CONTEXT_KINDS:
        return Context(f"{prog_type} input memory", ctx_size, True)
    raise VerifierError(
        f"unknown program type '{prog_type}': expected one of"
        f" {', '.join([*CONTEXTS, 'tracepoint', *RAW_CONTEXT_KINDS])}",
        reason="unknown program type",
    )


@dataclass
class VerifyStats:
    """What verification cost: instructions, explored steps, saved states."""

    insns: int
    steps: int = 0
    states: int = 0
    pruned: int = 0
    max_frames: int = 1
    subprograms: list[int] = field(default_factory=list)


# --- abstract state -------------------------------------------------------------

NOT_INIT, SCALAR, CTX, STACK, MAP_VALUE, MAP_PTR, MEM, FUNC, MAP_KEY = range(9)
_KIND_NAMES = (
    "not_init", "scalar", "ctx", "fp", "map_value", "map_ptr", "ringbuf_mem", "func", "map_key",
)  # fmt: skip


class Reg:
    """One register: a kind, a Scalar (the value, or the pointer's offset) and tags.

    ``region``: stack frame index, map index, memory size or subprogram entry.
    ``id`` ties copies of one maybe-null pointer; ``ref`` is the reservation a
    ringbuf pointer belongs to.
    """

    __slots__ = ("id", "kind", "null", "ref", "region", "s")

    def __init__(
        self,
        kind: int,
        s: Scalar = d.UNKNOWN,
        region: int = 0,
        null: bool = False,
        id: int = 0,
        ref: int = 0,
    ) -> None:
        self.kind = kind
        self.s = s
        self.region = region
        self.null = null
        self.id = id
        self.ref = ref

    @property
    def is_ptr(self) -> bool:
        return self.kind > SCALAR

    def name(self) -> str:
        n = _KIND_NAMES[self.kind]
        return n + "_or_null" if self.null else n

    def show(self) -> str:
        if self.kind == NOT_INIT:
            return "?"
        if self.kind == SCALAR:
            return repr(self.s)
        tag = self.name()
        if self.kind == STACK:
            tag = f"fp{self.region}"
        elif self.kind in (MAP_VALUE, MAP_PTR):
            tag += f"(map={self.region})"
        elif self.kind in (MEM, MAP_KEY):
            tag += f"(size={self.region})"
        return f"{tag}{_off_text(self.s)}" if self.kind != FUNC else f"func@{self.region}"

    def with_s(self, s: Scalar) -> Reg:
        return Reg(self.kind, s, self.region, self.null, self.id, self.ref)


def _off_text(s: Scalar) -> str:
    if s.is_const:
        v = d.s64(s.value)
        return f"{v:+d}" if v else ""
    return f"+[{s.smin}, {s.smax}]"


_UNINIT = Reg(NOT_INIT)
_ZERO = d.Scalar.const(0)


def _scalar(s: Scalar) -> Reg:
    return Reg(SCALAR, s)


_UNKNOWN_REG = _scalar(d.UNKNOWN)

# a stack slot: (spilled register or None, bitmask of initialised bytes)
_Slot = tuple[Reg | None, int]
_RegPred = Callable[[Reg], bool]
_RegMap = Callable[[Reg], Reg]


class Frame:
    __slots__ = ("callsite", "regs", "stack", "subprog")

    def __init__(self, regs: list[Reg], stack: dict[int, _Slot], callsite: int, subprog: int):
        self.regs = regs
        self.stack = stack
        self.callsite = callsite  # -1: program entry; -2: a callback's entry
        self.subprog = subprog

    def copy(self) -> Frame:
        return Frame(list(self.regs), dict(self.stack), self.callsite, self.subprog)


class State:
    __slots__ = ("cb_base", "frames", "lock", "outer_writes", "refs")

    def __init__(
        self,
        frames: list[Frame],
        refs: dict[int, int],
        lock: tuple[int, int, int] | None,
        cb_base: int = 0,
        outer_writes: frozenset[tuple[int, int]] = frozenset(),
    ) -> None:
        self.frames = frames
        self.refs = refs  # reservation id -> instruction that made it
        self.lock = lock  # (map index, pointer id, insn) of the held spin lock
        self.cb_base = cb_base  # frames below this belong to a callback's caller
        self.outer_writes = outer_writes  # (frame, slot) a callback wrote

    def copy(self) -> State:
        return State(
            [f.copy() for f in self.frames],
            dict(self.refs),
            self.lock,
            self.cb_base,
            self.outer_writes,
        )

    @property
    def regs(self) -> list[Reg]:
        return self.frames[-1].regs

    def replace(self, pred: _RegPred, fn: _RegMap) -> None:
        for f in self.frames:
            for i, r in enumerate(f.regs):
                if pred(r):
                    f.regs[i] = fn(r)
            for k, (sp, mask) in list(f.stack.items()):
                if sp is not None and pred(sp):
                    nr = fn(sp)
                    f.stack[k] = (nr, mask) if nr.kind != NOT_INIT else (None, 0)

    def show(self) -> str:
        parts = []
        for n, f in enumerate(self.frames):
            regs = " ".join(f"R{i}={r.show()}" for i, r in enumerate(f.regs) if r.kind != NOT_INIT)
            slots = " ".join(
                f"fp{-8 * (_SLOTS - k)}={sp.show() if sp else _mask_text(m)}"
                for k, (sp, m) in sorted(f.stack.items())
            )
            parts.append(f"frame{n}: {regs}" + (f" {slots}" if slots else ""))
        return "\n".join(parts)


def _mask_text(m: int) -> str:
    return "m" * 8 if m == 0xFF else "".join("m" if m >> b & 1 else "?" for b in range(8))


class _Node:
    """A saved state's bookkeeping: how many paths below it are still open."""

    __slots__ = ("branches", "parent")

    def __init__(self, parent: _Node | None) -> None:
        self.parent = parent
        self.branches = 1


def _finish(node: _Node | None) -> None:
    while node is not None:
        node.branches -= 1
        if node.branches:
            return
        node = node.parent


# --- the verifier -------------------------------------------------------------


def verify(
    insns: bytes | bytearray | memoryview,
    prog_type: str,
    maps: Sequence[MapInfo] = (),
    line_info: Mapping[int, SourceLine] | None = None,
    verbose: bool = False,
    *,
    section: str = "",
    ctx_size: int = 512,
    max_steps: int = MAX_STEPS,
) -> VerifyStats:
    """Verify one program; raise VerifierError naming the first unsafe instruction.

    Map references are ``lddw`` with src 5/6 (or 1/2) and imm = the index into
    ``maps`` (src 6/2 carry the value offset in the second imm). ``line_info``
    maps instruction indices to the source line that starts there.
    """
    ctx = context_for(prog_type, section, ctx_size)
    return _Verifier(bytes(insns), ctx, list(maps), line_info or {}, verbose, max_steps).run()


def verify_from(
    insns: bytes | bytearray | memoryview,
    ctx: Context,
    maps: Sequence[MapInfo],
    regs: Mapping[int, Reg],
    stack: Mapping[int, tuple[Reg | None, int]] | None = None,
    *,
    max_steps: int = MAX_STEPS,
) -> VerifyStats:
    """Verify from a given entry state (data-driven tests such as PREVAIL's).

    ``regs`` maps register numbers to their entry values (r10 is always the
    frame pointer); ``stack`` maps 8-byte slot numbers (0 is [r10-512, r10-504))
    to (spilled register or None, bitmask of initialised bytes).
    """
    rs = [_UNINIT] * 11
    for r, v in regs.items():
        rs[r] = v
    rs[10] = Reg(STACK, _ZERO, 0)
    entry = State([Frame(rs, dict(stack or {}), -1, 0)], {}, None)
    return _Verifier(bytes(insns), ctx, list(maps), {}, False, max_steps).run(entry)


_COND = {
    op.JEQ: "eq", op.JNE: "ne", op.JGT: "gt", op.JGE: "ge", op.JLT: "lt", op.JLE: "le",
    op.JSGT: "sgt", op.JSGE: "sge", op.JSLT: "slt", op.JSLE: "sle", op.JSET: "set",
}  # fmt: skip
_SIGNED = frozenset({"sgt", "sge", "slt", "sle"})
_AS_SIGNED = {"gt": "sgt", "ge": "sge", "lt": "slt", "le": "sle"}
_ALU_NAMES = {
    op.OP_ADD: "+=", op.OP_SUB: "-=", op.OP_MUL: "*=", op.OP_DIV: "/=", op.OP_OR: "|=",
    op.OP_AND: "&=", op.OP_LSH: "<<=", op.OP_RSH: ">>=", op.OP_NEG: "neg", op.OP_MOD: "%=",
    op.OP_XOR: "^=", op.OP_MOV: "=", op.OP_ARSH: "s>>=", op.OP_END: "bswap",
}  # fmt: skip


class _Verifier:
    def __init__(
        self,
        code: bytes,
        ctx: Context,
        maps: list[MapInfo],
        line_info: Mapping[int, SourceLine],
        verbose: bool,
        max_steps: int,
    ) -> None:
        self.ctx = ctx
        self.maps = maps
        self.verbose = verbose
        self.max_steps = max_steps
        self._lines = sorted(line_info.items())
        self._line_keys = [k for k, _ in self._lines]
        bindings = {
            i: MapBinding(handle=i, value_addr=0, value_size=m.value_size)
            for i, m in enumerate(maps)
        }
        try:
            dec = validate(code, range(1 << 16), _AnyMaps(bindings, len(maps)))
        except LoadError as exc:
            raise self._error(exc.index, str(exc).split(": ", 1)[-1], None) from None
        self.insns: list[Insn | None] = dec.insns
        self.entries = dec.entries
        self.stats = VerifyStats(len(self.insns), subprograms=list(dec.entries))
        self._next_id = 0
        self._prune = self._prune_points()
        self.live = self._liveness()
        self.relevant = self._relevance()

    # --- messages -----------------------------------------------------------

    def _error(self, index: int | None, reason: str, st: State | None) -> VerifierError:
        src: SourceLine | None = None
        if index is not None and self._lines:
            k = bisect.bisect_right(self._line_keys, index) - 1
            if k >= 0:
                src = self._lines[k][1]
        msg = f"insn {index}: {reason}" if index is not None else reason
        if src is not None:
            msg += f"\n  ; {src.text.strip()}  ({src.file}:{src.line})"
        state = st.show() if (st is not None and self.verbose) else None
        if state:
            msg += "\n" + "\n".join("  " + s for s in state.splitlines())
        return VerifierError(
            msg,
            index,
            reason,
            src.text.strip() if src else None,
            src.file if src else None,
            src.line if src else None,
            state,
        )

    def reject(self, index: int, reason: str, st: State | None = None) -> VerifierError:
        """The one way to refuse, so every message has the same shape."""
        return self._error(index, reason, st)

    # --- static passes --------------------------------------------------------

    def _prune_points(self) -> set[int]:
        pts: set[int] = set()
        for i, ins in enumerate(self.insns):
            if ins is None or ins.cls not in (op.CLS_JMP, op.CLS_JMP32):
                continue
            a = op.alu_op(ins.opcode)
            if a in (op.EXIT, op.CALL):
                if a == op.CALL:
                    pts.add(i + 1)
                continue
            if a == op.JA:
                pts.add(i + 1 + (ins.imm if ins.cls == op.CLS_JMP32 else ins.off))
            else:
                pts.add(i + 1 + ins.off)
                pts.add(i + 1)
        return pts

    def _liveness(self) -> list[int]:
        """Registers live on entry to each instruction, as bitmasks (backward fixpoint)."""
        n = len(self.insns)
        uses = [0] * n
        defs = [0] * n
        succ: list[tuple[int, ...]] = [()] * n
        for i, ins in enumerate(self.insns):
            if ins is None:
                continue
            u, df, s = _use_def(ins, i)
            uses[i], defs[i], succ[i] = u, df, s
        return self._backward(succ, lambda i, out: uses[i] | (out & ~defs[i]))

    def _relevance(self) -> list[int]:
        """Registers whose *value* may matter for safety, on entry to each instruction.

        A static stand-in for the kernel's precision tracking: a scalar's value matters
        if it can flow into a branch condition, a memory access's base, a store, a
        helper or bpf-to-bpf call argument, or a subprogram's or callback's r0. Saved
        states compare the other scalars by type only, so a loop that merely counts
        (``c += *p == ' '``) is pruned instead of forking per count.
        """
        n = len(self.insns)
        sink = [0] * n
        defs = [0] * n
        dep = [0] * n  # what the defined register's value depends on
        succ: list[tuple[int, ...]] = [()] * n
        for i, ins in enumerate(self.insns):
            if ins is None:
                continue
            u, df, sc = _use_def(ins, i)
            defs[i], succ[i] = df, sc
            c, a = ins.cls, op.alu_op(ins.opcode)
            if c in (op.CLS_ALU, op.CLS_ALU64):
                dep[i] = u
            elif c == op.CLS_LDX:
                sink[i] = u  # the base address
            elif c in (op.CLS_ST, op.CLS_STX):
                sink[i] = u  # base, stored value, atomic operands
            elif c in (op.CLS_JMP, op.CLS_JMP32) and a != op.EXIT:
                sink[i] = u  # conditions and call arguments
            elif a == op.EXIT and self._subprogram(i) != 0:
                sink[i] = 1  # r0 goes back to a caller or is a callback's verdict
        return self._backward(
            succ,
            lambda i, out: sink[i] | (out & ~defs[i]) | (dep[i] if out & defs[i] else 0),
        )

    def _backward(
        self, succ: list[tuple[int, ...]], transfer: Callable[[int, int], int]
    ) -> list[int]:
        """Backward dataflow fixpoint over register bitmasks: value on entry to insn i is
        transfer(i, union of its successors' values)."""
        n = len(self.insns)
        val = [0] * n
        changed = True
        while changed:
            changed = False
            for i in range(n - 1, -1, -1):
                if self.insns[i] is None:
                    continue
                out = 0
                for t in succ[i]:
                    if 0 <= t < n:
                        out |= val[t]
                new = transfer(i, out)
                if new != val[i]:
                    val[i] = new
                    changed = True
        return val

    def _subprogram(self, i: int) -> int:
        return self.entries[bisect.bisect_right(self.entries, i) - 1]

    # --- driver -------------------------------------------------------------

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def run(self, entry: State | None = None) -> VerifyStats:
        if entry is None:
            regs = [_UNINIT] * 11
            regs[1] = Reg(CTX, _ZERO)
            if self.ctx.writable:
                regs[2] = _UNKNOWN_REG
            regs[10] = Reg(STACK, _ZERO, 0)
            entry = State([Frame(regs, {}, -1, 0)], {}, None)
        self.explore(entry, 0)
        return self.stats

    def explore(self, st: State, pc: int) -> list[State]:
        """Explore every path from ``st`` at ``pc``; return the states at callback exits."""
        visited: dict[int, list[tuple[_Node, State]]] = {}
        exits: list[State] = []
        work: list[tuple[int, State, _Node | None]] = [(pc, st, None)]
        stats = self.stats
        insns = self.insns
        while work:
            pc, st, node = work.pop()
            while True:
                stats.steps += 1
                if stats.steps > self.max_steps:
                    raise self.reject(
                        pc,
                        f"program too complex: more than {self.max_steps} instructions explored"
                        " (bound the loops more tightly, or use bpf_loop)",
                        st,
                    )
                if pc in self._prune:
                    seen = visited.setdefault(pc, [])
                    hit = False
                    for old_node, old in seen:
                        if self._covers(old, st, pc):
                            if old_node.branches:
                                raise self.reject(
                                    pc,
                                    "infinite loop detected: the loop comes back here in a"
                                    " state it was in before, so nothing bounds it",
                                    st,
                                )
                            hit = True
                            break
                    if hit:
                        stats.pruned += 1
                        _finish(node)
                        break
                    node = _Node(node)
                    if len(seen) >= MAX_STATES_PER_INSN:
                        # forgetting a state only costs pruning; the oldest are the least useful
                        del seen[0]
                    seen.append((node, st.copy()))
                    stats.states += 1
                ins = insns[pc]
                assert ins is not None
                nxt = self.step(st, pc, ins, exits)
                if not nxt:
                    _finish(node)
                    break
                if len(nxt) == 2:
                    if node is not None:
                        node.branches += 1
                    work.append((nxt[1][0], nxt[1][1], node))
                pc, st = nxt[0]
        return exits

    # --- one instruction ------------------------------------------------------

    def step(self, st: State, pc: int, ins: Insn, exits: list[State]) -> list[tuple[int, State]]:
        c = ins.cls
        if c in (op.CLS_ALU, op.CLS_ALU64):
            self.alu(st, pc, ins)
            return [(pc + 1, st)]
        if c == op.CLS_LDX:
            self.load(st, pc, ins)
            return [(pc + 1, st)]
        if c in (op.CLS_ST, op.CLS_STX):
            if op.mem_mode(ins.opcode) == op.MODE_ATOMIC:
                self.atomic(st, pc, ins)
            else:
                self.store(st, pc, ins)
            return [(pc + 1, st)]
        if c == op.CLS_LD:
            if ins.opcode == op.LDDW:
                self.lddw(st, pc, ins)
                return [(pc + 2, st)]
            raise self.reject(pc, "legacy packet loads (LD_ABS/LD_IND) need a packet context", st)
        a = op.alu_op(ins.opcode)
        if a == op.JA:
            return [(pc + 1 + (ins.imm if c == op.CLS_JMP32 else ins.off), st)]
        if a == op.EXIT:
            return self.exit(st, pc, exits)
        if a == op.CALL:
            return self.call(st, pc, ins)
        return self.branch(st, pc, ins)

    def read(self, st: State, pc: int, r: int) -> Reg:
        reg = st.regs[r]
        if reg.kind == NOT_INIT:
            raise self.reject(pc, f"R{r} is not initialized (read before it is written)", st)
        return reg

    # --- ALU ----------------------------------------------------------------

    def alu(self, st: State, pc: int, ins: Insn) -> None:
        a = op.alu_op(ins.opcode)
        is64 = ins.cls == op.CLS_ALU64
        regs = st.regs
        dst = ins.dst
        if a == op.OP_NEG or a == op.OP_END:
            self.unary(st, pc, ins, a, is64)
            return
        if op.src_bit(ins.opcode) == op.SRC_X:
            src = self.read(st, pc, ins.src)
        else:
            imm = ins.imm if is64 else ins.imm & d.U32
            src = _scalar(Scalar.const(imm))
        if a == op.OP_MOV:
            if src.is_ptr:
                if not is64 or ins.off:
                    raise self.reject(
                        pc,
                        f"R{ins.src} is {src.name()}: a 32-bit or sign-extending move would"
                        " truncate the pointer into a scalar (pointer leak)",
                        st,
                    )
                regs[dst] = src
                return
            if is64 and not ins.off and src.kind == SCALAR and not src.s.is_const:
                if not src.id:  # tie the copies, so a bound learned on one holds for both
                    src = Reg(SCALAR, src.s, 0, False, self.new_id())
                    regs[ins.src] = src
                regs[dst] = src
                return
            s = src.s
            if ins.off:
                s = d.sext(s, ins.off // 8)
                if not is64:
                    s = d.trunc(s, 4)
            elif not is64:
                s = d.trunc(s, 4)
            regs[dst] = _scalar(s)
            return
        dreg = self.read(st, pc, dst)
        if dreg.is_ptr or src.is_ptr:
            regs[dst] = self.ptr_alu(st, pc, ins, a, is64, dreg, src)
            return
        regs[dst] = _scalar(_scalar_alu(a, is64, ins.off, dreg.s, src.s))

    def unary(self, st: State, pc: int, ins: Insn, a: int, is64: bool) -> None:
        dst = ins.dst
        dreg = self.read(st, pc, dst)
        if dreg.is_ptr:
            raise self.reject(pc, f"R{dst} is {dreg.name()}: {_ALU_NAMES[a]} on a pointer", st)
        if a == op.OP_NEG:
            s = d.neg(dreg.s) if is64 else d.trunc(d.neg(dreg.s.low32()), 4)
        else:
            to_le = op.src_bit(ins.opcode) == op.SRC_K and not is64
            s = d.bswap(dreg.s, ins.imm, to_le)
        st.regs[dst] = _scalar(s)

    def ptr_alu(
        self, st: State, pc: int, ins: Insn, a: int, is64: bool, dreg: Reg, src: Reg
    ) -> Reg:
        dst = ins.dst
        what = _ALU_NAMES[a]
        ptr_r, ptr = (dst, dreg) if dreg.is_ptr else (ins.src, src)
        if not is64:
            raise self.reject(
                pc, f"R{ptr_r} is {ptr.name()}: 32-bit arithmetic on a pointer is not allowed", st
            )
        if dreg.is_ptr and src.is_ptr:
            if a == op.OP_SUB and _same_object(dreg, src):
                if dreg.null or src.null:
                    raise self.reject(
                        pc, f"R{dst} is {dreg.name()}: null check required before arithmetic", st
                    )
                return _scalar(d.sub(dreg.s, src.s))
            raise self.reject(
                pc,
                f"R{dst} {what} R{ins.src}: {dreg.name()} {what} {src.name()} is not allowed"
                " (only subtracting two pointers into the same region)",
                st,
            )
        if a not in (op.OP_ADD, op.OP_SUB) or (a == op.OP_SUB and not dreg.is_ptr):
            raise self.reject(
                pc, f"R{ptr_r} is {ptr.name()}: '{what}' on a pointer is not allowed", st
            )
        if ptr.kind in (MAP_PTR, FUNC):
            raise self.reject(pc, f"R{ptr_r} is {ptr.name()}: arithmetic on it is not allowed", st)
        if ptr.null:
            raise self.reject(
                pc, f"R{ptr_r} is {ptr.name()}: null check required before arithmetic", st
            )
        other = src if dreg.is_ptr else dreg
        s = d.add(ptr.s, other.s) if a == op.OP_ADD else d.sub(ptr.s, other.s)
        if s.smin < -MAX_VAR_OFF or s.smax > MAX_VAR_OFF:
            oreg = ins.src if dreg.is_ptr else dst
            raise self.reject(
                pc,
                f"R{ptr_r} {what} R{oreg}: pointer arithmetic with an unbounded scalar"
                f" (R{oreg} is {other.s!r}); bound it with a comparison first",
                st,
            )
        return ptr.with_s(s)

    # --- memory ---------------------------------------------------------------

    def lddw(self, st: State, pc: int, ins: Insn) -> None:
        src = ins.src
        if src == 0:
            st.regs[ins.dst] = _scalar(Scalar.const(ins.imm))
            return
        if src == op.PSEUDO_FUNC:
            st.regs[ins.dst] = Reg(FUNC, _ZERO, pc + 1 + d.s32(ins.imm))
            return
        idx = ins.imm & d.U32
        if idx >= len(self.maps):
            raise self.reject(
                pc, f"lddw refers to map {idx}, but the program has {len(self.maps)} maps", st
            )
        if src in (op.PSEUDO_MAP_FD, op.PSEUDO_MAP_IDX):
            st.regs[ins.dst] = Reg(MAP_PTR, _ZERO, idx)
            return
        m = self.maps[idx]
        if m.type != ARRAY:
            raise self.reject(
                pc,
                f"lddw of a value of map '{m.name or idx}' ({map_type_name(m.type)}): direct"
                " value access needs an array map",
                st,
            )
        st.regs[ins.dst] = Reg(MAP_VALUE, Scalar.const(ins.imm >> 32), idx)

    def load(self, st: State, pc: int, ins: Insn) -> None:
        size = op.SIZE_BYTES[op.mem_size(ins.opcode)]
        sx = op.mem_mode(ins.opcode) == op.MODE_MEMSX
        base = self.read(st, pc, ins.src)
        val = self.access(st, pc, ins.src, base, ins.off, size, size, False, None)
        if val is None or val.kind == SCALAR:
            s = val.s if val is not None else d.UNKNOWN
            s = d.sext(s, size) if sx else d.trunc(s, size)
            val = _scalar(s)
        st.regs[ins.dst] = val

    def store(self, st: State, pc: int, ins: Insn) -> None:
        size = op.SIZE_BYTES[op.mem_size(ins.opcode)]
        base = self.read(st, pc, ins.dst)
        if ins.cls == op.CLS_STX:
            val = self.read(st, pc, ins.src)
        else:
            val = _scalar(Scalar.const(ins.imm))
        self.access(st, pc, ins.dst, base, ins.off, size, size, True, val, ins.src)

    def atomic(self, st: State, pc: int, ins: Insn) -> None:
        size = op.SIZE_BYTES[op.mem_size(ins.opcode)]
        base = self.read(st, pc, ins.dst)
        val = self.read(st, pc, ins.src)
        if val.is_ptr:
            raise self.reject(
                pc, f"R{ins.src} is {val.name()}: atomic operations take a scalar", st
            )
        if ins.imm == op.ATOMIC_CMPXCHG:
            self.read(st, pc, 0)
        if base.kind == STACK:
            # an atomic on the stack reads and writes: the bytes must hold data already
            self.access(st, pc, ins.dst, base, ins.off, size, size, False, None)
            self.access(st, pc, ins.dst, base, ins.off, size, size, True, _UNKNOWN_REG, ins.src)
        else:
            if base.kind == CTX:
                raise self.reject(pc, f"R{ins.dst} is ctx: atomic operations on the context", st)
            self.access(st, pc, ins.dst, base, ins.off, size, size, True, val, ins.src)
        result = _scalar(d.UNKNOWN if size == 8 else Scalar.urange(0, d.U32))
        if ins.imm == op.ATOMIC_CMPXCHG:
            st.regs[0] = result
        elif ins.imm & op.ATOMIC_FETCH:
            st.regs[ins.src] = result

    def access(
        self,
        st: State,
        pc: int,
        r: int,
        base: Reg,
        off: int,
        size_min: int,
        size_max: int,
        write: bool,
        value: Reg | None,
        vreg: int = 0,
        ptrs_ok: bool = False,
    ) -> Reg | None:
        """Check an access of [base + off, + size) and perform it on the state.

        Returns the loaded register (a spilled one, or a scalar) for reads. ``ptrs_ok``:
        a helper's read of memory that may hold spilled pointers (format arguments).
        """
        kind = base.kind
        if base.null:
            raise self.reject(pc, f"R{r} is {base.name()}: null check required before access", st)
        if kind == SCALAR:
            raise self.reject(
                pc, f"R{r} is scalar: invalid memory access (the register is not a pointer)", st
            )
        if kind in (MAP_PTR, FUNC):
            raise self.reject(pc, f"R{r} is {base.name()}: it cannot be dereferenced", st)
        lo = base.s.smin + off
        hi = base.s.smax + off
        where = f"R{r}{_off_text(base.s)}{off:+d}" if off else f"R{r}{_off_text(base.s)}"
        if value is not None and value.is_ptr and kind != STACK:
            raise self.reject(
                pc,
                f"R{vreg} is {value.name()}: storing a pointer into {_KIND_NAMES[kind]} memory"
                " would leak it",
                st,
            )
        if kind == STACK:
            return self.stack_access(st, pc, r, base.region, lo, hi, size_min, size_max, value,
                                     where, ptrs_ok)  # fmt: skip
        if kind == CTX:
            if not base.s.is_const:
                raise self.reject(
                    pc, f"variable-offset access to the context ({where}) is not allowed", st
                )
            if lo < 0 or lo + size_max > self.ctx.size:
                raise self.reject(
                    pc,
                    f"invalid context access {where} size {size_max}: {self.ctx.name} is"
                    f" {self.ctx.size} bytes",
                    st,
                )
            if write and not self.ctx.writable:
                raise self.reject(
                    pc, f"write to the context ({where}): {self.ctx.name} is read-only", st
                )
            return None
        if kind == MAP_VALUE:
            m = self.maps[base.region]
            limit, what = m.value_size, f"map value of '{m.name or base.region}'"
            if write and m.readonly:
                raise self.reject(
                    pc, f"write into read-only map '{m.name or base.region}' ({where})", st
                )
        elif kind == MAP_KEY:
            limit, what = base.region, "map key"
            if write:
                raise self.reject(pc, f"write into a map key ({where}): it is read-only", st)
        else:  # MEM
            limit, what = base.region, "ringbuf memory"
        if lo < 0 or hi + size_max > limit:
            rng = f"offset {lo}" if lo == hi else f"offset range [{lo}, {hi}]"
            raise self.reject(
                pc,
                f"invalid access to {what}: {where} size {size_max} ({rng}) is outside its"
                f" {limit} bytes",
                st,
            )
        return None

    def stack_access(
        self,
        st: State,
        pc: int,
        r: int,
        frameno: int,
        lo: int,
        hi: int,
        size_min: int,
        size_max: int,
        value: Reg | None,
        where: str,
        ptrs_ok: bool = False,
    ) -> Reg | None:
        if lo < -STACK_SIZE or hi + size_max > 0:
            raise self.reject(
                pc,
                f"invalid stack access {where} size {size_max}: outside the 512-byte frame"
                " [r10-512, r10)",
                st,
            )
        frame = st.frames[frameno]
        stack = frame.stack
        b0 = lo + STACK_SIZE
        b1 = hi + STACK_SIZE
        if value is None:  # read
            if lo == hi and size_max == 8 and b0 % 8 == 0:
                sl = stack.get(b0 // 8)
                if sl is not None and sl[0] is not None:
                    return sl[0]
            for b in range(b0, b1 + size_max):
                sl = stack.get(b // 8)
                if sl is None or not (sl[1] >> (b % 8)) & 1:
                    o = b - STACK_SIZE
                    raise self.reject(
                        pc,
                        f"invalid read from stack {where} size {size_max}: byte r10{o:+d} is"
                        " not initialized",
                        st,
                    )
                sp = sl[0]
                if sp is not None and sp.is_ptr and not ptrs_ok:
                    raise self.reject(
                        pc,
                        f"invalid read from stack {where} size {size_max}: partial read of a"
                        f" spilled {sp.name()} pointer",
                        st,
                    )
            if lo == hi and size_max < 8:
                sl = stack.get(b0 // 8)
                if sl is not None and sl[0] is not None and sl[0].s.is_const:
                    shift = 8 * (b0 % 8)
                    return _scalar(Scalar.const(sl[0].s.value >> shift))
            return None
        # write
        if frameno < st.cb_base:
            if value.is_ptr:
                raise self.reject(
                    pc, f"a callback stores a {value.name()} pointer into its caller's stack", st
                )
            st.outer_writes = st.outer_writes | {
                (frameno, b // 8) for b in range(b0, b1 + size_max)
            }
        if lo == hi:
            if size_max == 8 and b0 % 8 == 0 and size_min == 8:
                stack[b0 // 8] = (value, 0xFF)
                return None
            if value.is_ptr:
                raise self.reject(
                    pc,
                    f"pointer spill {where} size {size_max}: a pointer is stored whole, as 8"
                    " bytes at an 8-byte aligned stack offset",
                    st,
                )
            for b in range(b0, b0 + size_min):
                self._set_byte(stack, b, True)
            for b in range(b0 + size_min, b0 + size_max):
                self._set_byte(stack, b, False)
            return None
        if value.is_ptr:
            raise self.reject(
                pc, f"pointer spill {where}: a pointer needs a constant stack offset", st
            )
        for b in range(b0, b1 + size_max):
            self._set_byte(stack, b, False)
        return None

    @staticmethod
    def _set_byte(stack: dict[int, _Slot], b: int, definite: bool) -> None:
        """Byte ``b`` of the frame is (``definite``) or may be (not) overwritten with data."""
        k, bit = b // 8, 1 << (b % 8)
        sl = stack.get(k)
        if sl is None:
            if definite:
                stack[k] = (None, bit)
            return
        sp, mask = sl
        if sp is not None and sp.is_ptr:
            # the rest of a clobbered pointer must never be read back as data
            stack[k] = (None, bit if definite else 0)
            return
        stack[k] = (None, mask | bit if definite else mask)

    # --- branches -----------------------------------------------------------

    def branch(self, st: State, pc: int, ins: Insn) -> list[tuple[int, State]]:
        cond = _COND[op.alu_op(ins.opcode)]
        is32 = ins.cls == op.CLS_JMP32
        target = pc + 1 + ins.off
        left = self.read(st, pc, ins.dst)
        rreg: int | None = None
        if op.src_bit(ins.opcode) == op.SRC_X:
            right = self.read(st, pc, ins.src)
            rreg = ins.src
        else:
            right = _scalar(Scalar.const(ins.imm & d.U32 if is32 else ins.imm))
        if target == pc + 1:
            return [(target, st)]
        yes = _refine(left, right, cond, True, is32)
        no = _refine(left, right, cond, False, is32)
        if yes is not None and no is not None:
            other = st.copy()
            self._apply(other, ins.dst, left, rreg, right, yes)
            self._apply(st, ins.dst, left, rreg, right, no)
            return [(pc + 1, st), (target, other)]
        if yes is not None:
            self._apply(st, ins.dst, left, rreg, right, yes)
            return [(target, st)]
        if no is not None:
            self._apply(st, ins.dst, left, rreg, right, no)
            return [(pc + 1, st)]
        return []  # neither: the path itself is impossible

    def _apply(
        self, st: State, dst: int, left: Reg, rreg: int | None, right: Reg, res: tuple[Reg, Reg]
    ) -> None:
        nl, nr = res
        if nl is not left:
            self._set_reg_everywhere(st, dst, left, nl)
        if rreg is not None and nr is not right:
            self._set_reg_everywhere(st, rreg, right, nr)

    def _set_reg_everywhere(self, st: State, r: int, old: Reg, new: Reg) -> None:
        """A refined register; a null check also converts every copy (same id)."""
        if old.null and old.id:
            oid = old.id
            if new.kind == SCALAR:  # null: every copy is 0, a reservation is gone
                st.replace(lambda x: x.id == oid and x.null, lambda x: _scalar(_ZERO))
                if old.ref:
                    st.refs.pop(old.ref, None)
            else:
                st.replace(
                    lambda x: x.id == oid and x.null,
                    lambda x: Reg(x.kind, x.s, x.region, False, x.id, x.ref),
                )
            return
        if new.kind == SCALAR and old.kind == SCALAR and old.id:
            oid = old.id
            kept = Reg(SCALAR, new.s, 0, False, oid)
            st.replace(lambda x: x.kind == SCALAR and x.id == oid, lambda x: kept)
            return
        st.regs[r] = new

    # --- calls and exit -------------------------------------------------------

    def exit(self, st: State, pc: int, exits: list[State]) -> list[tuple[int, State]]:
        frame = st.frames[-1]
        r0 = st.regs[0]
        if len(st.frames) == 1 or frame.callsite == -2:
            if r0.kind == NOT_INIT:
                raise self.reject(pc, "R0 is not initialized at exit; set the return value", st)
            if r0.is_ptr:
                raise self.reject(
                    pc,
                    f"R0 is {r0.name()} at exit: a program returns a scalar (pointer leak)",
                    st,
                )
            if st.lock is not None:
                raise self.reject(
                    pc,
                    f"bpf_spin_unlock is missing: the lock taken at insn {st.lock[2]} is still"
                    " held at exit",
                    st,
                )
        if frame.callsite == -2:  # a callback returns to its helper
            if not (r0.s.umax <= 1):
                raise self.reject(pc, f"callback must return 0 or 1, R0 is {r0.s!r}", st)
            exits.append(st)
            return []
        if len(st.frames) == 1:
            if st.refs:
                first = min(st.refs.values())
                raise self.reject(
                    pc,
                    f"unreleased ringbuf memory reserved at insn {first}: call"
                    " bpf_ringbuf_submit or bpf_ringbuf_discard on every path",
                    st,
                )
            return []
        depth = len(st.frames) - 1
        if st.lock is not None:
            raise self.reject(
                pc,
                f"bpf_spin_unlock is missing: the lock taken at insn {st.lock[2]} is still"
                " held when the function returns",
                st,
            )
        if r0.kind == STACK and r0.region >= depth:
            raise self.reject(pc, "R0 points into the returning function's stack frame", st)
        st.frames.pop()
        st.replace(lambda x: x.kind == STACK and x.region >= depth, lambda x: _UNINIT)
        regs = st.regs
        regs[0] = r0
        for i in range(1, 6):
            regs[i] = _UNINIT
        return [(frame.callsite + 1, st)]

    def call(self, st: State, pc: int, ins: Insn) -> list[tuple[int, State]]:
        if op.src_bit(ins.opcode) == op.SRC_X:
            reg = self.read(st, pc, ins.dst)
            if reg.kind != SCALAR or not reg.s.is_const or reg.s.value not in HELPERS:
                raise self.reject(
                    pc, f"callx R{ins.dst}: the register must hold a known helper id", st
                )
            return self.helper(st, pc, reg.s.value)
        if ins.src == op.PSEUDO_CALL:
            return self.local_call(st, pc, pc + 1 + ins.imm)
        return self.helper(st, pc, ins.imm)

    def _push_frame(self, st: State, pc: int, target: int, callsite: int, args: list[Reg]) -> None:
        if any(f.subprog == target for f in st.frames):
            raise self.reject(pc, f"recursive call to the function at insn {target}", st)
        if len(st.frames) >= MAX_FRAMES:
            raise self.reject(
                pc, f"call stack too deep: more than {MAX_FRAMES} frames (bpf-to-bpf calls)", st
            )
        regs = [_UNINIT] * 11
        for i, a in enumerate(args, start=1):
            regs[i] = a
        regs[10] = Reg(STACK, _ZERO, len(st.frames))
        st.frames.append(Frame(regs, {}, callsite, target))
        self.stats.max_frames = max(self.stats.max_frames, len(st.frames))

    def local_call(self, st: State, pc: int, target: int) -> list[tuple[int, State]]:
        if st.lock is not None:
            raise self.reject(pc, "function calls are not allowed while holding a lock", st)
        self._push_frame(st, pc, target, pc, [st.regs[i] for i in range(1, 6)])
        return [(target, st)]

    def helper(self, st: State, pc: int, hid: int) -> list[tuple[int, State]]:
        proto = HELPERS.get(hid)
        if proto is None:
            raise self.reject(
                pc, f"call to unknown helper {hid}: bpftime does not implement it", st
            )
        if st.lock is not None and hid != 94:
            raise self.reject(
                pc, f"function calls are not allowed while holding a lock ({proto.name})", st
            )
        regs = st.regs
        mapinfo: MapInfo | None = None
        map_idx = -1
        func = -1
        released = 0
        alloc = 0
        for n, kind in enumerate(proto.args, start=1):
            reg = regs[n]
            if kind == Arg.OPTIONAL and reg.kind == NOT_INIT:
                continue
            if reg.kind == NOT_INIT:
                raise self.reject(pc, f"{proto.name} arg{n}: R{n} is not initialized", st)
            if kind == Arg.UNSAFE_PTR:
                pass
            elif kind == Arg.OPTIONAL:
                pass  # a printk value: %s and %p take pointers, read safely by the helper
            elif kind == Arg.ANYTHING:
                if reg.is_ptr:
                    raise self.reject(
                        pc,
                        f"{proto.name} arg{n}: R{n} is {reg.name()}, the helper takes a scalar"
                        " (pointer leak)",
                        st,
                    )
            elif kind == Arg.CONST_MAP_PTR:
                if reg.kind != MAP_PTR:
                    raise self._arg(pc, proto, n, reg, "a map (lddw of a map)", st)
                map_idx = reg.region
                mapinfo = self.maps[map_idx]
                self._check_map_type(pc, proto, hid, mapinfo, st)
            elif kind in (Arg.PTR_TO_MAP_KEY, Arg.PTR_TO_MAP_VALUE, Arg.PTR_TO_UNINIT_MAP_VALUE):
                assert mapinfo is not None
                size = mapinfo.key_size if kind == Arg.PTR_TO_MAP_KEY else mapinfo.value_size
                write = kind == Arg.PTR_TO_UNINIT_MAP_VALUE
                self._mem_arg(st, pc, proto, n, reg, size, size, write)
            elif kind in (Arg.PTR_TO_MEM, Arg.PTR_TO_MEM_OR_NULL, Arg.PTR_TO_UNINIT_MEM,
                          Arg.PTR_TO_UNINIT_MEM_OR_NULL):  # fmt: skip
                sreg = regs[n + 1]
                if sreg.kind != SCALAR:
                    raise self._arg(pc, proto, n + 1, sreg, "a scalar size", st)
                s = sreg.s
                if proto.args[n] == Arg.CONST_SIZE and s.umin == 0:
                    raise self.reject(
                        pc,
                        f"{proto.name} arg{n + 1}: R{n + 1} is {s!r}, the size must be > 0",
                        st,
                    )
                if s.umax > MAX_MEM_SIZE:
                    raise self.reject(
                        pc,
                        f"{proto.name} arg{n + 1}: R{n + 1} is {s!r}, an unbounded size; bound"
                        " it with a comparison first",
                        st,
                    )
                nullable = kind in (Arg.PTR_TO_MEM_OR_NULL, Arg.PTR_TO_UNINIT_MEM_OR_NULL)
                if nullable and reg.kind == SCALAR and reg.s.may_be(0):
                    if not reg.s.is_const:
                        raise self._arg(pc, proto, n, reg, "a pointer to memory or NULL", st)
                    continue
                write = kind in (Arg.PTR_TO_UNINIT_MEM, Arg.PTR_TO_UNINIT_MEM_OR_NULL)
                self._mem_arg(st, pc, proto, n, reg, s.umin, s.umax, write)
            elif kind in (Arg.CONST_SIZE, Arg.CONST_SIZE_OR_ZERO):
                pass  # checked with its memory argument
            elif kind == Arg.CONST_ALLOC_SIZE_OR_ZERO:
                if reg.kind != SCALAR or not reg.s.is_const:
                    raise self._arg(pc, proto, n, reg, "a constant size", st)
                alloc = reg.s.value
                if alloc > MAX_MEM_SIZE:
                    raise self.reject(pc, f"{proto.name} arg{n}: size {alloc} is too large", st)
            elif kind == Arg.PTR_TO_CTX:
                if reg.kind != CTX or not (reg.s.is_const and reg.s.value == 0):
                    raise self._arg(pc, proto, n, reg, "the context pointer (R1 at entry)", st)
            elif kind == Arg.PTR_TO_FUNC:
                if reg.kind != FUNC:
                    raise self._arg(pc, proto, n, reg, "a callback function", st)
                func = reg.region
            elif kind == Arg.PTR_TO_STACK_OR_NULL:
                if not (reg.kind == STACK or (reg.kind == SCALAR and reg.s.is_const
                                             and reg.s.value == 0)):  # fmt: skip
                    raise self._arg(pc, proto, n, reg, "a stack pointer or NULL", st)
            elif kind == Arg.PTR_TO_SPIN_LOCK:
                self._spin_lock(st, pc, proto, hid, reg)
            elif kind == Arg.PTR_TO_RINGBUF_MEM:
                if reg.kind != MEM or reg.null or not reg.ref:
                    raise self._arg(pc, proto, n, reg, "ringbuf memory from bpf_ringbuf_reserve",
                                    st)  # fmt: skip
                if not (reg.s.is_const and reg.s.value == 0):
                    raise self._arg(pc, proto, n, reg, "the pointer bpf_ringbuf_reserve returned",
                                    st)  # fmt: skip
                released = reg.ref
            elif kind == Arg.PTR_TO_LONG:
                self._mem_arg(st, pc, proto, n, reg, 8, 8, True)
            elif kind == Arg.PTR_TO_CONST_STR:
                if reg.kind != MAP_VALUE or reg.null or not self.maps[reg.region].readonly:
                    raise self._arg(pc, proto, n, reg, "a constant string in a read-only map", st)
                self._mem_arg(st, pc, proto, n, reg, 1, 1, False)
        if hid == 12 and st.refs:
            raise self.reject(
                pc, "bpf_tail_call with unreleased ringbuf memory would leak the reservation", st
            )
        if released:
            st.refs.pop(released, None)
            st.replace(lambda x: x.ref == released, lambda x: _UNINIT)
        if func >= 0:
            self._callback(st, pc, proto, func, map_idx)
        for i in range(1, 6):
            regs[i] = _UNINIT
        if proto.ret == Ret.INTEGER:
            regs[0] = _UNKNOWN_REG
        elif proto.ret == Ret.VOID:
            regs[0] = _UNINIT
        elif proto.ret == Ret.MAP_VALUE_OR_NULL:
            inner = self.maps[map_idx].inner
            if inner is not None:  # map-in-map: the inner map, or NULL
                regs[0] = Reg(MAP_PTR, _ZERO, inner, True, self.new_id())
            else:
                regs[0] = Reg(MAP_VALUE, _ZERO, map_idx, True, self.new_id())
        else:
            ref = self.new_id()
            st.refs[ref] = pc
            regs[0] = Reg(MEM, _ZERO, alloc, True, ref, ref)
        return [(pc + 1, st)]

    def _arg(
        self, pc: int, proto: Proto, n: int, reg: Reg, expected: str, st: State
    ) -> VerifierError:
        return self.reject(pc, f"{proto.name} arg{n}: R{n} is {reg.name()}, expected {expected}",
                           st)  # fmt: skip

    def _check_map_type(self, pc: int, proto: Proto, hid: int, m: MapInfo, st: State) -> None:
        reserved = RESERVED_MAP_TYPES.get(m.type)
        ok = hid in reserved if reserved is not None else True
        if ok and proto.map_types is not None:
            ok = m.type in proto.map_types
        if not ok:
            raise self.reject(
                pc,
                f"{proto.name} cannot take map '{m.name}' of type {map_type_name(m.type)}",
                st,
            )

    def _mem_arg(
        self,
        st: State,
        pc: int,
        proto: Proto,
        n: int,
        reg: Reg,
        size_min: int,
        size_max: int,
        write: bool,
    ) -> None:
        if reg.kind == SCALAR or reg.kind in (MAP_PTR, FUNC) or reg.null:
            raise self._arg(pc, proto, n, reg, "a pointer to memory", st)
        if size_max == 0:
            return
        if reg.kind == CTX:
            raise self._arg(pc, proto, n, reg, "a pointer to memory (not the context)", st)
        if not write:
            # %s/%p arguments of the format helpers are pointers: the kernel lets tracing
            # programs (loaded with CAP_PERFMON/CAP_SYS_ADMIN) pass them, and so do we
            ptrs_ok = proto.name in FORMAT_DATA_HELPERS
            got = self.access(st, pc, n, reg, 0, size_max, size_max, False, None,
                              ptrs_ok=ptrs_ok)  # fmt: skip
            if got is not None and got.is_ptr and not ptrs_ok:
                raise self.reject(
                    pc,
                    f"{proto.name} arg{n}: the memory R{n} points to holds a spilled"
                    f" {got.name()} pointer (pointer leak)",
                    st,
                )
            return
        if reg.kind == STACK:
            self.access(st, pc, n, reg, 0, size_min, size_max, True, _UNKNOWN_REG)
        else:
            self.access(st, pc, n, reg, 0, size_max, size_max, True, _UNKNOWN_REG)

    def _spin_lock(self, st: State, pc: int, proto: Proto, hid: int, reg: Reg) -> None:
        if reg.kind != MAP_VALUE or reg.null:
            raise self._arg(pc, proto, 1, reg, "a map value holding a struct bpf_spin_lock", st)
        m = self.maps[reg.region]
        if m.spin_lock_off is None:
            raise self.reject(
                pc, f"{proto.name}: map '{m.name}' has no struct bpf_spin_lock in its value", st
            )
        if not (reg.s.is_const and reg.s.value == m.spin_lock_off):
            raise self.reject(
                pc,
                f"{proto.name}: R1 must point at the bpf_spin_lock (offset {m.spin_lock_off}),"
                f" not at offset {_off_text(reg.s) or 0}",
                st,
            )
        if hid == 93:
            if st.lock is not None:
                raise self.reject(pc, "bpf_spin_lock while a lock is already held", st)
            st.lock = (reg.region, reg.id, pc)
        else:
            if st.lock is None:
                raise self.reject(pc, "bpf_spin_unlock without a held lock", st)
            if st.lock[:2] != (reg.region, reg.id):
                raise self.reject(pc, "bpf_spin_unlock of a different lock than the one held", st)
            st.lock = None

    def _callback(self, st: State, pc: int, proto: Proto, func: int, map_idx: int) -> None:
        """Verify a callback as if called any number of times from this state.

        The callback may write data through its context pointer into the caller's
        stack: the slots it writes are made unknown and it is explored again
        until that set stops growing.
        """
        regs = st.regs
        if proto.callback_args == 2:  # bpf_loop(n, cb, ctx, flags): cb(u32 index, ctx)
            args = [_scalar(Scalar.urange(0, d.U32)), regs[3]]
        else:  # for_each_map_elem(map, cb, ctx, flags): cb(map, key, value, ctx)
            m = self.maps[map_idx]
            args = [
                Reg(MAP_PTR, _ZERO, map_idx),
                _UNKNOWN_REG,
                Reg(MAP_VALUE, _ZERO, map_idx),
                regs[3],
            ]
            args[1] = Reg(MAP_KEY, _ZERO, m.key_size)
        written: frozenset[tuple[int, int]] = frozenset()
        for _ in range(_SLOTS + 1):
            cb = st.copy()
            cb.cb_base = len(cb.frames)
            cb.outer_writes = frozenset()
            self._push_frame(cb, pc, func, -2, args)
            exits = self.explore(cb, func)
            new = frozenset().union(*(e.outer_writes for e in exits)) | written
            for e in exits:
                if set(e.refs) != set(st.refs):
                    raise self.reject(
                        pc,
                        f"the {proto.name} callback must release the ringbuf memory it reserves",
                        e,
                    )
            if new == written:
                st.outer_writes |= {w for w in written if w[0] < st.cb_base}
                return
            written = new
            for frameno, slot in written:
                stack = st.frames[frameno].stack
                sl = stack.get(slot)
                if sl is not None:
                    stack[slot] = (None, sl[1])
        raise AssertionError("callback write set did not converge")  # pragma: no cover

    # --- pruning ----------------------------------------------------------------

    def _covers(self, old: State, cur: State, pc: int) -> bool:
        """Every behaviour from ``cur`` is one ``old`` already explored (safely)."""
        if len(old.frames) != len(cur.frames):
            return False
        if (old.lock is None) != (cur.lock is None):
            return False
        if old.lock is not None and cur.lock is not None and old.lock[:2] != cur.lock[:2]:
            return False
        if len(old.refs) != len(cur.refs) or old.cb_base != cur.cb_base:
            return False
        if old.outer_writes != cur.outer_writes and not cur.outer_writes <= old.outer_writes:
            return False
        idmap: dict[int, int] = {}
        last = len(old.frames) - 1
        for n, (fo, fc) in enumerate(zip(old.frames, cur.frames, strict=True)):
            if fo.callsite != fc.callsite or fo.subprog != fc.subprog:
                return False
            if n == last:
                live, rel = self.live[pc], self.relevant[pc]
            elif cur.frames[n + 1].callsite < 0:
                live = rel = 0x7FF  # a callback's caller: everything may be read after it
            else:
                back = cur.frames[n + 1].callsite + 1
                live = self.live[back] & ~0x3F  # r0-r5 are redefined by the return
                rel = self.relevant[back]
            live |= 1 << 10
            for r in range(11):
                if not live >> r & 1:
                    continue
                o, c = fo.regs[r], fc.regs[r]
                if not rel >> r & 1 and o.kind == SCALAR and c.kind == SCALAR:
                    continue  # its value cannot matter: only its type does
                if not _reg_covers(o, c, idmap):
                    return False
            for k, (osp, omask) in fo.stack.items():
                cs = fc.stack.get(k)
                if cs is None:
                    if omask:
                        return False
                    continue
                csp, cmask = cs
                if omask & ~cmask:
                    return False
                if osp is not None:
                    if csp is None:
                        if not (osp.kind == SCALAR and osp.s.is_unknown):
                            return False
                    elif not _reg_covers(osp, csp, idmap):
                        return False
                elif csp is not None and csp.is_ptr:
                    return False
        return True


def _same_object(a: Reg, b: Reg) -> bool:
    """Whether two pointers point into one object, so their difference is an offset."""
    if a.kind != b.kind or a.region != b.region:
        return False
    if a.kind in (STACK, CTX):
        return True
    if a.kind == MAP_VALUE:
        return a.id == b.id
    if a.kind == MEM:
        return a.ref == b.ref != 0
    return False


def _reg_covers(o: Reg, c: Reg, idmap: dict[int, int]) -> bool:
    if o.kind == NOT_INIT:
        return True
    if o.kind != c.kind or o.region != c.region or o.null != c.null:
        return False
    if not o.s.contains(c.s):
        return False
    if o.id:
        m = idmap.setdefault(o.id, c.id)
        if m != c.id:
            return False
    return o.ref == 0 or c.ref != 0


def _refine(left: Reg, right: Reg, cond: str, taken: bool, is32: bool) -> tuple[Reg, Reg] | None:
    """Both registers knowing the branch went ``taken``; None if it cannot."""
    if left.is_ptr and right.is_ptr and cond != "set" and not is32:
        if left.null or right.null or not _same_object(left, right):
            return left, right
        # two pointers into one object compare like their offsets (addresses do not wrap)
        r = d.refine(left.s, right.s, _AS_SIGNED.get(cond, cond), taken)
        if r is None:
            return None
        return left.with_s(r[0]), right.with_s(r[1])
    if left.is_ptr or right.is_ptr:
        ptr, other = (left, right) if left.is_ptr else (right, left)
        if (
            ptr.null
            and other.kind == SCALAR
            and other.s.is_const
            and other.s.value == 0
            and cond in ("eq", "ne")
            and not is32
        ):
            is_null = (cond == "eq") == taken
            if is_null:
                new = _scalar(_ZERO)
            else:
                new = Reg(ptr.kind, ptr.s, ptr.region, False, ptr.id, ptr.ref)
            return (new, right) if left.is_ptr else (left, new)
        if (
            not ptr.null
            and ptr.kind != SCALAR
            and other.kind == SCALAR
            and other.s.is_const
            and not is32
            and cond not in _SIGNED
        ):  # a non-null pointer is an address in [1, 2^64): some compares are decided
            addr = Scalar.urange(1, d.U64)
            pair = (addr, other.s) if left.is_ptr else (other.s, addr)
            if d.refine(pair[0], pair[1], cond, taken) is None:
                return None
        return left, right
    a, b = left.s, right.s
    if is32:
        if cond in _SIGNED:
            a32, b32 = a.sext32(), b.sext32()
        else:
            a32, b32 = a.low32(), b.low32()
        r = d.refine(a32, b32, cond, taken)
        if r is None:
            return None
        na = _back64(a, r[0], cond)
        nb = _back64(b, r[1], cond)
        if na is None or nb is None:
            return None
        return _scalar(na), _scalar(nb)
    r = d.refine(a, b, cond, taken)
    if r is None:
        return None
    return (left if r[0] is a else _scalar(r[0])), (right if r[1] is b else _scalar(r[1]))


def _back64(full: Scalar, refined32: Scalar, cond: str) -> Scalar | None:
    """Carry a refinement of the 32-bit view back to the 64-bit value where exact."""
    if cond in _SIGNED:
        if full.smin >= d.S32_MIN and full.smax <= d.S32_MAX:
            return refined32
    elif full.umax <= d.U32:
        return refined32
    # the upper half is unchanged; the low half's known bits still apply (so clang's
    # "if ((int)i < 16) ... (long)(int)i" through <<32 s>>32 stays bounded)
    mask = (full.mask & ~d.U32) | refined32.mask
    value = (full.value & ~d.U32) | refined32.value
    return d.make(value & ~mask, mask, full.umin, full.umax, full.smin, full.smax)


def _scalar_alu(a: int, is64: bool, off: int, x: Scalar, y: Scalar) -> Scalar:
    if not is64:
        x, y = x.low32(), y.low32()
        w = 32
    else:
        w = 64
    if a == op.OP_ADD:
        r = d.add(x, y)
    elif a == op.OP_SUB:
        r = d.sub(x, y)
    elif a == op.OP_MUL:
        r = d.mul(x, y)
    elif a == op.OP_DIV:
        r = d.sdiv(x, y, w) if off == 1 else d.udiv(x, y)
    elif a == op.OP_MOD:
        r = d.smod(x, y, w) if off == 1 else d.umod(x, y)
    elif a == op.OP_OR:
        r = d.or_(x, y)
    elif a == op.OP_AND:
        r = d.and_(x, y)
    elif a == op.OP_XOR:
        r = d.xor(x, y)
    elif a == op.OP_LSH:
        r = d.lsh(x, y, w)
    elif a == op.OP_RSH:
        r = d.rsh(x, y, w)
    elif a == op.OP_ARSH:
        r = d.arsh(x if is64 else x.sext32(), y if is64 else d.and_(y, Scalar.const(31)))
    else:  # pragma: no cover - validated opcodes
        raise AssertionError(a)
    return r if is64 else d.trunc(r, 4)


def _use_def(ins: Insn, i: int) -> tuple[int, int, tuple[int, ...]]:
    """Registers an instruction reads and writes, and its successors (for liveness)."""
    c, a = ins.cls, op.alu_op(ins.opcode)
    x = op.src_bit(ins.opcode) == op.SRC_X
    if c in (op.CLS_ALU, op.CLS_ALU64):
        u = (1 << ins.src) if x else 0
        if a != op.OP_MOV:
            u |= 1 << ins.dst
        return u, 1 << ins.dst, (i + 1,)
    if c == op.CLS_LDX:
        return 1 << ins.src, 1 << ins.dst, (i + 1,)
    if c == op.CLS_ST:
        return 1 << ins.dst, 0, (i + 1,)
    if c == op.CLS_STX:
        u = (1 << ins.dst) | (1 << ins.src)
        df = 0
        if op.mem_mode(ins.opcode) == op.MODE_ATOMIC:
            if ins.imm == op.ATOMIC_CMPXCHG:
                u |= 1
                df = 1
            elif ins.imm & op.ATOMIC_FETCH:
                df = 1 << ins.src
        return u, df, (i + 1,)
    if c == op.CLS_LD:
        return 0, 1 << ins.dst, (i + ins.size,)
    if a == op.EXIT:
        return 1, 0, ()
    if a == op.CALL:
        if x:
            u = 0x3E | (1 << ins.dst)
        elif ins.src == 0:
            proto = HELPERS.get(ins.imm)
            u = ((1 << (len(proto.args) + 1)) - 2) if proto is not None else 0x3E
        else:
            u = 0x3E
        return u, 0x3F, (i + 1,)
    if a == op.JA:
        return 0, 0, (i + 1 + (ins.imm if c == op.CLS_JMP32 else ins.off),)
    u = (1 << ins.dst) | ((1 << ins.src) if x else 0)
    return u, 0, (i + 1, i + 1 + ins.off)


class _AnyMaps(dict[int, MapBinding]):
    """Map bindings for ``insn.validate``: out-of-range indices are the verifier's to report."""

    def __init__(self, bindings: dict[int, MapBinding], n: int) -> None:
        super().__init__(bindings)
        self.n = n

    def get(self, key: int, default: MapBinding | None = None) -> MapBinding | None:  # type: ignore[override]
        return super().get(key, MapBinding(handle=key, value_size=1 << 30))
