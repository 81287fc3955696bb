"""Maps in a shared-memory segment, from Python: Segment and RawMap.

Owns: the Python face of cext/bt_shm.h and cext/bt_map.h. A Segment creates or
opens a named POSIX shared-memory segment and creates or finds maps in it; a
RawMap is one map with the bpf() syscall's semantics, bytes in and bytes out
(keys and values of exactly key_size / user_value_size bytes, per-CPU values
as ncpu slots of round_up(value_size, 8)), with C errors turned into MapError
or MapKeyError messages that name the map, the operation and what to do.
``call_helper`` and ``trace_write`` run the C map helpers with a fresh run
context as an engine would, for tests and experiments.

Does not own: map semantics (cext/maps/), typed keys and values (callers pack
bytes), loading programs that use maps (they take ``RawMap.handle`` and
``RawMap.value_addr``).
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize,
                            PyBytes_GET_SIZE)
from libc.errno cimport ENOENT, errno
from libc.stdint cimport uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset, strlen
from posix.mman cimport shm_unlink
from posix.unistd cimport usleep

from includes.bt cimport (BT_ERR_HELPER, BT_MAX_HELPERS, bt_ctx, bt_ctx__fail, bt_ctx__reset,
                          bt_helper_fn)
from includes.bt_maps cimport *

import errno as _errno
import os
import secrets
import time

from bpftime.errors import MapError, MapKeyError

# map types by their kernel names (the ids of enum bpf_map_type)
MAP_TYPES = {
    "hash": BT_MAP_HASH, "array": BT_MAP_ARRAY, "prog_array": BT_MAP_PROG_ARRAY,
    "perf_event_array": BT_MAP_PERF_EVENT_ARRAY, "percpu_hash": BT_MAP_PERCPU_HASH,
    "percpu_array": BT_MAP_PERCPU_ARRAY, "stack_trace": BT_MAP_STACK_TRACE,
    "lru_hash": BT_MAP_LRU_HASH, "lru_percpu_hash": BT_MAP_LRU_PERCPU_HASH,
    "lpm_trie": BT_MAP_LPM_TRIE, "array_of_maps": BT_MAP_ARRAY_OF_MAPS,
    "hash_of_maps": BT_MAP_HASH_OF_MAPS, "queue": BT_MAP_QUEUE, "stack": BT_MAP_STACK,
    "ringbuf": BT_MAP_RINGBUF, "bloom_filter": BT_MAP_BLOOM_FILTER,
}
_TYPE_NAMES = {v: k for k, v in MAP_TYPES.items()}

# update flags
BPF_ANY = BT_ANY
BPF_NOEXIST = BT_NOEXIST
BPF_EXIST = BT_EXIST
BPF_F_LOCK = BT_F_LOCK
# map_flags
BPF_F_NO_PREALLOC = BT_F_NO_PREALLOC
BPF_F_NO_COMMON_LRU = BT_F_NO_COMMON_LRU
BPF_F_NUMA_NODE = BT_F_NUMA_NODE
BPF_F_RDONLY = BT_F_RDONLY
BPF_F_WRONLY = BT_F_WRONLY
BPF_F_STACK_BUILD_ID = BT_F_STACK_BUILD_ID
BPF_F_ZERO_SEED = BT_F_ZERO_SEED
BPF_F_RDONLY_PROG = BT_F_RDONLY_PROG
BPF_F_WRONLY_PROG = BT_F_WRONLY_PROG
BPF_F_CLONE = BT_F_CLONE
BPF_F_MMAPABLE = BT_F_MMAPABLE
BPF_F_PRESERVE_ELEMS = BT_F_PRESERVE_ELEMS
BPF_F_INNER_MAP = BT_F_INNER_MAP
# perf_event_output / get_stackid flags
BPF_F_CURRENT_CPU = BT_F_CURRENT_CPU
BPF_F_FAST_STACK_CMP = BT_F_FAST_STACK_CMP
BPF_F_REUSE_STACKID = BT_F_REUSE_STACKID
# ringbuf output/submit/discard flags (accepted; consumers poll) and query flags
BPF_RB_NO_WAKEUP = BT_RB_NO_WAKEUP
BPF_RB_FORCE_WAKEUP = BT_RB_FORCE_WAKEUP
BPF_RB_AVAIL_DATA = BT_RB_AVAIL_DATA
BPF_RB_RING_SIZE = BT_RB_RING_SIZE
BPF_RB_CONS_POS = BT_RB_CONS_POS
BPF_RB_PROD_POS = BT_RB_PROD_POS

PERF_RING_BYTES = BT_PERF_RING_BYTES
TRACE_RING_BYTES = BT_TRACE_RING_BYTES
MAX_MAPS = BT_SHM_MAX_MAPS

DEFAULT_SEGMENT_SIZE = 64 << 20

cdef enum:
    ERRLEN = 512
    SMALL = 512     # values up to this size are looked up into a C stack buffer
    MAX_STACK = 127

_ARRAYS = (BT_MAP_ARRAY, BT_MAP_PERCPU_ARRAY, BT_MAP_PROG_ARRAY, BT_MAP_PERF_EVENT_ARRAY,
           BT_MAP_ARRAY_OF_MAPS)
_HASHES = (BT_MAP_HASH, BT_MAP_PERCPU_HASH, BT_MAP_LRU_HASH, BT_MAP_LRU_PERCPU_HASH,
           BT_MAP_HASH_OF_MAPS)


cdef inline str _errname(int e):
    if e == _errno.EOPNOTSUPP:
        return "EOPNOTSUPP"  # errorcode names it by its alias ENOTSUP
    return _errno.errorcode.get(e, str(e))


def _map_type(t, name):
    if isinstance(t, str):
        try:
            return MAP_TYPES[t.lower()]
        except KeyError:
            raise MapError(f"create map {name!r}: unknown map type {t!r} (known: "
                           f"{', '.join(MAP_TYPES)}); EINVAL", _errno.EINVAL) from None
    return int(t)


# --- arguments (Arg: see _maps.pxd) --------------------------------------------------

cdef inline int arg_get(Arg *a, object o) except -1:
    if PyBytes_CheckExact(o):
        a.p = <const uint8_t *>PyBytes_AS_STRING(o)
        a.n = PyBytes_GET_SIZE(o)
        a.release = False
    else:
        PyObject_GetBuffer(o, &a.view, PyBUF_SIMPLE)
        a.p = <const uint8_t *>a.view.buf
        a.n = a.view.len
        a.release = True
    return 0


cdef inline void arg_release(Arg *a) noexcept:
    if a.release:
        PyBuffer_Release(&a.view)
        a.release = False


cdef class _Items:
    """n items of `size` bytes for a batch operation: one packed buffer (n * size bytes)
    or a sequence of bytes-like objects; ptrs[i] points at item i."""
    cdef const uint8_t **ptrs
    cdef Py_ssize_t n
    cdef Arg packed
    cdef tuple keep

    def __cinit__(self):
        self.ptrs = NULL
        self.packed.release = False

    def __dealloc__(self):
        free(self.ptrs)
        arg_release(&self.packed)

    cdef int setup(self, object obj, Py_ssize_t size, str what, RawMap owner) except -1:
        cdef Py_ssize_t i
        if size == 0:
            raise owner._error(f"{what} batch", _errno.EOPNOTSUPP)
        if PyObject_CheckBuffer(obj):
            arg_get(&self.packed, obj)
            if self.packed.n % size:
                raise owner._size_error(f"{what} batch", f"packed {what}s",
                                        self.packed.n, size, packed=True)
            self.n = self.packed.n // size
            self.ptrs = <const uint8_t **>malloc(max(self.n, 1) * sizeof(uint8_t *))
            if self.ptrs == NULL:
                raise MemoryError()
            for i in range(self.n):
                self.ptrs[i] = self.packed.p + i * size
            return 0
        self.keep = tuple([x if PyBytes_CheckExact(x) else memoryview(x).tobytes() for x in obj])
        self.n = len(self.keep)
        self.ptrs = <const uint8_t **>malloc(max(self.n, 1) * sizeof(uint8_t *))
        if self.ptrs == NULL:
            raise MemoryError()
        for i in range(self.n):
            x = self.keep[i]
            if PyBytes_GET_SIZE(x) != size:
                raise owner._size_error(f"{what} batch (element {i})", what,
                                        PyBytes_GET_SIZE(x), size)
            self.ptrs[i] = <const uint8_t *>PyBytes_AS_STRING(x)
        return 0


cdef class Segment:
    """A named POSIX shared-memory segment holding maps.

    Segment(name=None, size=64 MiB, create=True): create a new segment (a random
    name ``/bpftime-<pid>-<hex>`` when name is None), or with create=False open an
    existing one by name. Used as a context manager it closes on exit and unlinks
    the name if it created the segment. Maps live as long as the segment.
    """

    def __cinit__(self):
        self.shm.base = NULL
        self.shm.fd = -1
        self.created = False

    def __init__(self, name=None, size=DEFAULT_SEGMENT_SIZE, create=True):
        cdef char err[ERRLEN]
        cdef int rc
        err[0] = 0
        if name is None:
            if not create:
                raise MapError("open segment: a name is needed to open an existing segment",
                               _errno.EINVAL)
            name = f"/bpftime-{os.getpid()}-{secrets.token_hex(4)}"
        if not isinstance(name, str):
            raise TypeError(f"segment name must be a str, not {type(name).__name__}")
        bname = name.encode("utf-8", "surrogateescape")
        if b"\0" in bname:
            raise MapError(f"bad segment name {name!r}: it contains a NUL character",
                           _errno.EINVAL)
        if create:
            if size < 0:
                raise MapError(f"segment {name}: size {size} is negative", _errno.EINVAL)
            rc = bt_shm__create(&self.shm, bname, size, err, ERRLEN)
        else:
            rc = bt_shm__open(&self.shm, bname, err, ERRLEN)
        if rc:
            what = "create" if create else "open"
            raise MapError(f"{what} segment: {err.decode('utf-8', 'replace')}; "
                           f"{_errname(-rc)}", -rc)
        self.created = bool(create)
        self.name = name

    def __dealloc__(self):
        if self.shm.base != NULL:
            bt_shm__close(&self.shm, 0)

    cdef int _alive(self) except -1:
        if self.shm.base == NULL:
            raise MapError(f"segment {self.name}: it is closed", _errno.EBADF)
        return 0

    @property
    def size(self):
        """Bytes in the segment."""
        return self.shm.size

    @property
    def ncpu(self):
        """Possible CPUs when the segment was created: per-CPU values have this many slots."""
        self._alive()
        return bt_shm__header(&self.shm).ncpu

    @property
    def available(self):
        """Bytes still free for new maps (approximate)."""
        self._alive()
        return bt_shm__available(&self.shm)

    @property
    def closed(self):
        return self.shm.base == NULL

    @property
    def base(self):
        """Address of this process's mapping of the segment (agents rebase programs from it)."""
        self._alive()
        return <size_t>self.shm.base

    def alloc_bytes(self, const unsigned char[::1] data):
        """Copy data into a new block of the segment (e.g. JIT'd code for an agent); its offset."""
        cdef uint64_t off
        self._alive()
        off = bt_shm__alloc(&self.shm, max(<uint64_t>data.shape[0], 1))
        if off == 0:
            raise MapError(f"segment {self.name}: no room for {data.shape[0]} bytes", _errno.ENOMEM)
        if data.shape[0]:
            memcpy(self.shm.base + off, &data[0], data.shape[0])
        return off

    def create_map(self, type, key_size, value_size, max_entries, flags=0, map_extra=0,
                   inner_map_id=0, name=""):
        """Create a map (type: a kernel id or a name from MAP_TYPES) and return it.

        The attributes are checked as the kernel checks them; a refusal raises
        MapError with the reason and the kernel's errno.
        """
        cdef bt_map_attr attr
        cdef char err[ERRLEN]
        cdef uint32_t mid = 0
        cdef int rc
        self._alive()
        t = _map_type(type, name)
        tname = _TYPE_NAMES.get(t, f"type {t}")
        bname = name.encode("ascii", "replace")
        if len(bname) >= BT_MAP_NAME_LEN:
            raise MapError(f"create map {name!r} ({tname}): name is longer than "
                           f"{BT_MAP_NAME_LEN - 1} characters; EINVAL", _errno.EINVAL)
        memset(&attr, 0, sizeof(attr))
        for field, v in (("type", t), ("key_size", key_size), ("value_size", value_size),
                         ("max_entries", max_entries), ("flags", flags),
                         ("inner_map_id", inner_map_id)):
            if not 0 <= v <= 0xFFFFFFFF:
                raise MapError(f"create map {name!r} ({tname}): {field} {v} is not a u32; "
                               "EINVAL", _errno.EINVAL)
        if not 0 <= map_extra <= 0xFFFFFFFFFFFFFFFF:
            raise MapError(f"create map {name!r} ({tname}): map_extra {map_extra} is not a "
                           "u64; EINVAL", _errno.EINVAL)
        attr.type = t
        attr.key_size = key_size
        attr.value_size = value_size
        attr.max_entries = max_entries
        attr.map_flags = flags
        attr.map_extra = map_extra
        attr.inner_map_id = inner_map_id
        for i in range(len(bname)):
            attr.name[i] = bname[i]
        err[0] = 0
        rc = bt_map__create(&self.shm, &attr, &mid, err, ERRLEN)
        if rc:
            raise MapError(f"create map {name!r} ({tname}): {err.decode('utf-8', 'replace')}; "
                           f"{_errname(-rc)}", -rc)
        return self.map(mid)

    def map(self, id):
        """The map with this id; MapKeyError if there is none."""
        self._alive()
        cdef bt_map *m = bt_map__from_id(&self.shm, id) if 0 < id <= 0xFFFFFFFF else NULL
        if m == NULL:
            raise MapKeyError(f"segment {self.name}: no map with id {id}", _errno.ENOENT)
        return _wrap(self, m)

    def maps(self):
        """Every map in the segment, by id."""
        self._alive()
        cdef uint32_t i, n = bt_shm__header(&self.shm).nmaps
        cdef bt_map *m
        out = []
        for i in range(1, n + 1):
            m = bt_map__from_id(&self.shm, i)
            if m != NULL:
                out.append(_wrap(self, m))
        return out

    @property
    def trace_map(self):
        """The segment's bpf_printk ring buffer (created on first use)."""
        cdef char err[ERRLEN]
        self._alive()
        err[0] = 0
        cdef bt_map *m = bt_map__trace(&self.shm, err, ERRLEN)
        if m == NULL:
            raise MapError(f"segment {self.name}: trace map: {err.decode('utf-8', 'replace')}",
                           _errno.ENOMEM)
        return _wrap(self, m)

    def close(self):
        """Unmap the segment; maps from it become unusable. The name stays."""
        if self.shm.base != NULL:
            bt_shm__close(&self.shm, 0)

    def unlink(self):
        """Remove the segment's name; processes that have it open keep it until they close."""
        if shm_unlink(self.name.encode("utf-8", "surrogateescape")) != 0:
            e = errno
            raise MapError(f"segment {self.name}: unlink: {os.strerror(e)}; {_errname(e)}", e)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        if self.created:
            try:
                self.unlink()
            except MapError:
                pass
        return False

    def __repr__(self):
        state = "closed" if self.shm.base == NULL else f"{self.shm.size} bytes"
        return f"<Segment {self.name} {state}>"


cdef RawMap _wrap(Segment seg, bt_map *m):
    cdef RawMap r = RawMap.__new__(RawMap)
    r.m = m
    r.segment = seg
    r.id = m.id
    r.type = m.type
    r.key_size = m.key_size
    r.value_size = m.value_size
    r.max_entries = m.max_entries
    r.flags = m.map_flags
    r.user_value_size = bt_map__user_value_size(m)
    r.name = (<bytes>m.name[:strlen(m.name)]).decode("ascii", "replace")
    return r


# --- consumer callbacks ----------------------------------------------------------------

cdef class _Calls:
    cdef object fn
    cdef object lost_fn
    cdef object exc
    cdef int cpu          # -1: ring buffer callback(data); else perf callback(cpu, data)


cdef int _on_sample(void *p, const void *data, uint32_t size) noexcept with gil:
    cdef _Calls c = <_Calls>p
    try:
        b = PyBytes_FromStringAndSize(<const char *>data, size)
        r = c.fn(b) if c.cpu < 0 else c.fn(c.cpu, b)
        if isinstance(r, int) and r < 0:
            return -1
        return 0
    except BaseException as exc:
        c.exc = exc
        return -1


cdef void _on_lost(void *p, uint64_t lost) noexcept with gil:
    cdef _Calls c = <_Calls>p
    if c.lost_fn is None or c.exc is not None:
        return
    try:
        c.lost_fn(c.cpu, lost)
    except BaseException as exc:
        c.exc = exc


cdef class RawMap:
    """One map in a segment, with the bpf() syscall's semantics: bytes in, bytes out.

    Keys are key_size bytes, values user_value_size bytes (per-CPU maps: ncpu slots
    of round_up(value_size, 8); map-in-map: inner map ids; prog arrays: prog ids, as
    u32). Misses raise MapKeyError (a KeyError), other failures MapError; ``lookup``
    returns None for a missing key instead. Get one from Segment.create_map or
    Segment.map.
    """

    def __init__(self):
        raise TypeError("RawMap objects come from Segment.create_map() or Segment.map()")

    cdef int _alive(self) except -1:
        if self.segment.shm.base == NULL:
            raise MapError(f"map {self.label} ({self.type_name}): segment "
                           f"{self.segment.name} is closed", _errno.EBADF)
        return 0

    @property
    def type_name(self):
        return _TYPE_NAMES.get(self.type, str(self.type))

    @property
    def label(self):
        """How messages name the map: its name in quotes, or #id when it has none."""
        return repr(self.name) if self.name else f"#{self.id}"

    @property
    def handle(self):
        """This process's address of the map: what a program's ``lddw map`` loads."""
        self._alive()
        return <uintptr_t>self.m

    @property
    def value_addr(self):
        """ARRAY maps: this process's address of element 0's value. The values are
        contiguous slots of round_up(value_size, 8) bytes, so ``lddw map_value``
        (global variables) can point into them."""
        self._alive()
        if self.type != BT_MAP_ARRAY:
            raise self._error("value_addr", _errno.EOPNOTSUPP)
        return <uintptr_t>bt_map__data(self.m)

    @property
    def frozen(self):
        self._alive()
        return bool(self.m.frozen)

    @property
    def inner_map_id(self):
        return self.m.inner_map_id

    @property
    def offset(self):
        """Offset of the map's header in its segment (the same in every process)."""
        return self.m.self_off

    @property
    def lock_owner(self):
        """Pid holding the map's lock, 0 when free (diagnostics)."""
        self._alive()
        return self.m.lock.owner

    def __repr__(self):
        return (f"<RawMap {self.id} {self.name!r} {self.type_name} key_size={self.key_size} "
                f"value_size={self.value_size} max_entries={self.max_entries}>")

    # --- errors -------------------------------------------------------------------

    cdef str _describe(self, str op, int e, uint64_t flags):
        t = self.type
        keyless = self.key_size == 0
        if e == _errno.ENOENT:
            if t == BT_MAP_BLOOM_FILTER:
                return "value is not in the filter"
            if keyless or op in ("pop", "peek"):
                return "map is empty"
            if op.startswith("update"):
                return "no such key, and flags has BPF_EXIST"
            return "no such key"
        if e == _errno.EEXIST:
            if t in _ARRAYS:
                return "array elements always exist, so BPF_NOEXIST cannot succeed"
            return "key exists, and flags has BPF_NOEXIST"
        if e == _errno.E2BIG:
            if t in (BT_MAP_QUEUE, BT_MAP_STACK):
                return (f"map is full (max_entries {self.max_entries}); push with "
                        "BPF_EXIST to drop the oldest element")
            if t in _HASHES:
                return (f"map is full (max_entries {self.max_entries}); delete elements, "
                        "create it larger, or use an LRU hash")
            return f"index out of range (max_entries {self.max_entries})"
        if e == _errno.ENOSPC:
            return f"trie is full (max_entries {self.max_entries})"
        if e == _errno.EPERM:
            if self.m.frozen:
                return "map is frozen: user space can no longer write it"
            if self.flags & BT_F_RDONLY:
                return "map was created with BPF_F_RDONLY: user space can only read it"
            if self.flags & BT_F_WRONLY:
                return "map was created with BPF_F_WRONLY: user space can only write it"
            return "operation not permitted"
        if e == _errno.EOPNOTSUPP:
            return f"not supported for {self.type_name} maps"
        if e == _errno.EBADF:
            return "no map with that id in this segment"
        if e == _errno.EBUSY:
            return "map is already frozen"
        if e == _errno.ENOMEM and t == BT_MAP_STACK_TRACE:
            return (f"every stack record is in use (max_entries {self.max_entries}); "
                    "delete stacks or create the map larger")
        if e == _errno.ENOMEM:
            return ("no free element: a process died while updating the map; the next "
                    "locked update repairs it")
        if e == _errno.EINVAL:
            if op.startswith("delete") and t in (BT_MAP_ARRAY, BT_MAP_PERCPU_ARRAY):
                return "array elements cannot be deleted"
            if op.startswith("delete") and keyless:
                return "elements of this map cannot be deleted; use pop()"
            if t in (BT_MAP_ARRAY_OF_MAPS, BT_MAP_HASH_OF_MAPS) and op.startswith("update"):
                return (f"the inner map does not match template map {self.m.inner_map_id} "
                        "(type, key_size, value_size, map_flags, max_entries), or flags "
                        f"{flags:#x} are not allowed")
            if t == BT_MAP_PROG_ARRAY and op.startswith("update"):
                return f"prog arrays take flags BPF_ANY and a nonzero prog id (flags {flags:#x})"
            if t == BT_MAP_LPM_TRIE:
                return (f"flags {flags:#x} or the key's prefixlen (at most "
                        f"{(self.key_size - 4) * 8}) is not valid")
            if op.startswith(("update", "push")):
                return f"flags {flags:#x} are not valid for {self.type_name} maps"
            return f"invalid argument for {self.type_name} maps"
        return os.strerror(e)

    cdef object _error(self, str op, int e, uint64_t flags=0):
        msg = (f"map {self.label} ({self.type_name}): {op}: "
               f"{self._describe(op, e, flags)}; {_errname(e)}")
        if e == _errno.ENOENT:
            return MapKeyError(msg, e)
        return MapError(msg, e)

    cdef object _size_error(self, str op, str what, Py_ssize_t got, Py_ssize_t want,
                            bint packed=False):
        if packed:
            return MapError(f"map {self.label} ({self.type_name}): {op}: {got} bytes of "
                            f"{what} is not a multiple of {want}; EINVAL", _errno.EINVAL)
        return MapError(f"map {self.label} ({self.type_name}): {op}: {what} must be "
                        f"{want} bytes, got {got}; EINVAL", _errno.EINVAL)

    cdef const uint8_t *_key(self, Arg *a, object key, str op) except? NULL:
        """Key bytes (NULL for key_size 0 maps, which take None or b"")."""
        if self.key_size == 0 and (key is None or (PyBytes_CheckExact(key) and
                                                   PyBytes_GET_SIZE(key) == 0)):
            a.release = False
            return NULL
        arg_get(a, key)
        if a.n != self.key_size:
            arg_release(a)
            raise self._size_error(op, "key", a.n, self.key_size)
        return a.p

    # --- single operations ----------------------------------------------------------

    def lookup(self, key):
        """The value for key, or None. Queues/stacks: the next element (key None)."""
        cdef Arg k
        cdef int rc
        cdef uint8_t small[SMALL]
        cdef Py_ssize_t vs = self.user_value_size
        self._alive()
        if self.type == BT_MAP_BLOOM_FILTER:
            raise MapError(f"map {self.label} (bloom_filter): lookup: test a value with "
                           "peek(value); EINVAL", _errno.EINVAL)
        if self.type in (BT_MAP_RINGBUF, BT_MAP_PERF_EVENT_ARRAY):
            raise self._error("lookup", _errno.EOPNOTSUPP)
        cdef const uint8_t *kp = self._key(&k, key, "lookup")
        if vs <= SMALL:
            rc = bt_map__user_lookup(self.m, kp, small)
            arg_release(&k)
            if rc == 0:
                return PyBytes_FromStringAndSize(<char *>small, vs)
        else:
            out = PyBytes_FromStringAndSize(NULL, vs)
            rc = bt_map__user_lookup(self.m, kp, PyBytes_AS_STRING(out))
            arg_release(&k)
            if rc == 0:
                return out
        if rc == -ENOENT:
            return None
        raise self._error("lookup", -rc)

    def update(self, key, value, flags=0):
        """Set key to value. flags: BPF_ANY, BPF_NOEXIST (-> EEXIST) or BPF_EXIST (-> ENOENT)."""
        cdef Arg k, v
        cdef int rc
        cdef uint64_t f = flags
        self._alive()
        cdef const uint8_t *kp = self._key(&k, key, "update")
        try:
            arg_get(&v, value)
            if v.n != self.user_value_size:
                arg_release(&v)
                raise self._size_error("update", "value", v.n, self.user_value_size)
            rc = bt_map__user_update(self.m, kp, v.p, f)
            arg_release(&v)
        finally:
            arg_release(&k)
        if rc:
            raise self._error("update", -rc, f)

    def delete(self, key):
        """Remove key; MapKeyError if it is not there."""
        cdef Arg k
        self._alive()
        cdef const uint8_t *kp = self._key(&k, key, "delete")
        cdef int rc = bt_map__user_delete(self.m, kp)
        arg_release(&k)
        if rc:
            raise self._error("delete", -rc)

    def next_key(self, key=None):
        """The key after key (the first key when None, or when key is not there), or None
        after the last."""
        cdef Arg k
        cdef uint8_t small[SMALL]
        cdef const uint8_t *kp = NULL
        self._alive()
        if self.key_size > SMALL:
            raise self._error("next_key", _errno.EOPNOTSUPP)
        if key is not None:
            kp = self._key(&k, key, "next_key")
        else:
            k.release = False
        cdef int rc = bt_map__get_next_key(self.m, kp, small)
        arg_release(&k)
        if rc == 0:
            return PyBytes_FromStringAndSize(<char *>small, self.key_size)
        if rc == -ENOENT:
            return None
        raise self._error("next_key", -rc)

    def keys(self):
        """Iterate over the keys (next_key from the first)."""
        k = self.next_key(None)
        while k is not None:
            yield k
            k = self.next_key(k)

    def __iter__(self):
        return self.keys()

    def lookup_and_delete(self, key=None):
        """Remove key and return its value (queues/stacks: pop, key None)."""
        return self._take(key, "lookup_and_delete")

    cdef object _take(self, object key, str op):
        cdef Arg k
        self._alive()
        if self.user_value_size == 0:
            raise self._error(op, _errno.EOPNOTSUPP)
        cdef const uint8_t *kp = self._key(&k, key, op)
        out = PyBytes_FromStringAndSize(NULL, self.user_value_size)
        cdef int rc = bt_map__user_lookup_and_delete(self.m, kp, PyBytes_AS_STRING(out))
        arg_release(&k)
        if rc:
            raise self._error(op, -rc)
        return out

    def push(self, value, flags=0):
        """Queue/stack: add value (BPF_EXIST overwrites the oldest when full).
        Bloom filter: add value."""
        cdef Arg v
        cdef uint64_t f = flags
        self._alive()
        if self.key_size != 0 or self.type == BT_MAP_RINGBUF:
            raise self._error("push", _errno.EOPNOTSUPP)
        arg_get(&v, value)
        if v.n != self.value_size:
            arg_release(&v)
            raise self._size_error("push", "value", v.n, self.value_size)
        cdef int rc = bt_map__user_update(self.m, NULL, v.p, f)
        arg_release(&v)
        if rc:
            raise self._error("push", -rc, f)

    def pop(self):
        """Queue/stack: remove and return the next element; MapKeyError when empty."""
        self._alive()
        if self.type not in (BT_MAP_QUEUE, BT_MAP_STACK):
            raise self._error("pop", _errno.EOPNOTSUPP)
        return self._take(None, "pop")

    def peek(self, value=None):
        """Queue/stack: the next element without removing it (MapKeyError when empty).
        Bloom filter: peek(value) returns value if it may be in the filter and raises
        MapKeyError if it certainly is not."""
        cdef Arg v
        cdef int rc
        self._alive()
        if self.type == BT_MAP_BLOOM_FILTER:
            if value is None:
                raise MapError(f"map {self.label} (bloom_filter): peek: give the value to "
                               "test; EINVAL", _errno.EINVAL)
            arg_get(&v, value)
            if v.n != self.value_size:
                arg_release(&v)
                raise self._size_error("peek", "value", v.n, self.value_size)
            rc = bt_map__user_lookup(self.m, NULL, <void *>v.p)
            arg_release(&v)
            if rc:
                raise self._error("peek", -rc)
            return bytes(value)
        if self.type not in (BT_MAP_QUEUE, BT_MAP_STACK):
            raise self._error("peek", _errno.EOPNOTSUPP)
        out = PyBytes_FromStringAndSize(NULL, self.value_size)
        rc = bt_map__user_lookup(self.m, NULL, PyBytes_AS_STRING(out))
        if rc:
            raise self._error("peek", -rc)
        return out

    def count(self):
        """Elements stored (arrays: max_entries; bloom filters: values pushed)."""
        self._alive()
        if self.type in (BT_MAP_RINGBUF, BT_MAP_PERF_EVENT_ARRAY):
            raise self._error("count", _errno.EOPNOTSUPP)
        return bt_map__count(self.m)

    def __len__(self):
        return self.count()

    def freeze(self):
        """Make the map read-only for user space (programs may still write it)."""
        self._alive()
        cdef int rc = bt_map__freeze(self.m)
        if rc:
            raise self._error("freeze", -rc)

    # --- batches: one C loop ----------------------------------------------------------

    def lookup_batch(self, keys, packed=False):
        """Values of many keys (None where missing). keys: a sequence of keys or one
        buffer of packed keys. With packed=True, returns (values, present): one bytes
        object of len(keys) * user_value_size (zeros where missing) and one byte per key,
        1 where found, as BPF_MAP_LOOKUP_BATCH fills flat arrays."""
        cdef _Items ks = _Items()
        cdef Py_ssize_t i, n, vs = self.user_value_size
        cdef uint8_t *out
        cdef int *rcs
        cdef bt_map *m = self.m
        self._alive()
        ks.setup(keys, self.key_size, "lookup", self)
        n = ks.n
        out = <uint8_t *>malloc(max(n * vs, 1))
        rcs = <int *>malloc(max(n, 1) * sizeof(int))
        try:
            if out == NULL or rcs == NULL:
                raise MemoryError()
            with nogil:
                for i in range(n):
                    rcs[i] = bt_map__user_lookup(m, ks.ptrs[i], out + i * vs)
                    if rcs[i] != 0:
                        memset(out + i * vs, 0, vs)
            if packed:
                present = bytearray(n)
                for i in range(n):
                    if rcs[i] == 0:
                        present[i] = 1
                    elif rcs[i] != -ENOENT:
                        raise self._error(f"lookup_batch (element {i})", -rcs[i])
                return PyBytes_FromStringAndSize(<char *>out, n * vs), bytes(present)
            res = [None] * n
            for i in range(n):
                if rcs[i] == 0:
                    res[i] = PyBytes_FromStringAndSize(<char *>out + i * vs, vs)
                elif rcs[i] != -ENOENT:
                    raise self._error(f"lookup_batch (element {i})", -rcs[i])
            return res
        finally:
            free(out)
            free(rcs)

    def update_batch(self, keys, values, flags=0):
        """Update many keys, in order; stops at and raises for the first failure (the
        elements before it stay updated)."""
        cdef _Items ks = _Items()
        cdef _Items vs = _Items()
        cdef Py_ssize_t i = 0, n
        cdef int rc = 0
        cdef uint32_t done = 0
        cdef uint64_t f = flags
        cdef bt_map *m = self.m
        self._alive()
        ks.setup(keys, self.key_size, "update", self)
        vs.setup(values, self.user_value_size, "update", self)
        if ks.n != vs.n:
            raise MapError(f"map {self.label} ({self.type_name}): update_batch: {ks.n} keys "
                           f"but {vs.n} values; EINVAL", _errno.EINVAL)
        n = ks.n
        with nogil:
            rc = bt_map__user_update_batch(m, <const void *const *>ks.ptrs,
                                           <const void *const *>vs.ptrs, <uint32_t>n, f, &done)
        i = done
        if rc:
            raise self._error(f"update_batch (element {i})", -rc, f)

    def delete_batch(self, keys):
        """Delete many keys, in order; stops at and raises for the first failure."""
        cdef _Items ks = _Items()
        cdef Py_ssize_t i = 0, n
        cdef int rc = 0
        cdef bt_map *m = self.m
        self._alive()
        ks.setup(keys, self.key_size, "delete", self)
        n = ks.n
        with nogil:
            while i < n:
                rc = bt_map__user_delete(m, ks.ptrs[i])
                if rc:
                    break
                i += 1
        if rc:
            raise self._error(f"delete_batch (element {i})", -rc)

    # --- ring buffer, perf event array, stack traces -------------------------------------

    def consume(self, callback):
        """Ring buffer: call callback(data: bytes) for each committed record, in order;
        a callback returning a negative int stops early. Returns the records consumed."""
        self._alive()
        if self.type != BT_MAP_RINGBUF:
            raise self._error("consume", _errno.EOPNOTSUPP)
        cdef _Calls c = _Calls()
        c.fn = callback
        c.cpu = -1
        cdef long n = bt_ringbuf__consume(self.m, _on_sample, <void *>c)
        if c.exc is not None:
            raise c.exc
        if n < 0:
            raise self._error("consume", -n)
        return n

    def poll(self, callback, timeout_ms=-1):
        """Ring buffer: wait until records arrive (or timeout_ms passes; -1 waits for
        ever), then consume them. Returns the records consumed (0 on timeout)."""
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while True:
            n = self.consume(callback)
            if n or (deadline is not None and time.monotonic() >= deadline):
                return n
            with nogil:
                usleep(500)

    def query(self, flags):
        """Ring buffer: bpf_ringbuf_query (BPF_RB_AVAIL_DATA, _RING_SIZE, _CONS_POS, _PROD_POS)."""
        self._alive()
        if self.type != BT_MAP_RINGBUF:
            raise self._error("query", _errno.EOPNOTSUPP)
        return bt_ringbuf__query(self.m, flags)

    def ringbuf_dropped(self):
        """Ring buffer: records refused since creation because the ring was full."""
        self._alive()
        if self.type != BT_MAP_RINGBUF:
            raise self._error("ringbuf_dropped", _errno.EOPNOTSUPP)
        return bt_ringbuf__dropped(self.m)

    def perf_pending_lost(self):
        """Perf event array: samples dropped (every CPU) that no PERF_RECORD_LOST has
        reported yet; perf_consume's lost_callback reports the others."""
        cdef uint32_t c
        cdef uint64_t total = 0
        self._alive()
        if self.type != BT_MAP_PERF_EVENT_ARRAY:
            raise self._error("perf_pending_lost", _errno.EOPNOTSUPP)
        for c in range(self.m.ncpu):
            total += bt_perf__pending_lost(self.m, c)
        return total

    def perf_consume(self, cpu, callback, lost_callback=None):
        """Perf event array: consume the ring of one CPU (None: every CPU), calling
        callback(cpu, data) per sample (data padded as the kernel pads it) and
        lost_callback(cpu, count) per lost-records report. Returns the samples consumed."""
        cdef _Calls c = _Calls()
        cdef long n, total = 0
        self._alive()
        if self.type != BT_MAP_PERF_EVENT_ARRAY:
            raise self._error("perf_consume", _errno.EOPNOTSUPP)
        cpus = range(self.segment.ncpu) if cpu is None else (cpu,)
        c.fn = callback
        c.lost_fn = lost_callback
        for one in cpus:
            if not 0 <= one < self.m.ncpu:
                raise MapError(f"map {self.label} (perf_event_array): perf_consume: cpu {one} "
                               f"out of range 0..{self.m.ncpu - 1}; EINVAL", _errno.EINVAL)
            c.cpu = one
            n = bt_perf__consume(self.m, one, _on_sample, _on_lost, <void *>c)
            if c.exc is not None:
                raise c.exc
            if n < 0:
                raise self._error("perf_consume", -n)
            total += n
        return total

    def store_stack(self, ips, flags=0):
        """Stack trace map: store a stack (instruction pointers, innermost first) as
        bpf_get_stackid does, honouring BPF_F_REUSE_STACKID / BPF_F_FAST_STACK_CMP and
        the skip count in the low 8 bits of flags. Returns the stack id."""
        cdef uint64_t buf[256]
        cdef uint32_t n = len(ips)
        self._alive()
        if self.type != BT_MAP_STACK_TRACE:
            raise self._error("store_stack", _errno.EOPNOTSUPP)
        if n > 256:
            n = 256
        for i in range(n):
            buf[i] = ips[i]
        cdef long rc = bt_stackmap__store(self.m, buf, n, flags)
        if rc < 0:
            if rc == -_errno.EEXIST:
                raise MapError(f"map {self.label} (stack_trace): store_stack: another stack "
                               "has this id (hash collision); pass BPF_F_REUSE_STACKID to "
                               "replace it; EEXIST", _errno.EEXIST)
            if rc == -_errno.EFAULT:
                raise MapError(f"map {self.label} (stack_trace): store_stack: skip "
                               f"{flags & 0xff} leaves no frames of {n}; EFAULT", _errno.EFAULT)
            raise self._error("store_stack", -rc, flags)
        return rc

    def stack(self, id):
        """Stack trace map: the instruction pointers stored under id; MapKeyError if none."""
        cdef uint64_t buf[MAX_STACK]
        self._alive()
        if self.type != BT_MAP_STACK_TRACE:
            raise self._error("stack", _errno.EOPNOTSUPP)
        cdef long n = bt_stackmap__lookup(self.m, id, buf, MAX_STACK) if 0 <= id <= 0xFFFFFFFF \
            else -_errno.ENOENT
        if n < 0:
            raise self._error("stack", -n)
        return [buf[i] for i in range(n)]


# --- running the C helpers from Python (tests, experiments) ------------------------------

cdef class _HelperRun:
    cdef object callback
    cdef object exc


cdef uint64_t _py_callback(bt_ctx *ctx, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3,
                           uint64_t a4, uint64_t a5) noexcept with gil:
    cdef _HelperRun run = <_HelperRun>ctx.user
    try:
        return <uint64_t>(run.callback(fn, a1, a2, a3, a4, a5) & 0xFFFFFFFFFFFFFFFF)
    except BaseException as exc:
        run.exc = exc
        bt_ctx__fail(ctx, BT_ERR_HELPER)
        return 0


def call_helper(helper_id, *args, RawMap trace=None, callback=None):
    """Call map helper ``helper_id`` (1-3, 25, 87-89, 130-134, 164) with a fresh run
    context, as an engine would. Each arg is an int or a buffer (passed as the address
    of its bytes; use a bytearray for memory the helper writes). ``trace`` becomes the
    context's bpf_printk ring; ``callback(fn, a1, a2, a3, a4, a5)`` serves
    bpf_for_each_map_elem's callbacks. Returns (r0, regions): r0 as an unsigned int and
    the memory regions the helper made accessible, as (start, end, writable)."""
    cdef bt_helper_fn table[BT_MAX_HELPERS]
    cdef bt_ctx ctx
    cdef uint64_t a[5]
    cdef Arg bufs[5]
    cdef int nbufs = 0
    cdef uint64_t r0
    cdef _HelperRun run = _HelperRun()
    if len(args) > 5:
        raise TypeError("helpers take at most 5 arguments")
    if not 0 <= helper_id < BT_MAX_HELPERS:
        raise ValueError(f"helper id {helper_id} out of range")
    memset(table, 0, sizeof(table))
    bt_helpers__fill_maps(table, BT_MAX_HELPERS)
    if table[helper_id] == NULL:
        raise ValueError(f"helper {helper_id} is not a map helper")
    memset(&ctx, 0, sizeof(ctx))
    bt_ctx__reset(&ctx)
    ctx.helpers = table
    ctx.helper_id = helper_id
    ctx.user = <void *>run
    run.callback = callback
    if trace is not None:
        trace._alive()
        (<bt_ctx_maps *>&ctx).trace = trace.m
    if callback is not None:
        (<bt_ctx_maps *>&ctx).callback = _py_callback
    try:
        for i in range(5):
            x = args[i] if i < len(args) else 0
            if isinstance(x, int):
                a[i] = x & 0xFFFFFFFFFFFFFFFF
            else:
                arg_get(&bufs[nbufs], x)
                a[i] = <uintptr_t>bufs[nbufs].p
                nbufs += 1
        r0 = table[helper_id](a[0], a[1], a[2], a[3], a[4], &ctx)
    finally:
        for i in range(nbufs):
            arg_release(&bufs[i])
    if run.exc is not None:
        raise run.exc
    regions = [(ctx.regions[i].start, ctx.regions[i].end, bool(ctx.regions[i].writable))
               for i in range(ctx.nregions)]
    return r0, regions


def trace_write(RawMap trace, msg):
    """Write one bpf_printk line to a trace ring buffer (bt_trace__write); returns what
    the C function returns (the message length or a negative errno)."""
    cdef bt_ctx ctx
    cdef Arg m
    memset(&ctx, 0, sizeof(ctx))
    if trace is not None:
        trace._alive()
        (<bt_ctx_maps *>&ctx).trace = trace.m
    arg_get(&m, msg)
    cdef long rc = bt_trace__write(&ctx, <const char *>m.p, m.n)
    arg_release(&m)
    return rc
