"""Helpers for the ELF/BTF tests, independent of the code under test.

Section bytes come straight from pyelftools, bpftool's BTF dumps (tests/bpf/*.btf.txt,
written by ``make -C tests/bpf``) are parsed here, and map values are bound to
ctypes buffers so loaded programs can run on the engines.
"""

from __future__ import annotations

import ctypes
import io
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

import bpftime

BPF = Path(__file__).resolve().parent / "bpf"
OBJECTS = sorted(BPF.glob("*.bpf.o"))


def obj(name: str) -> Path:
    return BPF / f"{name}.bpf.o"


def section(path: Path, name: str) -> bytes:
    elf = ELFFile(io.BytesIO(path.read_bytes()))
    sec = elf.get_section_by_name(name)
    assert sec is not None, name
    return bytes(sec.data())


def section_header(data: bytes, name: str) -> tuple[int, int, int]:
    """(index, file offset of its section header, file offset of its data)."""
    elf = ELFFile(io.BytesIO(data))
    shoff = elf.header.e_shoff
    for i, sec in enumerate(elf.iter_sections()):
        if sec.name == name:
            return i, shoff + i * 64, sec.header.sh_offset
    raise KeyError(name)


def symbol_offset(data: bytes, name: str) -> tuple[int, int]:
    """(symbol index, file offset of its Elf64_Sym entry)."""
    elf = ELFFile(io.BytesIO(data))
    symtab = elf.get_section_by_name(".symtab")
    for i, sym in enumerate(symtab.iter_symbols()):
        if sym.name == name:
            return i, symtab.header.sh_offset + i * 24
    raise KeyError(name)


# -- bpftool btf dump --------------------------------------------------------------


@dataclass
class DumpType:
    id: int
    kind: str
    name: str
    attrs: dict[str, str]
    items: list[dict[str, str]] = field(default_factory=list)


_HEAD = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")
_ITEM_NAMED = re.compile(r"^\t'([^']*)'(.*)$")
_KV = re.compile(r"(\w+)=(\S+?),?(?=\s|$)")


def bpftool_dump(path: Path) -> list[DumpType]:
    """Parse ``bpftool btf dump file X.o`` (plain format) into records."""
    out: list[DumpType] = []
    dump = path.with_name(path.name.replace(".bpf.o", ".bpf.btf.txt"))
    for line in dump.read_text().splitlines():
        m = _HEAD.match(line)
        if m:
            name = "" if m.group(3) == "(anon)" else m.group(3)
            out.append(DumpType(int(m.group(1)), m.group(2), name, dict(_KV.findall(m.group(4)))))
            continue
        m = _ITEM_NAMED.match(line)
        if m:
            item = dict(_KV.findall(m.group(2)))
            item["name"] = "" if m.group(1) == "(anon)" else m.group(1)
        else:
            item = dict(_KV.findall(line))
        out[-1].items.append(item)
    return out


# -- running loaded programs -------------------------------------------------------


class Bound:
    """ctypes buffers for every map with data (global data sections), as MapBindings."""

    def __init__(self, spec: bpftime.elf.ObjectSpec) -> None:
        self.buffers = {
            i: ctypes.create_string_buffer(m.data, m.value_size)
            for i, m in enumerate(spec.maps)
            if m.data is not None
        }
        self.bindings = {
            i: bpftime.MapBinding(
                handle=0x1000 + i,
                value_addr=ctypes.addressof(buf),
                value_size=spec.maps[i].value_size,
                writable=not spec.maps[i].readonly,
            )
            for i, buf in self.buffers.items()
        }

    def raw(self, index: int) -> bytes:
        return self.buffers[index].raw


def probe_read(dst: int, size: int, src: int) -> int:
    """bpf_probe_read_kernel (113) for tests: a plain memory copy."""
    ctypes.memmove(dst, src, size)
    return 0


# fmt: off
X86_REGS = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
    "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
]
# fmt: on


def x86_regs(**values: int) -> bytes:
    """A struct pt_regs (x86_64 kernel layout: 21 unsigned longs) with some registers set."""
    return struct.pack("<21Q", *[values.get(r, 0) for r in X86_REGS])
