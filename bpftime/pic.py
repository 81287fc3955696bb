"""Position-independent JIT code for another process: compile and link one program.

Owns the step from a DecodedProgram to a flat blob of machine code that runs at
any address: llvmlite emits a relocatable object (reloc model pic, small code
model) from the same IR as the in-process JIT (``jit.lower``), and ``link``
lays its allocated sections out one after another and applies every relocation
between them itself (pyelftools reads the object). What the code needs from the
outside it gets at run time: helpers through ``ctx->helpers[id]`` (the agent's
table); maps are absolute addresses baked into the code, so the caller validates
the program with bindings for the target's mapping of the segment
(``bpftime.uprobe.rebase``).

Does not own: IR lowering and the -O2 pipeline (bpftime.jit), loading the blob
into the target (cext/agent).

Refused with a JitError naming the symbol or relocation: references to anything
outside the object (a libc ``memcpy`` the optimiser introduced, a helper by
name), absolute 64-bit relocations and writable data sections, none of which
the lowering produces today.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from . import jit
from .errors import JitError
from .insn import DecodedProgram

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHN_UNDEF = 0
R_X86_64_PC32 = 2
R_X86_64_PLT32 = 4
R_X86_64_GOTPCRELX = 41
R_X86_64_REX_GOTPCRELX = 42
# allocated sections the blob leaves out: unwind tables and notes nobody reads there
_SKIP = (".eh_frame", ".note", ".llvm_addrsig", ".comment")


@dataclass(frozen=True)
class LinkedCode:
    """A flat blob of x86_64 code and read-only data; ``entry`` is the offset of
    ``uint64_t entry(uint64_t r1, uint64_t r2, bt_ctx *ctx)``."""

    code: bytes
    entry: int


def compile_pic(prog: DecodedProgram, name: str = "bpf_prog") -> LinkedCode:
    """Lower, optimise at -O2, emit position-independent code and link it."""
    if llvm.get_process_triple().split("-")[0] != "x86_64":
        raise JitError(f"code for traced processes is x86_64 only; this is "
                       f"{llvm.get_process_triple()}")  # fmt: skip
    ref = jit.optimize(jit.lower(prog, name))
    tm = llvm.Target.from_default_triple().create_target_machine(
        opt=2, reloc="pic", codemodel="small"
    )
    return link(tm.emit_object(ref), f"{name}_entry")


def link(obj: bytes, entry: str) -> LinkedCode:
    """Link one relocatable x86_64 ELF object into a flat blob; ``entry`` names its entry."""
    elf = ELFFile(io.BytesIO(obj))
    if elf["e_machine"] != "EM_X86_64" or elf["e_type"] != "ET_REL":
        raise JitError(f"link: expected an x86_64 relocatable object, got {elf['e_machine']} "
                       f"{elf['e_type']}")  # fmt: skip
    addr: dict[int, int] = {}
    blob = bytearray()
    for idx, sec in enumerate(elf.iter_sections()):
        if not sec["sh_flags"] & SHF_ALLOC or sec.name.startswith(_SKIP) or not sec["sh_size"]:
            continue
        if sec["sh_flags"] & SHF_WRITE:
            raise JitError(f"link: writable section {sec.name!r} in JIT output; code for a "
                           "traced process must be read-only")  # fmt: skip
        align = max(sec["sh_addralign"], 1)
        blob += bytes(-len(blob) % align)
        addr[idx] = len(blob)
        blob += bytes(sec["sh_size"]) if sec["sh_type"] == "SHT_NOBITS" else sec.data()
    symtab: Any = elf.get_section_by_name(".symtab")
    if symtab is None:
        raise JitError("link: the object has no symbol table")
    for rel in elf.iter_sections():
        if not isinstance(rel, RelocationSection) or rel["sh_info"] not in addr:
            continue
        base = addr[rel["sh_info"]]
        for r in rel.iter_relocations():
            sym = symtab.get_symbol(r["r_info_sym"])
            shndx = sym["st_shndx"]
            if shndx == "SHN_UNDEF" or shndx == SHN_UNDEF:
                raise JitError(f"link: the code calls {sym.name!r}, which is outside the "
                               "program; a traced process has no such symbol for it")  # fmt: skip
            if not isinstance(shndx, int) or shndx not in addr:
                raise JitError(f"link: relocation against {sym.name or 'a section'!r} in a "
                               "section the blob leaves out")  # fmt: skip
            s = addr[shndx] + sym["st_value"]
            p = base + r["r_offset"]
            kind = r["r_info_type"]
            if kind in (R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX) and blob[p - 2] == 0x8B:
                blob[p - 2] = 0x8D  # mov x@GOTPCREL(%rip), %reg -> lea x(%rip), %reg
                kind = R_X86_64_PC32
            if kind not in (R_X86_64_PC32, R_X86_64_PLT32):
                raise JitError(f"link: relocation type {kind} against {sym.name!r} is not "
                               "supported (only PC-relative ones)")  # fmt: skip
            value = s + r["r_addend"] - p
            if not -(1 << 31) <= value < 1 << 31:
                raise JitError(f"link: relocation against {sym.name!r} out of range")
            struct.pack_into("<i", blob, p, value)
    for sym in symtab.iter_symbols():
        if sym.name == entry and isinstance(sym["st_shndx"], int) and sym["st_shndx"] in addr:
            return LinkedCode(bytes(blob), addr[sym["st_shndx"]] + sym["st_value"])
    raise JitError(f"link: no entry symbol {entry!r} in the object")
