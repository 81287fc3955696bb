"""BTF parsing, type queries and value decoding/encoding.

Every committed object's BTF is compared type by type with bpftool's dump of it; a
hand-assembled BTF blob covers every kind (including ENUM64, FLOAT, DECL_TAG and
TYPE_TAG, which clang 14 does not emit) with expected values worked out by hand.
"""

from __future__ import annotations

import struct

import pytest
from elfutil import OBJECTS, bpftool_dump, obj, section

from bpftime.btf import Btf, BtfExt, CoreKind, Kind
from bpftime.errors import ElfError

# -- every object against bpftool ----------------------------------------------------

_LINKAGE = {"static": 0, "global": 1, "extern": 2}
_ENCODING = {"(none)": 0, "SIGNED": 1, "CHAR": 2, "BOOL": 4}


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_btf_matches_bpftool(path):
    """Every type of every object as bpftool dumps it (probes.bpf.c has tags and a float)."""
    btf = Btf.parse(section(path, ".BTF"))
    dump = bpftool_dump(path)
    assert len(btf) == len(dump) + 1
    for d in dump:
        t = btf.type(d.id)
        a = d.attrs
        assert (t.kind.name, t.name) == (d.kind, d.name), d.id
        if "size" in a:
            assert t.size == int(a["size"]), d.id
        for key in ("type_id", "ret_type_id"):
            if key in a:
                assert t.type == int(a[key]), d.id
        if d.kind == "INT":
            assert (t.bit_offset, t.bits) == (int(a["bits_offset"]), int(a["nr_bits"]))
            assert t.encoding == _ENCODING[a["encoding"]]
        if d.kind == "ARRAY":
            assert (t.index_type, t.nelems) == (int(a["index_type_id"]), int(a["nr_elems"]))
        if d.kind in ("FUNC", "VAR"):
            assert t.linkage == _LINKAGE[a["linkage"]], d.id
        if d.kind == "DECL_TAG":
            assert t.component_idx == int(a["component_idx"])
        if d.kind == "FWD":
            assert t.kind_flag == (a["fwd_kind"] == "union")
        if d.kind in ("STRUCT", "UNION"):
            got = [(m.name, m.type, m.bit_offset, m.bitfield_size) for m in t.members]
            want = [
                (
                    i["name"],
                    int(i["type_id"]),
                    int(i["bits_offset"]),
                    int(i.get("bitfield_size", 0)),
                )
                for i in d.items
            ]
            assert got == want, d.id
        if d.kind == "ENUM":
            assert [(e.name, e.value) for e in t.enumerators] == [
                (i["name"], int(i["val"])) for i in d.items
            ]
        if d.kind == "FUNC_PROTO":
            assert [(p.name, p.type) for p in t.params] == [
                (i["name"], int(i["type_id"])) for i in d.items
            ]
        if d.kind == "DATASEC":
            assert [(v.type, v.offset, v.size) for v in t.vars] == [
                (int(i["type_id"]), int(i["offset"]), int(i["size"])) for i in d.items
            ]


# -- a hand-assembled blob with every kind -------------------------------------------


class _Blob:
    """Assembles raw BTF (header, types, strings) independently of bpftime.btf."""

    def __init__(self) -> None:
        self.strings = b"\0"
        self.types = b""

    def s(self, name: str) -> int:
        if not name:
            return 0
        off = len(self.strings)
        self.strings += name.encode() + b"\0"
        return off

    def t(self, name: str, kind: int, vlen: int = 0, kflag: int = 0, sot: int = 0, tail=b""):
        info = (kflag << 31) | (kind << 24) | vlen
        self.types += struct.pack("<III", self.s(name), info, sot) + tail

    def bytes(self) -> bytes:
        hdr = struct.pack(
            "<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types), len(self.types), len(self.strings)
        )
        return hdr + self.types + self.strings


def _all_kinds() -> bytes:
    b = _Blob()
    u32 = struct.Struct("<I")
    b.t("int", 1, sot=4, tail=u32.pack((1 << 24) | 32))  # [1]
    b.t("unsigned int", 1, sot=4, tail=u32.pack(32))  # [2]
    b.t("char", 1, sot=1, tail=u32.pack((1 << 24) | 8))  # [3]
    b.t("", 2, sot=1)  # [4] int *
    b.t("", 3, tail=struct.pack("<III", 3, 1, 8))  # [5] char[8]
    # [6] struct s { int a; unsigned int b:3; int c:5; char name[8]; }  (kind_flag bitfields)
    members = struct.pack("<III", b.s("a"), 1, 0)
    members += struct.pack("<III", b.s("b"), 2, (3 << 24) | 32)
    members += struct.pack("<III", b.s("c"), 1, (5 << 24) | 35)
    members += struct.pack("<III", b.s("name"), 5, 64)
    b.t("s", 4, vlen=4, kflag=1, sot=16, tail=members)
    b.t("", 3, tail=struct.pack("<III", 9, 1, 4))  # [7] unsigned char[4]
    # [8] union u { int i; unsigned char raw[4]; }
    b.t(
        "u",
        5,
        vlen=2,
        sot=4,
        tail=struct.pack("<III", b.s("i"), 1, 0) + struct.pack("<III", b.s("raw"), 7, 0),
    )
    b.t("unsigned char", 1, sot=1, tail=u32.pack(8))  # [9]
    # [10] enum e { A = -1, B = 2 } (signed)
    b.t(
        "e",
        6,
        vlen=2,
        kflag=1,
        sot=4,
        tail=struct.pack("<Ii", b.s("A"), -1) + struct.pack("<Ii", b.s("B"), 2),
    )
    b.t("fwd", 7, kflag=1)  # [11] union fwd;
    b.t("myint", 8, sot=1)  # [12] typedef int myint
    b.t("", 9, sot=12)  # [13] volatile myint
    b.t("", 10, sot=13)  # [14] const volatile myint
    b.t("", 11, sot=4)  # [15] int *restrict
    # [16] int (int *ctx, ...)
    b.t("", 13, vlen=2, sot=1, tail=struct.pack("<II", b.s("ctx"), 4) + struct.pack("<II", 0, 0))
    b.t("f", 12, vlen=1, sot=16)  # [17] global function f
    b.t("v", 14, sot=6, tail=u32.pack(1))  # [18] global struct s v
    # [19] DATASEC .data { v @0 (16 bytes), w @16 (8 bytes) }
    b.t(
        ".data",
        15,
        vlen=2,
        sot=24,
        tail=struct.pack("<III", 18, 0, 16) + struct.pack("<III", 23, 16, 8),
    )
    b.t("double", 16, sot=8)  # [20]
    b.t("tag", 17, sot=6, tail=struct.pack("<i", 1))  # [21] decl tag on member 1 of s
    b.t("user", 18, sot=1)  # [22] int __attribute__((btf_type_tag("user")))
    b.t("w", 14, sot=24, tail=u32.pack(0))  # [23] static enum e64 w
    # [24] enum e64 { SMALL = 1, BIG = 1 << 32 } (unsigned, 8 bytes)
    b.t(
        "e64",
        19,
        vlen=2,
        sot=8,
        tail=struct.pack("<III", b.s("SMALL"), 1, 0) + struct.pack("<III", b.s("BIG"), 0, 1),
    )
    b.t("", 2, sot=22)  # [25] int __tag *
    b.t("nib", 1, sot=4, tail=u32.pack(4))  # [26] a 4-bit int (legacy bitfield encoding)
    # [27] struct old { nib x (bits 4-7); int y; }: a bitfield without kind_flag
    b.t(
        "old",
        4,
        vlen=2,
        sot=8,
        tail=struct.pack("<III", b.s("x"), 26, 4) + struct.pack("<III", b.s("y"), 1, 32),
    )
    b.t("_Bool", 1, sot=1, tail=u32.pack((4 << 24) | 8))  # [28]
    b.t("float", 16, sot=4)  # [29]
    return b.bytes()


ALL = Btf.parse(_all_kinds())


def test_every_kind_parses():
    kinds = {ALL.type(i).kind for i in range(1, len(ALL))}
    assert kinds == set(Kind) - {Kind.VOID}
    assert len(ALL) == 30


@pytest.mark.parametrize(
    "tid, text",
    [
        (1, "int"),
        (4, "int *"),
        (5, "char[8]"),
        (6, "struct s"),
        (8, "union u"),
        (10, "enum e"),
        (11, "union fwd"),
        (12, "myint"),
        (14, "const volatile myint"),
        (15, "int *restrict"),
        (16, "int (int *ctx, ...)"),
        (17, "int f(int *ctx, ...)"),
        (18, "struct s v"),
        (19, "section .data"),
        (20, "double"),
        (21, '__attribute__((btf_decl_tag("tag"))) on struct s'),
        (22, 'int __attribute__((btf_type_tag("user")))'),
        (24, "enum e64"),
        (25, 'int __attribute__((btf_type_tag("user"))) *'),
    ],
)
def test_format(tid, text):
    assert ALL.format(tid) == text


@pytest.mark.parametrize(
    "tid, size",
    [
        (1, 4),
        (3, 1),
        (4, 8),
        (5, 8),
        (6, 16),
        (8, 4),
        (10, 4),
        (14, 4),
        (18, 16),
        (19, 24),
        (20, 8),
        (24, 8),
        (27, 8),
    ],
)
def test_size_of(tid, size):
    assert ALL.size_of(tid) == size


@pytest.mark.parametrize("tid", [0, 11, 16, 17, 21])
def test_size_of_sizeless(tid):
    with pytest.raises(ElfError, match="has no size"):
        ALL.size_of(tid)


def test_resolve_skips_typedef_and_modifiers():
    assert ALL.resolve(14) == 1
    assert ALL.resolve(22) == 1
    assert ALL.resolve(4) == 4
    assert ALL.find("myint") == [12]
    assert ALL.find("e64", Kind.ENUM64) == [24]


def test_parsed_fields():
    s = ALL.type(6)
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in s.members] == [
        ("a", 0, 0),
        ("b", 32, 3),
        ("c", 35, 5),
        ("name", 64, 0),
    ]
    assert [(e.name, e.value) for e in ALL.type(10).enumerators] == [("A", -1), ("B", 2)]
    assert [(e.name, e.value) for e in ALL.type(24).enumerators] == [("SMALL", 1), ("BIG", 1 << 32)]
    assert ALL.type(11).kind_flag  # union forward declaration
    assert ALL.type(21).component_idx == 1
    assert ALL.type(17).linkage == 1
    assert ALL.type(23).linkage == 0


# -- decode / encode -----------------------------------------------------------------

# struct s { a = -2; b = 5; c = -3; name = "hi" }: c is 5 bits at bit 35 (-3 -> 0b11101)
S_BYTES = struct.pack("<i", -2) + bytes([5 | (0b11101 << 3), 0, 0, 0]) + b"hi" + bytes(6)


@pytest.mark.parametrize(
    "tid, data, value",
    [
        (1, struct.pack("<i", -7), -7),
        (2, struct.pack("<I", 0xFFFFFFF9), 0xFFFFFFF9),
        (3, b"\xff", -1),
        (4, struct.pack("<Q", 0xDEADBEEF), 0xDEADBEEF),
        (5, b"abc\0zzzz", "abc"),
        (5, b"12345678", "12345678"),
        (6, S_BYTES, {"a": -2, "b": 5, "c": -3, "name": "hi"}),
        (7, b"\x01\x02\x03\x04", [1, 2, 3, 4]),
        (8, struct.pack("<i", 0x04030201), {"i": 0x04030201, "raw": [1, 2, 3, 4]}),
        (10, struct.pack("<i", -1), "A"),
        (10, struct.pack("<i", 2), "B"),
        (10, struct.pack("<i", -9), -9),
        (14, struct.pack("<i", 12), 12),
        (18, S_BYTES, {"a": -2, "b": 5, "c": -3, "name": "hi"}),
        (20, struct.pack("<d", 2.5), 2.5),
        (29, struct.pack("<f", -0.5), -0.5),
        (24, struct.pack("<Q", 1 << 32), "BIG"),
        (24, struct.pack("<Q", 7), 7),
        (27, bytes([0b1011_0110]) + bytes(3) + struct.pack("<i", -4), {"x": 0b1011, "y": -4}),
        (28, b"\x01", True),
        (
            19,
            S_BYTES + struct.pack("<Q", 1),
            {"v": {"a": -2, "b": 5, "c": -3, "name": "hi"}, "w": "SMALL"},
        ),
    ],
)
def test_decode(tid, data, value):
    assert ALL.decode(tid, data) == value


@pytest.mark.parametrize(
    "tid, value, data",
    [
        (1, -7, struct.pack("<i", -7)),
        (1, 0xFFFFFFFF, b"\xff\xff\xff\xff"),
        (5, "abc", b"abc\0\0\0\0\0"),
        (6, {"a": -2, "b": 5, "c": -3, "name": "hi"}, S_BYTES),
        (6, {"c": -1}, bytes(4) + bytes([0b11111 << 3, 0, 0, 0]) + bytes(8)),
        (7, [1, 2], b"\x01\x02\0\0"),
        (8, {"raw": [1, 2, 3, 4]}, b"\x01\x02\x03\x04"),
        (10, "A", b"\xff\xff\xff\xff"),
        (24, "BIG", struct.pack("<Q", 1 << 32)),
        (20, 2.5, struct.pack("<d", 2.5)),
        (27, {"x": 11, "y": -4}, bytes([11 << 4]) + bytes(3) + struct.pack("<i", -4)),
        (1, b"\x01\x02\x03\x04", b"\x01\x02\x03\x04"),
    ],
)
def test_encode(tid, value, data):
    assert ALL.encode(tid, value) == data


@pytest.mark.parametrize("tid, data", [(6, S_BYTES), (8, b"\x09\x08\x07\x06"), (24, bytes(8))])
def test_decode_encode_round_trip(tid, data):
    assert ALL.encode(tid, ALL.decode(tid, data)) == data


@pytest.mark.parametrize(
    "tid, value, message",
    [
        (1, 1 << 32, "does not fit in 32 bits"),
        (1, "x", "expected an int"),
        (5, "123456789", "does not fit"),
        (6, {"zz": 1}, "has no member 'zz'"),
        (6, {"b": 8}, "does not fit in 3 bits"),
        (7, [1, 2, 3, 4, 5], "5 elements do not fit in 4"),
        (10, "C", "no enumerator 'C'"),
        (1, b"\x00", "is 4 bytes; got 1 bytes"),
        (17, 0, "has no size"),
    ],
)
def test_encode_errors(tid, value, message):
    with pytest.raises(ElfError, match=message):
        ALL.encode(tid, value)


def test_decode_needs_enough_bytes():
    with pytest.raises(ElfError, match="needs 16 bytes, got 3"):
        ALL.decode(6, b"abc")


# -- .BTF.ext ------------------------------------------------------------------------


def test_btf_ext_records():
    path = obj("core_vmlinux")
    btf = Btf.parse(section(path, ".BTF"))
    ext = BtfExt.parse(section(path, ".BTF.ext"), btf)
    sec = "uprobe/./app:sum5"
    funcs = [(f.insn_off, btf.type(f.type_id).name) for f in ext.func_info[sec]]
    assert funcs == [(0, "sum5"), (112, "regs_ip_sp"), (160, "facts")]
    first = ext.line_info[sec][0]
    assert (first.file, first.line) == ("./core_vmlinux.bpf.c", 55)
    assert first.text == "int BPF_UPROBE(sum5, long a, long b, long c, long d, long e)"
    # BPF_UPROBE reads di, si, dx, cx, r8: members 0-4 of the local struct pt_regs
    relos = [(r.kind, btf.format(r.type_id), r.access) for r in ext.core_relos[sec][:5]]
    assert relos == [(CoreKind.FIELD_BYTE_OFFSET, "struct pt_regs", f"0:{i}") for i in range(5)]
    kinds = {r.kind for recs in ext.core_relos.values() for r in recs}
    assert kinds == {
        CoreKind.FIELD_BYTE_OFFSET,
        CoreKind.FIELD_BYTE_SIZE,
        CoreKind.FIELD_EXISTS,
        CoreKind.TYPE_EXISTS,
        CoreKind.TYPE_SIZE,
    }


# -- malformed BTF -------------------------------------------------------------------


def _hdr(magic=0xEB9F, version=1, hdr_len=24, type_off=0, type_len=0, str_off=0, str_len=1):
    return struct.pack(
        "<HBBIIIII", magic, version, 0, hdr_len, type_off, type_len, str_off, str_len
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x9f\xeb\x01", "too short for a header"),
        (_hdr(magic=0x1234) + b"\0", "bad magic 0x1234"),
        (_hdr(magic=0x9FEB) + b"\0", "big-endian BTF"),
        (_hdr(version=2) + b"\0", "unsupported version 2"),
        (_hdr(hdr_len=8) + b"\0", "header length 8 is invalid"),
        (_hdr(type_len=100) + b"\0", "is outside the"),
        (
            _hdr(type_len=12, str_off=12) + struct.pack("<III", 0, 25 << 24, 0) + b"\0",
            "unknown kind 25",
        ),
        (
            _hdr(type_len=12, str_off=12) + struct.pack("<III", 99, 2 << 24, 0) + b"\0",
            "string offset 99 is outside",
        ),
        (
            _hdr(type_len=12, str_off=12) + struct.pack("<III", 0, 2 << 24, 7) + b"\0",
            r"type \[1\] PTR refers to type \[7\], which does not exist",
        ),
        (
            _hdr(type_len=12, str_off=12) + struct.pack("<III", 0, (4 << 24) | 3, 8) + b"\0",
            r"type \[1\] STRUCT '' is truncated",
        ),
        (
            _hdr(type_len=16, str_off=16) + struct.pack("<IIII", 0, 1 << 24, 3, 32) + b"\0",
            "invalid size or bit layout",
        ),
        (_hdr(str_len=1) + b"x", "does not start with an empty string"),
    ],
)
def test_malformed_btf(data, message):
    with pytest.raises(ElfError, match=message) as e:
        Btf.parse(data)
    assert e.value.section == ".BTF"


def test_typedef_cycle_is_an_error():
    b = _Blob()
    b.t("a", 8, sot=2)
    b.t("b", 8, sot=1)
    btf = Btf.parse(b.bytes())
    with pytest.raises(ElfError, match="too deep"):
        btf.resolve(1)
    with pytest.raises(ElfError, match="too deep"):
        btf.size_of(1)


@pytest.mark.parametrize(
    "tail, message",
    [
        (b"", "too short for a header"),
        (
            struct.pack("<HBBI", 0xEB9F, 1, 0, 32) + struct.pack("<6I", 0, 100, 0, 0, 0, 0),
            "func info .* is outside the section",
        ),
        (
            struct.pack("<HBBI", 0xEB9F, 1, 0, 32)
            + struct.pack("<6I", 0, 16, 0, 0, 0, 0)
            + struct.pack("<IIII", 8, 1, 1, 0),
            "block at 36 has an invalid record count 1",
        ),
        (
            struct.pack("<HBBI", 0xEB9F, 1, 0, 32)
            + struct.pack("<6I", 0, 0, 0, 0, 0, 28)
            + struct.pack("<IIIIIII", 16, 0, 1, 0, 0, 0, 99),
            "unknown kind 99",
        ),
    ],
)
def test_malformed_btf_ext(tail, message):
    btf = Btf.parse(section(obj("core_bad"), ".BTF"))
    with pytest.raises(ElfError, match=message) as e:
        BtfExt.parse(tail, btf)
    assert e.value.section == ".BTF.ext"
