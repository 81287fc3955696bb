"""Uprobes in another process: ``bpftime.spawn(argv, obj)`` and ``bpftime.attach(pid, obj)``.

Owns the controller side of the main job: resolving each ``uprobe/`` and
``uretprobe/`` section's target (``binary:symbol``, ``binary:symbol+offset``,
``binary:0xoffset``) to an address in the target process (pyelftools reads the
binary's ``.symtab`` and ``.dynsym``, frida reports where each module is loaded),
compiling every program to position-independent code (bpftime.pic), with map
addresses where the agent mapped the segment in the target, and writing it into
the object's segment, and driving frida: spawn or attach, load the
native agent (``libbpftime_agent.so``, cext/agent) into the target, hand it the
segment and the code, hook each function with ``Interceptor.replaceFast``, resume.
A ``Session`` then streams ``bpf_printk`` lines and ring buffer records, waits
for a spawned process, and detaches (hooks reverted; the process runs on).

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
import ctypes
import itertools
import os
import shutil
import signal
import struct
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

RINGBUF = 27
EXIT_UNKNOWN = 255  # a spawned process whose exit status someone else collected
MIN_HOOK_BYTES = 16  # Interceptor.replaceFast overwrites 16 bytes (an absolute jump)
PROBE_KINDS = ("uprobe", "uretprobe", "usdt")
OVERRIDE_RETURN = 58  # helper id of bpf_override_return
USDT_SPECS, USDT_IP_MAP = "__bpf_usdt_specs", "__bpf_usdt_ip_to_spec_id"

_SCRIPT = r"""
'use strict';
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
    A.hookNew = fn('bt_agent_hook_new', 'pointer', ['uint64']);
    A.hookAdd = fn('bt_agent_hook_add', 'int', ['pointer', 'int', 'pointer', 'uint64']);
    A.stub = fn('bt_agent_hook_stub', 'pointer', ['pointer']);
    A.setOrig = fn('bt_agent_hook_set_orig', 'void', ['pointer', 'pointer']);
    const rc = A.init(Memory.allocUtf8String(shm));
    if (rc !== 0) throw new Error(A.error().readUtf8String());
    return A.base().toString();
  },
  load(off, len, entry) {
    return check(A.load(uint64(off), uint64(len), uint64(entry))).toString();
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


def find_module(binary: str, modules: Sequence[Module], pid: int) -> tuple[str, Module]:
    """The file ``binary`` names and the module it is loaded as in the target."""
    if "/" not in binary:
        for m in modules:
            if m.name == binary or m.name.startswith((binary + ".", binary + "-")):
                return m.path, m
        found = shutil.which(binary)
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
    raise AttachError(f"binary {binary!r} is not loaded in process {pid} (a library it "
                      "dlopen()s later cannot be probed yet)")  # fmt: skip


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


@dataclass
class Output:
    """One thing a session streamed: a bpf_printk line or a ring buffer record."""

    kind: str  # "printk" | "ringbuf"
    source: str  # map name for records
    data: Any


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def rebase(bindings: dict[int, MapBinding], old: int, new: int) -> dict[int, MapBinding]:
    """Map bindings for a process that maps the segment at ``new`` instead of ``old``:
    maps refer to each other by offset, so only the addresses programs load move."""

    def move(addr: int) -> int:
        return addr - old + new if addr else 0

    return {i: replace(b, handle=move(b.handle), value_addr=move(b.value_addr))
            for i, b in bindings.items()}  # fmt: skip


def _record_decoder(obj: BpfObject, name: str) -> Callable[[bytes], Any]:
    """Ring buffer ``name``'s records decoded with BTF ``struct <name>_event`` or
    ``struct event`` when the object has one (a global pointer of that type puts it in
    BTF), else left as bytes."""
    for type_name in (f"struct {name}_event", "struct event"):
        try:
            return maps_mod._event_decoder(obj.spec.btf, type_name)
        except MapError:
            continue
    return bytes


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
                 verbose: bool = False, owns_obj: bool = False) -> None:  # fmt: skip
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
        self._frida = frida
        self._session: Any = None
        self._script: Any = None
        self._hooked: list[int] = []
        self._semaphores: list[int] = []  # USDT semaphores we incremented, once per site
        self._missing = missing_probes
        self._decoders: dict[str, Callable[[bytes], Any]] | None = None
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
        seg = self.obj.segment
        t0 = time.perf_counter()
        try:
            base = int(rpc.init(str(agent_path()), self.obj.shm_name), 16)
        except frida.core.RPCException as exc:
            why = str(exc).splitlines()[0].removeprefix("Error: ")
            raise AttachError(f"process {self.pid}: the agent could not start or map segment "
                              f"{self.obj.shm_name}: {why}") from exc  # fmt: skip
        bindings = rebase(self.obj.bindings, seg.base, base)
        helper_ids = list(kernel_helpers())
        by_addr: dict[int, list[tuple[int, str, int]]] = {}
        wanted: list[tuple[str, str, str, tuple[Any, ...]]] = []  # program, section, kind, target
        manual = {m.program for m in self.obj.uprobes} | {u.program for u in self.obj.usdts}
        for name, ps in self.obj.spec.programs.items():
            if name in manual and not ps.attach:
                continue  # attached by obj.attach_uprobe(...) only
            if ps.kind not in PROBE_KINDS:
                self._skip(name, ps.section, f"kind {ps.kind!r} cannot be attached by `run` yet "
                           "(uprobe/, uretprobe/ and usdt/ sections can)")  # fmt: skip
                continue
            if not ps.attach:
                self._skip(name, ps.section, "the section names no target; use "
                           f"SEC(\"{ps.kind}/<binary>:<function>\") or "
                           "obj.attach_uprobe(...)")  # fmt: skip
                continue
            wanted.append((name, ps.section, ps.kind, tuple(ps.attach)))
        for m in self.obj.uprobes:
            kind = "uretprobe" if m.retprobe else "uprobe"
            where = f"{kind} {m.binary}:{m.symbol or hex(m.offset)}"
            wanted.append((m.program, where, kind, (m.binary, m.symbol, m.offset)))
        for u in self.obj.usdts:
            where = f"usdt {u.binary}:{u.provider}:{u.name}"
            wanted.append((u.program, where, "usdt", (u.binary, u.provider, u.name, u.cookie)))
        codes: dict[str, str] = {}
        usdt_sites: list[tuple[str, str, Target, int, int]] = []  # + spec id, semaphore

        def load_code(name: str) -> str:
            if name not in codes:
                decoded = validate(self.obj.spec.programs[name].insns, helper_ids, bindings)
                code = pic.compile_pic(decoded, name)
                off = seg.alloc_bytes(code.code)
                codes[name] = rpc.load(off, len(code.code), code.entry)
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
            except AttachError as exc:
                self._skip(name, section, str(exc))
                continue
            probe = _Probe(name, section, kind, target, load_code(name))
            self.probes.append(probe)
            by_addr.setdefault(target.address, []).append(
                (int(kind == "uretprobe"), codes[name], 0)
            )
        for name, section, target, spec_id, _sem in usdt_sites:
            self.probes.append(_Probe(name, section, "usdt", target, load_code(name)))
            by_addr.setdefault(target.address, []).append((0, codes[name], spec_id))
        starts = sorted(by_addr)
        for a, b in itertools.pairwise(starts):
            if b - a < MIN_HOOK_BYTES:
                what = [p.section for p in self.probes if p.target.address in (a, b)]
                raise AttachError(f"{', '.join(what)}: probes at {a:#x} and {b:#x} are "
                                  f"{b - a} bytes apart; a hook overwrites {MIN_HOOK_BYTES} "
                                  "bytes, so they cannot both be hooked")  # fmt: skip
        for addr, progs in by_addr.items():
            where = ", ".join(f"{p.section}" for p in self.probes if p.target.address == addr)
            try:
                rpc.hook(hex(addr), [[r, p, hex(c)] for r, p, c in progs])
            except frida.core.RPCException as exc:
                why = str(exc).splitlines()[0].removeprefix("Error: ")
                raise AttachError(f"{where}: cannot hook {addr:#x}: {why} (the first "
                                  f"{MIN_HOOK_BYTES} bytes must be whole instructions of the "
                                  "function that frida can move: short functions and some "
                                  "prologues cannot be hooked)") from exc  # fmt: skip
            self._hooked.append(addr)
        for *_, sem in usdt_sites:
            if sem:
                rpc.semaphore(hex(sem), 1)
                self._semaphores.append(sem)
        for p in self.probes:
            _trace(self.verbose, f"attached {p.section} ({p.program}) at {p.target.address:#x} "
                   f"in {p.target.binary}")  # fmt: skip
        _trace(self.verbose, f"setup took {time.perf_counter() - t0:.3f} s")

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
        """Printk lines and ring buffer records produced since the last call.

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
            self._decoders = {n: _record_decoder(self.obj, n)
                              for n, m in self.obj.maps.items() if m.type == RINGBUF}  # fmt: skip
        while True:
            for line in self.obj.trace_lines():
                emit(Output("printk", "", line))
            for name, decode in self._decoders.items():
                self.obj.maps[name].raw.consume(
                    lambda data, n=name, d=decode: emit(Output("ringbuf", n, d(bytes(data))))
                )
            if out or self.poll_exit() is not None or time.monotonic() >= deadline:
                return out
            time.sleep(min(0.01, max(deadline - time.monotonic(), 0)))

    def poll_exit(self) -> int | None:
        """The spawned process's exit status once it has exited (None while it runs).

        EXIT_UNKNOWN if it is gone but its status was collected by someone else."""
        if self.exit_status is None and self.spawned:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                if not _exists(self.pid):
                    self.exit_status = EXIT_UNKNOWN
                return self.exit_status
            if pid == self.pid and (os.WIFEXITED(status) or os.WIFSIGNALED(status)):
                self.exit_status = os.waitstatus_to_exitcode(status)
                if self.exit_status < 0:  # killed by a signal: report 128 + n, as shells do
                    self.exit_status = 128 - self.exit_status
        return self.exit_status

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for a spawned process to exit; its exit status (None on timeout)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll_exit() is None:
            if end is not None and time.monotonic() >= end:
                return None
            time.sleep(0.005)
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
        pid = launch_suspended(argv, stdout)
    except BaseException:
        if owns:
            bpf.close()
        raise
    session = Session(bpf, pid, True, missing_probes, verbose, owns)
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


_PTRACE_TRACEME, _PTRACE_PEEKTEXT, _PTRACE_POKETEXT, _PTRACE_CONT = 0, 1, 4, 7
_PTRACE_GETREGS, _PTRACE_SETREGS, _PTRACE_DETACH = 12, 13, 17
_AT_ENTRY = 9
_RIP = 16  # index of rip in struct user_regs_struct (27 u64)


def launch_suspended(argv: Sequence[str], stdout: int | None = None) -> int:
    """Start ``argv`` as our child, stopped (SIGSTOP) at its entry point with its
    libraries loaded, and return its pid.

    frida.spawn would do this too, but its child watch reaps the process, and
    ``run`` must report the command's exit status; so: PTRACE_TRACEME and exec,
    an int3 at the executable's entry point (AT_ENTRY), run to it, undo it, and
    detach leaving the process stopped. x86_64 only. ``stdout``: a file descriptor
    for the command's standard output (default: ours).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    ptrace = libc.ptrace
    ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    ptrace.restype = ctypes.c_long
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            if stdout is not None:
                os.dup2(stdout, 1)
            ptrace(_PTRACE_TRACEME, 0, None, None)
            os.execvp(argv[0], list(argv))
        finally:
            os._exit(127)

    def check(rc: int, what: str) -> int:
        if rc == -1 and ctypes.get_errno():
            err = ctypes.get_errno()
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AttachError(f"start {argv[0]!r}: ptrace {what}: {os.strerror(err)}")
        return rc

    def stopped(what: str) -> None:
        _, status = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(status) or os.WSTOPSIG(status) != signal.SIGTRAP:
            if os.WIFSTOPPED(status):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            raise AttachError(f"start {argv[0]!r}: it did not stop at {what} (wait status "
                              f"{status:#x}); could it be executed?")  # fmt: skip

    stopped("exec")
    with open(f"/proc/{pid}/auxv", "rb") as f:
        entry = dict(struct.iter_unpack("<QQ", f.read())).get(_AT_ENTRY, 0)
    ctypes.set_errno(0)
    word = check(ptrace(_PTRACE_PEEKTEXT, pid, entry, None), "peek") & (1 << 64) - 1
    check(ptrace(_PTRACE_POKETEXT, pid, entry, (word & ~0xFF) | 0xCC), "poke")
    check(ptrace(_PTRACE_CONT, pid, None, None), "cont")
    stopped("its entry point")
    regs = (ctypes.c_ulonglong * 27)()
    check(ptrace(_PTRACE_GETREGS, pid, None, ctypes.byref(regs)), "getregs")
    regs[_RIP] = entry
    check(ptrace(_PTRACE_SETREGS, pid, None, ctypes.byref(regs)), "setregs")
    check(ptrace(_PTRACE_POKETEXT, pid, entry, word), "poke")
    check(ptrace(_PTRACE_DETACH, pid, None, signal.SIGSTOP), "detach")
    # the SIGSTOP lands when the process next runs: wait until it is stopped, or frida
    # could attach first, take the stop for its own and let the process run on. Read
    # /proc rather than waitpid(WUNTRACED): frida must find the stop still unreported,
    # else it keeps tracing the process and collects its exit status itself.
    deadline = time.monotonic() + 5
    while _proc_state(pid) not in ("T", "t") and time.monotonic() < deadline:
        time.sleep(0.001)
    return pid


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
