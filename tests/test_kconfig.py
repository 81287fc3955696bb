"""libbpf's ``__kconfig`` externs: the values (bpftime.kconfig) and the ``.kconfig`` map
bpftime.elf lays them out in, read by programs on both engines.

tests/bpf/kconfig.bpf.c declares one extern of each kind; the configuration is given
to the loader, so the tests do not depend on this machine's kernel.
"""

from __future__ import annotations

import re

import pytest
from elfutil import obj

import bpftime
from bpftime import kconfig
from bpftime.elf import load_spec
from bpftime.errors import ElfError

CONFIG = {
    "CONFIG_BPFTIME_BOOL": "y",
    "CONFIG_BPFTIME_TRI": "m",
    "CONFIG_BPFTIME_CHAR": "m",
    "CONFIG_BPFTIME_INT": "-12",
    "CONFIG_BPFTIME_HEX": "0xfedcba9876543210",
    "CONFIG_BPFTIME_STR": '"abc"',
}


@pytest.mark.parametrize("release, version", [
    ("6.18.44-fc-v669", 6 << 16 | 18 << 8 | 44),
    ("5.4.300", 5 << 16 | 4 << 8 | 255),  # the patch level saturates at 255, as in the kernel
    ("6.1.0-18-amd64", 6 << 16 | 1 << 8),
    ("4.19", 4 << 16 | 19 << 8),
    ("6.9-rc1", 6 << 16 | 9 << 8),
])  # fmt: skip
def test_kernel_version(release: str, version: int) -> None:
    assert kconfig.kernel_version(release) == version


def test_parse_config() -> None:
    text = "#\n# comment\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=\"x y\"\n"
    assert kconfig.parse_config(text) == {"CONFIG_A": "y", "CONFIG_B": "m", "CONFIG_C": "n",
                                          "CONFIG_D": '"x y"'}  # fmt: skip


def test_kconfig_map_layout() -> None:
    spec = load_spec(obj("kconfig"), kconfig=CONFIG)
    (kmap,) = [m for m in spec.maps if m.name == ".kconfig"]
    # each extern aligned to its size, in declaration order: bool @0, tristate @4, char @8,
    # int @12, u64 @16, LINUX_HAS_BPF_COOKIE @24, the weak int @28, char[8] @32
    assert kmap.data == bytes.fromhex(
        "01000000" "02000000" "6d000000" "f4ffffff" "1032547698badcfe" "01000000" "00000000"
        "6162630000000000"
    )  # fmt: skip
    assert kmap.readonly and kmap.value_size == 40


def test_programs_read_externs(engine: str) -> None:
    with bpftime.load(obj("kconfig"), kconfig=CONFIG, engine=engine) as o:
        assert o.programs["read_kconfig"].run(bytes(8)) == 0
        assert o.globals(".bss")["out"] == {"b": 1, "tri": 2, "ch": ord("m"), "i": -12,
                                            "hex": 0xFEDCBA9876543210 - (1 << 64),
                                            "cookie": 1, "unset": 0, "str": "abc"}  # fmt: skip


def test_linux_kernel_version_is_the_running_kernels(engine: str) -> None:
    with bpftime.load(obj("extern"), engine=engine) as o:
        assert o.programs["uses_extern"].run(bytes(8)) == kconfig.kernel_version()


@pytest.mark.parametrize("change, message", [
    ({"CONFIG_BPFTIME_BOOL": None}, "extern 'CONFIG_BPFTIME_BOOL' (__kconfig): the kernel "
     "configuration does not set it"),
    ({"CONFIG_BPFTIME_BOOL": "m"}, "value 'm' is not y or n, so it does not fit a bool"),
    ({"CONFIG_BPFTIME_TRI": "3"}, "value '3' is not y, n or m, so it does not fit enum "
     "libbpf_tristate"),
    ({"CONFIG_BPFTIME_INT": "0x80000000"}, "does not fit a signed 4-byte integer"),
    ({"CONFIG_BPFTIME_INT": "y"}, "value 'y' is not a number"),
    ({"CONFIG_BPFTIME_STR": '"too long!"'}, "is longer than the extern's 8 bytes"),
    ({"CONFIG_BPFTIME_STR": "abc"}, "is not a quoted string"),
])  # fmt: skip
def test_bad_or_missing_values(change: dict[str, str | None], message: str) -> None:
    config = {k: v for k, v in {**CONFIG, **change}.items() if v is not None}
    with pytest.raises(ElfError, match=re.escape(message)):
        load_spec(obj("kconfig"), kconfig=config)
