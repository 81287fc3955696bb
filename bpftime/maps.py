"""Maps as Python sees them: dict-like views over the shared-memory maps, typed by BTF.

Owns: converting keys and values between Python (ints, bytes, dicts/lists decoded
from BTF) and the raw bytes of ``bpftime._maps.RawMap``; the bcc-shaped API
(``m[k]``, ``items()``, ``clear()``, batch operations, ``print_log2_hist``,
``print_linear_hist``); ring-buffer and perf-buffer reading with decoded events;
queue and stack operations.

Does not own: the maps themselves (cext/, through bpftime._maps) or BTF parsing
(bpftime.btf).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any, TextIO

from .errors import MapError, MapKeyError

# kernel enum bpf_map_type ids, and their names as bpftool prints them
MAP_TYPE_NAMES = {
    1: "hash",
    2: "array",
    3: "prog_array",
    4: "perf_event_array",
    5: "percpu_hash",
    6: "percpu_array",
    7: "stack_trace",
    9: "lru_hash",
    10: "lru_percpu_hash",
    11: "lpm_trie",
    12: "array_of_maps",
    13: "hash_of_maps",
    22: "queue",
    23: "stack",
    27: "ringbuf",
    30: "bloom_filter",
}
PERCPU_TYPES = {5, 6, 10}
KEYLESS_TYPES = {22, 23, 30}  # queue, stack, bloom filter
ARRAY_TYPES = {2, 6}  # plain arrays: no delete, clear() zeroes
EVENT_TYPES = {4, 27}

STARS_MAX = 40
LOG2_INDEX_MAX = 65
LINEAR_INDEX_MAX = 1025


class Codec:
    """Turns Python values into bytes of one size and back, using a BTF type when known."""

    def __init__(self, size: int, btf: Any = None, type_id: int | None = None) -> None:
        self.size = size
        self.btf = btf if type_id else None
        self.type_id = type_id

    def encode(self, value: Any) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        elif self.btf is not None and not isinstance(value, bool):
            data = self.btf.encode(self.type_id, value)
        elif isinstance(value, int) and self.size in (1, 2, 4, 8):
            signed = value < 0
            data = value.to_bytes(self.size, "little", signed=signed)
        else:
            raise TypeError(
                f"cannot encode {type(value).__name__} as {self.size} bytes; "
                "pass bytes, an int, or a value of the map's BTF type"
            )
        if len(data) != self.size:
            raise ValueError(f"expected {self.size} bytes, got {len(data)}")
        return data

    def decode(self, data: bytes) -> Any:
        if self.btf is not None:
            return self.btf.decode(self.type_id, data)
        if self.size in (1, 2, 4, 8):
            return int.from_bytes(data, "little")
        return data


class Map(MutableMapping[Any, Any]):
    """A map of a loaded object (or of a segment), with bcc's table API.

    Keys and values are accepted as ints, bytes or BTF-decoded structures and
    returned decoded. Per-CPU maps return a list with one value per CPU. A missing
    key raises ``MapKeyError`` (a ``KeyError``).
    """

    def __init__(
        self,
        raw: Any,
        name: str | None = None,
        btf: Any = None,
        key_type_id: int | None = None,
        value_type_id: int | None = None,
    ) -> None:
        self.raw = raw
        self.name = name or raw.name
        self.type = int(raw.type)
        self.type_name = MAP_TYPE_NAMES.get(self.type, str(self.type))
        self.btf = btf
        self.key = Codec(raw.key_size, btf, key_type_id)
        self.value = Codec(raw.value_size, btf, value_type_id)
        self.ncpu = raw.user_value_size // _round8(raw.value_size) if self.percpu else 1

    # --- facts
    @property
    def percpu(self) -> bool:
        return self.type in PERCPU_TYPES

    @property
    def id(self) -> int:
        return int(self.raw.id)

    @property
    def max_entries(self) -> int:
        return int(self.raw.max_entries)

    def __repr__(self) -> str:
        return (f"<Map {self.name!r} {self.type_name} key={self.raw.key_size}B "
                f"value={self.raw.value_size}B max_entries={self.max_entries}>")  # fmt: skip

    # --- conversions
    def _k(self, key: Any) -> bytes:
        return self.key.encode(key)

    def _v(self, value: Any) -> bytes:
        if not self.percpu:
            return self.value.encode(value)
        step = _round8(self.raw.value_size)
        if isinstance(value, (bytes, bytearray)) and len(value) == step * self.ncpu:
            return bytes(value)
        values = value if isinstance(value, (list, tuple)) else [value] * self.ncpu
        if len(values) != self.ncpu:
            raise ValueError(
                f"per-CPU map {self.name!r} needs {self.ncpu} values, got {len(values)}"
            )
        return b"".join(self.value.encode(v).ljust(step, b"\0") for v in values)

    def _decode_value(self, data: bytes) -> Any:
        if not self.percpu:
            return self.value.decode(data)
        step, size = _round8(self.raw.value_size), self.raw.value_size
        return [self.value.decode(data[i * step : i * step + size]) for i in range(self.ncpu)]

    # --- MutableMapping
    def __getitem__(self, key: Any) -> Any:
        data = self.raw.lookup(self._k(key))
        if data is None:
            raise MapKeyError(f"map {self.name!r}: no key {key!r}", 2)
        return self._decode_value(data)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.raw.update(self._k(key), self._v(value), 0)

    def __delitem__(self, key: Any) -> None:
        self.raw.delete(self._k(key))

    def __iter__(self) -> Iterator[Any]:
        yield from map(self.key.decode, self.raw.keys())

    def __len__(self) -> int:
        return int(self.raw.count())

    def __contains__(self, key: object) -> bool:
        try:
            return self.raw.lookup(self._k(key)) is not None
        except (TypeError, ValueError):
            return False

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        """All (key, value) pairs; keys deleted meanwhile are skipped, as in bcc."""
        out = []
        for k in list(self.raw.keys()):
            v = self.raw.lookup(k)
            if v is not None:
                out.append((self.key.decode(k), self._decode_value(v)))
        return out

    def keys(self) -> list[Any]:  # type: ignore[override]
        return list(map(self.key.decode, self.raw.keys()))

    def values(self) -> list[Any]:  # type: ignore[override]
        return [v for _, v in self.items()]

    def update_elem(self, key: Any, value: Any, flags: int = 0) -> None:
        """Update with BPF_ANY (0), BPF_NOEXIST (1) or BPF_EXIST (2)."""
        self.raw.update(self._k(key), self._v(value), flags)

    def clear(self) -> None:
        """Delete every key (arrays: set every value to zero, like bcc's clear/zero)."""
        if self.type in ARRAY_TYPES:
            self.zero()
            return
        for k in list(self.raw.keys()):
            with contextlib.suppress(MapKeyError):  # deleted meanwhile by a program
                self.raw.delete(k)

    def zero(self) -> None:
        """Set every value to zero bytes."""
        zero = bytes(self.raw.user_value_size)
        for k in list(self.raw.keys()):
            self.raw.update(k, zero, 0)

    # --- batches
    def lookup_batch(self, keys: Iterable[Any]) -> list[Any]:
        raw = self.raw.lookup_batch([self._k(k) for k in keys])
        return [None if v is None else self._decode_value(v) for v in raw]

    def update_batch(self, keys: Iterable[Any], values: Iterable[Any], flags: int = 0) -> None:
        self.raw.update_batch([self._k(k) for k in keys], [self._v(v) for v in values], flags)

    def delete_batch(self, keys: Iterable[Any]) -> None:
        self.raw.delete_batch([self._k(k) for k in keys])

    items_lookup_batch = lookup_batch
    items_update_batch = update_batch
    items_delete_batch = delete_batch

    # --- queues and stacks (and bloom filters: push adds, peek tests)
    def push(self, value: Any, flags: int = 0) -> None:
        self.raw.push(self.value.encode(value), flags)

    def pop(self) -> Any:  # type: ignore[override]
        data = self.raw.pop()
        if data is None:
            raise MapKeyError(f"map {self.name!r} is empty", 2)
        return self.value.decode(data)

    def peek(self) -> Any:
        data = self.raw.peek()
        if data is None:
            raise MapKeyError(f"map {self.name!r} is empty", 2)
        return self.value.decode(data)

    # --- events
    def consume(self, callback: Callable[[Any], Any], event_type: int | str | None = None) -> int:
        """Ring buffer: call callback(event) for every record available now; returns the count.

        Events are decoded with ``event_type`` (a BTF type id, or a name such as
        ``"struct event"``) when given, else passed as bytes.
        """
        decode = _event_decoder(self.btf, event_type)
        return int(self.raw.consume(lambda data: callback(decode(data))))

    def poll(self, callback: Callable[[Any], Any], timeout_ms: int = -1,
             event_type: int | str | None = None) -> int:  # fmt: skip
        """Ring buffer: wait up to timeout_ms (-1: forever) for records, then consume them."""
        decode = _event_decoder(self.btf, event_type)
        return int(self.raw.poll(lambda data: callback(decode(data)), timeout_ms))

    def perf_read(self, callback: Callable[[int, Any], Any],
                  lost_callback: Callable[[int, int], Any] | None = None,
                  event_type: int | str | None = None) -> int:  # fmt: skip
        """Perf event array: read every CPU's ring; callback(cpu, event), lost_callback(cpu, n)."""
        decode = _event_decoder(self.btf, event_type)
        return int(
            self.raw.perf_consume(
                None, lambda c, data: callback(c, decode(data)), lost_callback or _ignore_lost
            )
        )

    # --- histograms (bcc's text)
    def print_log2_hist(
        self,
        val_type: str = "value",
        section_header: str = "Bucket ptr",
        section_print_fn: Callable[[Any], str] | None = None,
        strip_leading_zero: bool = False,
        out: TextIO | None = None,
    ) -> None:
        """Print a log2 histogram whose keys are slot indexes (bpf_log2l), as bcc does.

        With struct keys ``{bucket, slot}``, one histogram per bucket, headed by
        ``section_header``.
        """
        self._print_hist(format_log2_hist, LOG2_INDEX_MAX, val_type, section_header,
                         section_print_fn, strip_leading_zero, out)  # fmt: skip

    def print_linear_hist(
        self,
        val_type: str = "value",
        section_header: str = "Bucket ptr",
        section_print_fn: Callable[[Any], str] | None = None,
        strip_leading_zero: bool = False,
        out: TextIO | None = None,
    ) -> None:
        """Print a linear histogram whose keys are the values themselves, as bcc does."""
        self._print_hist(format_linear_hist, LINEAR_INDEX_MAX, val_type, section_header,
                         section_print_fn, strip_leading_zero, out)  # fmt: skip

    def _print_hist(
        self,
        fmt: Callable[[list[int], str, bool], str],
        size: int,
        val_type: str,
        section_header: str,
        section_print_fn: Callable[[Any], str] | None,
        strip_leading_zero: bool,
        out: TextIO | None,
    ) -> None:
        out = out or sys.stdout
        for header, vals in self._hist_sections(size, section_header, section_print_fn):
            if header:
                out.write(f"\n{header}\n")
            out.write(fmt(vals, val_type, strip_leading_zero))

    def _hist_sections(
        self, size: int, section_header: str, section_print_fn: Callable[[Any], str] | None
    ) -> list[tuple[str, list[int]]]:
        buckets: dict[Any, list[int]] = {}
        for k, v in self.items():
            count = sum(v) if isinstance(v, list) else v
            if isinstance(k, dict):
                fields = list(k.values())
                bucket, slot = fields[0], fields[-1]
                if isinstance(bucket, (list, dict)):
                    bucket = str(bucket)
            else:
                bucket, slot = None, k
            if not isinstance(slot, int) or not isinstance(count, int):
                raise MapError(f"map {self.name!r}: histogram needs integer slots and counts", 22)
            if 0 <= slot < size:
                buckets.setdefault(bucket, [0] * size)[slot] += count
        out = []
        for bucket in sorted(buckets, key=lambda b: (b is not None, str(b))):
            if bucket is None:
                out.append(("", buckets[bucket]))
            else:
                shown = section_print_fn(bucket) if section_print_fn else bucket
                out.append((f"{section_header} = {shown}", buckets[bucket]))
        return out


def _ignore_lost(cpu: int, count: int) -> None:
    """Default for perf buffers: lost records are counted by the caller's lost_callback only."""


def _round8(n: int) -> int:
    return (n + 7) & ~7


def type_by_name(btf: Any, name: str) -> int:
    """BTF type id for a C type name: ``"struct event"``, ``"event"``, ``"u64"``, ..."""
    from .btf import Kind

    kinds = {"struct": Kind.STRUCT, "union": Kind.UNION, "enum": Kind.ENUM}
    words = name.split()
    wanted = kinds.get(words[0]) if len(words) == 2 else None
    bare = words[-1]
    ids = btf.find(bare, wanted) if btf is not None else []
    # a struct, union, typedef or int of that name with a size (not a forward declaration)
    ids = [i for i in ids if btf.type(i).kind != Kind.FWD]
    if not ids:
        raise MapError(
            f"no BTF type named {name!r} in the object; clang puts only types of globals, "
            "maps and function signatures in BTF: declare a global of that type, e.g. "
            f"`{name} *unused __attribute__((unused));`",
            2,
        )
    return int(ids[0])


def _event_decoder(btf: Any, type_id: int | str | None) -> Callable[[bytes], Any]:
    if btf is None or not type_id:
        return bytes
    if isinstance(type_id, str):
        type_id = type_by_name(btf, type_id)
    size = btf.size_of(type_id)
    return lambda data: btf.decode(type_id, bytes(data[:size]).ljust(size, b"\0"))


def _stars(val: int, val_max: int, width: int) -> str:
    i = 0
    text = ""
    while True:
        if i > (width * val / val_max) - 1 or i > width - 1:
            break
        text += "*"
        i += 1
    if val > val_max:
        text = text[:-1] + "+"
    return text


def _extent(vals: list[int]) -> tuple[int, int]:
    """(index of the last non-zero count or -1, the largest count)."""
    idx_max = max((i for i, v in enumerate(vals) if v > 0), default=-1)
    return idx_max, max(vals, default=0)


def format_log2_hist(
    vals: list[int], val_type: str = "value", strip_leading_zero: bool = False
) -> str:
    """bcc's log2 histogram text; vals[i] counts values in slot i ([2^(i-1), 2^i - 1])."""
    idx_max, val_max = _extent(vals)
    if idx_max <= 32:
        header = "     %-19s : count     distribution"
        body = "%10d -> %-10d : %-8d |%-*s|"
        stars = STARS_MAX
    else:
        header = "               %-29s : count     distribution"
        body = "%20d -> %-20d : %-8d |%-*s|"
        stars = STARS_MAX // 2
    lines = []
    if idx_max > 0:
        lines.append(header % val_type)
    for i in range(1, idx_max + 1):
        low, high = (1 << i) >> 1, (1 << i) - 1
        if low == high:
            low -= 1
        val = vals[i]
        if strip_leading_zero and not val:
            continue
        strip_leading_zero = False
        lines.append(body % (low, high, val, stars, _stars(val, val_max, stars)))
    return "".join(line + "\n" for line in lines)


def format_linear_hist(
    vals: list[int], val_type: str = "value", strip_leading_zero: bool = False
) -> str:
    """bcc's linear histogram text; vals[i] counts the value i."""
    idx_max, val_max = _extent(vals)
    header = "     %-13s : count     distribution"
    body = "        %-10d : %-8d |%-*s|"
    lines = []
    if idx_max >= 0:
        lines.append(header % val_type)
    for i in range(0, idx_max + 1):
        val = vals[i]
        if strip_leading_zero and not val:
            continue
        strip_leading_zero = False
        lines.append(body % (i, val, STARS_MAX, _stars(val, val_max, STARS_MAX)))
    return "".join(line + "\n" for line in lines)


__all__ = ["Codec", "Map", "format_linear_hist", "format_log2_hist"]
