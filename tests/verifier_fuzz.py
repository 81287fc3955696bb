"""Mutation fuzzing of the verifier: mutated valid programs must be accepted or
refused with a VerifierError, never crash it or hang it.

``python tests/verifier_fuzz.py [SECONDS] [SEED]`` runs the long campaign (default 60 s)
and prints every crash; tests/test_verifier_fuzz.py runs a short one under hypothesis.
"""

from __future__ import annotations

import contextlib
import random
import struct
import sys
import time
import traceback
from pathlib import Path

from bpftime import elf
from bpftime.errors import VerifierError
from bpftime.verifier import MapInfo, verify
from bpftime.verify_spec import map_infos

CORPUS = Path(__file__).parent / "verifier"
MAX_STEPS = 3000
_SLOT = struct.Struct("<BBhi")


def seeds() -> list[tuple[bytes, str, str, list[MapInfo]]]:
    """(code, program type, section, maps) of every accepted corpus program."""
    out = []
    for path in sorted(CORPUS.glob("accept_*.bpf.o")):
        spec = elf.load_spec(path)
        maps = map_infos(spec)
        for ps in spec.programs.values():
            out.append((ps.insns, ps.kind, ps.section, maps))
    return out


def mutate(code: bytes, rng: random.Random, n: int = 3) -> bytes:
    """Change a few slots: a field, a whole slot, a byte, or swap two slots."""
    buf = bytearray(code)
    slots = len(buf) // 8
    for _ in range(n):
        i = rng.randrange(slots)
        opcode, regs, off, imm = _SLOT.unpack_from(buf, i * 8)
        what = rng.randrange(6)
        if what == 0:
            off = rng.choice((off + 1, off - 1, -off, rng.randrange(-64, 64)))
            off = max(-32768, min(32767, off))
        elif what == 1:
            imm = rng.choice((imm + 1, imm - 1, 0, -1, 1 << 30, rng.randrange(-512, 512)))
            imm = max(-(1 << 31), min((1 << 31) - 1, imm))
        elif what == 2:
            regs = rng.randrange(256) if rng.random() < 0.2 else (regs & 0xF0) | rng.randrange(11)
        elif what == 3:
            regs = (regs & 0x0F) | rng.randrange(11) << 4
        elif what == 4:
            opcode = rng.randrange(256)
        else:
            j = rng.randrange(slots)
            a, b = bytes(buf[i * 8 : i * 8 + 8]), bytes(buf[j * 8 : j * 8 + 8])
            buf[i * 8 : i * 8 + 8], buf[j * 8 : j * 8 + 8] = b, a
            continue
        _SLOT.pack_into(buf, i * 8, opcode, regs, off, imm)
    return bytes(buf)


def check(code: bytes, kind: str, section: str, maps: list[MapInfo]) -> None:
    """Accepts or raises VerifierError; anything else propagates."""
    with contextlib.suppress(VerifierError):
        verify(code, kind, maps, section=section, max_steps=MAX_STEPS)


def campaign(seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    pool = seeds()
    runs = crashes = 0
    slowest = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        code, kind, section, maps = rng.choice(pool)
        mutated = mutate(code, rng, rng.randrange(1, 6))
        t0 = time.monotonic()
        try:
            check(mutated, kind, section, maps)
        except Exception:
            crashes += 1
            print(f"CRASH on {mutated.hex()} ({kind}, {section}):")
            traceback.print_exc()
        slowest = max(slowest, time.monotonic() - t0)
        runs += 1
    print(f"{runs} mutated programs, {crashes} crashes, slowest {slowest:.3f} s")
    return 1 if crashes else 0


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    sys.exit(campaign(secs, int(sys.argv[2]) if len(sys.argv) > 2 else 1))
