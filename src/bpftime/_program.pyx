"""Program: a validated eBPF program bound to an engine, runnable from Python.

Owns: the native side of a program (packed instructions, the helper table,
the JIT'd entry point), running it once (``run``) or in a timed C loop
(``test_run``), turning runtime errors in the run context into
ExecutionError, and the bridge that lets Python callables serve as helpers.

Does not own: decoding and validation (bpftime.insn) or IR lowering and
compilation (bpftime.jit); both are called from ``__init__``.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from includes.bt cimport *
from includes.bt_prog cimport (
    BT_MAX_PROGS, bt_jit_entry, bt_prog, bt_prog__exec, bt_prog__jit_callback, bt_prog__register, bt_prog__unregister,
)
from bpftime._interp cimport bt_interp_callback

import inspect

from bpftime import insn as _insn
from bpftime.errors import ExecutionError, LoadError

cdef enum:
    STACK_BUF = 512     # inputs up to this size are copied to the C stack in run()

MAX_HELPERS = BT_MAX_HELPERS
MAX_FRAMES = BT_MAX_FRAMES
STACK_SIZE = BT_STACK_SIZE
MAX_INSNS = BT_MAX_INSNS
# backward jumps + calls one interpreter run may take before it is stopped (a few
# seconds of work): unverified programs cannot hang the caller
DEFAULT_MAX_STEPS = 1 << 30


cdef class NativeHelper:
    """A helper implemented in C (cext/), callable from both engines without the GIL."""
    cdef bt_helper_fn fn
    cdef readonly str name

    def __repr__(self):
        return f"<NativeHelper {self.name}>"


cdef NativeHelper _native(bt_helper_fn fn, str name):
    cdef NativeHelper h = NativeHelper.__new__(NativeHelper)
    h.fn = fn
    h.name = name
    return h


def ubpf_test_helpers():
    """The helper set of ubpf's test suite, by id (0-5)."""
    return {
        0: _native(bt_test__gather_bytes, "gather_bytes"),
        1: _native(bt_test__memfrob, "memfrob"),
        2: _native(bt_test__trash_registers, "trash_registers"),
        3: _native(bt_test__sqrti, "sqrti"),
        4: _native(bt_test__strcmp_ext, "strcmp_ext"),
        5: _native(bt_test__unwind, "unwind"),
    }


def core_helpers():
    """The kernel helpers that need no map (memory probes, time, identity, signals,
    stacks, strings, snprintf, bpf_loop, attach context), by their kernel ids."""
    cdef bt_helper_fn table[BT_MAX_HELPERS]
    memset(table, 0, sizeof(table))
    bt_helpers__fill_core(table, BT_MAX_HELPERS)
    return {i: _native(table[i], f"helper {i}") for i in range(BT_MAX_HELPERS) if table[i] != NULL}


def kernel_helpers():
    """Every helper bpftime implements (maps, ring buffers, tail calls, printk, ...),
    by their kernel ids: what programs loaded from ELF objects get."""
    cdef bt_helper_fn table[BT_MAX_HELPERS]
    memset(table, 0, sizeof(table))
    bt_helpers__fill(table, BT_MAX_HELPERS)
    return {i: _native(table[i], f"helper {i}") for i in range(BT_MAX_HELPERS) if table[i] != NULL}


def format_bpf(fmt, args):
    """Format like bpf_snprintf / bpf_trace_printk (for tests and the CLI)."""
    cdef char out[1024]
    cdef uint64_t a[12]
    cdef bytes f = fmt if isinstance(fmt, bytes) else fmt.encode()
    if len(args) > 12:
        raise ValueError("at most 12 arguments")
    for i, v in enumerate(args):
        a[i] = <uint64_t>(v & 0xFFFFFFFFFFFFFFFF)
    n = bt_format(out, sizeof(out), f, len(f), a, len(args))
    if n < 0:
        raise ValueError(f"bad format {f!r} for {len(args)} arguments")
    return out[:min(n, sizeof(out) - 1)].decode(errors="replace")


cdef class _PyCalls:
    """Per-run state of Python-callable helpers: the callables, buffers they returned
    (kept alive until the run ends) and a raised exception."""
    cdef list fns        # index = helper id; (callable, nargs) or None
    cdef list pins       # memoryviews of buffers returned by helpers
    cdef object exc

    def __cinit__(self, list fns):
        self.fns = fns
        self.pins = []
        self.exc = None


cdef uint64_t _returned_buffer(_PyCalls calls, object r, bt_ctx *ctx) except? 0:
    """A helper returned a buffer: pin it, let the interpreter access it, return its address."""
    cdef memoryview mv
    cdef const unsigned char[::1] view
    try:
        mv = memoryview(r).cast("B")
    except TypeError:
        raise TypeError(f"helper {ctx.helper_id} returned {type(r).__name__}; helpers must "
                        "return an int or a contiguous buffer (bytearray, memoryview, ctypes "
                        "array)") from None
    if mv.nbytes == 0:
        return 0
    view = mv
    calls.pins.append(mv)
    if bt_ctx__add_region(ctx, &view[0], mv.nbytes, not mv.readonly) != 0:
        raise MemoryError(f"helper {ctx.helper_id}: more than {BT_MAX_REGIONS} memory regions "
                          "in one run")
    return <uint64_t>&view[0]


cdef uint64_t _py_helper(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
                         bt_ctx *ctx) noexcept with gil:
    cdef _PyCalls calls = <_PyCalls>ctx.user
    fn, nargs = calls.fns[ctx.helper_id]
    try:
        r = fn(*(a, b, c, d, e)[:nargs])
        if isinstance(r, int):
            return <uint64_t>(r & 0xFFFFFFFFFFFFFFFF)
        return _returned_buffer(calls, r, ctx)
    except BaseException as exc:
        calls.exc = exc
        bt_ctx__fail(ctx, BT_ERR_HELPER)
        return 0


class TestRunResult:
    """Result of Program.test_run, shaped like BPF_PROG_TEST_RUN's output."""
    __slots__ = ("retval", "duration_ns", "data_out", "repeat")

    def __init__(self, retval, duration_ns, data_out, repeat):
        self.retval = retval
        self.duration_ns = duration_ns
        self.data_out = data_out
        self.repeat = repeat

    def __repr__(self):
        return (f"TestRunResult(retval={self.retval:#x}, duration_ns={self.duration_ns:.2f}, "
                f"repeat={self.repeat})")


def _arity(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 5
    n = 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            return 5
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return min(n, 5)


cdef class Program:
    """An eBPF program ready to run in this process.

    Program(code, engine="jit" | "interp", helpers=None, maps=None, max_steps=2**30)

    ``helpers`` maps helper ids to Python callables or NativeHelper objects. A
    callable gets up to five integer arguments (r1-r5, as many as it accepts) and
    returns an int, or a contiguous buffer whose address becomes r0 and which the
    interpreter then accepts as memory (writable unless the buffer is read-only)
    for the rest of the run.
    ``maps`` maps the fd/index an ``lddw`` pseudo-instruction names to a
    bpftime.insn.MapBinding. ``max_steps`` bounds the backward jumps and calls of one
    interpreter run (the JIT runs verified code and has no budget). ``trace`` is the
    address of the RINGBUF map bpf_printk writes to (bpftime.load sets it). Malformed
    code raises LoadError.
    """
    cdef bt_insn *insns
    cdef uint8_t *entries
    cdef uint32_t n
    cdef bt_helper_fn table[BT_MAX_HELPERS]
    cdef list py_fns
    cdef bint has_py
    cdef bt_prog prog
    cdef list static_regions
    cdef readonly uint64_t max_steps
    cdef uint64_t trace
    cdef readonly str engine
    cdef readonly object decoded
    cdef readonly object jit_code

    def __cinit__(self):
        self.insns = NULL
        self.entries = NULL
        memset(&self.prog, 0, sizeof(self.prog))
        memset(self.table, 0, sizeof(self.table))

    def __init__(self, code, engine="jit", helpers=None, maps=None, max_steps=DEFAULT_MAX_STEPS,
                 trace=0):
        cdef uint32_t bad = 0
        self.trace = trace
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        self.max_steps = max_steps
        if engine not in ("jit", "interp"):
            raise ValueError(f"engine must be 'jit' or 'interp', not {engine!r}")
        self.engine = engine
        helpers = dict(helpers or {})
        self.py_fns = [None] * BT_MAX_HELPERS
        self.has_py = False
        for hid, fn in helpers.items():
            if not isinstance(hid, int) or not 0 <= hid < BT_MAX_HELPERS:
                raise ValueError(f"helper id {hid!r} must be an int in 0..{BT_MAX_HELPERS - 1}")
            if isinstance(fn, NativeHelper):
                self.table[hid] = (<NativeHelper>fn).fn
            elif callable(fn):
                self.table[hid] = _py_helper
                self.py_fns[hid] = (fn, _arity(fn))
                self.has_py = True
            else:
                raise TypeError(f"helper {hid} must be callable or a NativeHelper, "
                                f"not {type(fn).__name__}")
        dec = _insn.validate(code, helpers.keys(), maps)
        self.decoded = dec
        self.n = len(dec.insns)
        self.insns = <bt_insn *>malloc(len(dec.packed))
        self.entries = <uint8_t *>malloc(self.n)
        if self.insns == NULL or self.entries == NULL:
            raise MemoryError()
        memcpy(self.insns, PyBytes_AS_STRING(dec.packed), len(dec.packed))
        if bt_iop__translate(self.insns, self.n, &bad) != 0:
            raise LoadError(f"insn {bad}: decoder produced an opcode the interpreter lacks "
                            f"(0x{self.insns[bad].op:x}); this is a bpftime bug", bad)
        memset(self.entries, 0, self.n)
        for e in dec.entries:
            self.entries[e] = 1
        self.static_regions = list(dict.fromkeys(dec.regions))
        if len(self.static_regions) > BT_MAX_REGIONS - 2:
            raise LoadError(f"program references {len(self.static_regions)} map values; "
                            f"at most {BT_MAX_REGIONS - 2} are supported")
        self.prog.n = self.n
        self.prog.insns = self.insns
        self.prog.entries = self.entries
        self.prog.helpers = self.table
        self.prog.max_steps = self.max_steps
        self.prog.callback = bt_interp_callback
        if engine == "jit":
            from bpftime import jit
            self.jit_code = jit.compile_program(dec)
            self.prog.jit = <bt_jit_entry><size_t>self.jit_code.entry_address
            self.prog.callback = bt_prog__jit_callback
        if bt_prog__register(&self.prog) != 0:
            raise LoadError(f"too many programs loaded in this process (limit {BT_MAX_PROGS})")

    def __dealloc__(self):
        bt_prog__unregister(&self.prog)
        free(self.insns)
        free(self.entries)

    @property
    def id(self):
        """This program's id in the process (what PROG_ARRAY maps store for tail calls)."""
        return self.prog.id

    @property
    def helper_ids(self):
        return sorted(i for i in range(BT_MAX_HELPERS) if self.table[i] != NULL)

    def __len__(self):
        return self.n

    cdef inline void _prepare(self, bt_ctx *ctx, _PyCalls calls):
        cdef object r
        bt_ctx__init(ctx)
        ctx.trace = <void *><size_t>self.trace
        ctx.helpers = self.table
        ctx.max_steps = self.max_steps
        ctx.user = <void *>calls
        for r in self.static_regions:
            bt_ctx__add_region(ctx, <void *><size_t>r[0], r[1], r[2])

    cdef inline uint64_t _exec(self, bt_ctx *ctx, uint64_t r1, uint64_t r2) noexcept nogil:
        return bt_prog__exec(&self.prog, r1, r2, ctx)

    cdef _raise(self, bt_ctx *ctx, _PyCalls calls):
        pc = ctx.error_pc
        where = f"insn {pc}: " if pc >= 0 else ""
        err = ctx.error
        if err == BT_ERR_HELPER and calls is not None and calls.exc is not None:
            exc = calls.exc
            raise ExecutionError(
                f"{where}helper {ctx.helper_id} raised {type(exc).__name__}: {exc}", pc) from exc
        if err == BT_ERR_LOAD_OOB or err == BT_ERR_STORE_OOB:
            kind = "load" if err == BT_ERR_LOAD_OOB else "store"
            raise ExecutionError(
                f"{where}out-of-bounds {kind} of {ctx.error_size} bytes at {ctx.error_addr:#x}: "
                f"not inside the stack, the input memory or memory a helper returned"
                f"{' (or misaligned atomic)' if kind == 'store' else ''}", pc, ctx.error_addr)
        if err == BT_ERR_CALL_DEPTH:
            raise ExecutionError(f"{where}call depth exceeds {BT_MAX_FRAMES} frames "
                                 "(recursion?)", pc)
        if err == BT_ERR_CALLX_TARGET:
            raise ExecutionError(f"{where}callx target {ctx.error_addr:#x} is not the address of "
                                 "a subprogram", pc, ctx.error_addr)
        if err == BT_ERR_STEP_LIMIT:
            raise ExecutionError(
                f"{where}the program took more than {self.max_steps} backward jumps and calls "
                "without finishing (an endless loop?); pass a larger max_steps to Program if "
                "it is legitimately long", pc)
        if err == BT_ERR_NO_HELPER:
            raise ExecutionError(f"{where}helper {ctx.error_addr} is not registered", pc)
        raise ExecutionError(f"{where}run failed (error code {err})", pc)

    def run(self, mem=None):
        """Run once: r1 = pointer to a writable copy of mem (0 if None), r2 = len(mem).

        Returns r0 as an unsigned 64-bit int.
        """
        cdef bt_ctx ctx
        cdef uint64_t r0
        cdef Py_buffer view
        cdef uint8_t small[STACK_BUF]
        cdef uint8_t *buf = NULL
        cdef uint64_t size = 0
        cdef _PyCalls calls = _PyCalls(self.py_fns) if self.has_py else None
        self._prepare(&ctx, calls)
        if mem is None:
            with nogil:
                r0 = self._exec(&ctx, 0, 0)
        else:
            PyObject_GetBuffer(mem, &view, PyBUF_SIMPLE)
            size = <uint64_t>view.len
            try:
                buf = &small[0] if size <= STACK_BUF else <uint8_t *>malloc(size + 1)
                if buf == NULL:
                    raise MemoryError()
                memcpy(buf, view.buf, size)
            finally:
                PyBuffer_Release(&view)
            bt_ctx__add_region(&ctx, buf, size, 1)
            ctx.pkt = <uint64_t>buf
            ctx.pkt_len = size
            with nogil:
                r0 = self._exec(&ctx, <uint64_t>buf, size)
            if buf != &small[0]:
                free(buf)
        if ctx.exit_flag != BT_EXIT_NONE:
            if ctx.exit_flag == BT_EXIT_STOP:
                return ctx.exit_value
            self._raise(&ctx, calls)
        return r0

    def test_run(self, mem=None, repeat=1):
        """Run ``repeat`` times on one copy of mem, timed in C around the loop.

        Returns TestRunResult(retval, duration_ns = mean ns per run, data_out = mem afterwards),
        like the kernel's BPF_PROG_TEST_RUN (repeat 0 counts as 1).
        """
        cdef bt_ctx ctx
        cdef Py_buffer view
        cdef uint64_t r0 = 0
        cdef uint64_t size = 0
        cdef uint64_t i, reps
        cdef uint32_t base_regions
        cdef uint8_t *buf = NULL
        cdef timespec t0, t1
        cdef _PyCalls calls = _PyCalls(self.py_fns) if self.has_py else None
        if repeat < 0:
            raise ValueError("repeat must be >= 0")
        reps = repeat if repeat > 0 else 1
        if mem is not None:
            PyObject_GetBuffer(mem, &view, PyBUF_SIMPLE)
            size = <uint64_t>view.len
            buf = <uint8_t *>malloc(size + 1)
            if buf != NULL:
                memcpy(buf, view.buf, size)
            PyBuffer_Release(&view)
            if buf == NULL:
                raise MemoryError()
        try:
            self._prepare(&ctx, calls)
            if buf != NULL:
                bt_ctx__add_region(&ctx, buf, size, 1)
                ctx.pkt = <uint64_t>buf
                ctx.pkt_len = size
            base_regions = ctx.nregions
            with nogil:
                clock_gettime(CLOCK_MONOTONIC, &t0)
                for i in range(reps):
                    bt_ctx__reset(&ctx)
                    ctx.nregions = base_regions
                    r0 = self._exec(&ctx, <uint64_t>buf, size)
                    if ctx.exit_flag != BT_EXIT_NONE:
                        if ctx.exit_flag != BT_EXIT_STOP:
                            break
                        r0 = ctx.exit_value
                clock_gettime(CLOCK_MONOTONIC, &t1)
            if ctx.exit_flag == BT_EXIT_ERROR:
                self._raise(&ctx, calls)
            data_out = PyBytes_FromStringAndSize(<char *>buf, size) if buf != NULL else b""
        finally:
            free(buf)
        ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)
        return TestRunResult(r0, ns / reps, data_out, reps)
