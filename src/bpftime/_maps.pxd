# Segment and RawMap (src/bpftime/_maps.pyx), for other Cython modules that need the
# bt_map behind a RawMap (program loading: the address `lddw map` loads).
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from includes.bt_maps cimport bt_map, bt_shm


# a bytes-like argument: bytes without a copy, anything else through the buffer protocol
cdef struct Arg:
    const uint8_t *p
    Py_ssize_t n
    bint release
    Py_buffer view


cdef class Segment:
    cdef bt_shm shm
    cdef readonly bint created
    cdef readonly str name

    cdef int _alive(self) except -1


cdef class RawMap:
    cdef bt_map *m
    cdef readonly Segment segment
    cdef readonly uint32_t id
    cdef readonly uint32_t type
    cdef readonly uint32_t key_size
    cdef readonly uint32_t value_size
    cdef readonly uint32_t max_entries
    cdef readonly uint32_t flags
    cdef readonly uint32_t user_value_size
    cdef readonly str name

    cdef int _alive(self) except -1
    cdef str _describe(self, str op, int e, uint64_t flags)
    cdef object _error(self, str op, int e, uint64_t flags=*)
    cdef object _size_error(self, str op, str what, Py_ssize_t got, Py_ssize_t want,
                            bint packed=*)
    cdef const uint8_t *_key(self, Arg *a, object key, str op) except? NULL
    cdef object _take(self, object key, str op)
