"""USDT, the file side: argument specs, ``.note.stapsdt`` notes and libbpf's spec layout
(bpftime.usdt); and ``bpf_usdt_arg`` of libbpf's <bpf/usdt.bpf.h> on both engines.

Expected values are written by hand from the formats (SystemTap's note, gcc's AT&T
operands, usdt.bpf.h's structs, the x86_64 kernel's struct pt_regs); the notes of a
gcc-built victim are also checked against binutils' ``readelf -n``.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

import bpftime
from bpftime import usdt
from bpftime.errors import AttachError
from bpftime.usdt import ARG_CONST, ARG_REG, ARG_REG_DEREF, UsdtArg, UsdtNote

# spec, (size, signed, kind, val_off, reg, offsetof(struct pt_regs, reg))
ARGS = [
    ("-4@%eax", (4, True, ARG_REG, 0, "eax", 80)),
    ("8@%rdi", (8, False, ARG_REG, 0, "rdi", 112)),
    ("1@%dl", (1, False, ARG_REG, 0, "dl", 96)),
    ("-1@%sil", (1, True, ARG_REG, 0, "sil", 104)),
    ("2@%bx", (2, False, ARG_REG, 0, "bx", 40)),
    ("4@%r8d", (4, False, ARG_REG, 0, "r8d", 72)),
    ("2@%r10w", (2, False, ARG_REG, 0, "r10w", 56)),
    ("1@%r15b", (1, False, ARG_REG, 0, "r15b", 0)),
    ("8@%r12", (8, False, ARG_REG, 0, "r12", 24)),
    ("-8@%rcx", (8, True, ARG_REG, 0, "rcx", 88)),
    ("8@%rip", (8, False, ARG_REG, 0, "rip", 128)),
    ("8@-8(%rbp)", (8, False, ARG_REG_DEREF, -8, "rbp", 32)),
    ("-4@1204(%rsp)", (4, True, ARG_REG_DEREF, 1204, "rsp", 152)),
    ("8@(%rsp)", (8, False, ARG_REG_DEREF, 0, "rsp", 152)),
    ("2@0x10(%r13)", (2, False, ARG_REG_DEREF, 16, "r13", 16)),
    ("4@$5", (4, False, ARG_CONST, 5, None, 0)),
    ("-4@$-9", (4, True, ARG_CONST, -9, None, 0)),
    ("8@$0x10", (8, False, ARG_CONST, 16, None, 0)),
]


@pytest.mark.parametrize("spec, expected", ARGS, ids=[a for a, _ in ARGS])
def test_parse_arg(spec: str, expected: tuple[object, ...]) -> None:
    assert usdt.parse_arg(spec) == UsdtArg(*expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec, message", [
    ("3@%eax", "has size 3; sizes are 1, 2, 4 or 8"),
    ("4@%ah", "register %ah (a high byte) is not supported"),
    ("16@%xmm0", "has size 16"),
    ("8@%xmm0", "unknown x86_64 register %xmm0"),
    ("4@counter(%rip)", "cannot parse argument spec '4@counter(%rip)'"),
    ("eax", "cannot parse argument spec 'eax'"),
])  # fmt: skip
def test_parse_arg_errors(spec: str, message: str) -> None:
    with pytest.raises(AttachError, match=re.escape(message)):
        usdt.parse_arg(spec, "probe p:n")


def test_parse_args_counts_and_limit() -> None:
    assert usdt.parse_args("") == ()
    assert [a.reg for a in usdt.parse_args("-4@%edi  8@%rsi")] == ["edi", "rsi"]
    with pytest.raises(AttachError, match=r"13 arguments; usdt\.bpf\.h reads at most 12"):
        usdt.parse_args(" ".join(["4@$1"] * 13))


def test_pack_arg_and_spec_layout() -> None:
    # struct __bpf_usdt_arg_spec: u64 val_off, u32 arg_type, s16 reg_off, bool, char
    assert usdt.parse_arg("-4@%eax").pack() == bytes.fromhex("0000000000000000" "01000000"
                                                             "5000" "01" "20")  # fmt: skip
    assert usdt.parse_arg("8@-8(%rbp)").pack() == bytes.fromhex("f8ffffffffffffff" "02000000"
                                                                "2000" "00" "00")  # fmt: skip
    assert usdt.parse_arg("1@$7").pack() == bytes.fromhex("0700000000000000" "00000000"
                                                          "0000" "00" "38")  # fmt: skip
    spec = usdt.pack_spec(usdt.parse_args("-4@%eax 1@$7"), cookie=0x1122334455667788)
    assert len(spec) == 208  # 12 * 16 + u64 cookie + s16 count, padded to 8
    assert spec[:16] == usdt.parse_arg("-4@%eax").pack()
    assert spec[32:192] == bytes(160)
    assert spec[192:] == bytes.fromhex("8877665544332211" "0200" "000000000000")


def _note(owner: bytes, ntype: int, desc: bytes) -> bytes:
    def pad(b: bytes) -> bytes:
        return b + bytes(-len(b) % 4)

    return struct.pack("<III", len(owner), len(desc), ntype) + pad(owner) + pad(desc)


def test_parse_notes() -> None:
    desc = struct.pack("<QQQ", 0x1241, 0x2045, 0x4028) + b"demo\0step\0-4@%edi 8@%r8\0"
    other = _note(b"GNU\0", 3, b"\1\2\3\4")  # another owner's note with the same type
    data = other + _note(b"stapsdt\0", 3, desc) + _note(b"stapsdt\0", 3,
                                                        struct.pack("<QQQ", 5, 0, 0) + b"p\0n\0\0")  # fmt: skip
    assert usdt.parse_notes(data) == [
        UsdtNote("demo", "step", 0x1241, 0x2045, 0x4028, "-4@%edi 8@%r8"),
        UsdtNote("p", "n", 5, 0, 0, ""),
    ]


def test_parse_notes_errors() -> None:
    whole = _note(b"stapsdt\0", 3, struct.pack("<QQQ", 1, 2, 3) + b"a\0b\0\0")
    with pytest.raises(AttachError, match="runs past the section's end"):
        usdt.parse_notes(whole[:-8])
    with pytest.raises(AttachError, match="less than the 24 of its three addresses"):
        usdt.parse_notes(_note(b"stapsdt\0", 3, struct.pack("<II", 1, 2) + b"a\0b\0c\0"))
    with pytest.raises(AttachError, match="strings are not all there"):
        usdt.parse_notes(_note(b"stapsdt\0", 3, struct.pack("<QQQ", 1, 2, 3) + b"a\0b"))


@pytest.mark.parametrize("pc, note_base, base_addr, expected", [
    (0x1241, 0x2045, 0x2045, 0x1241),  # not prelinked
    (0x1241, 0x2045, 0x3045, 0x2241),  # sections moved by 0x1000 after the note was written
    (0x1241, 0x2045, 0, 0x1241),  # no .stapsdt.base section
    (0x1241, 0, 0x3045, 0x1241),  # a note without a base
])  # fmt: skip
def test_site_address_prelink(pc: int, note_base: int, base_addr: int, expected: int) -> None:
    assert usdt.site_address(UsdtNote("p", "n", pc, note_base, 0, ""), base_addr) == expected


# --- the victim's notes, against binutils


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("readelf") is None,
                    reason="needs gcc and readelf")  # fmt: skip
def test_victim_notes_match_readelf(build_c) -> None:  # type: ignore[no-untyped-def]
    from elftools.elf.elffile import ELFFile

    victim: Path = build_c(REPO / "examples" / "usdt" / "victim.c", "usdt_victim")
    notes, base = usdt.read_notes(str(victim))
    text = subprocess.run(["readelf", "-n", str(victim)], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    theirs = re.findall(r"Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: "
                        r"(0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ([^\n]*)",
                        text)  # fmt: skip
    assert [(n.provider, n.name, n.pc, n.base, n.semaphore, n.args) for n in notes] == [
        (p, n, int(loc, 16), int(b, 16), int(s, 16), a.strip()) for p, n, loc, b, s, a in theirs
    ]
    assert [(n.provider, n.name) for n in notes] == [("demo", "step"), ("demo", "mem"),
                                                     ("demo", "costly")]  # fmt: skip
    with open(victim, "rb") as f:
        elf = ELFFile(f)
        assert base == elf.get_section_by_name(".stapsdt.base")["sh_addr"]
        probes = elf.get_section_by_name(".probes")["sh_addr"]
    assert [n.semaphore for n in notes] == [0, 0, probes]
    # the argument kinds the end-to-end test relies on are there
    kinds = {a.kind for n in notes for a in usdt.parse_args(n.args)}
    assert kinds == {ARG_REG, ARG_REG_DEREF, ARG_CONST}
    step = usdt.parse_args(notes[0].args)
    assert [(a.size, a.signed) for a in step] == [(4, True), (1, False), (8, True), (8, False)]


# --- bpf_usdt_arg of libbpf's usdt.bpf.h, in this process

OBJ = REPO / "examples" / "usdt" / "usdt.bpf.o"
PT_REGS = 21 * 8


def test_bpf_usdt_arg_in_process(engine: str) -> None:
    """on_mem (examples/usdt) reads 4 arguments with bpf_usdt_arg from a pt_regs we
    build; in this process the attach cookie is 0, so spec 0 describes them."""
    stack = (ctypes.c_uint64 * 4)(0, 0xAABBCCDD_EEFF0011, 0, 0)
    regs = bytearray(PT_REGS)
    struct.pack_into("<Q", regs, 80, 0x1_FFFF_FFFE)  # rax: as -4@%eax, -2
    struct.pack_into("<Q", regs, 96, 0x1234_5680)  # rdx: as 1@%dl, 0x80
    struct.pack_into("<Q", regs, 152, ctypes.addressof(stack))  # rsp
    with bpftime.load(OBJ, engine=engine) as obj:
        obj["__bpf_usdt_specs"][0] = usdt.pack_spec(
            usdt.parse_args("-4@%eax 1@%dl -2@8(%rsp) 4@$-3"), cookie=99)
        assert obj.programs["on_mem"].run(bytes(regs)) == 0
        events: list[bytes] = []
        obj["events"].raw.consume(lambda d: events.append(bytes(d)))
    (e,) = events
    probe, argc, a0, a1, a2, a3, cookie = struct.unpack_from("<Ii4qQ", e)
    assert (probe, argc, cookie) == (2, 4, 99)
    # 0x0011 as a signed short is 17; -3 as an unsigned 4-byte value is 0xfffffffd
    assert (a0, a1, a2, a3) == (-2, 0x80, 0x0011, 0xFFFFFFFD)
