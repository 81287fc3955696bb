"""Values for libbpf's ``__kconfig`` externs: what this runtime is and what the kernel has.

Owns the values the ``.kconfig`` map gets (bpftime.elf lays the map out and points
the programs' loads at it). libbpf's rules, for a userspace runtime:

* ``LINUX_KERNEL_VERSION``: the running kernel's version as KERNEL_VERSION(a, b, c)
  computes it (``a << 16 | b << 8 | min(c, 255)``), from ``uname -r``;
* ``LINUX_HAS_BPF_COOKIE``: true: every hook of ours passes the program a 64-bit
  cookie (``bpf_get_attach_cookie``), which libbpf's ``<bpf/usdt.bpf.h>`` relies on;
* ``CONFIG_*``: from the kernel's configuration (``/proc/config.gz``, else
  ``/boot/config-$(uname -r)``), read only when an object asks for one. ``y``/``n``/
  ``m`` fill bools, ``enum libbpf_tristate`` and chars, numbers fill integers,
  quoted strings fill char arrays;
* anything else, or a ``CONFIG_*`` the configuration does not set: 0 for a
  ``__weak`` extern, an ElfError naming it for a strong one (bpftime.elf raises it).

Does not own: the ELF side (bpftime.elf).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping
from functools import lru_cache

from .errors import ElfError

# runtime facts: name -> value as a config file would spell it
RUNTIME = {"LINUX_HAS_BPF_COOKIE": "y"}


def kernel_version(release: str | None = None) -> int:
    """KERNEL_VERSION(a, b, c) of ``release`` (default: the running kernel's)."""
    release = release if release is not None else os.uname().release
    nums: list[int] = []
    for part in release.split(".")[:3]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        nums.append(int(digits) if digits else 0)
        if len(digits) < len(part):
            break
    a, b, c = [*nums, 0, 0, 0][:3]
    return a << 16 | b << 8 | min(c, 255)


def parse_config(text: str) -> dict[str, str]:
    """``CONFIG_X=value`` lines of a kernel configuration; ``# CONFIG_X is not set``
    becomes ``n``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# CONFIG_") and line.endswith(" is not set"):
            out[line[2:].split()[0]] = "n"
        elif line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


@lru_cache(maxsize=1)
def system_config() -> Mapping[str, str]:
    """The running kernel's configuration; empty when it cannot be read."""
    candidates = ["/proc/config.gz", f"/boot/config-{os.uname().release}"]
    for path in candidates:
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rt", errors="replace") as f:
                    return parse_config(f.read())
            with open(path, errors="replace") as f:
                return parse_config(f.read())
        except (OSError, EOFError):
            continue
    return {}


def lookup(name: str, config: Mapping[str, str] | None) -> str | int | None:
    """The value of extern ``name`` (a config spelling, or an int), None if unknown.
    ``config`` replaces the system's configuration (None: read it when needed)."""
    if name == "LINUX_KERNEL_VERSION":
        return kernel_version()
    if name in RUNTIME:
        return RUNTIME[name]
    if name.startswith("CONFIG_"):
        return (system_config() if config is None else config).get(name)
    return None


def encode(name: str, value: str | int, kind: str, size: int, signed: bool) -> bytes:
    """``value`` as the bytes of an extern of ``kind`` (``bool``, ``tristate``,
    ``char``, ``int``, ``string``) and ``size``; ElfError when it does not fit."""

    def bad(why: str) -> ElfError:
        return ElfError(f"extern '{name}' (__kconfig): value {value!r} {why}", ".kconfig")

    tri = {"y": 1, "n": 0, "m": 2}
    if kind == "bool":
        if value not in ("y", "n") and not isinstance(value, int):
            raise bad("is not y or n, so it does not fit a bool (use enum libbpf_tristate)")
        return bytes([1 if value == "y" or value == 1 else 0])
    if kind == "tristate":
        if value not in tri:
            raise bad("is not y, n or m, so it does not fit enum libbpf_tristate")
        return tri[str(value)].to_bytes(size, "little")
    if kind == "char":
        if value not in tri:
            raise bad("is not y, n or m, so it does not fit a char")
        return str(value).encode()
    if kind == "string":
        if not isinstance(value, str) or len(value) < 2 or value[0] != '"' or value[-1] != '"':
            raise bad("is not a quoted string, so it does not fit a char array")
        raw = value[1:-1].encode()
        if len(raw) >= size:
            raise bad(f"is longer than the extern's {size} bytes")
        return raw.ljust(size, b"\0")
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise bad("is not a number, so it does not fit an integer") from None
    lo, hi = (-(1 << (8 * size - 1)), 1 << (8 * size - 1)) if signed else (0, 1 << (8 * size))
    if not lo <= value < hi:
        raise bad(f"does not fit a {'signed' if signed else 'unsigned'} {size}-byte integer")
    return value.to_bytes(size, "little", signed=signed)


__all__ = ["encode", "kernel_version", "lookup", "parse_config", "system_config"]
