"""Uprobes in another process: ``bpftime.spawn(argv, obj)`` and ``bpftime.attach(pid, obj)``.

Owns the controller side of the main job: resolving each ``uprobe/``,
``uretprobe/`` and ``ureplace/`` section's target (``binary:symbol``, ``binary:symbol+offset``,
``binary:0xoffset``) to an address in the target process (pyelftools reads the
binary's ``.symtab`` and ``.dynsym``, frida reports where each module is loaded),
compiling every program to position-independent code (bpftime.pic), with map
addresses where the agent mapped the segment in the target, and writing it into
the object's segment, and driving frida: spawn or attach, load the
native agent (``libbpftime_agent.so``, cext/agent) into the target, hand it the
segment and the code, hook each function with ``Interceptor.replaceFast``, resume.
A ``Session`` then streams ``bpf_printk`` lines, ring buffer records and perf
buffer samples, counts the records lost on the way, waits for a spawned process,
and detaches (hooks reverted; the process runs on).

JavaScript runs only at setup, in frida's script; the hot path is the agent's
trampoline and the JIT'd code.

Does not own: the agent and its trampolines (cext/agent), maps, ELF parsing,
printing maps at exit (bpftime.cli).

Binary names follow libbpf: a path (with a ``/``) is used as is; a bare name is
first looked for among the libraries the target has loaded (``libc.so.6``,
``libc``), then on ``PATH``. A numeric target is an offset in the file, as for
the kernel's uprobes; it is turned into the address the loaded module has there.

USDT programs (``usdt/BINARY:PROVIDER:NAME``, ``obj.attach_usdt``) are uprobes at each
site of the probe (bpftime.usdt reads the notes), as libbpf attaches them: each site's
argument spec goes into the object's ``__bpf_usdt_specs`` map (and its address into
``__bpf_usdt_ip_to_spec_id``), and the hook's cookie is the spec id, which
``<bpf/usdt.bpf.h>`` reads with ``bpf_get_attach_cookie``. A site is a 1-byte nop in
the middle of a function, and the hook overwrites 16 bytes from there, so a site is
refused when it lies within 16 bytes of its function's end or of another hook, or
when a direct jump of the function lands inside those bytes (a linear disassembly of
the function, in the target, with frida; jumps through tables are not seen). A
probe's semaphore is incremented while it is attached.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile

from . import maps as maps_mod
from . import pic, usdt
from ._program import kernel_helpers
from .errors import AttachError, BpftimeError, ElfError, MapError
from .insn import MapBinding, validate
from .object import BpfObject, load

PROG_ARRAY, PERF_EVENT_ARRAY, RINGBUF = 3, 4, 27
EXIT_UNKNOWN = 255  # a spawned process whose exit status someone else collected
MIN_HOOK_BYTES = 16  # Interceptor.replaceFast overwrites 16 bytes (an absolute jump)
PROBE_KINDS = ("uprobe", "uretprobe", "ureplace", "usdt")
_HOOK_KIND = {"uprobe": 0, "uretprobe": 1, "ureplace": 2, "usdt": 0}  # bt_agent_hook_add's kind
LATE_CHECK_S = 0.05  # how often poll() looks for libraries loaded since attach
SYSCALL_RELEASE_S = 0.05  # after unpatching: time for threads between a site and the agent
OVERRIDE_RETURN = 58  # helper id of bpf_override_return
USDT_SPECS, USDT_IP_MAP = "__bpf_usdt_specs", "__bpf_usdt_ip_to_spec_id"

_SCRIPT = r"""
'use strict';
const SLED = 65536;  // bt_sys.c's SLED_SIZE
const A = {};
function fn(name, ret, args) {
  return new NativeFunction(A.mod.getExportByName(name), ret, args);
}
function check(p) {
  if (p.isNull()) throw new Error(A.error().readUtf8String());
  return p;
}
rpc.exports = {
  modules() {
    return Process.enumerateModules().map(m => [m.name, m.base.toString(), m.path]);
  },
  init(path, shm) {
    A.mod = Module.load(path);
    A.init = fn('bt_agent_init', 'int', ['pointer']);
    A.base = fn('bt_agent_segment_base', 'pointer', []);
    A.error = fn('bt_agent_error', 'pointer', []);
    A.load = fn('bt_agent_prog_load', 'pointer', ['uint64', 'uint64', 'uint64']);
    A.setId = fn('bt_agent_prog_set_id', 'int', ['pointer', 'uint32']);
    A.hookNew = fn('bt_agent_hook_new', 'pointer', ['uint64']);
    A.hookAdd = fn('bt_agent_hook_add', 'int', ['pointer', 'int', 'pointer', 'uint64']);
    A.stub = fn('bt_agent_hook_stub', 'pointer', ['pointer']);
    A.setOrig = fn('bt_agent_hook_set_orig', 'void', ['pointer', 'pointer']);
    const rc = A.init(Memory.allocUtf8String(shm));
    if (rc !== 0) throw new Error(A.error().readUtf8String());
    return A.base().toString();
  },
  load(off, len, entry, id) {
    const p = check(A.load(uint64(off), uint64(len), uint64(entry)));
    if (A.setId(p, id) !== 0) throw new Error(A.error().readUtf8String());
    return p.toString();
  },
  hook(addr, progs) {
    const h = check(A.hookNew(uint64(addr)));
    for (const [ret, p, cookie] of progs) {
      if (A.hookAdd(h, ret, ptr(p), uint64(cookie)) !== 0)
        throw new Error(A.error().readUtf8String());
    }
    // one transaction: the patch lands when this call returns, after setOrig
    const orig = Interceptor.replaceFast(ptr(addr), A.stub(h));
    A.setOrig(h, orig);
  },
  semaphore(addr, delta) {
    const p = ptr(addr);
    const v = Math.max(0, Math.min(0xffff, p.readU16() + delta));
    p.writeU16(v);
    return v;
  },
  // a linear disassembly of [start, end): does an instruction start at addr, and which
  // direct jumps or calls land in (addr, addr + len)?
  scan(addr, start, end, len) {
    const a = ptr(addr), lo = a.add(1), hi = a.add(len), e = ptr(end);
    let p = ptr(start), boundary = false;
    const into = [];
    while (p.compare(e) < 0) {
      let insn;
      try { insn = Instruction.parse(p); } catch (err) { return [boundary, into, p.toString()]; }
      if (p.equals(a)) boundary = true;
      const branch = insn.groups.includes('jump') || insn.groups.includes('call');
      for (const op of insn.operands) {
        if (!branch || op.type !== 'imm') continue;
        const t = ptr(op.value.toString());
        if (t.compare(lo) >= 0 && t.compare(hi) < 0) into.push(p.toString());
      }
      p = insn.next;
    }
    return [boundary, into, null];
  },
  unhook(addr) {
    Interceptor.revert(ptr(addr));
    Interceptor.flush();
  },
  sysInit(tids) {
    A.sysInit = fn('bt_agent_sys_init', 'int', ['pointer', 'uint32']);
    A.sysAdd = fn('bt_agent_sys_add', 'int', ['int', 'int', 'pointer', 'uint32']);
    A.sysPatch = fn('bt_agent_sys_patch', 'int64', ['pointer', 'uint32']);
    A.sysUnpatch = fn('bt_agent_sys_unpatch', 'int', []);
    A.sysRelease = fn('bt_agent_sys_release', 'int', []);
    // frida's own threads (cloaked) make syscalls the target does not: never reported
    const mine = tids.filter(t => Cloak.hasThread(t));
    const buf = Memory.alloc(4 * Math.max(mine.length, 1));
    mine.forEach((t, i) => buf.add(4 * i).writeS32(t));
    if (A.sysInit(buf, mine.length) !== 0) throw new Error(A.error().readUtf8String());
  },
  sysAdd(nr, ret, prog, tp) {
    if (A.sysAdd(nr, ret, ptr(prog), tp) !== 0) throw new Error(A.error().readUtf8String());
  },
  sysPatch(hex) {
    const n = hex.length / 16;
    if (n === 0) return 0;
    const buf = Memory.alloc(8 * n);
    for (let i = 0; i < n; i++)
      buf.add(8 * i).writeU64(uint64('0x' + hex.substr(16 * i, 16)));
    const r = A.sysPatch(buf, n);
    if (r.compare(0) < 0) throw new Error(A.error().readUtf8String());
    return r.toNumber();
  },
  sysUnpatch() { A.sysUnpatch(); },
  unpatchCode(addr, hex) {
    // put back a function's original bytes if something (frida) rewrote them
    const orig = [];
    for (let i = 0; i < hex.length; i += 2) orig.push(parseInt(hex.substr(i, 2), 16));
    const now = new Uint8Array(ptr(addr).readByteArray(orig.length));
    if (now.every((b, i) => b === orig[i])) return false;
    Memory.patchCode(ptr(addr), orig.length, code => code.writeByteArray(orig));
    return true;
  },
  sysRelease() {
    // unmap the sled once no thread is in it: the sites are restored, so a thread can
    // only be there if it entered before (and was stopped or descheduled since)
    for (let i = 0; i < 100; i++) {
      const busy = Process.enumerateThreads().some(t => t.context.pc.compare(ptr(SLED)) < 0);
      if (!busy) { A.sysRelease(); return true; }
      Thread.sleep(0.01);
    }
    return false;
  },
};
"""


def agent_path() -> Path:
    """The agent library installed next to this module; AttachError if this build has none."""
    path = Path(__file__).resolve().parent / "libbpftime_agent.so"
    if not path.is_file():
        raise AttachError(f"no agent library at {path}: uprobes in other processes need "
                          "an x86_64 Linux build of bpftime (pip install . there)")  # fmt: skip
    return path


def skip_reason() -> str | None:
    """Why uprobes in other processes cannot work on this machine, or None if they can."""
    import platform

    if platform.machine() != "x86_64" or sys.platform != "linux":
        return "uprobes in other processes are x86_64 Linux only for now"
    try:
        import frida  # noqa: F401
    except ImportError:
        return "needs frida (pip install frida)"
    if not (Path(__file__).resolve().parent / "libbpftime_agent.so").is_file():
        return "this build has no agent library"
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    if os.geteuid() != 0 and scope.exists() and scope.read_text().strip() not in ("", "0"):
        return "needs root or kernel.yama.ptrace_scope=0 to trace processes"
    return None


@dataclass(frozen=True)
class Module:
    """A module loaded in the target: name, load address and file."""

    name: str
    base: int
    path: str


@dataclass(frozen=True)
class _ElfInfo:
    load_base: int  # lowest PT_LOAD address, page-aligned down: what module.base maps
    segments: tuple[tuple[int, int, int, bool], ...]  # (offset, vaddr, filesz, exec) per PT_LOAD
    symbols: dict[str, tuple[int, int, str]]  # name -> (value, size, type)


@lru_cache(maxsize=32)
def _elf_info(path: str, mtime: float) -> _ElfInfo:
    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
        except Exception as exc:  # pyelftools raises several types for non-ELF input
            raise AttachError(f"{path}: not an ELF file ({exc})") from exc
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        base = min((s["p_vaddr"] for s in loads), default=0) & ~0xFFF
        segs = tuple((s["p_offset"], s["p_vaddr"], s["p_filesz"], bool(s["p_flags"] & 1))
                     for s in loads)  # fmt: skip
        symbols: dict[str, tuple[int, int, str]] = {}
        for name in (".symtab", ".dynsym"):  # .symtab first: it has the non-exported ones
            table: Any = elf.get_section_by_name(name)
            if table is None:
                continue
            for sym in table.iter_symbols():
                kind = sym["st_info"]["type"]
                if (kind not in ("STT_FUNC", "STT_GNU_IFUNC") or not sym["st_value"]
                        or sym["st_shndx"] == "SHN_UNDEF" or sym.name in symbols):  # fmt: skip
                    continue
                symbols[sym.name.split("@")[0]] = (sym["st_value"], sym["st_size"], kind)
    return _ElfInfo(base, segs, symbols)


def elf_info(path: str) -> _ElfInfo:
    return _elf_info(path, os.stat(path).st_mtime)


def function_at(info: _ElfInfo, vaddr: int) -> tuple[str, int, int] | None:
    """(name, start, end) of the function of the symbol tables holding ``vaddr``."""
    for name, (value, size, _kind) in info.symbols.items():
        if value <= vaddr < value + size:
            return name, value, value + size
    return None


def calls_helper(insns: bytes, helper: int) -> bool:
    """Whether a program's instructions call helper ``helper``."""
    for i in range(0, len(insns) - 7, 8):
        opcode, regs, _off, imm = struct.unpack_from("<BBhi", insns, i)
        if opcode == 0x85 and regs >> 4 == 0 and imm == helper:
            return True
    return False


@dataclass(frozen=True)
class Target:
    """A resolved probe location."""

    address: int
    binary: str  # file of the module
    what: str  # symbol[+off] or 0xoffset, for messages


class NotLoaded(AttachError):
    """The binary exists but the target has not loaded it (yet): a library it may
    ``dlopen`` later. ``path`` is the file."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


_LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
             "/lib", "/usr/lib", "/usr/local/lib")  # fmt: skip


def _library_on_disk(name: str) -> str | None:
    """Where the dynamic loader would find library ``name`` (``LD_LIBRARY_PATH``, then
    the usual directories), or None; only names that look like libraries."""
    if ".so" not in name:
        return None
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    for d in (*dirs, *_LIB_DIRS):
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def find_module(binary: str, modules: Sequence[Module], pid: int) -> tuple[str, Module]:
    """The file ``binary`` names and the module it is loaded as in the target.
    NotLoaded when the file exists but is not loaded there."""
    if "/" not in binary:
        for m in modules:
            if m.name == binary or m.name.startswith((binary + ".", binary + "-")):
                return m.path, m
        found = shutil.which(binary) or _library_on_disk(binary)
        if found is None:
            raise AttachError(f"binary {binary!r}: not a library process {pid} has loaded "
                              "and not a program on PATH")  # fmt: skip
        binary = found
    path = os.path.realpath(binary)
    if not os.path.exists(path):
        raise AttachError(f"binary {binary!r} does not exist")
    for m in modules:
        if m.path and os.path.exists(m.path) and os.path.samefile(m.path, path):
            return path, m
    raise NotLoaded(f"binary {binary!r} is not loaded in process {pid}", path)


def resolve(binary: str, symbol: str | None, offset: int, modules: Sequence[Module],
            pid: int) -> Target:  # fmt: skip
    """Address in the target of ``binary:symbol+offset`` (or of file offset ``offset``)."""
    path, module = find_module(binary, modules, pid)
    info = elf_info(path)
    if symbol is None:
        for foff, vaddr, size, executable in info.segments:
            if foff <= offset < foff + size and not executable:
                raise AttachError(f"{binary}:{offset:#x}: that offset is not in executable "
                                  f"code of {path}")  # fmt: skip
            if foff <= offset < foff + size:
                return Target(module.base + offset - foff + vaddr - info.load_base, path,
                              hex(offset))  # fmt: skip
        raise AttachError(f"{binary}:{offset:#x}: that offset is in no loaded segment of {path}")
    if symbol not in info.symbols:
        raise AttachError(f"{binary}:{symbol}: no function {symbol!r} in {path}'s symbol "
                          "tables (.symtab, .dynsym); is the binary stripped?")  # fmt: skip
    value, size, kind = info.symbols[symbol]
    what = f"{symbol}+{offset:#x}" if offset else symbol
    if kind == "STT_GNU_IFUNC":
        raise AttachError(f"{binary}:{symbol} is an IFUNC (a resolver that picks an "
                          "implementation at load time); probe the implementation "
                          "instead")  # fmt: skip
    if size and size - offset < MIN_HOOK_BYTES:
        raise AttachError(f"{binary}:{what}: only {size - offset} bytes of code there; a hook "
                          f"needs at least {MIN_HOOK_BYTES}. Build the function without "
                          "inlining/with -O0 or probe its caller")  # fmt: skip
    return Target(module.base + value + offset - info.load_base, path, what)


@dataclass
class _Probe:
    program: str
    section: str
    kind: str
    target: Target
    agent_prog: str = ""


@dataclass(frozen=True)
class _Pending:
    """A uprobe whose library the target has not loaded yet (compiled already)."""

    program: str
    section: str
    kind: str
    path: str
    symbol: str | None
    offset: int
    code: str


@dataclass
class Output:
    """One thing a session streamed: a bpf_printk line, a ring buffer record or a
    perf buffer sample."""

    kind: str  # "printk" | "ringbuf" | "perf"
    source: str  # map name for records
    data: Any


def rebase(bindings: dict[int, MapBinding], old: int, new: int) -> dict[int, MapBinding]:
    """Map bindings for a process that maps the segment at ``new`` instead of ``old``:
    maps refer to each other by offset, so only the addresses programs load move."""

    def move(addr: int) -> int:
        return addr - old + new if addr else 0

    return {i: replace(b, handle=move(b.handle), value_addr=move(b.value_addr))
            for i, b in bindings.items()}  # fmt: skip


def _record_decoder(obj: BpfObject, name: str) -> Callable[[bytes], Any]:
    """Ring or perf buffer ``name``'s records decoded with BTF ``struct <name>_event`` or
    ``struct event`` when the object has one (a global pointer of that type puts it in
    BTF), else left as bytes."""
    for type_name in (f"struct {name}_event", "struct event"):
        try:
            return maps_mod._event_decoder(obj.spec.btf, type_name)
        except MapError:
            continue
    return bytes


def _rpc_why(exc: BaseException) -> str:
    """The first line of an error the agent script raised, without frida's prefix."""
    return str(exc).splitlines()[0].removeprefix("Error: ")


def _trace(ok: bool, msg: str) -> None:
    if ok:
        print(f"bpftime: {msg}", file=sys.stderr)


class Session:
    """Programs of one object attached to one process.

    ``.maps`` are the object's maps (live while the process runs), ``.poll()``
    collects printk lines and ring buffer records, ``.wait()`` waits for a spawned
    process and returns its exit status (as the shell reports it), ``.detach()``
    removes the hooks and leaves the process running. A context manager: leaving
    it detaches and, for a spawned process that still runs, kills it.
    """

    def __init__(self, obj: BpfObject, pid: int, spawned: bool, missing_probes: str = "error",
                 verbose: bool = False, owns_obj: bool = False,
                 launched: Launched | None = None) -> None:  # fmt: skip
        import frida

        self.obj = obj
        self.pid = pid
        self.spawned = spawned
        self.verbose = verbose
        self.probes: list[_Probe] = []
        self.skipped: list[str] = []
        self.exit_status: int | None = None
        self.started_s: float | None = None
        self._owns_obj = owns_obj
        self._launched = launched
        self._frida = frida
        self._session: Any = None
        self._script: Any = None
        self._hooked: list[int] = []
        self._sys_patched = False
        self.syscall_programs: list[tuple[str, str]] = []
        self._pending: list[_Pending] = []  # probes on libraries not loaded yet
        self._seen_bases: set[int] = set()
        self._late_checked = 0.0
        # what an RPC raises when the process exited meanwhile
        self._process_gone = (frida.InvalidOperationError, frida.core.RPCException,
                              frida.TransportError)  # fmt: skip
        self._semaphores: list[int] = []  # USDT semaphores we incremented, once per site
        self._missing = missing_probes
        self._decoders: dict[str, Callable[[bytes], Any]] | None = None
        self._perf_lost: dict[str, int] = {}  # PERF_RECORD_LOST counts read so far
        if missing_probes not in ("error", "warn", "ignore"):
            raise ValueError("missing_probes must be 'error', 'warn' or 'ignore'")

    # --- setup
    def _start(self) -> None:
        frida = self._frida
        try:
            try:
                self._session = frida.attach(self.pid)
            except frida.TimedOutError:  # seen on a loaded machine: once more, then give up
                self._session = frida.attach(self.pid)
        except frida.ProcessNotFoundError as exc:
            raise AttachError(f"process {self.pid}: no such process ({exc})") from exc
        except (frida.PermissionDeniedError, frida.ProcessNotRespondingError) as exc:
            raise AttachError(f"process {self.pid} cannot be traced: {exc}. Run as root or "
                              "as its owner with ptrace allowed (kernel.yama.ptrace_scope, "
                              "CAP_SYS_PTRACE)") from exc  # fmt: skip
        except (frida.TransportError, frida.TimedOutError, frida.NotSupportedError) as exc:
            raise AttachError(f"process {self.pid}: frida could not attach: {exc}") from exc
        self._script = self._session.create_script(_SCRIPT)
        self._script.load()
        rpc = self._script.exports_sync
        modules = [Module(n, int(b, 16), p) for n, b, p in rpc.modules()]
        self._seen_bases.update(m.base for m in modules)
        seg = self.obj.segment
        t0 = time.perf_counter()
        try:
            base = int(rpc.init(str(agent_path()), self.obj.shm_name), 16)
        except frida.core.RPCException as exc:
            why = _rpc_why(exc)
            raise AttachError(f"process {self.pid}: the agent could not start or map segment "
                              f"{self.obj.shm_name}: {why}") from exc  # fmt: skip
        bindings = rebase(self.obj.bindings, seg.base, base)
        helper_ids = list(kernel_helpers())
        by_addr: dict[int, list[tuple[int, str, int]]] = {}
        wanted: list[tuple[str, str, str, tuple[Any, ...]]] = []  # program, section, kind, target
        tracepoints: list[tuple[str, str, tuple[Any, ...]]] = []  # program, section, target
        manual = ({m.program for m in self.obj.uprobes} | {t[0] for t in self.obj.tracepoints}
                  | {u.program for u in self.obj.usdts})
        # programs a PROG_ARRAY starts with: reached by tail calls, not attached
        tail_targets = {t for ms in self.obj.spec.maps if ms.type == PROG_ARRAY
                        for t in ms.init_values.values()}  # fmt: skip
        for name, ps in self.obj.spec.programs.items():
            if (name in manual or name in tail_targets) and not ps.attach:
                continue  # attached by obj.attach_uprobe(...) only, or a tail call's target
            if ps.kind == "tracepoint" and ps.attach:
                tracepoints.append((name, ps.section, tuple(ps.attach)))
                continue
            if ps.kind not in PROBE_KINDS:
                self._skip(name, ps.section, f"kind {ps.kind!r} cannot be attached by `run` "
                           "yet (uprobe/, uretprobe/, ureplace/, usdt/ and syscall tracepoint/ "
                           "sections can)")  # fmt: skip
                continue
            if not ps.attach:
                self._skip(name, ps.section, "the section names no target; use "
                           f"SEC(\"{ps.kind}/<binary>:<function>\") or "
                           "obj.attach_uprobe(...)")  # fmt: skip
                continue
            wanted.append((name, ps.section, ps.kind, tuple(ps.attach)))
        for prog, category, tp_name in self.obj.tracepoints:
            tracepoints.append((prog, f"tracepoint {category}:{tp_name}", (category, tp_name)))
        for m in self.obj.uprobes:
            kind = "ureplace" if m.replace else "uretprobe" if m.retprobe else "uprobe"
            where = f"{kind} {m.binary}:{m.symbol or hex(m.offset)}"
            wanted.append((m.program, where, kind, (m.binary, m.symbol, m.offset)))
        for u in self.obj.usdts:
            where = f"usdt {u.binary}:{u.provider}:{u.name}"
            wanted.append((u.program, where, "usdt", (u.binary, u.provider, u.name, u.cookie)))
        codes: dict[str, str] = {}
        usdt_sites: list[tuple[str, str, Target, int, int]] = []  # + spec id, semaphore

        def code_of(name: str) -> str:
            if name not in codes:
                decoded = validate(self.obj.spec.programs[name].insns, helper_ids, bindings)
                code = pic.compile_pic(decoded, name)
                off = seg.alloc_bytes(code.code)
                codes[name] = rpc.load(off, len(code.code), code.entry,
                                       self.obj.programs[name].id)  # fmt: skip
            return codes[name]

        for name, section, kind, attach_to in wanted:
            if kind == "usdt":
                try:
                    usdt_sites += self._usdt_targets(name, section, attach_to, modules,
                                                     len(usdt_sites))  # fmt: skip
                except AttachError as exc:
                    self._skip(name, section, str(exc))
                continue
            binary, symbol, offset = attach_to
            try:
                if isinstance(symbol, int):  # uprobe/bin:0x1234 -- an address, no symbol
                    offset = symbol + int(offset or 0)
                    symbol = None
                target = resolve(str(binary), None if symbol is None else str(symbol),
                                 int(offset or 0), modules, self.pid)  # fmt: skip
            except NotLoaded as exc:  # a library it may dlopen later: attached when it does
                self._pending.append(_Pending(name, section, kind, exc.path,
                                              None if symbol is None else str(symbol),
                                              int(offset or 0), code_of(name)))  # fmt: skip
                _trace(self.verbose, f"{section} ({name}): {exc}; attached once it is")
                continue
            except AttachError as exc:
                self._skip(name, section, str(exc))
                continue
            probe = _Probe(name, section, kind, target, code_of(name))
            if kind == "ureplace" and any(p.kind == "ureplace" and p.target.address
                                          == target.address for p in self.probes):  # fmt: skip
                raise AttachError(f"program {name!r} (section {section}): {target.what} in "
                                  f"{target.binary} is already replaced by another program; "
                                  "one ureplace program per function")  # fmt: skip
            self.probes.append(probe)
            by_addr.setdefault(target.address, []).append((_HOOK_KIND[kind], codes[name], 0))
        for name, section, target, spec_id, _sem in usdt_sites:
            self.probes.append(_Probe(name, section, "usdt", target, code_of(name)))
            by_addr.setdefault(target.address, []).append((0, codes[name], spec_id))
        starts = sorted(by_addr)
        for a, b in itertools.pairwise(starts):
            if b - a < MIN_HOOK_BYTES:
                what = [p.section for p in self.probes if p.target.address in (a, b)]
                raise AttachError(f"{', '.join(what)}: probes at {a:#x} and {b:#x} are "
                                  f"{b - a} bytes apart; a hook overwrites {MIN_HOOK_BYTES} "
                                  "bytes, so they cannot both be hooked")  # fmt: skip
        for addr, progs in by_addr.items():
            self._hook(rpc, addr, progs)
        for *_, sem in usdt_sites:
            if sem:
                rpc.semaphore(hex(sem), 1)
                self._semaphores.append(sem)
        for p in self.probes:
            _trace(self.verbose, f"attached {p.section} ({p.program}) at {p.target.address:#x} "
                   f"in {p.target.binary}")  # fmt: skip
        if tracepoints:
            self._attach_syscalls(rpc, tracepoints, code_of, modules)
        if any(ms.type == PROG_ARRAY for ms in self.obj.spec.maps):
            for name in self.obj.spec.programs:  # tail calls may reach any of them
                code_of(name)
        _trace(self.verbose, f"setup took {time.perf_counter() - t0:.3f} s")

    def _hook(self, rpc: Any, addr: int, progs: list[tuple[int, str, int]]) -> None:
        where = ", ".join(f"{p.section}" for p in self.probes if p.target.address == addr)
        try:
            rpc.hook(hex(addr), [[r, p, hex(c)] for r, p, c in progs])
        except self._frida.core.RPCException as exc:
            why = _rpc_why(exc)
            raise AttachError(f"{where}: cannot hook {addr:#x}: {why} (the first "
                              f"{MIN_HOOK_BYTES} bytes must be whole instructions of the "
                              "function that frida can move: short functions and some "
                              "prologues cannot be hooked)") from exc  # fmt: skip
        self._hooked.append(addr)

    def _attach_late(self) -> None:
        """Libraries loaded since the last look: attach the probes waiting for them
        and rewrite their syscall sites (when syscall tracepoints are attached)."""
        if self._script is None or not (self._pending or self._sys_patched):
            return
        now = time.monotonic()
        if now - self._late_checked < LATE_CHECK_S:
            return
        self._late_checked = now
        rpc = self._script.exports_sync
        try:
            modules = [Module(n, int(b, 16), p) for n, b, p in rpc.modules()]
        except self._process_gone:
            return
        new = [m for m in modules if m.base not in self._seen_bases]
        if not new:
            return
        self._seen_bases.update(m.base for m in new)
        if self._sys_patched:
            from .syscall_hooks import pack, target_sites

            addrs, _ = target_sites(new)
            try:
                rpc.sys_patch(pack(addrs))
            except self._process_gone:
                return
            _trace(self.verbose, f"rewrote {len(addrs)} syscall sites in "
                   f"{', '.join(m.name for m in new)}")  # fmt: skip
        by_addr: dict[int, list[tuple[int, str, int]]] = {}
        for p in list(self._pending):
            try:
                target = resolve(p.path, p.symbol, p.offset, modules, self.pid)
            except NotLoaded:
                continue
            except AttachError as exc:
                self._pending.remove(p)
                self.skipped.append(f"program {p.program!r} (section {p.section}): {exc}")
                print(f"bpftime: warning: program {p.program!r} (section {p.section}): {exc}",
                      file=sys.stderr)  # fmt: skip
                continue
            self._pending.remove(p)
            self.probes.append(_Probe(p.program, p.section, p.kind, target, p.code))
            by_addr.setdefault(target.address, []).append((_HOOK_KIND[p.kind], p.code, 0))
        for addr, progs in by_addr.items():
            try:
                self._hook(rpc, addr, progs)
            except (self._frida.InvalidOperationError, self._frida.TransportError):
                return
            except AttachError as exc:
                print(f"bpftime: warning: {exc}", file=sys.stderr)
                continue
            _trace(self.verbose, f"attached late at {addr:#x}: "
                   + ", ".join(p.section for p in self.probes if p.target.address == addr))

    @property
    def pending(self) -> list[str]:
        """Probes still waiting for their library to be loaded, as section names."""
        return [f"{p.section} ({p.program})" for p in self._pending]

    def _attach_syscalls(self, rpc: Any, tracepoints: list[tuple[str, str, tuple[Any, ...]]],
                         code_of: Callable[[str], str],
                         modules: Sequence[Module]) -> None:  # fmt: skip
        """Syscall tracepoint programs: resolve each, hand them to the agent, rewrite the
        ``syscall`` instructions of every loaded module (cext/agent/bt_sys.h)."""
        from .syscall_hooks import pack, target_sites
        from .syscalls import resolve_tracepoint

        resolved = []
        for name, section, (category, tp_name) in tracepoints:
            try:
                resolved.append((name, section, resolve_tracepoint(str(category), str(tp_name))))
            except AttachError as exc:
                self._skip(name, section, str(exc))
        if not resolved:
            return
        frida = self._frida
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{self.pid}/task")]
            rpc.sys_init(tids)
        except OSError as exc:
            raise AttachError(f"process {self.pid}: cannot list its threads: {exc}") from exc
        except frida.core.RPCException as exc:
            why = _rpc_why(exc)
            raise AttachError(f"process {self.pid}: syscall tracepoints: {why}") from exc
        t0 = time.perf_counter()
        addrs, left_out = target_sites(modules)
        for why in left_out:
            _trace(self.verbose, f"syscall sites not rewritten in {why}")
        for name, section, tp in resolved:
            nr = -1 if tp.nr is None else tp.nr
            try:
                rpc.sys_add(nr, int(tp.kind == "exit"), code_of(name), tp.tp_id)
            except frida.core.RPCException as exc:
                why = _rpc_why(exc)
                raise AttachError(f"program {name!r} (section {section}): {why}") from exc
            self.syscall_programs.append((name, section))
        try:
            n = rpc.sys_patch(pack(addrs))
        except frida.core.RPCException as exc:
            why = _rpc_why(exc)
            raise AttachError(f"process {self.pid}: rewriting syscall sites: {why}") from exc
        self._sys_patched = True
        self._unhook_exit_monitor(rpc, modules)
        for name, section in self.syscall_programs:
            _trace(self.verbose, f"attached {section} ({name})")
        _trace(self.verbose, f"rewrote {n} of {len(addrs)} syscall sites in "
               f"{time.perf_counter() - t0:.3f} s")  # fmt: skip

    def _usdt_targets(self, name: str, section: str, attach_to: tuple[Any, ...],
                      modules: Sequence[Module],
                      first_id: int) -> list[tuple[str, str, Target, int, int]]:  # fmt: skip
        """The sites of a usdt program's probe: (program, section, target, spec id,
        semaphore address or 0) each, with their specs written into the object's maps."""
        binary, provider, probe = (str(x) for x in attach_to[:3])
        cookie = int(attach_to[3]) if len(attach_to) > 3 else 0
        if calls_helper(self.obj.spec.programs[name].insns, OVERRIDE_RETURN):
            raise AttachError("a USDT probe sits in the middle of a function, so its "
                              "program cannot use bpf_override_return")  # fmt: skip
        if USDT_SPECS not in self.obj.maps:
            raise AttachError(f"the object has no {USDT_SPECS} map; include <bpf/usdt.bpf.h>"
                              " and read arguments with bpf_usdt_arg()")  # fmt: skip
        specs = self.obj.maps[USDT_SPECS]
        if specs.raw.value_size != usdt.SPEC_SIZE:
            raise AttachError(f"map {USDT_SPECS} has {specs.raw.value_size}-byte values, not "
                              f"the {usdt.SPEC_SIZE} of struct __bpf_usdt_spec; is the "
                              "object built with a different <bpf/usdt.bpf.h>?")  # fmt: skip
        path, module = find_module(binary, modules, self.pid)
        info = elf_info(path)
        out = []
        for i, site in enumerate(usdt.find_sites(path, provider, probe, info.segments)):
            spec_id = first_id + i
            if spec_id >= specs.max_entries:
                raise AttachError(f"more USDT sites than {USDT_SPECS} holds "
                                  f"({specs.max_entries}); define BPF_USDT_MAX_SPEC_CNT larger "
                                  "before including <bpf/usdt.bpf.h>")  # fmt: skip
            addr = module.base + site.address - info.load_base
            self._check_usdt_site(info, site.address, addr, f"{path}:{provider}:{probe}")
            specs[spec_id] = usdt.pack_spec(site.args, cookie)
            if USDT_IP_MAP in self.obj.maps:
                with contextlib.suppress(MapError):  # the map is only read without cookies
                    self.obj.maps[USDT_IP_MAP][addr] = spec_id
            sem = module.base + site.semaphore - info.load_base if site.semaphore else 0
            target = Target(addr, path, f"{provider}:{probe}@{site.address:#x}")
            out.append((name, section, target, spec_id, sem))
        return out

    def _check_usdt_site(self, info: _ElfInfo, vaddr: int, addr: int, what: str) -> None:
        """AttachError unless the 16 bytes a hook overwrites at ``addr`` are code of the
        site's function that nothing jumps into."""
        func = function_at(info, vaddr)
        if func is None:
            _trace(self.verbose, f"usdt {what} at {vaddr:#x}: no function symbol holds it "
                   "(stripped binary?), so the site could not be checked")  # fmt: skip
            return
        fname, start, end = func
        where = f"usdt {what}: site {vaddr:#x} in {fname}()"
        if end - vaddr < MIN_HOOK_BYTES:
            raise AttachError(f"{where} is {end - vaddr} bytes from the function's end; a hook "
                              f"needs {MIN_HOOK_BYTES} bytes of code there. Put the probe "
                              "before more code of the function")  # fmt: skip
        delta = addr - vaddr
        boundary, into, stop = self._script.exports_sync.scan(
            hex(addr), hex(start + delta), hex(end + delta), MIN_HOOK_BYTES)
        if stop is not None:
            raise AttachError(f"{where}: {fname}() could not be disassembled at {stop} "
                              "(data in code?), so the site cannot be checked")  # fmt: skip
        if not boundary:
            raise AttachError(f"{where} is not at an instruction boundary of {fname}(); "
                              "is the note stale or the binary modified?")  # fmt: skip
        if into:
            at = ", ".join(hex(int(x, 16) - delta) for x in into)
            raise AttachError(f"{where}: code at {at} jumps into the {MIN_HOOK_BYTES} bytes a "
                              "hook would overwrite, so the site cannot be hooked (move the "
                              "probe away from a loop head or branch target)")  # fmt: skip

    def _unhook_exit_monitor(self, rpc: Any, modules: Sequence[Module]) -> None:
        """frida's agent hooks libc's exit, _exit and abort (its exit monitor) and, when
        the program calls one, makes syscalls of its own on that thread (it reads
        /proc/self/maps, writes to its socket) that syscall tracepoints would report.
        Put those functions' own code back: frida's revert at detach writes the same
        bytes."""
        libc = next((m for m in modules if m.name.startswith("libc.so")), None)
        if libc is None:
            return
        info = elf_info(libc.path)
        with open(libc.path, "rb") as f:
            for name in ("exit", "_exit", "abort"):
                if name not in info.symbols:
                    continue
                value, size, _ = info.symbols[name]
                seg = next((sg for sg in info.segments if sg[1] <= value < sg[1] + sg[2]), None)
                if seg is None:
                    continue
                n = min(size or 16, 16)
                f.seek(value - seg[1] + seg[0])
                code = f.read(n)
                addr = libc.base + value - info.load_base
                if rpc.unpatch_code(hex(addr), code.hex()):
                    _trace(self.verbose, f"removed frida's exit monitor hook on {name}")

    def _skip(self, name: str, section: str, why: str) -> None:
        msg = f"program {name!r} (section {section}): {why}"
        if self._missing == "error":
            raise AttachError(msg)
        self.skipped.append(msg)
        if self._missing == "warn":
            print(f"bpftime: warning: {msg}; skipped", file=sys.stderr)

    # --- running
    @property
    def maps(self) -> dict[str, Any]:
        return self.obj.maps

    def poll(self, timeout: float = 0.0,
             callback: Callable[[Output], Any] | None = None) -> list[Output]:  # fmt: skip
        """Printk lines, ring buffer records and perf buffer samples produced since the
        last call.

        Waits up to ``timeout`` seconds for the first one (or for the process to
        exit). With ``callback`` each is passed to it as it is read.
        """
        deadline = time.monotonic() + timeout
        out: list[Output] = []

        def emit(o: Output) -> None:
            out.append(o)
            if callback is not None:
                callback(o)

        if self._decoders is None:
            self._decoders = {n: _record_decoder(self.obj, n) for n, m in self.obj.maps.items()
                              if m.type in (RINGBUF, PERF_EVENT_ARRAY)}  # fmt: skip
        while True:
            self._attach_late()
            for line in self.obj.trace_lines():
                emit(Output("printk", "", line))
            for name, decode in self._decoders.items():
                raw = self.obj.maps[name].raw
                if raw.type == RINGBUF:
                    raw.consume(lambda data, n=name, d=decode:
                                emit(Output("ringbuf", n, d(bytes(data)))))  # fmt: skip
                else:
                    raw.perf_consume(None, lambda cpu, data, n=name, d=decode:
                                     emit(Output("perf", n, d(bytes(data)))),
                                     lambda cpu, lost, n=name: self._count_lost(n, lost),
                                     )  # fmt: skip
            if out or self.poll_exit() is not None or time.monotonic() >= deadline:
                return out
            time.sleep(min(0.01, max(deadline - time.monotonic(), 0)))

    def _count_lost(self, name: str, lost: int) -> None:
        self._perf_lost[name] = self._perf_lost.get(name, 0) + lost

    def lost(self) -> dict[str, int]:
        """Records lost so far per ring or perf buffer map: reservations a full ring
        buffer refused, and perf samples dropped because their ring was full (reported
        by the ring or still pending there)."""
        counts: dict[str, int] = {}
        for name, m in self.obj.maps.items():
            if m.type == RINGBUF:
                counts[name] = int(m.raw.ringbuf_dropped())
            elif m.type == PERF_EVENT_ARRAY:
                counts[name] = self._perf_lost.get(name, 0) + int(m.raw.perf_pending_lost())
        return counts

    def poll_exit(self) -> int | None:
        """The spawned process's exit status once it has exited (None while it runs).

        EXIT_UNKNOWN if the launcher that collects it died without reporting it."""
        if self.exit_status is None and self._launched is not None:
            self.exit_status = self._launched.poll()
        return self.exit_status

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for a spawned process to exit; its exit status (None on timeout)."""
        if self.exit_status is None and self._launched is not None:
            self.exit_status = self._launched.wait(timeout)
        return self.exit_status

    def kill(self, sig: int = signal.SIGINT) -> None:
        """Send ``sig`` to the traced process."""
        if self.poll_exit() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def detach(self) -> None:
        """Remove the hooks (the process keeps running, unharmed) and let go of it."""
        if self._script is not None and self.poll_exit() is None:
            for sem in self._semaphores:
                try:
                    self._script.exports_sync.semaphore(hex(sem), -1)
                except (self._frida.InvalidOperationError, self._frida.core.RPCException):
                    break  # the process is gone
            for addr in self._hooked:
                try:
                    self._script.exports_sync.unhook(hex(addr))
                except (self._frida.InvalidOperationError, self._frida.core.RPCException):
                    break  # the process is gone
            if self._sys_patched:
                with contextlib.suppress(self._frida.InvalidOperationError,
                                         self._frida.core.RPCException):  # fmt: skip
                    self._script.exports_sync.sys_unpatch()
                    time.sleep(SYSCALL_RELEASE_S)
                    if not self._script.exports_sync.sys_release():
                        _trace(True, f"process {self.pid}: a thread stayed in the syscall "
                               "sled for a second; it stays mapped (the hooks are off)")
        self._sys_patched = False
        self._hooked.clear()
        self._semaphores.clear()
        if self._session is not None:
            with contextlib.suppress(self._frida.InvalidOperationError):
                self._session.detach()
        self._script = self._session = None

    def close(self) -> None:
        """Detach; kill a spawned process that still runs; release the maps we loaded."""
        self.detach()
        if self.spawned and self.poll_exit() is None:
            self.kill(signal.SIGKILL)
            if self.wait(0.2) is None:
                _release_tracee(self.pid)
            self.wait(10)
        if self._owns_obj:
            self.obj.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _object(obj: str | os.PathLike[str] | BpfObject) -> tuple[BpfObject, bool]:
    if isinstance(obj, BpfObject):
        return obj, False
    return load(obj), True


def spawn(argv: Sequence[str], obj: str | os.PathLike[str] | BpfObject,
          missing_probes: str = "error", verbose: bool = False,
          stdout: int | None = None) -> Session:  # fmt: skip
    """Start ``argv`` suspended, attach ``obj``'s uprobes and let it run.

    ``obj`` is an object file (loaded here; its maps are freed with the session)
    or a ``BpfObject`` from ``bpftime.load``. ``stdout``: a file descriptor for the
    command's standard output (default: ours).
    """
    import frida

    if not argv:
        raise ValueError("spawn needs a command")
    program = argv[0]
    if "/" not in program and shutil.which(program) is None:
        raise AttachError(f"command {program!r} not found on PATH")
    if "/" in program and not os.access(program, os.X_OK):
        raise AttachError(f"command {program!r} does not exist or is not executable")
    agent_path()  # before starting anything
    bpf, owns = _object(obj)
    try:
        launched = launch_suspended(argv, stdout)
    except BaseException:
        if owns:
            bpf.close()
        raise
    pid = launched.pid
    session = Session(bpf, pid, True, missing_probes, verbose, owns, launched)
    try:
        session._start()
        frida.resume(pid)
        session.started_s = time.monotonic()
        if _proc_state(pid) in ("T", "t"):  # frida leaves a process it found stopped so
            os.kill(pid, signal.SIGCONT)
    except BaseException:
        session.close()
        raise
    return session


_WALL = 0x40000000  # waitpid: any child or tracee, clone or not


def _release_tracee(pid: int) -> None:
    """A process frida found stopped stays ptrace-attached by one of frida's threads in
    this process until it is resumed; killed before that, it is reported to its tracer
    first and to its parent (our launcher) only once the tracer has waited for it. Wait
    for it here (the tracer's thread group may), which hands it on to the launcher."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG | _WALL)


def _launcher_path() -> Path:
    path = Path(__file__).resolve().parent / "bpftime-launch"
    if not os.access(path, os.X_OK):
        raise AttachError(f"no launcher at {path}: `run` needs the bpftime-launch program "
                          "of an x86_64 Linux build of bpftime (pip install . there)")  # fmt: skip
    return path


class Launched:
    """A command started by ``launch_suspended``: its pid and, once it has exited, its
    exit status (as the shell reports it: 128 + n when signal n killed it).

    Its parent is the ``bpftime-launch`` program (cext/agent/bt_launch.c), which
    reports the status through a pipe: frida, which runs in this process and ptrace-
    attaches to the command again when its agent stops, would otherwise consume the
    status with its own waitpid (a tracer in the parent's thread group does)."""

    def __init__(self, pid: int, helper: subprocess.Popen[bytes], fd: int) -> None:
        self.pid = pid
        self.status: int | None = None
        self._helper = helper
        self._fd = fd
        self._buf = b""

    def poll(self) -> int | None:
        """The exit status, or None while the command runs."""
        while self.status is None:
            if not select.select([self._fd], [], [], 0)[0]:
                return None
            chunk = os.read(self._fd, 256)
            self._buf += chunk
            for line in self._buf.decode(errors="replace").splitlines():
                if line.startswith("status "):
                    code = os.waitstatus_to_exitcode(int(line.split()[1]))
                    self.status = 128 - code if code < 0 else code
            if self.status is None and not chunk:  # the launcher died without saying
                self.status = EXIT_UNKNOWN
        self._close()
        return self.status

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the command to exit; its exit status (None on timeout)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return None
            select.select([self._fd], [], [], left)
        return self.status

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._helper.wait(5)


def launch_suspended(argv: Sequence[str], stdout: int | None = None) -> Launched:
    """Start ``argv`` stopped (SIGSTOP) at its entry point with its libraries loaded.

    frida.spawn would do this too, but its child watch reaps the process, and ``run``
    must report the command's exit status; so the ``bpftime-launch`` program starts it
    (PTRACE_TRACEME and exec, an int3 at the entry point AT_ENTRY, run to it, undo it,
    detach leaving the process stopped), stays its parent and reports its exit status.
    x86_64 only. ``stdout``: a file descriptor for the command's standard output
    (default: ours).
    """
    r, w = os.pipe()
    try:
        helper = subprocess.Popen([str(_launcher_path()), str(w), *argv], pass_fds=(w,),
                                  stdout=stdout)  # fmt: skip
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    first = b""
    while not first.endswith(b"\n"):
        chunk = os.read(r, 1)  # one byte at a time: the status line comes later
        if not chunk:
            break
        first += chunk
    kind, _, rest = first.decode(errors="replace").strip().partition(" ")
    if kind != "pid":
        os.close(r)
        helper.wait()
        why = rest if kind == "error" else "the launcher exited without starting it"
        raise AttachError(f"start {argv[0]!r}: {why}")
    return Launched(int(rest), helper, r)


def _proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return ""


def attach(pid: int, obj: str | os.PathLike[str] | BpfObject, missing_probes: str = "error",
           verbose: bool = False) -> Session:  # fmt: skip
    """Attach ``obj``'s uprobes to the running process ``pid``."""
    bpf, owns = _object(obj)
    session = Session(bpf, pid, False, missing_probes, verbose, owns)
    try:
        session._start()
    except BaseException:
        session.close()
        raise
    return session


__all__ = ["AttachError", "BpftimeError", "ElfError", "Output", "Session", "attach", "spawn"]
