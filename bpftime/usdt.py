"""USDT probes: reading ``.note.stapsdt`` and turning argument specs into libbpf's layout.

Owns the file side of ``usdt/BINARY:PROVIDER:NAME`` programs: the SystemTap SDT
notes of a binary (``read_notes``), where each probe lies once the prelink
adjustment is applied (``find_sites``), and the argument specs (``"-4@%eax"``,
``"8@-8(%rbp)"``, ``"4@$5"``) parsed into the ``struct __bpf_usdt_spec`` that
libbpf's ``<bpf/usdt.bpf.h>`` reads from the object's ``__bpf_usdt_specs`` map
(``pack_spec``). Pure: no process is touched here.

A note (type 3, owner ``"stapsdt"``) describes one probe site::

    desc:  u64 pc  u64 base  u64 semaphore  "provider\\0" "name\\0" "args\\0"

``pc`` is the link-time address of the probe's ``nop``, ``base`` the link-time
address of ``_.stapsdt.base`` and ``semaphore`` that of a 2-byte is-enabled counter
(0: none). A tool such as prelink may move the sections but not the non-allocated
note, so the probe's real address is ``pc + (.stapsdt.base's sh_addr - base)``, as
libbpf computes it; the semaphore is not adjusted (libbpf does not either).

The spec layout (usdt.bpf.h; 16 bytes per argument, 12 arguments, then the cookie
and the count; 208 bytes)::

    __bpf_usdt_arg_spec:  u64 val_off | u32 arg_type | s16 reg_off | u8 signed | u8 bitshift
    __bpf_usdt_spec:      arg_spec args[12] | u64 usdt_cookie | s16 arg_cnt | pad to 8

``arg_type`` is CONST (``val_off`` is the value), REG (the register at ``reg_off``
in ``struct pt_regs``) or REG_DEREF (the 8 bytes at register + ``val_off``);
``bitshift`` = 64 - 8 * size: the BPF side shifts left, then right (arithmetic
when signed), to cut a 1, 2 or 4-byte argument out of the 8 bytes it read.

x86_64 only. Registers are named as gcc writes them (all widths of the 16
general registers and ``rip``); the high-byte registers (``%ah``...) are refused,
as libbpf refuses them.

Does not own: attaching (bpftime.uprobe), the BPF side (libbpf's header).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

from elftools.elf.elffile import ELFFile

from .errors import AttachError

NOTE_SECTION = ".note.stapsdt"
BASE_SECTION = ".stapsdt.base"
NT_STAPSDT = 3
MAX_ARGS = 12  # BPF_USDT_MAX_ARG_CNT in usdt.bpf.h
ARG_CONST, ARG_REG, ARG_REG_DEREF = 0, 1, 2
ARG_SPEC = struct.Struct("<QIhBB")
SPEC_SIZE = MAX_ARGS * ARG_SPEC.size + 16  # + u64 cookie + s16 count, padded to 8

# offsetof(struct pt_regs, reg) on x86_64, and the names of each register's widths
_PT_REGS: dict[tuple[str, ...], int] = {
    ("rip", "eip"): 128,
    ("rax", "eax", "ax", "al"): 80,
    ("rbx", "ebx", "bx", "bl"): 40,
    ("rcx", "ecx", "cx", "cl"): 88,
    ("rdx", "edx", "dx", "dl"): 96,
    ("rsi", "esi", "si", "sil"): 104,
    ("rdi", "edi", "di", "dil"): 112,
    ("rbp", "ebp", "bp", "bpl"): 32,
    ("rsp", "esp", "sp", "spl"): 152,
    ("r8", "r8d", "r8w", "r8b"): 72,
    ("r9", "r9d", "r9w", "r9b"): 64,
    ("r10", "r10d", "r10w", "r10b"): 56,
    ("r11", "r11d", "r11w", "r11b"): 48,
    ("r12", "r12d", "r12w", "r12b"): 24,
    ("r13", "r13d", "r13w", "r13b"): 16,
    ("r14", "r14d", "r14w", "r14b"): 8,
    ("r15", "r15d", "r15w", "r15b"): 0,
}
REG_OFFSETS = {name: off for names, off in _PT_REGS.items() for name in names}

_NUM = r"[-+]?(?:0[xX][0-9a-fA-F]+|\d+)"
_ARG = re.compile(
    rf"(?P<size>[-+]?\d+)@(?:"
    rf"\$(?P<const>{_NUM})"
    rf"|%(?P<reg>\w+)"
    rf"|(?P<disp>{_NUM})?\(%(?P<base>\w+)\)"
    r")$"
)


@dataclass(frozen=True)
class UsdtArg:
    """One argument: ``size`` bytes (1, 2, 4, 8), signed or not, found as ``kind``
    says: the constant ``val_off`` (CONST), register ``reg`` (REG), or memory at
    ``reg`` + ``val_off`` (REG_DEREF); ``reg_off`` is the register's offset in
    ``struct pt_regs``."""

    size: int
    signed: bool
    kind: int
    val_off: int
    reg: str | None
    reg_off: int

    def pack(self) -> bytes:
        return ARG_SPEC.pack(self.val_off & (1 << 64) - 1, self.kind, self.reg_off,
                             int(self.signed), 64 - 8 * self.size)  # fmt: skip


@dataclass(frozen=True)
class UsdtNote:
    """One ``.note.stapsdt`` entry, as written in the file."""

    provider: str
    name: str
    pc: int
    base: int
    semaphore: int
    args: str


@dataclass(frozen=True)
class UsdtSite:
    """A probe site of a binary: its link-time address with the prelink adjustment
    applied, its semaphore's link-time address (0: none) and its parsed arguments."""

    note: UsdtNote
    address: int
    semaphore: int
    args: tuple[UsdtArg, ...]


def _reg(name: str, where: str) -> int:
    if name in ("ah", "bh", "ch", "dh"):
        raise AttachError(f"{where}: register %{name} (a high byte) is not supported, as in "
                          "libbpf; build the probe's code differently")  # fmt: skip
    try:
        return REG_OFFSETS[name]
    except KeyError:
        raise AttachError(f"{where}: unknown x86_64 register %{name}") from None


def parse_arg(text: str, where: str = "usdt argument") -> UsdtArg:
    """One argument spec such as ``-4@%eax``, ``8@-8(%rbp)``, ``8@(%rsp)``, ``4@$5``."""
    m = _ARG.match(text)
    if m is None:
        raise AttachError(f"{where}: cannot parse argument spec {text!r} (expected "
                          "SIZE@%reg, SIZE@$value or SIZE@disp(%reg), x86_64)")  # fmt: skip
    size = int(m["size"])
    if abs(size) not in (1, 2, 4, 8):
        raise AttachError(f"{where}: argument spec {text!r} has size {size}; sizes are "
                          "1, 2, 4 or 8 bytes, negative when signed")  # fmt: skip
    signed = size < 0
    if m["const"] is not None:
        return UsdtArg(abs(size), signed, ARG_CONST, int(m["const"], 0), None, 0)
    if m["reg"] is not None:
        return UsdtArg(abs(size), signed, ARG_REG, 0, m["reg"], _reg(m["reg"], where))
    disp = int(m["disp"], 0) if m["disp"] else 0
    return UsdtArg(abs(size), signed, ARG_REG_DEREF, disp, m["base"], _reg(m["base"], where))


def parse_args(spec: str, where: str = "usdt probe") -> tuple[UsdtArg, ...]:
    """The arguments of a note's spec string (space-separated; empty: none)."""
    parts = spec.split()
    if len(parts) > MAX_ARGS:
        raise AttachError(f"{where}: {len(parts)} arguments; usdt.bpf.h reads at most "
                          f"{MAX_ARGS}")  # fmt: skip
    return tuple(parse_arg(p, f"{where} argument #{i}") for i, p in enumerate(parts))


def pack_spec(args: tuple[UsdtArg, ...], cookie: int = 0) -> bytes:
    """``struct __bpf_usdt_spec`` for ``args`` and the user's ``cookie``."""
    body = b"".join(a.pack() for a in args).ljust(MAX_ARGS * ARG_SPEC.size, b"\0")
    return body + struct.pack("<Qh6x", cookie & (1 << 64) - 1, len(args))


def parse_notes(data: bytes, where: str = NOTE_SECTION) -> list[UsdtNote]:
    """The stapsdt notes in the bytes of a ``.note.stapsdt`` section (64-bit, little
    endian); notes of other owners or types are skipped."""
    out: list[UsdtNote] = []
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        name_at = off + 12
        desc_at = name_at + (namesz + 3 & ~3)
        end = desc_at + (descsz + 3 & ~3)
        if desc_at + descsz > len(data):
            raise AttachError(f"{where}: note at offset {off} runs past the section's end "
                              f"({len(data)} bytes); the binary is corrupt")  # fmt: skip
        owner = data[name_at : name_at + namesz].rstrip(b"\0")
        if owner == b"stapsdt" and ntype == NT_STAPSDT:
            out.append(_note(data[desc_at : desc_at + descsz], f"{where} note at offset {off}"))
        off = end
    return out


def _note(desc: bytes, where: str) -> UsdtNote:
    if len(desc) < 24:
        raise AttachError(f"{where}: {len(desc)} bytes of description, less than the 24 of "
                          "its three addresses (a 32-bit binary?)")  # fmt: skip
    pc, base, sem = struct.unpack_from("<QQQ", desc)
    strings = desc[24:].split(b"\0")
    if len(strings) < 4:  # provider, name, args and what follows the last NUL
        raise AttachError(f"{where}: provider, name and argument strings are not all "
                          "there; the binary is corrupt")  # fmt: skip
    provider, name, args = (s.decode("utf-8", errors="replace") for s in strings[:3])
    return UsdtNote(provider, name, pc, base, sem, args)


def read_notes(path: str) -> tuple[list[UsdtNote], int]:
    """The stapsdt notes of ``path`` and the address of its ``.stapsdt.base`` (0: none)."""
    with open(path, "rb") as f:
        try:
            elf: Any = ELFFile(f)
        except Exception as exc:  # pyelftools raises several types for non-ELF input
            raise AttachError(f"{path}: not an ELF file ({exc})") from exc
        if elf.elfclass != 64 or not elf.little_endian:
            raise AttachError(f"{path}: USDT probes are read from 64-bit little-endian "
                              "binaries only")  # fmt: skip
        sec = elf.get_section_by_name(NOTE_SECTION)
        if sec is None:
            return [], 0
        if sec["sh_type"] != "SHT_NOTE":
            raise AttachError(f"{path}: section {NOTE_SECTION} is not a note section")
        base = elf.get_section_by_name(BASE_SECTION)
        base_addr = int(base["sh_addr"]) if base is not None else 0
        return parse_notes(sec.data(), f"{path} {NOTE_SECTION}"), base_addr


def site_address(note: UsdtNote, base_addr: int) -> int:
    """The link-time address of ``note``'s probe in a file whose ``.stapsdt.base`` is
    at ``base_addr`` (0: no such section): moved as that section moved since the note
    was written (prelink), when both are known."""
    return note.pc + (base_addr - note.base if base_addr and note.base else 0)


def find_sites(path: str, provider: str, name: str,
               segments: tuple[tuple[int, int, int, bool], ...]) -> list[UsdtSite]:  # fmt: skip
    """The sites of probe ``provider:name`` in ``path``. ``segments`` are the file's
    PT_LOAD (offset, vaddr, filesz, executable); a site must lie in executable code
    and a semaphore outside it. AttachError when the probe is not there."""
    notes, base_addr = read_notes(path)
    where = f"usdt {path}:{provider}:{name}"
    sites: list[UsdtSite] = []
    for note in notes:
        if note.provider != provider or note.name != name:
            continue
        pc = site_address(note, base_addr)
        if not any(v <= pc < v + size and x for _o, v, size, x in segments):
            raise AttachError(f"{where}: probe address {pc:#x} is not in an executable "
                              "segment of the file")  # fmt: skip
        if note.semaphore and not any(v <= note.semaphore < v + size and not x
                                      for _o, v, size, x in segments):  # fmt: skip
            raise AttachError(f"{where}: semaphore address {note.semaphore:#x} is not in a "
                              "loaded data segment of the file")  # fmt: skip
        sites.append(UsdtSite(note, pc, note.semaphore,
                              parse_args(note.args, f"{where} at {pc:#x}")))  # fmt: skip
    if not sites:
        have = sorted({f"{n.provider}:{n.name}" for n in notes})
        raise AttachError(f"{where}: no such probe in {path} (its probes: "
                          f"{', '.join(have) or f'none, no {NOTE_SECTION} section'})")  # fmt: skip
    return sites


__all__ = ["UsdtArg", "UsdtNote", "UsdtSite", "find_sites", "pack_spec", "parse_arg",
           "parse_args", "parse_notes", "read_notes", "site_address"]  # fmt: skip
