"""The verifier's numeric domain: 64-bit scalars as known bits plus value ranges.

Owns ``Scalar``: one abstract 64-bit value, described at once by a tnum (the
kernel's "tristate number": ``value`` holds the bits known to be 1, ``mask`` the
unknown bits) and by unsigned and signed bounds. Every operation keeps the four
views consistent (``_norm``), the way the kernel's ``reg_bounds_sync`` does, so
a bound learned from one view (``if r1 < 10``) sharpens the others.

    tnum  value 0b0100, mask 0b0011   ->  the value is one of 4, 5, 6, 7
    umin 4, umax 7, smin 4, smax 7

ALU32 results are computed on the 32-bit view (the low half, zero-extended)
and then read back as a 64-bit value whose upper half is zero.

Does not own: pointers, types or memory (``verifier.py``). Does not track
relations between registers (PREVAIL's zone domain): ``r1 < r2`` refines
each side's bounds only.
"""

from __future__ import annotations

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1


def s64(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= U32
    return v - (1 << 32) if v >> 31 else v


def _tnum_range(lo: int, hi: int) -> tuple[int, int]:
    """The smallest tnum holding every value in [lo, hi] (unsigned)."""
    chi = lo ^ hi
    bits = chi.bit_length()
    if bits > 63:
        return 0, U64
    delta = (1 << bits) - 1
    return lo & ~delta, delta


class Scalar:
    """An abstract 64-bit value; instances are immutable."""

    __slots__ = ("mask", "smax", "smin", "umax", "umin", "value")

    def __init__(self, value: int, mask: int, umin: int, umax: int, smin: int, smax: int) -> None:
        self.value = value
        self.mask = mask
        self.umin = umin
        self.umax = umax
        self.smin = smin
        self.smax = smax

    # --- construction -----------------------------------------------------

    @staticmethod
    def const(v: int) -> Scalar:
        v &= U64
        sv = s64(v)
        return Scalar(v, 0, v, v, sv, sv)

    @staticmethod
    def unknown() -> Scalar:
        return _UNKNOWN

    @staticmethod
    def urange(lo: int, hi: int) -> Scalar:
        r = _norm(0, U64, lo, hi, S64_MIN, S64_MAX)
        assert r is not None
        return r

    @staticmethod
    def srange(lo: int, hi: int) -> Scalar:
        r = _norm(0, U64, 0, U64, lo, hi)
        assert r is not None
        return r

    @staticmethod
    def bits(value: int, mask: int) -> Scalar:
        r = _norm(value, mask, 0, U64, S64_MIN, S64_MAX)
        assert r is not None
        return r

    # --- queries ------------------------------------------------------------

    @property
    def is_const(self) -> bool:
        return self.mask == 0

    @property
    def is_unknown(self) -> bool:
        return self.mask == U64 and self.umin == 0 and self.umax == U64

    def contains(self, other: Scalar) -> bool:
        """Every value ``other`` may hold is one this may hold (for state pruning)."""
        if other.umin < self.umin or other.umax > self.umax:
            return False
        if other.smin < self.smin or other.smax > self.smax:
            return False
        if other.mask & ~self.mask:
            return False
        return (other.value & ~self.mask) == self.value

    def may_be(self, v: int) -> bool:
        v &= U64
        sv = s64(v)
        return (
            self.umin <= v <= self.umax
            and self.smin <= sv <= self.smax
            and (v & ~self.mask) == self.value
        )

    def low32(self) -> Scalar:
        """The low 32 bits, zero-extended (what an ALU32 operation reads)."""
        v, m = self.value & U32, self.mask & U32
        if self.umax - self.umin <= U32 and (self.umin >> 32) == (self.umax >> 32):
            lo, hi = self.umin & U32, self.umax & U32
        else:
            lo, hi = 0, U32
        r = _norm(v, m, lo, hi, 0, U32)
        return r if r is not None else Scalar.urange(0, U32)

    def sext32(self) -> Scalar:
        """The low 32 bits read as a signed value and sign-extended to 64 bits."""
        lo32 = self.low32()
        if lo32.umax <= S32_MAX:
            return lo32
        if lo32.umin > S32_MAX:
            return Scalar.srange(s32(lo32.umin), s32(lo32.umax))
        return Scalar.srange(S32_MIN, S32_MAX)

    def __repr__(self) -> str:
        if self.is_const:
            return str(s64(self.value)) if self.value >> 63 else str(self.value)
        if self.is_unknown:
            return "scalar"
        parts = []
        if self.umin or self.umax != U64:
            parts.append(f"u[{self.umin}, {self.umax}]")
        signed = self.smin != S64_MIN or self.smax != S64_MAX
        if signed and not (self.smin == self.umin and self.smax == self.umax):
            parts.append(f"s[{self.smin}, {self.smax}]")
        if self.mask != U64:
            parts.append(f"bits({self.value:#x}, {self.mask:#x})")
        return "scalar(" + ", ".join(parts) + ")"

    def key(self) -> tuple[int, int, int, int, int, int]:
        return (self.value, self.mask, self.umin, self.umax, self.smin, self.smax)


def _norm(value: int, mask: int, umin: int, umax: int, smin: int, smax: int) -> Scalar | None:
    """Make the four views agree; None when they contradict (an impossible branch)."""
    for _ in range(2):
        # tnum -> unsigned bounds
        umin = max(umin, value)
        umax = min(umax, value | mask)
        if umin > umax:
            return None
        # signed <-> unsigned
        if smin >= 0:
            umin, umax = max(umin, smin), min(umax, smax)
        elif smax < 0:
            umin, umax = max(umin, smin & U64), min(umax, smax & U64)
        if umin > umax:
            return None
        if umax <= S64_MAX or umin > S64_MAX:
            smin, smax = max(smin, s64(umin)), min(smax, s64(umax))
        if smin > smax:
            return None
        # bounds -> tnum (intersection; known bits that disagree are a contradiction)
        rv, rm = _tnum_range(umin, umax)
        if (value ^ rv) & ~(mask | rm):
            return None
        mask &= rm
        value = (value | rv) & ~mask
    return Scalar(value, mask, umin, umax, smin, smax)


_UNKNOWN = Scalar(0, U64, 0, U64, S64_MIN, S64_MAX)
UNKNOWN = _UNKNOWN


def make(value: int, mask: int, umin: int, umax: int, smin: int, smax: int) -> Scalar | None:
    return _norm(value, mask, umin, umax, smin, smax)


# --- tnum arithmetic (the kernel's kernel/bpf/tnum.c) -------------------------


def _t_add(a: Scalar, b: Scalar) -> tuple[int, int]:
    sm = (a.mask + b.mask) & U64
    sv = (a.value + b.value) & U64
    sigma = (sm + sv) & U64
    chi = sigma ^ sv
    mu = chi | a.mask | b.mask
    return sv & ~mu & U64, mu & U64


def _t_sub(a: Scalar, b: Scalar) -> tuple[int, int]:
    dv = (a.value - b.value) & U64
    alpha = (dv + a.mask) & U64
    beta = (dv - b.mask) & U64
    chi = alpha ^ beta
    mu = chi | a.mask | b.mask
    return dv & ~mu & U64, mu & U64


def _t_mul(a: Scalar, b: Scalar) -> tuple[int, int]:
    av, am, bv, bm = a.value, a.mask, b.value, b.mask
    acc_v = (av * bv) & U64
    acc_mv, acc_mm = 0, 0
    while av or am:
        if av & 1:
            acc_mv, acc_mm = _t_add_raw(acc_mv, acc_mm, 0, bm)
        elif am & 1:
            acc_mv, acc_mm = _t_add_raw(acc_mv, acc_mm, 0, bv | bm)
        av, am = av >> 1, am >> 1
        bv, bm = (bv << 1) & U64, (bm << 1) & U64
    return _t_add_raw(acc_v, 0, acc_mv, acc_mm)


def _t_add_raw(av: int, am: int, bv: int, bm: int) -> tuple[int, int]:
    sm = (am + bm) & U64
    sv = (av + bv) & U64
    sigma = (sm + sv) & U64
    chi = sigma ^ sv
    mu = chi | am | bm
    return sv & ~mu & U64, mu & U64


# --- ALU64 --------------------------------------------------------------------


def add(a: Scalar, b: Scalar) -> Scalar:
    v, m = _t_add(a, b)
    umin, umax = a.umin + b.umin, a.umax + b.umax
    if umax > U64:
        umin, umax = 0, U64
    smin, smax = a.smin + b.smin, a.smax + b.smax
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    return _fix(v, m, umin, umax, smin, smax)


def sub(a: Scalar, b: Scalar) -> Scalar:
    v, m = _t_sub(a, b)
    if a.umin >= b.umax:
        umin, umax = a.umin - b.umax, a.umax - b.umin
    else:
        umin, umax = 0, U64
    smin, smax = a.smin - b.smax, a.smax - b.smin
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    return _fix(v, m, umin, umax, smin, smax)


def mul(a: Scalar, b: Scalar) -> Scalar:
    v, m = _t_mul(a, b)
    umin, umax = 0, U64
    if a.umax * b.umax <= U64:
        umin, umax = a.umin * b.umin, a.umax * b.umax
    smin, smax = S64_MIN, S64_MAX
    prods = (a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax)
    if min(prods) >= S64_MIN and max(prods) <= S64_MAX:
        smin, smax = min(prods), max(prods)
    return _fix(v, m, umin, umax, smin, smax)


def and_(a: Scalar, b: Scalar) -> Scalar:
    v = a.value & b.value
    m = (a.value | a.mask) & (b.value | b.mask) & ~v
    umax = min(a.umax, b.umax)
    smin, smax = S64_MIN, S64_MAX
    if a.smin >= 0 or b.smin >= 0:
        smin, smax = 0, S64_MAX
    return _fix(v, m, v, umax, smin, smax)


def or_(a: Scalar, b: Scalar) -> Scalar:
    v = a.value | b.value
    m = (a.mask | b.mask) & ~v
    return _fix(v, m, max(a.umin, b.umin), U64, S64_MIN, S64_MAX)


def xor(a: Scalar, b: Scalar) -> Scalar:
    v = a.value ^ b.value
    m = a.mask | b.mask
    return _fix(v & ~m, m, 0, U64, S64_MIN, S64_MAX)


def lsh(a: Scalar, b: Scalar, width: int = 64) -> Scalar:
    if not b.is_const:
        return _UNKNOWN if width == 64 else Scalar.urange(0, U32)
    k = b.value & (width - 1)
    lim = U64 if width == 64 else U32
    v, m = (a.value << k) & lim, (a.mask << k) & lim
    if (a.umax << k) <= lim:
        return _fix(v, m, a.umin << k, a.umax << k, S64_MIN, S64_MAX)
    return _fix(v, m, 0, lim, S64_MIN, S64_MAX)


def rsh(a: Scalar, b: Scalar, width: int = 64) -> Scalar:
    if not b.is_const:
        return Scalar.urange(0, a.umax)
    k = b.value & (width - 1)
    return _fix(a.value >> k, a.mask >> k, a.umin >> k, a.umax >> k, S64_MIN, S64_MAX)


def arsh(a: Scalar, b: Scalar) -> Scalar:
    if not b.is_const:
        return Scalar.srange(min(a.smin, 0), max(a.smax, 0))
    k = b.value & 63
    sv = s64(a.value)
    if a.mask >> 63:  # sign unknown: the shifted-in bits are unknown too
        m = (a.mask >> k) | (U64 ^ (U64 >> k))
        v = (a.value >> k) & ~m
    else:
        m = a.mask >> k
        v = (sv >> k) & U64
    return _fix(v & ~m, m, 0, U64, a.smin >> k, a.smax >> k)


def udiv(a: Scalar, b: Scalar) -> Scalar:
    if a.is_const and b.is_const:
        return Scalar.const(a.value // b.value if b.value else 0)
    if b.umin > 0:
        return Scalar.urange(a.umin // b.umax, a.umax // b.umin)
    return Scalar.urange(0, a.umax)


def umod(a: Scalar, b: Scalar) -> Scalar:
    if a.is_const and b.is_const:
        return Scalar.const(a.value % b.value if b.value else a.value)
    if b.umin > 0:
        if a.umax < b.umin:
            return a
        return Scalar.urange(0, min(a.umax, b.umax - 1))
    return Scalar.urange(0, a.umax)


def sdiv(a: Scalar, b: Scalar, width: int = 64) -> Scalar:
    if a.is_const and b.is_const:
        x, y = _sw(a.value, width), _sw(b.value, width)
        if y == 0:
            return Scalar.const(0)
        q = abs(x) // abs(y)
        return Scalar.const(-q if (x < 0) != (y < 0) else q)
    return _UNKNOWN


def smod(a: Scalar, b: Scalar, width: int = 64) -> Scalar:
    if a.is_const and b.is_const:
        x, y = _sw(a.value, width), _sw(b.value, width)
        if y == 0:
            return Scalar.const(x)
        r = abs(x) % abs(y)
        return Scalar.const(-r if x < 0 else r)
    return _UNKNOWN


def _sw(v: int, width: int) -> int:
    return s64(v) if width == 64 else s32(v)


def neg(a: Scalar) -> Scalar:
    return sub(Scalar.const(0), a)


def bswap(a: Scalar, bits: int, to_le: bool) -> Scalar:
    """Byte swap / truncation (BPF_END); exact on constants, width-bounded otherwise."""
    lim = (1 << bits) - 1
    if a.is_const:
        v = a.value & lim
        if not to_le:
            v = int.from_bytes(v.to_bytes(bits // 8, "little"), "big")
        return Scalar.const(v)
    if to_le:
        return trunc(a, bits // 8)
    return Scalar.urange(0, lim)


def trunc(a: Scalar, size: int) -> Scalar:
    """The low ``size`` bytes, zero-extended."""
    if size == 8:
        return a
    lim = (1 << (8 * size)) - 1
    if a.umax <= lim:
        return a
    if (a.umin >> (8 * size)) == (a.umax >> (8 * size)):
        lo, hi = a.umin & lim, a.umax & lim
    else:
        lo, hi = 0, lim
    r = _norm(a.value & lim, a.mask & lim, lo, hi, 0, lim)
    return r if r is not None else Scalar.urange(0, lim)


def sext(a: Scalar, size: int) -> Scalar:
    """The low ``size`` bytes, sign-extended to 64 bits."""
    if size == 8:
        return a
    bits = 8 * size
    t = trunc(a, size)
    half = 1 << (bits - 1)
    if t.umax < half:
        return t
    if t.is_const:
        return Scalar.const(t.value - (1 << bits))
    if t.umin >= half:
        return Scalar.srange(t.umin - (1 << bits), t.umax - (1 << bits))
    return Scalar.srange(-half, half - 1)


def _fix(v: int, m: int, umin: int, umax: int, smin: int, smax: int) -> Scalar:
    r = _norm(v & ~m & U64, m & U64, umin, umax, smin, smax)
    if r is None:  # imprecise views disagreed; keep the tnum alone
        r = _norm(v & ~m & U64, m & U64, 0, U64, S64_MIN, S64_MAX)
    assert r is not None
    return r


# --- branch refinement --------------------------------------------------------


def refine(a: Scalar, b: Scalar, cond: str, taken: bool) -> tuple[Scalar, Scalar] | None:
    """Refine ``a`` and ``b`` knowing ``a cond b`` is ``taken``; None if impossible.

    ``cond`` is one of eq ne gt ge lt le sgt sge slt sle set (64-bit compares).
    """
    if not taken:
        cond = _NEGATE[cond]
        if cond == "nset":
            if b.is_const:
                r = _norm(a.value, a.mask & ~b.value, a.umin, a.umax, a.smin, a.smax)
                if r is None or (a.value & b.value):
                    return None
                return r, b
            return a, b
    if cond == "set":
        if b.is_const and b.value:
            if not ((a.value | a.mask) & b.value):
                return None
            if b.value & (b.value - 1) == 0:
                r = _norm(a.value | b.value, a.mask & ~b.value, a.umin, a.umax, a.smin, a.smax)
                return (r, b) if r is not None else None
            return a, b
        if b.is_const:
            return None
        return a, b
    if cond == "eq":
        v = a.value | b.value
        m = a.mask & b.mask
        if (a.value ^ b.value) & ~(a.mask | b.mask):
            return None
        r = _norm(
            v & ~m, m, max(a.umin, b.umin), min(a.umax, b.umax),
            max(a.smin, b.smin), min(a.smax, b.smax),
        )  # fmt: skip
        return (r, r) if r is not None else None
    if cond == "ne":
        if a.is_const and b.is_const and a.value == b.value:
            return None
        if b.is_const:
            a2 = _exclude(a, b.value)
            return (a2, b) if a2 is not None else None
        if a.is_const:
            b2 = _exclude(b, a.value)
            return (a, b2) if b2 is not None else None
        return a, b
    if cond in ("gt", "ge", "lt", "le"):
        if cond in ("lt", "le"):
            rr = refine(b, a, "gt" if cond == "lt" else "ge", True)
            return (rr[1], rr[0]) if rr is not None else None
        d = 1 if cond == "gt" else 0
        # a > b: a.umin >= b.umin + d, b.umax <= a.umax - d
        a2 = _norm(a.value, a.mask, max(a.umin, b.umin + d), a.umax, a.smin, a.smax)
        if a2 is None or a.umax < d:
            return None
        b2 = _norm(b.value, b.mask, b.umin, min(b.umax, a.umax - d), b.smin, b.smax)
        if b2 is None:
            return None
        return a2, b2
    # signed
    if cond in ("slt", "sle"):
        rr = refine(b, a, "sgt" if cond == "slt" else "sge", True)
        return (rr[1], rr[0]) if rr is not None else None
    d = 1 if cond == "sgt" else 0
    if a.smax < S64_MIN + d:
        return None
    a2 = _norm(a.value, a.mask, a.umin, a.umax, max(a.smin, b.smin + d), a.smax)
    if a2 is None:
        return None
    b2 = _norm(b.value, b.mask, b.umin, b.umax, b.smin, min(b.smax, a.smax - d))
    if b2 is None:
        return None
    return a2, b2


def _exclude(a: Scalar, v: int) -> Scalar | None:
    """``a`` knowing it is not ``v``: trims a bound that equals ``v``."""
    if a.is_const:
        return None if a.value == v else a
    umin, umax, smin, smax = a.umin, a.umax, a.smin, a.smax
    if umin == v:
        umin += 1
    if umax == v:
        umax -= 1
    sv = s64(v)
    if smin == sv:
        smin += 1
    if smax == sv:
        smax -= 1
    return _norm(a.value, a.mask, umin, umax, smin, smax)


_NEGATE = {
    "eq": "ne", "ne": "eq", "gt": "le", "ge": "lt", "lt": "ge", "le": "gt",
    "sgt": "sle", "sge": "slt", "slt": "sge", "sle": "sgt", "set": "nset",
}  # fmt: skip
