"""Where the ``syscall`` instructions of a process's code are: the sites the agent rewrites
for syscall tracepoints (cext/agent/bt_sys.h has the mechanism).

Owns: disassembling each executable section of a module's file with capstone (a linear
sweep, as zpoline and bpftime do; bytes capstone cannot decode are skipped, so the sweep
resynchronises) and turning the offsets into addresses in the target, and the choice of
modules: every file-backed module of the target except the hook machinery itself
(frida's agent, ours). Results are cached per file (path, size, mtime).

Does not own: rewriting (the agent), which syscalls are traced (bpftime.syscalls).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile

from .errors import AttachError

SYSCALL = b"\x0f\x05"
SHF_EXECINSTR = 0x4


@lru_cache(maxsize=64)
def _sites(path: str, size: int, mtime: float) -> tuple[int, ...]:
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.skipdata = True
    out: list[int] = []
    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
        except Exception as exc:  # pyelftools raises several types for non-ELF input
            raise AttachError(f"{path}: not an ELF file ({exc})") from exc
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        base = min((s["p_vaddr"] for s in loads), default=0) & ~0xFFF
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SHF_EXECINSTR or sec["sh_type"] == "SHT_NOBITS":
                continue
            data = sec.data()
            if SYSCALL not in data:
                continue
            addr = sec["sh_addr"]
            for ip, length, mnemonic, _ in md.disasm_lite(data, addr):
                if length == 2 and mnemonic == "syscall":
                    out.append(ip - base)
    return tuple(out)


def syscall_sites(path: str) -> tuple[int, ...]:
    """Offsets (from the module's load address) of every ``syscall`` instruction in
    ``path``'s executable sections."""
    st = os.stat(path)
    return _sites(path, st.st_size, st.st_mtime)


def _is_machinery(name: str, path: str) -> bool:
    low = (name + " " + path).lower()
    return "frida" in low or "libbpftime_agent" in low


def target_sites(modules: Iterable[Any]) -> tuple[list[int], list[str]]:
    """Addresses of the ``syscall`` sites of every module the target has loaded (objects
    with ``name``, ``base``, ``path``), and the modules left out with the reason."""
    addrs: list[int] = []
    skipped: list[str] = []
    for m in modules:
        if _is_machinery(m.name, m.path):
            continue
        if not m.path or not os.path.isfile(m.path):
            skipped.append(f"{m.name}: no file to read ({m.path or 'anonymous'})")
            continue
        try:
            offsets = syscall_sites(m.path)
        except (OSError, AttachError) as exc:
            skipped.append(f"{m.name}: {exc}")
            continue
        addrs.extend(m.base + off for off in offsets)
    return addrs, skipped


def pack(addrs: Sequence[int]) -> str:
    """Addresses as one hex string for the agent script (16 hex digits each)."""
    return "".join(f"{a:016x}" for a in addrs)


def skip_reason() -> str | None:
    """Why syscall tracepoints cannot be attached to processes here, or None if they can."""
    from .uprobe import skip_reason as uprobe_skip

    why = uprobe_skip()
    if why is not None:
        return why
    try:
        import capstone  # noqa: F401
    except ImportError:
        return "needs capstone (pip install capstone)"
    try:
        min_addr = int(Path("/proc/sys/vm/mmap_min_addr").read_text())
    except (OSError, ValueError):
        min_addr = 4096
    if os.geteuid() != 0 and min_addr > 0:
        return ("syscall tracepoints map page 0 in the target: needs root (CAP_SYS_RAWIO) "
                "or vm.mmap_min_addr=0")  # fmt: skip
    return None
