"""The assembler and disassembler (bpftime.asm).

Expected encodings are written out by hand from RFC 9669, one row per form:
``opcode regs offset imm`` in little-endian hex, regs = src nibble then dst
nibble. ubpf's ``-- asm``/``-- raw`` files are the external vectors.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpftime import asm
from bpftime.asm import assemble, disassemble
from bpftime.errors import AsmError

UBPF_TESTS = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "ubpf" / "tests"
NO_UBPF = f"ubpf test data not found at {UBPF_TESTS} (it lives in ../shared/testdata)"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ---- ubpf vectors ----------------------------------------------------------


def sections(path: Path) -> dict[str, str]:
    """A .data file's sections by name (``asm``, ``raw``, ...), comments kept."""
    out: dict[str, list[str]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if line.startswith("-- "):
            name = line[3:].strip()
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def raw_words(text: str) -> bytes:
    words = [w for line in text.splitlines() for w in line.split("#", 1)[0].split()]
    return b"".join(int(w, 16).to_bytes(8, "little") for w in words)


def asm_source(path: Path, secs: dict[str, str]) -> str | None:
    """The program text: the ``asm`` section, or the file an ``asm @ file`` names."""
    for name, body in secs.items():
        if name == "asm":
            return body
        if name.startswith("asm @"):
            return (path.parent / name[len("asm @") :].strip()).read_text()
    return None


def data_files(want: str) -> list[object]:
    if not UBPF_TESTS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_UBPF), id="no-ubpf-data")]
    found = []
    for path in sorted(UBPF_TESTS.rglob("*.data")):
        secs = sections(path)
        has_asm = asm_source(path, secs) is not None
        if {"vector": has_asm and "raw" in secs, "asm": has_asm, "raw": "raw" in secs}[want]:
            found.append(pytest.param(path, id=str(path.relative_to(UBPF_TESTS))))
    return found


@pytest.mark.parametrize("path", data_files("vector"))
def test_ubpf_vector(path: Path) -> None:
    """Files with both sections: the asm assembles to exactly the raw words."""
    secs = sections(path)
    assert assemble(secs["asm"]) == raw_words(secs["raw"])


@pytest.mark.parametrize("path", data_files("asm"))
def test_ubpf_program_assembles_and_round_trips(path: Path) -> None:
    source = asm_source(path, sections(path))
    assert source is not None
    code = assemble(source)
    assert assemble(disassemble(code)) == code


@pytest.mark.parametrize("path", data_files("raw"))
def test_ubpf_raw_round_trips(path: Path) -> None:
    """Raw-only files are mostly malformed code: the disassembler must keep every byte."""
    code = raw_words(sections(path)["raw"])
    assert assemble(disassemble(code)) == code


# ---- every mnemonic, encoded by hand ---------------------------------------

ENCODINGS = [
    # ALU64, immediate and register source
    ("add %r1, 2", "07 01 0000 02000000"),
    ("sub %r1, 2", "17 01 0000 02000000"),
    ("mul %r1, 2", "27 01 0000 02000000"),
    ("div %r1, 2", "37 01 0000 02000000"),
    ("or %r1, 2", "47 01 0000 02000000"),
    ("and %r1, 2", "57 01 0000 02000000"),
    ("lsh %r1, 2", "67 01 0000 02000000"),
    ("rsh %r1, 2", "77 01 0000 02000000"),
    ("mod %r1, 2", "97 01 0000 02000000"),
    ("xor %r1, 2", "a7 01 0000 02000000"),
    ("mov %r1, 2", "b7 01 0000 02000000"),
    ("arsh %r1, 2", "c7 01 0000 02000000"),
    ("add %r3, %r9", "0f 93 0000 00000000"),
    ("sub %r3, %r9", "1f 93 0000 00000000"),
    ("mul %r3, %r9", "2f 93 0000 00000000"),
    ("div %r3, %r9", "3f 93 0000 00000000"),
    ("or %r3, %r9", "4f 93 0000 00000000"),
    ("and %r3, %r9", "5f 93 0000 00000000"),
    ("lsh %r3, %r9", "6f 93 0000 00000000"),
    ("rsh %r3, %r9", "7f 93 0000 00000000"),
    ("mod %r3, %r9", "9f 93 0000 00000000"),
    ("xor %r3, %r9", "af 93 0000 00000000"),
    ("mov %r3, %r9", "bf 93 0000 00000000"),
    ("arsh %r3, %r9", "cf 93 0000 00000000"),
    ("neg %r3", "87 03 0000 00000000"),
    # ALU32
    ("add32 %r1, 2", "04 01 0000 02000000"),
    ("sub32 %r1, 2", "14 01 0000 02000000"),
    ("mul32 %r1, 2", "24 01 0000 02000000"),
    ("div32 %r1, 2", "34 01 0000 02000000"),
    ("or32 %r1, 2", "44 01 0000 02000000"),
    ("and32 %r1, 2", "54 01 0000 02000000"),
    ("lsh32 %r1, 2", "64 01 0000 02000000"),
    ("rsh32 %r1, 2", "74 01 0000 02000000"),
    ("mod32 %r1, 2", "94 01 0000 02000000"),
    ("xor32 %r1, 2", "a4 01 0000 02000000"),
    ("mov32 %r1, 2", "b4 01 0000 02000000"),
    ("arsh32 %r1, 2", "c4 01 0000 02000000"),
    ("add32 %r3, %r9", "0c 93 0000 00000000"),
    ("sub32 %r3, %r9", "1c 93 0000 00000000"),
    ("mul32 %r3, %r9", "2c 93 0000 00000000"),
    ("div32 %r3, %r9", "3c 93 0000 00000000"),
    ("or32 %r3, %r9", "4c 93 0000 00000000"),
    ("and32 %r3, %r9", "5c 93 0000 00000000"),
    ("lsh32 %r3, %r9", "6c 93 0000 00000000"),
    ("rsh32 %r3, %r9", "7c 93 0000 00000000"),
    ("mod32 %r3, %r9", "9c 93 0000 00000000"),
    ("xor32 %r3, %r9", "ac 93 0000 00000000"),
    ("mov32 %r3, %r9", "bc 93 0000 00000000"),
    ("arsh32 %r3, %r9", "cc 93 0000 00000000"),
    ("neg32 %r3", "84 03 0000 00000000"),
    # signed division: offset 1
    ("sdiv %r1, 3", "37 01 0100 03000000"),
    ("sdiv %r1, %r2", "3f 21 0100 00000000"),
    ("smod %r1, 3", "97 01 0100 03000000"),
    ("smod %r1, %r2", "9f 21 0100 00000000"),
    ("sdiv32 %r1, 3", "34 01 0100 03000000"),
    ("sdiv32 %r1, %r2", "3c 21 0100 00000000"),
    ("smod32 %r1, 3", "94 01 0100 03000000"),
    ("smod32 %r1, %r2", "9c 21 0100 00000000"),
    # sign-extending moves: offset = source width
    ("movsx864 %r1, %r2", "bf 21 0800 00000000"),
    ("movsx1664 %r1, %r2", "bf 21 1000 00000000"),
    ("movsx3264 %r1, %r2", "bf 21 2000 00000000"),
    ("movsx832 %r1, %r2", "bc 21 0800 00000000"),
    ("movsx1632 %r1, %r2", "bc 21 1000 00000000"),
    # byte swaps: imm = width
    ("le16 %r1", "d4 01 0000 10000000"),
    ("le32 %r1", "d4 01 0000 20000000"),
    ("le64 %r1", "d4 01 0000 40000000"),
    ("be16 %r1", "dc 01 0000 10000000"),
    ("be32 %r1", "dc 01 0000 20000000"),
    ("be64 %r1", "dc 01 0000 40000000"),
    ("bswap16 %r1", "d7 01 0000 10000000"),
    ("bswap32 %r1", "d7 01 0000 20000000"),
    ("bswap64 %r1", "d7 01 0000 40000000"),
    # jumps
    ("ja +1", "05 00 0100 00000000"),
    ("ja -1", "05 00 ffff 00000000"),
    ("ja32 +70000", "06 00 0000 70110100"),
    ("gotol -2", "06 00 0000 feffffff"),
    ("jeq %r1, 0x33, +1", "15 01 0100 33000000"),
    ("jgt %r1, 0x33, +1", "25 01 0100 33000000"),
    ("jge %r1, 0x33, +1", "35 01 0100 33000000"),
    ("jset %r1, 0x33, +1", "45 01 0100 33000000"),
    ("jne %r1, 0x33, +1", "55 01 0100 33000000"),
    ("jsgt %r1, 0x33, +1", "65 01 0100 33000000"),
    ("jsge %r1, 0x33, +1", "75 01 0100 33000000"),
    ("jlt %r1, 0x33, +1", "a5 01 0100 33000000"),
    ("jle %r1, 0x33, +1", "b5 01 0100 33000000"),
    ("jslt %r1, 0x33, +1", "c5 01 0100 33000000"),
    ("jsle %r1, 0x33, +1", "d5 01 0100 33000000"),
    ("jeq %r4, %r5, -2", "1d 54 feff 00000000"),
    ("jgt %r4, %r5, -2", "2d 54 feff 00000000"),
    ("jge %r4, %r5, -2", "3d 54 feff 00000000"),
    ("jset %r4, %r5, -2", "4d 54 feff 00000000"),
    ("jne %r4, %r5, -2", "5d 54 feff 00000000"),
    ("jsgt %r4, %r5, -2", "6d 54 feff 00000000"),
    ("jsge %r4, %r5, -2", "7d 54 feff 00000000"),
    ("jlt %r4, %r5, -2", "ad 54 feff 00000000"),
    ("jle %r4, %r5, -2", "bd 54 feff 00000000"),
    ("jslt %r4, %r5, -2", "cd 54 feff 00000000"),
    ("jsle %r4, %r5, -2", "dd 54 feff 00000000"),
    ("jeq32 %r1, -1, +3", "16 01 0300 ffffffff"),
    ("jgt32 %r1, -1, +3", "26 01 0300 ffffffff"),
    ("jge32 %r1, -1, +3", "36 01 0300 ffffffff"),
    ("jset32 %r1, -1, +3", "46 01 0300 ffffffff"),
    ("jne32 %r1, -1, +3", "56 01 0300 ffffffff"),
    ("jsgt32 %r1, -1, +3", "66 01 0300 ffffffff"),
    ("jsge32 %r1, -1, +3", "76 01 0300 ffffffff"),
    ("jlt32 %r1, -1, +3", "a6 01 0300 ffffffff"),
    ("jle32 %r1, -1, +3", "b6 01 0300 ffffffff"),
    ("jslt32 %r1, -1, +3", "c6 01 0300 ffffffff"),
    ("jsle32 %r1, -1, +3", "d6 01 0300 ffffffff"),
    ("jeq32 %r0, %r10, +0", "1e a0 0000 00000000"),
    ("jgt32 %r0, %r10, +0", "2e a0 0000 00000000"),
    ("jge32 %r0, %r10, +0", "3e a0 0000 00000000"),
    ("jset32 %r0, %r10, +0", "4e a0 0000 00000000"),
    ("jne32 %r0, %r10, +0", "5e a0 0000 00000000"),
    ("jsgt32 %r0, %r10, +0", "6e a0 0000 00000000"),
    ("jsge32 %r0, %r10, +0", "7e a0 0000 00000000"),
    ("jlt32 %r0, %r10, +0", "ae a0 0000 00000000"),
    ("jle32 %r0, %r10, +0", "be a0 0000 00000000"),
    ("jslt32 %r0, %r10, +0", "ce a0 0000 00000000"),
    ("jsle32 %r0, %r10, +0", "de a0 0000 00000000"),
    # calls and exit
    ("call 1", "85 00 0000 01000000"),
    ("call 0x1234", "85 00 0000 34120000"),
    ("call local +3", "85 10 0000 03000000"),
    ("call local -7", "85 10 0000 f9ffffff"),
    ("callx %r5", "8d 05 0000 00000000"),
    ("exit", "95 00 0000 00000000"),
    # loads and stores
    ("ldxw %r1, [%r2+4]", "61 21 0400 00000000"),
    ("ldxh %r1, [%r2+4]", "69 21 0400 00000000"),
    ("ldxb %r1, [%r2+4]", "71 21 0400 00000000"),
    ("ldxdw %r1, [%r2+4]", "79 21 0400 00000000"),
    ("ldxsw %r1, [%r2-4]", "81 21 fcff 00000000"),
    ("ldxsh %r1, [%r2-4]", "89 21 fcff 00000000"),
    ("ldxsb %r1, [%r2-4]", "91 21 fcff 00000000"),
    ("stw [%r1+2], 5", "62 01 0200 05000000"),
    ("sth [%r1+2], 5", "6a 01 0200 05000000"),
    ("stb [%r1+2], 5", "72 01 0200 05000000"),
    ("stdw [%r1+2], -5", "7a 01 0200 fbffffff"),
    ("stxw [%r10-8], %r1", "63 1a f8ff 00000000"),
    ("stxh [%r10-8], %r1", "6b 1a f8ff 00000000"),
    ("stxb [%r10-8], %r1", "73 1a f8ff 00000000"),
    ("stxdw [%r10-8], %r1", "7b 1a f8ff 00000000"),
    # atomics: DW 0xdb, W 0xc3, operation in imm
    ("lock_add [%r10-8], %r1", "db 1a f8ff 00000000"),
    ("lock_or [%r10-8], %r1", "db 1a f8ff 40000000"),
    ("lock_and [%r10-8], %r1", "db 1a f8ff 50000000"),
    ("lock_xor [%r10-8], %r1", "db 1a f8ff a0000000"),
    ("lock_fetch_add [%r10-8], %r1", "db 1a f8ff 01000000"),
    ("lock_fetch_or [%r10-8], %r1", "db 1a f8ff 41000000"),
    ("lock_fetch_and [%r10-8], %r1", "db 1a f8ff 51000000"),
    ("lock_fetch_xor [%r10-8], %r1", "db 1a f8ff a1000000"),
    ("lock_xchg [%r10-8], %r1", "db 1a f8ff e1000000"),
    ("lock_cmpxchg [%r10-8], %r1", "db 1a f8ff f1000000"),
    ("lock_add32 [%r2+4], %r3", "c3 32 0400 00000000"),
    ("lock_or32 [%r2+4], %r3", "c3 32 0400 40000000"),
    ("lock_and32 [%r2+4], %r3", "c3 32 0400 50000000"),
    ("lock_xor32 [%r2+4], %r3", "c3 32 0400 a0000000"),
    ("lock_fetch_add32 [%r2+4], %r3", "c3 32 0400 01000000"),
    ("lock_fetch_or32 [%r2+4], %r3", "c3 32 0400 41000000"),
    ("lock_fetch_and32 [%r2+4], %r3", "c3 32 0400 51000000"),
    ("lock_fetch_xor32 [%r2+4], %r3", "c3 32 0400 a1000000"),
    ("lock_xchg32 [%r2+4], %r3", "c3 32 0400 e1000000"),
    ("lock_cmpxchg32 [%r2+4], %r3", "c3 32 0400 f1000000"),
    # 64-bit immediates, two slots; pseudo source in the first slot's src nibble
    ("lddw %r1, 0x1122334455667788", "18 01 0000 88776655  00 00 0000 44332211"),
    ("lddw %r0, -1", "18 00 0000 ffffffff  00 00 0000 ffffffff"),
    ("lddw %r0, 0xffffffffffffffff", "18 00 0000 ffffffff  00 00 0000 ffffffff"),
    ("lddw %r1, map_fd 3", "18 11 0000 03000000  00 00 0000 00000000"),
    ("lddw %r1, map_value 3+8", "18 21 0000 03000000  00 00 0000 08000000"),
    ("lddw %r1, map_value 4", "18 21 0000 04000000  00 00 0000 00000000"),
    ("lddw %r1, map_value 4-1", "18 21 0000 04000000  00 00 0000 ffffffff"),
    ("lddw %r2, btf_id 7", "18 32 0000 07000000  00 00 0000 00000000"),
    ("lddw %r2, func +5", "18 42 0000 05000000  00 00 0000 00000000"),
    ("lddw %r2, map_idx 1", "18 52 0000 01000000  00 00 0000 00000000"),
    ("lddw %r2, map_idx_value 1+16", "18 62 0000 01000000  00 00 0000 10000000"),
    # legacy packet loads
    ("ldabsw 4", "20 00 0000 04000000"),
    ("ldabsh 4", "28 00 0000 04000000"),
    ("ldabsb 4", "30 00 0000 04000000"),
    ("ldabsdw 4", "38 00 0000 04000000"),
    ("ldindw %r2, 4", "40 20 0000 04000000"),
    ("ldindh %r2, 4", "48 20 0000 04000000"),
    ("ldindb %r2, 4", "50 20 0000 04000000"),
    ("ldinddw %r2, 4", "58 20 0000 04000000"),
    # the escape hatch: one little-endian word, low byte = opcode
    (".raw 0x0000000000010005", "05 00 0100 00000000"),
    (".raw 0xffeeddccbbaa9988", "88 99 aabb ccddeeff"),
    # operand spellings
    ("mov %r1, -1", "b7 01 0000 ffffffff"),
    ("mov %r1, 0xffffffff", "b7 01 0000 ffffffff"),
    ("mov %r1, -0x80000000", "b7 01 0000 00000080"),
    ("mov %r1, 0X7fffFFFF", "b7 01 0000 ffffff7f"),
    ("mov %r11, %r15", "bf fb 0000 00000000"),
    ("ldxw %r1, [%r2-0x10]", "61 21 f0ff 00000000"),
    ("ldxw %r1, [ %r2 + 4 ]", "61 21 0400 00000000"),
    ("ldxw %r1, [%r2+32767]", "61 21 ff7f 00000000"),
    ("ldxw %r1, [%r2-32768]", "61 21 0080 00000000"),
    ("stxw [%r1], %r2", "63 21 0000 00000000"),
    ("\tadd\t%r1 ,2   # trailing comment", "07 01 0000 02000000"),
]


@pytest.mark.parametrize(("source", "expected"), ENCODINGS, ids=[s for s, _ in ENCODINGS])
def test_encoding(source: str, expected: str) -> None:
    assert assemble(source) == h(expected)


def test_every_mnemonic_is_in_the_encoding_table() -> None:
    # reads the private table on purpose: a new mnemonic must come with a row above
    assert {s.split()[0] for s, _ in ENCODINGS} == {*asm._FORMS, ".raw"}


def test_labels_count_slots_and_resolve_both_ways() -> None:
    source = """
    # comment line, then a blank one

    start: mov %r0, 0        # slot 0
    lddw %r1, 1              # slots 1-2
    jeq %r1, 1, done         # slot 3: 6 - 4 = +2
    ja start                 # slot 4: 0 - 5 = -5
    call local start         # slot 5: 0 - 6 = -6
    done:
    exit                     # slot 6
    lddw %r2, func start     # slots 7-8: 0 - 8 = -8
    ja32 done                # slot 9: 6 - 10 = -4
    end:
    """
    assert assemble(source) == h(
        "b7 00 0000 00000000"
        "18 01 0000 01000000  00 00 0000 00000000"
        "15 01 0200 01000000"
        "05 00 fbff 00000000"
        "85 10 0000 faffffff"
        "95 00 0000 00000000"
        "18 42 0000 f8ffffff  00 00 0000 00000000"
        "06 00 0000 fcffffff"
    )


def test_label_at_the_end_and_on_its_own() -> None:
    assert assemble("ja end\nend:") == h("05 00 0000 00000000")
    assert assemble("") == b""
    assert assemble("# nothing\n\n") == b""


# ---- errors ----------------------------------------------------------------

FAR = "ja far\n" + "exit\n" * 40000 + "far: exit"

ERRORS = [
    ("mov %r0, 1\nmvo %r0, 1", 2, "line 2: unknown mnemonic 'mvo'"),
    ("MOV %r0, 1", 1, "line 1: unknown mnemonic 'MOV'"),
    ("mov r0, 1", 1, "line 1: expected a register %r0..%r15, got 'r0'"),
    ("mov %rx, 1", 1, "line 1: expected a register %r0..%r15, got '%rx'"),
    ("exit\nmov %r16, 1", 2, "line 2: register %r16 does not exist"),
    ("mov %r1, %r99", 1, "line 1: register %r99 does not exist"),
    ("ldxw %r1, [%r2+32768]", 1, "line 1: offset 32768 does not fit in 16 bits"),
    ("ldxw %r1, [%r2-32769]", 1, "line 1: offset -32769 does not fit in 16 bits"),
    ("stw [%r1+0x8000], 1", 1, "line 1: offset 32768 does not fit in 16 bits"),
    ("ja +32768", 1, "line 1: offset 32768 does not fit in 16 bits"),
    ("jeq %r1, 1, -32769", 1, "line 1: offset -32769 does not fit in 16 bits"),
    (FAR, 1, "line 1: offset 40000 does not fit in 16 bits"),
    ("mov %r0, 0x100000000", 1, "line 1: immediate 0x100000000 does not fit in 32 bits"),
    ("mov %r0, -0x80000001", 1, "line 1: immediate -0x80000001 does not fit in 32 bits"),
    ("call 4294967296", 1, "line 1: immediate 4294967296 does not fit in 32 bits"),
    ("lddw %r0, 0x10000000000000000", 1, "does not fit in 64 bits"),
    ("lddw %r0, map_fd 0x100000000", 1, "line 1: immediate 0x100000000 does not fit in 32 bits"),
    (".raw 0x10000000000000000", 1, "line 1: raw word 0x10000000000000000 does not fit"),
    ("ja nowhere", 1, "line 1: unknown label 'nowhere'"),
    ("exit\ncall local nowhere", 2, "line 2: unknown label 'nowhere'"),
    ("lddw %r1, func nowhere", 1, "line 1: unknown label 'nowhere'"),
    ("a:\nexit\na: exit", 3, "line 3: duplicate label 'a' (first defined on line 1)"),
    ("add %r1", 1, "line 1: add takes %rD, imm|%rS, got 1 operand(s)"),
    ("exit %r0", 1, "line 1: exit takes no operands, got 1 operand(s)"),
    ("add %r1, foo", 1, "line 1: expected an immediate, got 'foo'"),
    ("add %r1, 1.5", 1, "line 1: expected an immediate, got '1.5'"),
    ("ja 5", 1, "line 1: expected +N, -N or a label, got '5'"),
    ("ldxw %r1, %r2", 1, "line 1: expected a memory operand like [%r1+8], got '%r2'"),
    ("ldxw %r1, [%r2 4]", 1, "expected a memory operand"),
    ("stxw [%r1+], %r2", 1, "line 1: expected an offset, got '+'"),
    ("movsx864 %r1, 3", 1, "line 1: expected a register %r0..%r15, got '3'"),
    ("lddw %r1, map_value", 1, "line 1: expected N or N+OFF, got ''"),
    ("call local", 1, "line 1: expected +N, -N or a label, got ''"),
]


@pytest.mark.parametrize(("source", "line", "message"), ERRORS, ids=[m for _, _, m in ERRORS])
def test_error(source: str, line: int, message: str) -> None:
    with pytest.raises(AsmError) as info:
        assemble(source)
    assert message in str(info.value)
    assert info.value.line == line


def test_disassemble_refuses_a_partial_slot() -> None:
    with pytest.raises(AsmError, match="12 bytes, not a multiple of 8"):
        disassemble(bytes(12))


# ---- disassembly text ------------------------------------------------------

LINES = [
    ("07 01 0000 02000000", "add %r1, 2"),
    ("0f 21 0000 00000000", "add %r1, %r2"),
    ("b7 01 0000 ffffffff", "mov %r1, -1"),
    ("b7 01 0000 78563412", "mov %r1, 0x12345678"),
    ("b7 01 0000 00000080", "mov %r1, -0x80000000"),
    ("37 01 0100 03000000", "sdiv %r1, 3"),
    ("bf 21 1000 00000000", "movsx1664 %r1, %r2"),
    ("84 03 0000 00000000", "neg32 %r3"),
    ("d4 01 0000 10000000", "le16 %r1"),
    ("d7 01 0000 40000000", "bswap64 %r1"),
    ("15 01 0100 33000000", "jeq %r1, 51, +1"),
    ("de a0 0000 00000000", "jsle32 %r0, %r10, +0"),
    ("05 00 ffff 00000000", "ja -1"),
    ("06 00 0000 70110100", "ja32 +70000"),
    ("85 00 0000 01000000", "call 1"),
    ("85 10 0000 fdffffff", "call local -3"),
    ("8d 05 0000 00000000", "callx %r5"),
    ("95 00 0000 00000000", "exit"),
    ("61 21 0000 00000000", "ldxw %r1, [%r2]"),
    ("91 21 fcff 00000000", "ldxsb %r1, [%r2-4]"),
    ("7a 01 0200 fbffffff", "stdw [%r1+2], -5"),
    ("63 1a f8ff 00000000", "stxw [%r10-8], %r1"),
    ("db 1a f8ff f1000000", "lock_cmpxchg [%r10-8], %r1"),
    ("c3 32 0400 a1000000", "lock_fetch_xor32 [%r2+4], %r3"),
    ("18 01 0000 88776655  00 00 0000 44332211", "lddw %r1, 0x1122334455667788"),
    ("18 00 0000 ffffffff  00 00 0000 ffffffff", "lddw %r0, -1"),
    ("18 00 0000 00000000  00 00 0000 00000080", "lddw %r0, 0x8000000000000000"),
    ("18 11 0000 03000000  00 00 0000 00000000", "lddw %r1, map_fd 3"),
    ("18 21 0000 03000000  00 00 0000 08000000", "lddw %r1, map_value 3+8"),
    ("18 21 0000 03000000  00 00 0000 f8ffffff", "lddw %r1, map_value 3-8"),
    ("18 42 0000 05000000  00 00 0000 00000000", "lddw %r2, func +5"),
    ("18 62 0000 01000000  00 00 0000 10000000", "lddw %r2, map_idx_value 1+16"),
    ("30 00 0000 04000000", "ldabsb 4"),
    ("50 20 0000 04000000", "ldindb %r2, 4"),
    # no canonical line: kept as .raw
    ("ff 00 0000 00000000", ".raw 0x00000000000000ff"),  # unknown opcode
    ("95 01 0000 00000000", ".raw 0x0000000000000195"),  # exit with a dst
    ("07 21 0000 02000000", ".raw 0x0000000200002107"),  # add imm with a src
    ("07 01 0100 02000000", ".raw 0x0000000200010107"),  # add with offset 1
    ("3f 21 0200 00000000", ".raw 0x000000000002213f"),  # div with offset 2
    ("8f 01 0000 00000000", ".raw 0x000000000000018f"),  # neg with SRC_X
    ("d4 01 0000 30000000", ".raw 0x00000030000001d4"),  # le48
    ("bc 21 2000 00000000", ".raw 0x00000000002021bc"),  # movsx3232
    ("61 21 0000 01000000", ".raw 0x0000000100002161"),  # ldxw with an imm
    ("85 20 0000 05000000", ".raw 0x0000000500002085"),  # kfunc call
    ("86 00 0000 01000000", ".raw 0x0000000100000086"),  # call in JMP32
    ("db 1a f8ff 02000000", ".raw 0x00000002fff81adb"),  # unknown atomic op
    ("18 01 0000 01000000", ".raw 0x0000000100000118"),  # lddw cut off by the end
    (
        "18 71 0000 01000000  00 00 0000 00000000",
        ".raw 0x0000000100007118\n.raw 0x0000000000000000",
    ),
    (
        "18 00 0000 00000000  00 01 0000 00000000",
        ".raw 0x0000000000000018\n.raw 0x0000000000000100",
    ),
]


@pytest.mark.parametrize(("code", "text"), LINES, ids=[t for _, t in LINES])
def test_disassembly_line(code: str, text: str) -> None:
    assert disassemble(h(code)) == text + "\n"
    assert assemble(text) == h(code)


def test_disassembly_of_a_program() -> None:
    code = assemble("mov %r0, 0\nlddw %r1, 5\njne %r1, %r0, +1\nexit\n.raw 0xff")
    assert disassemble(code) == (
        "mov %r0, 0\nlddw %r1, 5\njne %r1, %r0, +1\nexit\n.raw 0x00000000000000ff\n"
    )
    assert disassemble(b"") == ""


# ---- properties ------------------------------------------------------------

reg = st.integers(0, 15).map(lambda n: f"%r{n}")
imm32 = st.integers(-(2**31), 2**32 - 1).flatmap(lambda v: st.sampled_from([str(v), hex(v)]))
imm64 = st.integers(-(2**63), 2**64 - 1).map(hex)
off16 = st.integers(-(2**15), 2**15 - 1).map(lambda v: f"{v:+d}")
off32 = st.integers(-(2**31), 2**31 - 1).map(lambda v: f"{v:+d}")
mem = st.builds(lambda r, o: f"[{r}{o}]", reg, off16)
source = st.one_of(reg, imm32)


def names(*groups: str) -> st.SearchStrategy[str]:
    return st.sampled_from(" ".join(groups).split())


ALU = "add sub mul div or and lsh rsh mod xor mov arsh sdiv smod"
ALU_NAMES = ALU + " " + " ".join(n + "32" for n in ALU.split())
JCC = "jeq jgt jge jset jne jsgt jsge jlt jle jslt jsle"
JCC_NAMES = JCC + " " + " ".join(n + "32" for n in JCC.split())
ATOMIC = "lock_add lock_or lock_and lock_xor lock_fetch_add lock_fetch_or lock_fetch_and"
ATOMIC += " lock_fetch_xor lock_xchg lock_cmpxchg"
ATOMIC_NAMES = ATOMIC + " " + " ".join(n + "32" for n in ATOMIC.split())
PSEUDO = st.one_of(
    st.builds(lambda k, n: f"{k} {n}", names("map_fd btf_id map_idx"), imm32),
    st.builds(lambda k, n, o: f"{k} {n}{o}", names("map_value map_idx_value"), imm32, off32),
    off32.map(lambda o: f"func {o}"),
)

instruction = st.one_of(
    st.builds(lambda m, d, s: f"{m} {d}, {s}", names(ALU_NAMES), reg, source),
    st.builds(
        lambda m, d: f"{m} {d}",
        names("neg neg32 le16 le32 le64 be16 be32 be64 bswap16 bswap32 bswap64 callx"),
        reg,
    ),
    st.builds(
        lambda m, d, s: f"{m} {d}, {s}",
        names("movsx864 movsx1664 movsx3264 movsx832 movsx1632"),
        reg,
        reg,
    ),
    st.builds(lambda m, d, s, o: f"{m} {d}, {s}, {o}", names(JCC_NAMES), reg, source, off16),
    off16.map(lambda o: f"ja {o}"),
    st.builds(lambda m, o: f"{m} {o}", names("ja32 gotol"), off32),
    imm32.map(lambda n: f"call {n}"),
    off32.map(lambda o: f"call local {o}"),
    st.just("exit"),
    st.builds(
        lambda m, d, a: f"{m} {d}, {a}", names("ldxb ldxh ldxw ldxdw ldxsb ldxsh ldxsw"), reg, mem
    ),
    st.builds(lambda m, a, n: f"{m} {a}, {n}", names("stb sth stw stdw"), mem, imm32),
    st.builds(
        lambda m, a, s: f"{m} {a}, {s}", names("stxb stxh stxw stxdw", ATOMIC_NAMES), mem, reg
    ),
    st.builds(lambda m, n: f"{m} {n}", names("ldabsb ldabsh ldabsw ldabsdw"), imm32),
    st.builds(lambda m, s, n: f"{m} {s}, {n}", names("ldindb ldindh ldindw ldinddw"), reg, imm32),
    st.builds(lambda d, v: f"lddw {d}, {v}", reg, st.one_of(imm64, PSEUDO)),
)

# words near the valid ones: a real opcode with fields that are often, not always, zero
OPCODES = [
    0x04, 0x05, 0x06, 0x07, 0x0C, 0x0F, 0x14, 0x15, 0x16, 0x17, 0x18, 0x1C, 0x1D, 0x1E, 0x1F,
    0x20, 0x28, 0x30, 0x34, 0x37, 0x38, 0x3C, 0x3F, 0x40, 0x48, 0x50, 0x58, 0x61, 0x62, 0x63,
    0x69, 0x6A, 0x6B, 0x71, 0x72, 0x73, 0x79, 0x7A, 0x7B, 0x81, 0x84, 0x85, 0x87, 0x89, 0x8D,
    0x91, 0x94, 0x95, 0x97, 0x9C, 0x9F, 0xB4, 0xB7, 0xBC, 0xBF, 0xC3, 0xD4, 0xD7, 0xDB, 0xDC,
]  # fmt: skip
small = st.one_of(st.just(0), st.integers(0, 0xFF))
near_valid = st.builds(
    lambda o, regs, off, imm: (
        bytes([o, regs]) + off.to_bytes(2, "little") + imm.to_bytes(4, "little")
    ),
    st.sampled_from([*OPCODES, 0x00]),
    small,
    st.one_of(st.just(0), st.sampled_from([1, 8, 16, 32]), st.integers(0, 0xFFFF)),
    st.one_of(
        st.just(0), st.sampled_from([16, 32, 64, 0x01, 0x41, 0xE1, 0xF1]), st.integers(0, 2**32 - 1)
    ),
)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=256))
def test_any_bytes_round_trip(data: bytes) -> None:
    code = data[: len(data) - len(data) % 8]
    assert assemble(disassemble(code)) == code


@settings(max_examples=500, deadline=None)
@given(st.lists(near_valid, max_size=24))
def test_near_valid_words_round_trip(words: list[bytes]) -> None:
    code = b"".join(words)
    assert assemble(disassemble(code)) == code


@settings(max_examples=500, deadline=None)
@given(st.lists(instruction, max_size=24))
def test_valid_instructions_print_canonically(lines: list[str]) -> None:
    code = assemble("\n".join(lines))
    text = disassemble(code)
    assert ".raw" not in text
    assert len(text.splitlines()) == len(lines)
    assert assemble(text) == code
    assert disassemble(assemble(text)) == text
