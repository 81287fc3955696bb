"""CO-RE: the runtime's types, libbpf's matching rules, and relocated programs that run.

Layouts are written down from the kernel's headers; relocated programs run on both
engines against contexts laid out by hand, and their results are worked out from the
C sources in tests/bpf/.
"""

from __future__ import annotations

import ctypes
import struct

import pytest
from bpfenc import ins
from elfutil import obj, probe_read, x86_regs

import bpftime
from bpftime import core
from bpftime import opcodes as o
from bpftime.btf import INT_SIGNED, Btf, BtfType, CoreKind, CoreRelo, Enumerator, Kind, Member
from bpftime.elf import load_spec
from bpftime.errors import ElfError

X86 = core.runtime_btf("x86_64")
ARM = core.runtime_btf("aarch64")

X86_OFFSETS = {
    "r15": 0,
    "r14": 8,
    "r13": 16,
    "r12": 24,
    "bp": 32,
    "bx": 40,
    "r11": 48,
    "r10": 56,
    "r9": 64,
    "r8": 72,
    "ax": 80,
    "cx": 88,
    "dx": 96,
    "si": 104,
    "di": 112,
    "orig_ax": 120,
    "ip": 128,
    "cs": 136,
    "flags": 144,
    "sp": 152,
    "ss": 160,
}
UAPI_NAMES = {
    "bp": "rbp",
    "bx": "rbx",
    "ax": "rax",
    "cx": "rcx",
    "dx": "rdx",
    "si": "rsi",
    "di": "rdi",
    "orig_ax": "orig_rax",
    "ip": "rip",
    "flags": "eflags",
    "sp": "rsp",
}


def members(btf: Btf, name: str) -> dict[str, tuple[int, str]]:
    (tid,) = btf.find(name, Kind.STRUCT)
    return {m.name: (m.bit_offset // 8, btf.format(m.type)) for m in btf.type(tid).members}


def size(btf: Btf, name: str) -> int:
    (tid,) = btf.find(name, Kind.STRUCT)
    return btf.size_of(tid)


# -- the runtime's types -------------------------------------------------------------


def test_x86_pt_regs_is_the_kernel_layout():
    assert members(X86, "pt_regs") == {
        r: (off, "long unsigned int") for r, off in X86_OFFSETS.items()
    }
    assert size(X86, "pt_regs") == 168
    uapi = {UAPI_NAMES.get(r, r): (off, "long unsigned int") for r, off in X86_OFFSETS.items()}
    assert members(X86, "pt_regs___uapi") == uapi


@pytest.mark.parametrize("btf", [X86, ARM], ids=["x86_64", "aarch64"])
def test_syscall_tracepoint_contexts(btf):
    assert members(btf, "trace_entry") == {
        "type": (0, "short unsigned int"),
        "flags": (2, "unsigned char"),
        "preempt_count": (3, "unsigned char"),
        "pid": (4, "int"),
    }
    assert size(btf, "trace_entry") == 8
    assert members(btf, "trace_event_raw_sys_enter") == {
        "ent": (0, "struct trace_entry"),
        "id": (8, "long int"),
        "args": (16, "long unsigned int[6]"),
    }
    assert size(btf, "trace_event_raw_sys_enter") == 64
    assert members(btf, "trace_event_raw_sys_exit") == {
        "ent": (0, "struct trace_entry"),
        "id": (8, "long int"),
        "ret": (16, "long int"),
    }
    assert size(btf, "trace_event_raw_sys_exit") == 24


def test_aarch64_pt_regs():
    assert members(ARM, "user_pt_regs") == {
        "regs": (0, "__u64[31]"),
        "sp": (248, "__u64"),
        "pc": (256, "__u64"),
        "pstate": (264, "__u64"),
    }
    assert size(ARM, "user_pt_regs") == 272
    regs = struct.pack("<34Q", *range(100, 134)) + struct.pack("<Qi4x", 7, -1)
    (tid,) = ARM.find("pt_regs", Kind.STRUCT)
    value = ARM.decode(tid, regs)
    assert value["regs"] == list(range(100, 131))
    assert value["user_regs"]["pc"] == value["pc"] == 132
    assert (value["sp"], value["pstate"], value["orig_x0"], value["syscallno"]) == (131, 133, 7, -1)
    assert ARM.size_of(tid) == 288


def test_unknown_arch():
    with pytest.raises(ElfError, match="no runtime type description for architecture 'riscv64'"):
        core.runtime_btf("riscv64")
    assert core.runtime_btf("arm64").types == ARM.types


@pytest.mark.parametrize(
    "name, essential",
    [
        ("task___local", "task"),
        ("pt_regs___uapi", "pt_regs"),
        ("a___b___c", "a___b"),
        ("pt_regs", "pt_regs"),
        ("x____y", "x____y"),
        ("___x", "___x"),
        ("S_SLEEP___v2", "S_SLEEP"),
    ],
)
def test_essential_name(name, essential):
    assert core.essential_name(name) == essential


# -- relocated programs that run -----------------------------------------------------


def run(insns: bytes, engine: str, ctx: bytes) -> int:
    return bpftime.Program(insns, engine=engine, helpers={113: probe_read}).run(ctx)


CTX = x86_regs(di=3, si=4, dx=5, cx=6, r8=7, ax=1000, ip=0x5000, sp=0x100)


@pytest.mark.parametrize(
    "name, r0",
    [
        ("plain_add", 345),  # a * 100 + b * 10 + c from di, si, dx
        ("core_add", 345),  # the same through PT_REGS_PARM*_CORE / bpf_core_read
        ("ret_add", 1001),  # PT_REGS_RC (ax) + 1
    ],
)
def test_uapi_pt_regs_programs(engine, name, r0):
    spec = load_spec(obj("core_uapi"), arch="x86_64")
    assert run(spec.programs[name].insns, engine, CTX) == r0


@pytest.mark.parametrize(
    "name, r0",
    [
        ("sum5", 3 + 4 * 10 + 5 * 100 + 6 * 1000 + 7 * 10000),
        ("regs_ip_sp", 0x5000 - 0x100 + 1000),
        # no not_in_runtime (0) + ip exists (2) + sys_exit exists (4) + no absent_type (0)
        # + sizeof(struct pt_regs) 168 * 100 + sizeof(ip) 8 * 100000
        ("facts", 6 + 16800 + 800000),
    ],
)
def test_vmlinux_style_programs(engine, name, r0):
    spec = load_spec(obj("core_vmlinux"), arch="x86_64")
    assert run(spec.programs[name].insns, engine, CTX) == r0


def test_vmlinux_style_offsets_are_the_runtimes():
    spec = load_spec(obj("core_vmlinux"), arch="x86_64")
    code = spec.programs["sum5"].insns
    loads = [
        struct.unpack_from("<h", code, i + 2)[0]
        for i in range(0, len(code), 8)
        if code[i] == o.CLS_LDX | o.SZ_DW | o.MODE_MEM
    ]
    # the program's local struct lists di, si, dx, cx, r8 at 0..32
    assert loads == [112, 104, 96, 88, 72]


def test_syscall_tracepoints(engine):
    spec = load_spec(obj("core_vmlinux"), arch="x86_64")
    entry = struct.pack("<HBBi", 1, 2, 3, 77)  # type, flags, preempt_count, pid
    enter = entry + struct.pack("<q6Q", 257, 10, 20, 30, 40, 50, 60)
    # args[1] + id * 1000 + ent.pid * 1000000
    assert run(spec.programs["on_openat"].insns, engine, enter) == 20 + 257000 + 77000000
    exit_ = entry + struct.pack("<qq", 257, -2)
    # ret + BPF_CORE_READ(ctx, ent.preempt_count) * 1000
    assert run(spec.programs["on_openat_exit"].insns, engine, exit_) == -2 + 3000


def test_aarch64_programs(engine):
    spec = load_spec(obj("core_arm64"), arch="aarch64")
    regs = [0] * 31
    regs[:3] = [3, 4, 9]
    ctx = struct.pack("<34Q", *regs, 5, 6, 0) + struct.pack("<Qi4x", 8, 0)  # sp 5, pc 6
    assert run(spec.programs["arm_add"].insns, engine, ctx) == 3 * 10 + 4 + 5 * 1000
    # regs[2] + pc * 10 + orig_x0 * 100, through the anonymous union
    assert run(spec.programs["kernel_view"].insns, engine, ctx) == 9 + 60 + 800


def test_aarch64_object_on_x86_fails():
    with pytest.raises(ElfError, match="no struct 'user_pt_regs' in the runtime's types"):
        load_spec(obj("core_arm64"), arch="x86_64")


def test_unknown_field_is_an_error_not_an_offset():
    with pytest.raises(ElfError) as e:
        load_spec(obj("core_bad"), arch="x86_64")
    assert str(e.value) == (
        "program 'handle' insn 1: CO-RE relocation <byte_off> struct pt_regs.foo: no field"
        " 'foo' in the runtime's struct pt_regs"
    )
    assert e.value.section == "uprobe/./app:f"


# out[] of core_local.bpf.c against core_target.bpf.c's struct task
CORE_LOCAL_OUT = [
    0,  # offsetof(pid)
    8,  # offsetof(x): inside the anonymous union
    16,  # offsetof(comm)
    16,  # sizeof(comm)
    48 + (2 * 4 + 1) * 8,  # offsetof(arr[2][1])
    0,  # missing does not exist
    1,  # sval exists
    2,  # sizeof(sval)
    1,  # c is signed
    0,  # b is unsigned
    64 - (40 + 7 - 32),  # lshift of c: bits 40..46 in the 4 bytes at 4
    64 - 7,  # rshift of c
    64 - (35 + 5 - 32),  # lshift of b: bits 35..39
    152,  # sizeof(struct task)
    0,  # struct nothere does not exist
    4,  # S_SLEEP
    0,  # S_ZOMBIE does not exist
    -5,  # BPF_CORE_READ_BITFIELD(t, c)
    17,  # BPF_CORE_READ_BITFIELD(t, b)
    1000 - 3,  # x + sval
]


def test_generic_relocations_against_another_btf(engine):
    target = load_spec(obj("core_target")).btf
    spec = load_spec(obj("core_local"), target_btf=target)
    task = bytearray(152)  # struct task as core_target.bpf.c lays it out
    struct.pack_into("<iIq", task, 0, 9, 5 | (17 << 3) | ((-5 & 0x7F) << 8), 1000)
    struct.pack_into("<h", task, 144, -3)
    bss = bytearray(spec.map(".bss").value_size)
    buf = (ctypes.c_char * len(bss)).from_buffer(bss)
    binding = bpftime.MapBinding(1, ctypes.addressof(buf), len(bss))
    prog = bpftime.Program(spec.programs["probe"].insns, engine=engine, maps={0: binding})
    # bpf_core_type_id_kernel(struct task___local): struct task is [2] in bpftool's dump
    assert prog.run(bytes(task)) == 2
    assert list(struct.unpack("<20q", bss)) == CORE_LOCAL_OUT


# -- libbpf's rules on hand-made types ------------------------------------------------

ULONG = BtfType(Kind.INT, "long unsigned int", size=8, bits=64)
UINT = BtfType(Kind.INT, "unsigned int", size=4, bits=32)
INT = BtfType(Kind.INT, "int", size=4, bits=32, encoding=INT_SIGNED)


def local_btf(*types: BtfType) -> Btf:
    return Btf([BtfType(Kind.VOID), ULONG, UINT, INT, *types])


def struct_(name: str, *fields: tuple[str, int, int]) -> BtfType:
    ms = tuple(Member(n, t, off * 8) for n, t, off in fields)
    return BtfType(Kind.STRUCT, name, size=max(f[2] for f in fields) + 8, members=ms)


LDX = o.CLS_LDX | o.MODE_MEM


def relocate(code: bytes, relo: CoreRelo, local: Btf, target: Btf = X86) -> bytes:
    buf = bytearray(code)
    core.relocate(buf, relo, local, target, "program 'p' insn 0", "sec", 0)
    return bytes(buf)


def test_narrower_unsigned_field_widens_the_load():
    local = local_btf(struct_("pt_regs", ("di", 2, 0)))  # unsigned int di at 0
    relo = CoreRelo(0, 4, "0:0", CoreKind.FIELD_BYTE_OFFSET)
    out = relocate(ins(LDX | o.SZ_W, 0, 1, 0), relo, local)
    assert out == ins(LDX | o.SZ_DW, 0, 1, 112)


def test_signed_size_mismatch_is_refused():
    local = local_btf(struct_("pt_regs", ("di", 3, 0)))  # int di
    relo = CoreRelo(0, 4, "0:0", CoreKind.FIELD_BYTE_OFFSET)
    with pytest.raises(ElfError, match="the field is 8 bytes in the runtime and 4 in the program"):
        relocate(ins(LDX | o.SZ_W, 0, 1, 0), relo, local)


def test_instruction_must_hold_the_local_value():
    local = local_btf(struct_("pt_regs", ("di", 1, 0)))
    relo = CoreRelo(0, 4, "0:0", CoreKind.FIELD_BYTE_OFFSET)
    with pytest.raises(ElfError, match="the instruction's offset is 5, the object's BTF says 0"):
        relocate(ins(LDX | o.SZ_DW, 0, 1, 5), relo, local)


def test_candidates_that_disagree_are_refused():
    target = Btf(
        [
            BtfType(Kind.VOID),
            ULONG,
            struct_("regs___a", ("x", 1, 0)),
            struct_("regs___b", ("x", 1, 8)),
        ]
    )
    local = local_btf(struct_("regs", ("x", 1, 0)))
    relo = CoreRelo(0, 4, "0:0", CoreKind.FIELD_BYTE_OFFSET)
    with pytest.raises(
        ElfError, match="struct regs___a and struct regs___b both match but disagree"
    ):
        relocate(ins(LDX | o.SZ_DW, 0, 1, 0), relo, local, target)


def test_agreeing_flavours_are_fine():
    # x86 has pt_regs and pt_regs___uapi: r15 is at 0 in both
    local = local_btf(struct_("pt_regs", ("r8", 1, 0)))
    relo = CoreRelo(0, 4, "0:0", CoreKind.FIELD_BYTE_OFFSET)
    assert relocate(ins(LDX | o.SZ_DW, 0, 1, 0), relo, local) == ins(LDX | o.SZ_DW, 0, 1, 72)


@pytest.mark.parametrize(
    "local_type, r0",
    [
        (struct_("pt_regs", ("di", 1, 0), ("si", 1, 8)), 1),  # names and types match
        (struct_("pt_regs___x", ("ip", 1, 0)), 1),  # flavour ignored
        (struct_("pt_regs", ("di", 3, 0)), 0),  # int is not unsigned long
        (struct_("pt_regs", ("nope", 1, 0)), 0),  # no such member
    ],
)
def test_type_matches(local_type, r0):
    relo = CoreRelo(0, 4, "0", CoreKind.TYPE_MATCHES)
    out = relocate(ins(o.CLS_ALU64 | o.OP_MOV, 0, imm=1), relo, local_btf(local_type))
    assert out == ins(o.CLS_ALU64 | o.OP_MOV, 0, imm=r0)


def test_type_based_relocations_of_absent_types_are_zero():
    local = local_btf(struct_("absent", ("x", 1, 0)))
    relo = CoreRelo(0, 4, "0", CoreKind.TYPE_SIZE)
    assert relocate(ins(o.CLS_ALU64 | o.OP_MOV, 0, imm=8), relo, local) == ins(
        o.CLS_ALU64 | o.OP_MOV, 0, imm=0
    )


def test_missing_enumerator_value_is_an_error():
    enum = BtfType(Kind.ENUM, "colour", size=4, enumerators=(Enumerator("RED", 1),))
    relo = CoreRelo(0, 4, "0", CoreKind.ENUMVAL_VALUE)
    code = ins(o.LDDW, 0, imm=1) + ins(0)
    with pytest.raises(ElfError, match=r"<enumval_value> enum colour::RED: no enum 'colour'"):
        relocate(code, relo, local_btf(enum))


def test_anonymous_types_are_refused():
    relo = CoreRelo(0, 4, "0:0", CoreKind.FIELD_BYTE_OFFSET)
    with pytest.raises(ElfError, match="relocations against anonymous types are not supported"):
        relocate(ins(LDX | o.SZ_DW, 0, 1, 0), relo, local_btf(struct_("", ("di", 1, 0))))


@pytest.mark.parametrize("access", ["", "0:x", "0:9", "1:0:0"])
def test_corrupt_accessor(access):
    relo = CoreRelo(0, 4, access, CoreKind.FIELD_BYTE_OFFSET)
    with pytest.raises(ElfError, match="invalid CO-RE relocation record"):
        relocate(ins(LDX | o.SZ_DW, 0, 1, 0), relo, local_btf(struct_("pt_regs", ("di", 1, 0))))
