"""Raw instruction encoding for tests, independent of the assembler under test."""

from __future__ import annotations

import struct


def ins(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One raw instruction slot."""
    return struct.pack("<BBhi", opcode, dst | (src << 4), off, imm)


def lddw(dst: int, value: int, src: int = 0) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF
    lo, hi = value & 0xFFFFFFFF, value >> 32
    return struct.pack("<BBhI", 0x18, dst | (src << 4), 0, lo) + struct.pack("<BBhI", 0, 0, 0, hi)
