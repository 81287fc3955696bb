"""Hypothesis: random mutations of accepted programs never crash or hang the verifier."""

from __future__ import annotations

import random
import time

import verifier_fuzz
from hypothesis import given, settings
from hypothesis import strategies as st

SEEDS = verifier_fuzz.seeds()
# one mutated program must finish well within this (max_steps bounds the work)
PER_PROGRAM_S = 10.0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_mutations_never_crash(which: int, seed: int, n: int) -> None:
    code, kind, section, maps = SEEDS[which]
    mutated = verifier_fuzz.mutate(code, random.Random(seed), n)
    t0 = time.monotonic()
    verifier_fuzz.check(mutated, kind, section, maps)
    assert time.monotonic() - t0 < PER_PROGRAM_S
