"""Helper prototypes for the verifier: the kernel's ``bpf_func_proto`` of every helper
bpftime implements (cext/bt_helpers.h), with the kernel's ids, argument kinds and
return kinds (include/uapi/linux/bpf.h, kernel/bpf/helpers.c, kernel/trace/bpf_trace.c,
kernel/bpf/ringbuf.c).

Owns: the table and the map-type compatibility rules (the kernel's
``check_map_func_compatibility``, reduced to the map types bpftime has).

Does not own: how each argument kind is checked (``verifier.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto


class Arg(Enum):
    """Argument kinds (the kernel's ``enum bpf_arg_type``, flags folded in)."""

    ANYTHING = auto()  # any initialised scalar (pointers would leak)
    # may be left unset (bpf_trace_printk's 3 values); if set, any value: %s and %p take
    # pointers, which the helper reads with fault-safe probes (the kernel also allows them)
    OPTIONAL = auto()
    UNSAFE_PTR = auto()  # an address the helper reads with fault handling: scalar or pointer
    CONST_MAP_PTR = auto()  # a map loaded with lddw
    PTR_TO_MAP_KEY = auto()  # readable memory of the map's key_size
    PTR_TO_MAP_VALUE = auto()  # readable memory of the map's value_size
    PTR_TO_UNINIT_MAP_VALUE = auto()  # writable memory of value_size (filled by the helper)
    PTR_TO_MEM = auto()  # readable memory; the next argument is its size
    PTR_TO_MEM_OR_NULL = auto()  # the same, or NULL with size 0
    PTR_TO_UNINIT_MEM_OR_NULL = auto()  # writable memory or NULL; the next argument is its size
    PTR_TO_UNINIT_MEM = auto()  # writable memory; the next argument is its size
    CONST_SIZE = auto()  # size of the previous memory argument, > 0
    CONST_SIZE_OR_ZERO = auto()  # the same, may be 0
    CONST_ALLOC_SIZE_OR_ZERO = auto()  # a constant size the helper allocates
    PTR_TO_CTX = auto()  # the program's context pointer, unmodified
    PTR_TO_FUNC = auto()  # a callback: lddw src=4 of a subprogram
    PTR_TO_STACK_OR_NULL = auto()  # a pointer into the stack, or NULL
    PTR_TO_SPIN_LOCK = auto()  # the bpf_spin_lock field of a map value
    PTR_TO_RINGBUF_MEM = auto()  # memory from bpf_ringbuf_reserve (released by the call)
    PTR_TO_LONG = auto()  # 8 writable bytes
    PTR_TO_CONST_STR = auto()  # a string in a read-only map (.rodata)


class Ret(Enum):
    INTEGER = auto()
    VOID = auto()
    MAP_VALUE_OR_NULL = auto()
    RINGBUF_MEM_OR_NULL = auto()


@dataclass(frozen=True)
class Proto:
    name: str
    args: tuple[Arg, ...]
    ret: Ret = Ret.INTEGER
    map_types: frozenset[int] | None = None  # None: any map type not reserved below
    callback_args: int = 0  # a callback's argument count (bpf_loop 2, for_each_map_elem 4)


A = Arg
_MEMRO = (A.PTR_TO_MEM, A.CONST_SIZE)
_PROBE = (A.PTR_TO_UNINIT_MEM, A.CONST_SIZE_OR_ZERO, A.UNSAFE_PTR)

# map types (the kernel's enum bpf_map_type)
HASH, ARRAY, PROG_ARRAY, PERF_EVENT_ARRAY, PERCPU_HASH, PERCPU_ARRAY = 1, 2, 3, 4, 5, 6
STACK_TRACE, LRU_HASH, LRU_PERCPU_HASH, LPM_TRIE = 7, 9, 10, 11
ARRAY_OF_MAPS, HASH_OF_MAPS, QUEUE, STACK, RINGBUF, BLOOM_FILTER = 12, 13, 22, 23, 27, 30
_KV = frozenset({HASH, ARRAY, PERCPU_HASH, PERCPU_ARRAY, LRU_HASH, LRU_PERCPU_HASH, LPM_TRIE})

HELPERS: dict[int, Proto] = {
    1: Proto("bpf_map_lookup_elem", (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY),
             Ret.MAP_VALUE_OR_NULL, _KV | {ARRAY_OF_MAPS, HASH_OF_MAPS}),
    2: Proto("bpf_map_update_elem",
             (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING), map_types=_KV),
    3: Proto("bpf_map_delete_elem", (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY), map_types=_KV),
    4: Proto("bpf_probe_read", _PROBE),
    5: Proto("bpf_ktime_get_ns", ()),
    6: Proto("bpf_trace_printk", (*_MEMRO, A.OPTIONAL, A.OPTIONAL, A.OPTIONAL)),
    7: Proto("bpf_get_prandom_u32", ()),
    8: Proto("bpf_get_smp_processor_id", ()),
    12: Proto("bpf_tail_call", (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING), Ret.VOID,
              frozenset({PROG_ARRAY})),
    14: Proto("bpf_get_current_pid_tgid", ()),
    15: Proto("bpf_get_current_uid_gid", ()),
    16: Proto("bpf_get_current_comm", (A.PTR_TO_UNINIT_MEM, A.CONST_SIZE)),
    25: Proto("bpf_perf_event_output",
              (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO),
              map_types=frozenset({PERF_EVENT_ARRAY})),
    27: Proto("bpf_get_stackid", (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING),
              map_types=frozenset({STACK_TRACE})),
    45: Proto("bpf_probe_read_str", _PROBE),
    58: Proto("bpf_override_return", (A.PTR_TO_CTX, A.ANYTHING)),
    67: Proto("bpf_get_stack",
              (A.PTR_TO_CTX, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING)),
    87: Proto("bpf_map_push_elem", (A.CONST_MAP_PTR, A.PTR_TO_MAP_VALUE, A.ANYTHING),
              map_types=frozenset({QUEUE, STACK, BLOOM_FILTER})),
    88: Proto("bpf_map_pop_elem", (A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MAP_VALUE),
              map_types=frozenset({QUEUE, STACK})),
    89: Proto("bpf_map_peek_elem", (A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MAP_VALUE),
              map_types=frozenset({QUEUE, STACK, BLOOM_FILTER})),
    93: Proto("bpf_spin_lock", (A.PTR_TO_SPIN_LOCK,), Ret.VOID),
    94: Proto("bpf_spin_unlock", (A.PTR_TO_SPIN_LOCK,), Ret.VOID),
    109: Proto("bpf_send_signal", (A.ANYTHING,)),
    112: Proto("bpf_probe_read_user", _PROBE),
    113: Proto("bpf_probe_read_kernel", _PROBE),
    114: Proto("bpf_probe_read_user_str", _PROBE),
    115: Proto("bpf_probe_read_kernel_str", _PROBE),
    117: Proto("bpf_send_signal_thread", (A.ANYTHING,)),
    125: Proto("bpf_ktime_get_boot_ns", ()),
    130: Proto("bpf_ringbuf_output",
               (A.CONST_MAP_PTR, A.PTR_TO_MEM, A.CONST_SIZE_OR_ZERO, A.ANYTHING),
               map_types=frozenset({RINGBUF})),
    131: Proto("bpf_ringbuf_reserve",
               (A.CONST_MAP_PTR, A.CONST_ALLOC_SIZE_OR_ZERO, A.ANYTHING),
               Ret.RINGBUF_MEM_OR_NULL, frozenset({RINGBUF})),
    132: Proto("bpf_ringbuf_submit", (A.PTR_TO_RINGBUF_MEM, A.ANYTHING), Ret.VOID),
    133: Proto("bpf_ringbuf_discard", (A.PTR_TO_RINGBUF_MEM, A.ANYTHING), Ret.VOID),
    134: Proto("bpf_ringbuf_query", (A.CONST_MAP_PTR, A.ANYTHING),
               map_types=frozenset({RINGBUF})),
    160: Proto("bpf_ktime_get_coarse_ns", ()),
    164: Proto("bpf_for_each_map_elem",
               (A.CONST_MAP_PTR, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING),
               map_types=frozenset({HASH, ARRAY, PERCPU_HASH, PERCPU_ARRAY, LRU_HASH,
                                    LRU_PERCPU_HASH}),
               callback_args=4),
    165: Proto("bpf_snprintf",
               (A.PTR_TO_UNINIT_MEM_OR_NULL, A.CONST_SIZE_OR_ZERO, A.PTR_TO_CONST_STR,
                A.PTR_TO_MEM_OR_NULL, A.CONST_SIZE_OR_ZERO)),
    174: Proto("bpf_get_attach_cookie", (A.PTR_TO_CTX,)),
    177: Proto("bpf_trace_vprintk",
               (*_MEMRO, A.PTR_TO_MEM_OR_NULL, A.CONST_SIZE_OR_ZERO)),
    181: Proto("bpf_loop", (A.ANYTHING, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING),
               callback_args=2),
    182: Proto("bpf_strncmp", (*_MEMRO, A.PTR_TO_CONST_STR)),
    183: Proto("bpf_get_func_arg", (A.PTR_TO_CTX, A.ANYTHING, A.PTR_TO_LONG)),
    184: Proto("bpf_get_func_ret", (A.PTR_TO_CTX, A.PTR_TO_LONG)),
    185: Proto("bpf_get_func_arg_cnt", (A.PTR_TO_CTX,)),
}  # fmt: skip

# map types only these helpers may take (the kernel refuses the generic map helpers on them)
RESERVED_MAP_TYPES: dict[int, frozenset[int]] = {
    PROG_ARRAY: frozenset({12}),
    PERF_EVENT_ARRAY: frozenset({25}),
    STACK_TRACE: frozenset({27}),
    QUEUE: frozenset({87, 88, 89}),
    STACK: frozenset({87, 88, 89}),
    BLOOM_FILTER: frozenset({87, 89}),
    RINGBUF: frozenset({130, 131, 134}),
}

MAP_TYPE_NAMES = {
    HASH: "hash", ARRAY: "array", PROG_ARRAY: "prog_array",
    PERF_EVENT_ARRAY: "perf_event_array", PERCPU_HASH: "percpu_hash",
    PERCPU_ARRAY: "percpu_array", STACK_TRACE: "stack_trace", LRU_HASH: "lru_hash",
    LRU_PERCPU_HASH: "lru_percpu_hash", LPM_TRIE: "lpm_trie", ARRAY_OF_MAPS: "array_of_maps",
    HASH_OF_MAPS: "hash_of_maps", QUEUE: "queue", STACK: "stack", RINGBUF: "ringbuf",
    BLOOM_FILTER: "bloom_filter",
}  # fmt: skip


def map_type_name(t: int) -> str:
    return MAP_TYPE_NAMES.get(t, f"type {t}")
