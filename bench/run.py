"""The project's one benchmark entry point.

    python bench/run.py [--json PATH] [--quick] [--section NAME ...]

Prints a table and writes JSON (default bench/results/latest.json). Each
section is a function returning Rows; add later sections (maps, verifier,
uprobes) to SECTIONS. Every figure is the median of REPEATS runs (fewer with
--quick, which CI uses so the bench runs once per change and cannot rot).
Kernel figures are measured in the same run as ours, through BPF_PROG_TEST_RUN,
when this process can use bpf(); otherwise the table says why not.

Speed is reported here, never asserted: a missed target prints MISS but does
not fail the run.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bpftime
import bpftime._program
import bpftime.uprobe
from bpftime import elf, kernel
from bpftime import opcodes as op

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


@dataclass
class Config:
    repeats: int  # figures are medians of this many samples
    runs: int  # repeat count handed to test_run (ours and the kernel's)
    calls: int  # Python-level calls timed for Program.run()


FULL = Config(repeats=5, runs=1_000_000, calls=1_000_000)
QUICK = Config(repeats=1, runs=100_000, calls=100_000)


@dataclass
class Row:
    """One figure. ``value`` None means not measured; ``note`` says why."""

    name: str
    value: float | None
    unit: str
    target: float | None = None  # met when value <= target
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.target is None or self.value is None:
            return ""
        return "ok" if self.value <= self.target else "MISS"


def median(samples: list[float]) -> float:
    return float(statistics.median(samples))


def measured(
    name: str, unit: str, samples: list[float], target: float | None = None, note: str = ""
) -> Row:
    return Row(name, median(samples), unit, target, note, samples)


# --- programs, encoded by hand (no assembler) -----------------------------


def ins(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, dst | src << 4, off, imm)


EXIT = ins(op.CLS_JMP | op.EXIT)
# r0 = *(u32 *)(r1 + 0): ours read the packet's first word, the kernel's socket
# filter skb->len. Starting from input keeps LLVM from folding the whole chain
# into a constant; the kernel does the same work either way.
LOAD_INPUT = ins(op.CLS_LDX | op.MODE_MEM | op.SZ_W, 0, 1, 0)
# add and xor alternate so no two neighbours combine into one operation
CHAIN = ((op.OP_ADD, 0x1234567), (op.OP_XOR, 0x5A5A5A5))


def alu64_imm(o: int, dst: int, imm: int) -> bytes:
    return ins(op.CLS_ALU64 | op.SRC_K | o, dst, 0, 0, imm)


def empty_program() -> bytes:
    """mov r0, 0; exit. Executes 2 instructions."""
    return alu64_imm(op.OP_MOV, 0, 0) + EXIT


def alu100_program() -> bytes:
    """Load, 100 dependent ALU64 ops on r0, exit. Executes 102 instructions."""
    chain = b"".join(alu64_imm(o, 0, imm) for o, imm in CHAIN * 50)
    return LOAD_INPUT + chain + EXIT


LOOP_ITERATIONS = 100
# 0 load, 1 r2 = 0, then 100 x (4 ALU + r2 += 1 + branch) = 600, exit: 603
LOOP100_EXECUTED_INSNS = 2 + LOOP_ITERATIONS * 6 + 1


def loop100_program() -> bytes:
    """A bounded loop: 100 x (4 dependent ALU ops on r0, r2 += 1, if r2 < 100 goto body).

    0: r0 = *(u32 *)(r1 + 0)
    1: r2 = 0
    2: r0 += 0x1234567        <-+
    3: r0 ^= 0x5a5a5a5          |
    4: r0 += r2                 |  the counter feeds the chain, so the
    5: r0 ^= 0x3c3c3c3          |  loop has no closed form
    6: r2 += 1                  |
    7: if r2 < 100 goto 2     --+
    8: exit
    """
    body = (
        alu64_imm(op.OP_ADD, 0, 0x1234567)
        + alu64_imm(op.OP_XOR, 0, 0x5A5A5A5)
        + ins(op.CLS_ALU64 | op.SRC_X | op.OP_ADD, 0, 2)
        + alu64_imm(op.OP_XOR, 0, 0x3C3C3C3)
        + alu64_imm(op.OP_ADD, 2, 1)
    )
    back = ins(op.CLS_JMP | op.SRC_K | op.JLT, 2, 0, -(len(body) // 8 + 1), LOOP_ITERATIONS)
    return LOAD_INPUT + alu64_imm(op.OP_MOV, 2, 0) + body + back + EXIT


PROGRAMS: dict[str, Callable[[], bytes]] = {
    "empty": empty_program,
    "alu100": alu100_program,
    "loop100": loop100_program,
}
PACKET = bytes(64)
WARMUP_RUNS = 10_000  # one untimed test_run first, to settle caches and branch predictors
ENGINES = ("interp", "jit")

# targets, printed next to the figures they judge
JIT_RATIO_TARGET = 1.0
INTERP_NS_PER_INSN_TARGET = 2.0
RUN_CALL_NS_TARGET = 150.0


# --- sections -------------------------------------------------------------


def _ours(code: bytes, engine: str, cfg: Config) -> list[float]:
    prog = bpftime.Program(code, engine=engine)
    prog.test_run(PACKET, repeat=WARMUP_RUNS)
    return [float(prog.test_run(PACKET, repeat=cfg.runs).duration_ns) for _ in range(cfg.repeats)]


def _kernel(code: bytes, cfg: Config) -> list[float]:
    with kernel.KernelProgram(code) as kp:
        kp.test_run(PACKET, repeat=WARMUP_RUNS)
        return [float(kp.test_run(PACKET, repeat=cfg.runs)[1]) for _ in range(cfg.repeats)]


def _python_loop_ns(calls: int, fn: Callable[[], object] | None) -> float:
    """ns per iteration of ``for _ in range(calls): fn()`` (or of an empty loop)."""
    it = range(calls)
    if fn is None:
        t0 = time.perf_counter_ns()
        for _ in it:
            pass
        return (time.perf_counter_ns() - t0) / calls
    t0 = time.perf_counter_ns()
    for _ in it:
        fn()
    return (time.perf_counter_ns() - t0) / calls


def engines_section(cfg: Config) -> list[Row]:
    """ns per run of small programs on both engines, against the kernel's JIT."""
    rows: list[Row] = []
    k_ok, k_reason = kernel.available()
    for pname, build in PROGRAMS.items():
        code = build()
        k_ns: float | None = None
        if k_ok:
            k_row = measured(
                f"engines.{pname}.kernel.ns_per_run",
                "ns",
                _kernel(code, cfg),
                note=f"BPF_PROG_TEST_RUN socket filter, repeat={cfg.runs}, kernel's integer mean",
            )
            k_ns = k_row.value
        else:
            k_row = Row(f"engines.{pname}.kernel.ns_per_run", None, "ns", note=k_reason)
        rows.append(k_row)
        for engine in ENGINES:
            row = measured(
                f"engines.{pname}.{engine}.ns_per_run",
                "ns",
                _ours(code, engine, cfg),
                note=f"Program.test_run(repeat={cfg.runs})",
            )
            rows.append(row)
            target = JIT_RATIO_TARGET if engine == "jit" else None
            ratio_name = f"engines.{pname}.{engine}.ratio_vs_kernel"
            if k_ns and row.value is not None:
                ratios = [s / k_ns for s in row.samples]
                rows.append(Row(ratio_name, row.value / k_ns, "x", target, "ours / kernel", ratios))
            elif k_ns is not None:
                rows.append(Row(ratio_name, None, "x", target, "kernel reported 0 ns"))
            else:
                rows.append(Row(ratio_name, None, "x", target, f"no kernel: {k_reason}"))
            if pname == "loop100" and engine == "interp":
                per_insn = [s / LOOP100_EXECUTED_INSNS for s in row.samples]
                rows.append(
                    measured(
                        "engines.loop100.interp.ns_per_insn",
                        "ns",
                        per_insn,
                        target=INTERP_NS_PER_INSN_TARGET,
                        note=f"{LOOP100_EXECUTED_INSNS} instructions executed per run",
                    )
                )
    rows.extend(_run_call_rows(cfg))
    return rows


def _run_call_rows(cfg: Config) -> list[Row]:
    """Program.run() from Python: empty program, JIT, no memory argument."""
    run = bpftime.Program(empty_program(), engine="jit").run
    with_loop, loop_only = [], []
    _python_loop_ns(WARMUP_RUNS, run)
    for _ in range(cfg.repeats):
        loop_only.append(_python_loop_ns(cfg.calls, None))
        with_loop.append(_python_loop_ns(cfg.calls, run))
    minus = [a - b for a, b in zip(with_loop, loop_only, strict=True)]
    loop_note = f"`for _ in range({cfg.calls}): run()`"
    return [
        measured(
            "engines.run_empty_jit.ns_per_call_incl_loop",
            "ns",
            with_loop,
            target=RUN_CALL_NS_TARGET,
            note=f"{loop_note}, loop included",
        ),
        measured(
            "engines.run_empty_jit.ns_per_call_minus_loop",
            "ns",
            minus,
            target=RUN_CALL_NS_TARGET,
            note="same, minus an empty loop timed alongside",
        ),
        measured(
            "engines.python_empty_loop.ns_per_iter",
            "ns",
            loop_only,
            note=f"`for _ in range({cfg.calls}): pass`",
        ),
    ]


# --- maps -----------------------------------------------------------------

MAP_HASH, MAP_ARRAY = 1, 2
MAP_ENTRIES = 1024
BATCH = 1000
MAP_OP_NS_TARGET = 100.0
BATCH_NS_TARGET = 20.0
KMAP_SOURCE = Path(__file__).resolve().parent / "kmap.c"


def _kmap_lib() -> tuple[ctypes.CDLL | None, str]:
    """bench/kmap.c compiled into a temporary library, or None and why not."""
    ok, reason = kernel.available()
    if not ok:
        return None, reason
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        return None, "no C compiler to build bench/kmap.c"
    out = Path(tempfile.mkdtemp(prefix="bpftime-bench-")) / "kmap.so"
    r = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(KMAP_SOURCE)],
                       capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:
        return None, f"building bench/kmap.c failed: {r.stderr.strip()[:200]}"
    lib = ctypes.CDLL(str(out))
    for fn in ("kb_update", "kb_lookup", "kb_delete", "kb_batch"):
        getattr(lib, fn).restype = ctypes.c_double
    lib.kb_update.argtypes = lib.kb_lookup.argtypes = [ctypes.c_int, ctypes.c_long, ctypes.c_uint32]
    lib.kb_delete.argtypes = [ctypes.c_int, ctypes.c_uint32]
    return lib, ""


def _per_op(calls: int, fn: Callable[[], object]) -> float:
    return _python_loop_ns(calls, fn)


def _ratio_rows(prefix: str, ours: Row, kern: Row, target: float | None) -> list[Row]:
    if ours.value is None or not kern.value:
        return [Row(f"{prefix}.ratio_vs_kernel", None, "x", None, kern.note or "no kernel figure")]
    ratios = [s / kern.value for s in ours.samples]
    return [Row(f"{prefix}.ratio_vs_kernel", ours.value / kern.value, "x", target,
                "ours / kernel", ratios)]  # fmt: skip


def maps_section(cfg: Config) -> list[Row]:
    """Map operations from Python (RawMap, bytes in and out) against bpf() map commands."""
    rows: list[Row] = []
    lib, why = _kmap_lib()
    keys = [struct.pack("<I", i) for i in range(MAP_ENTRIES)]
    one = struct.pack("<Q", 1)
    calls = max(cfg.calls // 10, 10_000)
    with bpftime.Segment(size=32 << 20) as seg:
        h = seg.create_map(MAP_HASH, 4, 8, MAP_ENTRIES)
        for k in keys:
            h.update(k, one)
        k0 = keys[0]
        update = [_per_op(calls, lambda: h.update(k0, one)) for _ in range(cfg.repeats)]
        lookup = [_per_op(calls, lambda: h.lookup(k0)) for _ in range(cfg.repeats)]
        delete = []
        for _ in range(cfg.repeats):
            t0 = time.perf_counter_ns()
            for k in keys:
                h.delete(k)
            delete.append((time.perf_counter_ns() - t0) / len(keys))
            h.update_batch(keys, [one] * len(keys))
        # packed buffers, as BPF_MAP_*_BATCH takes flat key and value arrays
        bkeys, bvals = b"".join(keys[:BATCH]), one * BATCH
        ubatch, lbatch = [], []
        for _ in range(cfg.repeats):
            t0 = time.perf_counter_ns()
            h.update_batch(bkeys, bvals)
            ubatch.append((time.perf_counter_ns() - t0) / BATCH)
            t0 = time.perf_counter_ns()
            h.lookup_batch(bkeys, packed=True)
            lbatch.append((time.perf_counter_ns() - t0) / BATCH)
    ours = {
        "hash.update": measured("maps.hash.update.ours.ns_per_op", "ns", update,
                                MAP_OP_NS_TARGET, "RawMap.update, same key, Python loop"),
        "hash.lookup": measured("maps.hash.lookup_hit.ours.ns_per_op", "ns", lookup,
                                MAP_OP_NS_TARGET, "RawMap.lookup, Python loop"),
        "hash.delete": measured("maps.hash.delete.ours.ns_per_op", "ns", delete,
                                MAP_OP_NS_TARGET, f"RawMap.delete of {MAP_ENTRIES} keys"),
        "hash.update_batch": measured("maps.hash.update_batch.ours.ns_per_elem", "ns", ubatch,
                                      BATCH_NS_TARGET, f"update_batch of {BATCH}, packed"),
        "hash.lookup_batch": measured("maps.hash.lookup_batch.ours.ns_per_elem", "ns", lbatch,
                                      BATCH_NS_TARGET, f"lookup_batch of {BATCH}, packed"),
    }  # fmt: skip
    kern: dict[str, Row] = {}
    if lib is None:
        kern = {n: Row(f"maps.{n}.kernel", None, "ns", note=why) for n in ours}
    else:
        fd = lib.kb_map_create(MAP_HASH, 4, 8, MAP_ENTRIES)
        kcalls = max(cfg.calls // 10, 10_000)
        ukeys = (ctypes.c_uint32 * BATCH)()
        uvals = (ctypes.c_uint64 * BATCH)()
        try:
            lib.kb_update(fd, MAP_ENTRIES, MAP_ENTRIES)
            ku = [lib.kb_update(fd, kcalls, 1) for _ in range(cfg.repeats)]
            kl = [lib.kb_lookup(fd, kcalls, 1) for _ in range(cfg.repeats)]
            kd = []
            for _ in range(cfg.repeats):
                kd.append(lib.kb_delete(fd, MAP_ENTRIES))
                lib.kb_update(fd, MAP_ENTRIES, MAP_ENTRIES)
            kub = [lib.kb_batch(fd, 1, BATCH, ukeys, uvals) for _ in range(cfg.repeats)]
            klb = [lib.kb_batch(fd, 0, BATCH, ukeys, uvals) for _ in range(cfg.repeats)]
        finally:
            os.close(fd)
        note = "bpf() from C"
        kern = {
            "hash.update": measured("maps.hash.update.kernel.ns_per_op", "ns", ku, note=note),
            "hash.lookup": measured("maps.hash.lookup_hit.kernel.ns_per_op", "ns", kl, note=note),
            "hash.delete": measured("maps.hash.delete.kernel.ns_per_op", "ns", kd, note=note),
            "hash.update_batch": measured("maps.hash.update_batch.kernel.ns_per_elem", "ns", kub,
                                          note="BPF_MAP_UPDATE_BATCH from C"),
            "hash.lookup_batch": measured("maps.hash.lookup_batch.kernel.ns_per_elem", "ns", klb,
                                          note="BPF_MAP_LOOKUP_BATCH from C"),
        }  # fmt: skip
    for name, row in ours.items():
        rows += [kern[name], row, *_ratio_rows(f"maps.{name}", row, kern[name], None)]
    return rows


# in-program map helpers: the same bytecode on both sides; MAPFD is the map's fd in
# the kernel and the key of bpftime's map binding
HELPER_PROGRAMS = {
    "hash_lookup_update": """
        stw [%r10-4], 1
        lddw %r1, map_fd {fd}
        mov %r2, %r10
        add %r2, -4
        call 1
        stdw [%r10-16], 1
        jeq %r0, 0, +3
        ldxdw %r1, [%r0]
        add %r1, 1
        stxdw [%r10-16], %r1
        lddw %r1, map_fd {fd}
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
        mov %r0, 0
        exit
    """,
    "hash_lookup_inc": """
        stw [%r10-4], 1
        lddw %r1, map_fd {fd}
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, +2
        mov %r1, 1
        lock_add [%r0], %r1
        mov %r0, 0
        exit
    """,
    "array_update": """
        stw [%r10-4], 0
        stdw [%r10-16], 7
        lddw %r1, map_fd {fd}
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
        mov %r0, 0
        exit
    """,
}
HELPER_MAP = {
    "hash_lookup_update": MAP_HASH,
    "hash_lookup_inc": MAP_HASH,
    "array_update": MAP_ARRAY,
}


def helpers_section(cfg: Config) -> list[Row]:
    """In-program map helpers through test_run, against BPF_PROG_TEST_RUN on the same code."""
    rows: list[Row] = []
    lib, why = _kmap_lib()
    helpers = bpftime._program.kernel_helpers()
    key1 = struct.pack("<I", 1)
    for name, text in HELPER_PROGRAMS.items():
        mtype = HELPER_MAP[name]
        k_row = Row(f"helpers.{name}.kernel.ns_per_run", None, "ns", note=why)
        fd = 3
        if lib is not None:
            fd = lib.kb_map_create(mtype, 4, 8, MAP_ENTRIES)
            try:
                lib.kb_update(fd, 2, 2)  # keys 0 and 1 present
                code = bpftime.asm.assemble(text.format(fd=fd))
                note = f"BPF_PROG_TEST_RUN socket filter, repeat={cfg.runs}"
                k_row = measured(k_row.name, "ns", _kernel(code, cfg), note=note)
            finally:
                os.close(fd)
        with bpftime.Segment(size=8 << 20) as seg:
            m = seg.create_map(mtype, 4, 8, MAP_ENTRIES)
            m.update(key1, struct.pack("<Q", 1))
            binding = bpftime.MapBinding(handle=int(m.handle))
            prog = bpftime.Program(bpftime.asm.assemble(text.format(fd=fd)), engine="jit",
                                   helpers=helpers, maps={fd: binding})  # fmt: skip
            prog.test_run(PACKET, repeat=WARMUP_RUNS)
            samples = [float(prog.test_run(PACKET, repeat=cfg.runs).duration_ns)
                       for _ in range(cfg.repeats)]  # fmt: skip
            del prog
        ours = measured(f"helpers.{name}.jit.ns_per_run", "ns", samples,
                        note=f"Program.test_run(repeat={cfg.runs}), JIT")  # fmt: skip
        rows += [k_row, ours, *_ratio_rows(f"helpers.{name}.jit", ours, k_row, JIT_RATIO_TARGET)]
    return rows


# --- verifier -------------------------------------------------------------

VERIFY_1000_TARGET_S = 0.5
VERIFIER_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "verifier"


def loops1000_program() -> str:
    """About 1,000 instructions: 8 bounded loops of 8 iterations, each a 120-insn body
    of ALU work, stack traffic and a bounds-checked stack index."""
    lines = ["mov %r0, 0", "stdw [%r10-8], 0", "stdw [%r10-16], 0"]
    for seg in range(8):
        lines += ["mov %r1, 0", f"l{seg}:"]
        for k in range(38):
            lines += [f"add %r0, {k + seg}", "xor %r0, 0x5a5a", "stxdw [%r10-8], %r0"]
        lines += [
            "ldxdw %r2, [%r10-8]",
            "and %r2, 1",
            "lsh %r2, 3",
            "mov %r3, %r10",
            "add %r3, -16",
            "add %r3, %r2",
            "ldxdw %r4, [%r3+0]",
            "add %r0, %r4",
            "add %r1, 1",
            f"jlt %r1, 8, l{seg}",
        ]
    lines += ["and %r0, 0xff", "exit"]
    return "\n".join(lines)


def _time_s(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def verifier_section(cfg: Config) -> list[Row]:
    """Verification time: the C corpus objects, and a 1,000-instruction program with loops."""
    from bpftime import elf
    from bpftime.verifier import verify
    from bpftime.verify_spec import verify_spec

    rows: list[Row] = []
    repeats = max(cfg.repeats, 3)
    for path in sorted(VERIFIER_CORPUS.glob("accept_*.bpf.o")):
        spec = elf.load_spec(path)
        n = sum(len(p.insns) // 8 for p in spec.programs.values())
        rows.append(
            measured(
                f"verifier.{path.stem.removesuffix('.bpf')}.s",
                "s",
                _time_s(lambda spec=spec: verify_spec(spec), repeats),
                note=f"{len(spec.programs)} programs, {n} insns in all",
            )
        )
    code = bpftime.asm.assemble(loops1000_program())
    stats = verify(code, "uprobe")
    rows.append(
        measured(
            "verifier.loops1000.s",
            "s",
            _time_s(lambda: verify(code, "uprobe"), repeats),
            target=VERIFY_1000_TARGET_S,
            note=f"{len(code) // 8} insns, {stats.steps} explored, {stats.states} states",
        )
    )
    return rows


# --- uprobes: added ns per call of a probed function in another process ----

UPROBE_VICTIM = Path(__file__).resolve().parent / "uprobe_victim.c"
UPROBE_OBJ = Path(__file__).resolve().parent / "uprobe_bench.bpf.o"
UPROBE_TARGETS = {"up_empty": 15.0, "uret_empty": 30.0, "up_empty+uret_empty": 45.0,
                  "up_hash": 30.0}  # fmt: skip
BPF_PROG_TYPE_KPROBE = 2
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
UPROBE_PMU = Path("/sys/bus/event_source/devices/uprobe")


class _PerfAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32),
                ("config", ctypes.c_uint64), ("sample_period", ctypes.c_uint64),
                ("sample_type", ctypes.c_uint64), ("read_format", ctypes.c_uint64),
                ("flags", ctypes.c_uint64), ("wakeup_events", ctypes.c_uint32),
                ("bp_type", ctypes.c_uint32), ("config1", ctypes.c_uint64),
                ("config2", ctypes.c_uint64), ("pad", ctypes.c_uint8 * 64)]  # fmt: skip


def _read_victim(child: bpftime.uprobe.Launched, r: int) -> tuple[float, float]:
    """Median ns per call and the first call's CLOCK_MONOTONIC time, from the victim's
    output on pipe r; reaps it."""
    with os.fdopen(r) as f:
        out = f.read()
    child.wait()
    per = [float(x.split()[1]) for x in out.splitlines() if x.startswith("ns_per_call")]
    first = [float(x.split()[1]) for x in out.splitlines() if x.startswith("first_ns")]
    if not per:
        raise RuntimeError(f"the uprobe victim printed no timings: {out[-200:]!r}")
    return median(per), first[0] if first else 0.0


def _file_offset(path: str, symbol: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        (sym,) = [s for s in symtab.iter_symbols() if s.name == symbol]
        for seg in elf.iter_segments():
            start = seg["p_vaddr"]
            if seg["p_type"] == "PT_LOAD" and start <= sym["st_value"] < start + seg["p_filesz"]:
                return int(sym["st_value"] - start + seg["p_offset"])
    raise ValueError(f"{symbol} not in a loaded segment of {path}")


def _kernel_code(insns: bytes, map_fd: int) -> bytes:
    """Our program's instructions with lddw of map index 0 turned into the kernel map's fd."""
    out = bytearray(insns)
    for i in range(0, len(out), 8):
        if out[i] == 0x18 and out[i + 1] >> 4 == 5:  # lddw dst, map (index in imm)
            out[i + 1] = (out[i + 1] & 0x0F) | (1 << 4)  # BPF_PSEUDO_MAP_FD
            struct.pack_into("<i", out, i + 4, map_fd)
    return bytes(out)


def _kernel_uprobe(pid: int, path: str, offset: int, prog_fd: int, ret: bool) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    cpath = ctypes.create_string_buffer(path.encode())
    attr = _PerfAttr(type=int((UPROBE_PMU / "type").read_text()), size=ctypes.sizeof(_PerfAttr),
                     config=1 if ret else 0, config1=ctypes.addressof(cpath),
                     config2=offset)  # fmt: skip
    fd = libc.syscall(298, ctypes.byref(attr), pid, -1, -1, 8)  # perf_event_open, CLOEXEC
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"perf_event_open(uprobe {path}+{offset:#x})")
    for req, arg in ((PERF_EVENT_IOC_SET_BPF, prog_fd), (PERF_EVENT_IOC_ENABLE, 0)):
        if libc.ioctl(fd, req, arg) != 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, "ioctl on the uprobe perf event")
    return fd


def _kernel_once(lib: ctypes.CDLL, spec: elf.ObjectSpec, combo: str, argv: list[str],
                 offset: int) -> float:  # fmt: skip
    map_fd = lib.kb_map_create(MAP_HASH, 4, 8, MAP_ENTRIES)
    progs: list[kernel.KernelProgram] = []
    fds: list[int] = []
    r, w = os.pipe()
    try:
        child = bpftime.uprobe.launch_suspended(argv, w)
        pid = child.pid
        os.close(w)
        for name in combo.split("+"):
            ps = spec.programs[name]
            kp = kernel.KernelProgram(_kernel_code(ps.insns, map_fd), BPF_PROG_TYPE_KPROBE)
            progs.append(kp)
            fds.append(_kernel_uprobe(pid, argv[0], offset, kp.fd, ps.kind == "uretprobe"))
        os.kill(pid, signal.SIGCONT)
        return _read_victim(child, r)[0]
    finally:
        for fd in fds:
            os.close(fd)
        for kp in progs:
            kp.close()
        os.close(map_fd)


def _ours_once(spec: elf.ObjectSpec, combo: str, argv: list[str]) -> tuple[float, float]:
    names = combo.split("+")
    with bpftime.load(UPROBE_OBJ) as obj:
        for other in [p for p in obj.spec.programs if p not in names]:
            del obj.spec.programs[other]
        r, w = os.pipe()
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        with bpftime.uprobe.spawn(argv, obj, stdout=w):
            os.close(w)
            per, first = _read_victim_session(r)
    return per, (first - t0) / 1e6


def _read_victim_session(r: int) -> tuple[float, float]:
    with os.fdopen(r) as f:
        out = f.read()
    per = [float(x.split()[1]) for x in out.splitlines() if x.startswith("ns_per_call")]
    first = [float(x.split()[1]) for x in out.splitlines() if x.startswith("first_ns")]
    return median(per), first[0]


def uprobes_section(cfg: Config) -> list[Row]:
    """Added ns per call of a probed function in a victim process: our agent (frida
    replaceFast + our trampoline + JIT'd code) against the kernel's uprobes, same
    programs, same victim, same run."""
    rows: list[Row] = []
    skip = bpftime.uprobe.skip_reason()
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if skip or cc is None:
        why = skip or "no C compiler to build bench/uprobe_victim.c"
        return [Row(f"uprobes.{k}.added_ns", None, "ns", t, why) for k, t in UPROBE_TARGETS.items()]
    victim = Path(tempfile.mkdtemp(prefix="bpftime-bench-")) / "uprobe_victim"
    subprocess.run([cc, "-O2", "-o", str(victim), str(UPROBE_VICTIM)], check=True)
    spec = elf.load_spec(UPROBE_OBJ)
    # a few ms per timed stretch gave +-3 ns from run to run (frequency ramps, interrupts)
    n = max(cfg.runs, 2_000_000)
    reps = 5

    def argv(fn: str, calls: int = n) -> list[str]:
        return [str(victim), fn, str(calls), str(reps)]

    def plain(fn: str, calls: int = n) -> float:
        r, w = os.pipe()
        child = bpftime.uprobe.launch_suspended(argv(fn, calls), w)
        os.close(w)
        os.kill(child.pid, signal.SIGCONT)
        return _read_victim(child, r)[0]

    lib, kwhy = _kmap_lib()
    if lib is not None and not UPROBE_PMU.exists():
        lib, kwhy = None, "no uprobe PMU in /sys/bus/event_source/devices"
    kn = max(n // 40, 20_000)  # the kernel's hooks cost hundreds of ns: fewer calls
    first_ms: list[float] = []
    plain("target")  # warm-up, discarded: the first timed run came out 2-4 ns high
    _ours_once(spec, next(iter(UPROBE_TARGETS)), argv("target"))
    for combo, target in UPROBE_TARGETS.items():
        ours, kern = [], {"target": [], "target_nop5": []}  # type: dict[str, list[float]]
        for _ in range(cfg.repeats):
            base = plain("target")
            per, first = _ours_once(spec, combo, argv("target"))
            ours.append(per - base)
            first_ms.append(first)
            if lib is not None:
                for fn in kern:
                    kbase = plain(fn, kn)
                    kper = _kernel_once(lib, spec, combo, argv(fn, kn),
                                        _file_offset(str(victim), fn))  # fmt: skip
                    kern[fn].append(kper - kbase)
        o = measured(f"uprobes.{combo}.ours.added_ns", "ns", ours, target,
                     "agent trampoline + JIT, target starts with push %rbp")  # fmt: skip
        rows.append(o)
        for fn, label in (("target", "push"), ("target_nop5", "nop5")):
            name = f"uprobes.{combo}.kernel_{label}.added_ns"
            if lib is None:
                rows.append(Row(name, None, "ns", note=kwhy))
                continue
            k = measured(name, "ns", kern[fn], note=f"perf_event_open uprobe, {label} prologue")
            rows += [k, *_ratio_rows(f"uprobes.{combo}.vs_kernel_{label}", o, k, None)]
    rows.append(measured("uprobes.run_to_first_hit_ms", "ms", first_ms,
                         note="spawn() called -> victim's first probed call returned"))  # fmt: skip
    return rows


# --- syscalls: added ns per system call of a victim, syscall tracepoints ------

SYSCALL_VICTIM = Path(__file__).resolve().parent / "syscall_victim.c"
SYSCALL_OBJ = Path(__file__).resolve().parent / "syscall_bench.bpf.o"
SYSCALL_PROGRAMS = {
    "tp_empty": "empty program on syscalls/sys_enter_getppid",
    "tp_count": "hash map count per syscall id on raw_syscalls/sys_enter",
}


def _syscall_kernel_once(name: str, argv: list[str]) -> float:
    """ns per call of the victim with program ``name`` attached to its kernel tracepoint
    (the kernel runs it for every process's syscalls: tracepoint programs are global)."""
    from bpftime import syscalls
    from bpftime.kernel_object import KernelObject, attach_tracepoint

    spec = elf.load_spec(SYSCALL_OBJ)
    ps = spec.programs[name]
    tp = syscalls.resolve_tracepoint(str(ps.attach[0]), str(ps.attach[1]))
    with KernelObject(spec, [name]) as ko:
        ko.links.append(attach_tracepoint(tp.tp_id, ko.programs[name].fd))
        r, w = os.pipe()
        child = bpftime.uprobe.launch_suspended(argv, w)
        os.close(w)
        os.kill(child.pid, signal.SIGCONT)
        return _read_victim(child, r)[0]


def _syscall_ours_once(name: str, argv: list[str]) -> float:
    with bpftime.load(SYSCALL_OBJ) as obj:
        for other in [p for p in obj.spec.programs if p != name]:
            del obj.spec.programs[other]
        r, w = os.pipe()
        try:
            with bpftime.uprobe.spawn(argv, obj, stdout=w):
                os.close(w)
                w = -1
                return _read_victim_session(r)[0]
        finally:
            if w >= 0:
                os.close(w)
                os.close(r)


def _syscall_kernel_skip() -> str | None:
    from bpftime import syscalls

    ok, why = kernel.available()
    if not ok:
        return why
    if syscalls.tracefs_root() is None:
        return syscalls.tracefs_note()
    return None


def syscalls_section(cfg: Config) -> list[Row]:
    """Added ns per getppid() of a victim with a sys_enter program: syscall tracepoints
    run in the victim by our agent against the kernel's tracepoints, same programs,
    same victim, same run."""
    from bpftime.errors import BpftimeError

    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        why = "no C compiler to build bench/syscall_victim.c"
        return [Row(f"syscalls.{p}.{who}.added_ns", None, "ns", note=why)
                for p in SYSCALL_PROGRAMS for who in ("kernel", "ours")]  # fmt: skip
    victim = Path(tempfile.mkdtemp(prefix="bpftime-bench-")) / "syscall_victim"
    subprocess.run([cc, "-O2", "-o", str(victim), str(SYSCALL_VICTIM)], check=True)
    n = max(cfg.runs, 200_000)
    argv = [str(victim), str(n), "5"]

    def plain() -> float:
        r, w = os.pipe()
        child = bpftime.uprobe.launch_suspended(argv, w)
        os.close(w)
        os.kill(child.pid, signal.SIGCONT)
        return _read_victim(child, r)[0]

    kskip = _syscall_kernel_skip()
    oskip = bpftime.uprobe.skip_reason()
    bare: list[float] = []
    kern: dict[str, list[float]] = {p: [] for p in SYSCALL_PROGRAMS}
    ours: dict[str, list[float]] = {p: [] for p in SYSCALL_PROGRAMS}
    why: dict[str, str] = {}
    for _ in range(cfg.repeats):
        base = plain()
        bare.append(base)
        for name in SYSCALL_PROGRAMS:
            if kskip is None and f"kernel.{name}" not in why:
                try:
                    kern[name].append(_syscall_kernel_once(name, argv) - base)
                except (OSError, BpftimeError) as exc:
                    why[f"kernel.{name}"] = f"kernel attach failed: {exc}"
            if oskip is None and f"ours.{name}" not in why:
                try:
                    ours[name].append(_syscall_ours_once(name, argv) - base)
                except BpftimeError as exc:  # e.g. AttachError where hooks cannot be placed
                    why[f"ours.{name}"] = f"n/a: {str(exc).splitlines()[0]}"
    rows = [measured("syscalls.bare.ns_per_call", "ns", bare,
                     note="syscall(SYS_getppid) in a loop, no program")]  # fmt: skip
    for name, label in SYSCALL_PROGRAMS.items():
        kname, oname = f"syscalls.{name}.kernel.added_ns", f"syscalls.{name}.ours.added_ns"
        k = (measured(kname, "ns", kern[name], note=f"perf_event_open tracepoint, {label}")
             if kern[name] else Row(kname, None, "ns", note=kskip or why.get(f"kernel.{name}", "")))
        o = (measured(oname, "ns", ours[name], k.value, f"in-process, {label}; target: the kernel")
             if ours[name] else Row(oname, None, "ns", k.value,
                                    oskip or why.get(f"ours.{name}", "")))  # fmt: skip
        if o.value is None:
            rows += [k, o, Row(f"syscalls.{name}.ours.ratio_vs_kernel", None, "x", 1.0,
                               "no figure of ours")]  # fmt: skip
        else:
            rows += [k, o, *_ratio_rows(f"syscalls.{name}.ours", o, k, 1.0)]
    return rows


SECTIONS: dict[str, Callable[[Config], list[Row]]] = {
    "engines": engines_section,
    "maps": maps_section,
    "helpers": helpers_section,
    "verifier": verifier_section,
    "uprobes": uprobes_section,
    "syscalls": syscalls_section,
}


# --- output ---------------------------------------------------------------


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def format_table(results: dict[str, list[Row]]) -> str:
    header = ("figure", "median", "unit", "target", "", "note")
    lines: list[tuple[str, ...]] = [header]
    for rows in results.values():
        for r in rows:
            target = f"<= {_fmt(r.target)}" if r.target is not None else ""
            lines.append((r.name, _fmt(r.value), r.unit, target, r.status, r.note))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for k, line in enumerate(lines):
        cells = [
            c.rjust(w) if i in (1, 3) else c.ljust(w)
            for i, (c, w) in enumerate(zip(line[:-1], widths, strict=True))
        ]
        out.append("  ".join([*cells, line[-1]]).rstrip())
        if k == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def _meta(cfg: Config, quick: bool) -> dict[str, object]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "bpftime": bpftime.__version__,
        "quick": quick,
        "repeats": cfg.repeats,
        "runs": cfg.runs,
        "calls": cfg.calls,
        "kernel_bpf": list(kernel.available()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    ap.add_argument("--quick", action="store_true", help="fewer repeats and runs (for CI)")
    ap.add_argument("--section", action="append", choices=list(SECTIONS),
                    help="run only this section (repeatable; default: all)")  # fmt: skip
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    results = {name: section(cfg) for name, section in SECTIONS.items()
               if not args.section or name in args.section}  # fmt: skip
    print(format_table(results))
    doc = {
        "meta": _meta(cfg, args.quick),
        "sections": {
            name: [{**asdict(r), "status": r.status} for r in rows]
            for name, rows in results.items()
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
