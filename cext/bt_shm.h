/* The shared-memory segment: named POSIX shm, a checked header, an allocator,
 * and the directory of maps.
 *
 *   offset 0            header (bt_shm_header, magic/version/size first)
 *   header.heap_off     heap managed by the allocator (offsets, never pointers)
 *
 * Every process maps the segment at its own address; everything inside refers
 * to other things by offset from the segment base. bt_shm is the process-local
 * handle (base pointer, size, fd, name). The allocator hands out 16-byte
 * aligned, zeroed blocks by offset; 0 means failure. Allocation happens when
 * maps are created, never while programs run.
 */
#ifndef BT_SHM_H
#define BT_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "bt_lock.h"

#define BT_SHM_MAGIC 0x4d48535f54504230ULL /* "0BPT_SHM" little-endian */
#define BT_SHM_VERSION 1
#define BT_SHM_MAX_MAPS 1024
#define BT_SHM_NAME_MAX 64

typedef struct bt_shm_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;  /* sizeof(bt_shm_header) of the creator */
    uint64_t size;         /* total segment size in bytes */
    uint32_t ncpu;         /* possible CPUs when created: per-CPU values have this many slots */
    uint32_t creator_pid;
    bt_lock alloc_lock;    /* guards the allocator and the map directory */
    uint32_t nmaps;        /* map ids are 1..nmaps */
    uint64_t heap_off;     /* first byte of the heap */
    uint64_t heap_brk;     /* bump pointer: heap is [heap_off, heap_brk) used */
    uint64_t free_list;    /* offset of the first free block, 0 if none */
    uint64_t trace_map;    /* offset of the bpf_printk ring (a RINGBUF bt_map), 0 if none */
    uint64_t maps[BT_SHM_MAX_MAPS]; /* offset of map id i+1, 0 if none */
} bt_shm_header;

typedef struct bt_shm {
    uint8_t *base;
    uint64_t size;
    int fd;
    int owner;             /* created by this handle: unlink on destroy */
    char name[BT_SHM_NAME_MAX];
} bt_shm;

/* Create a new segment (shm_open O_EXCL, mode 0600) of `size` bytes.
 * 0 or -errno; a message in err. */
int bt_shm__create(bt_shm *shm, const char *name, uint64_t size, char *err, size_t errlen);
/* Map an existing segment and check its header (magic, version, size). */
int bt_shm__open(bt_shm *shm, const char *name, char *err, size_t errlen);
/* Unmap; also unlink the name when `unlink_name` is set. */
void bt_shm__close(bt_shm *shm, int unlink_name);

static inline bt_shm_header *bt_shm__header(const bt_shm *shm)
{
    return (bt_shm_header *)shm->base;
}
static inline void *bt_shm__ptr(const bt_shm *shm, uint64_t off)
{
    return off ? (void *)(shm->base + off) : (void *)0;
}
static inline uint64_t bt_shm__off(const bt_shm *shm, const void *p)
{
    return p ? (uint64_t)((const uint8_t *)p - shm->base) : 0;
}

/* Allocate `size` zeroed bytes, 16-byte aligned; returns the offset or 0. */
uint64_t bt_shm__alloc(bt_shm *shm, uint64_t size);
/* Give a block back. */
void bt_shm__free(bt_shm *shm, uint64_t off);
/* Bytes still available for allocation (approximate: ignores fragmentation). */
uint64_t bt_shm__available(const bt_shm *shm);

/* Number of possible CPUs on this machine (/sys/devices/system/cpu/possible). */
uint32_t bt_num_possible_cpus(void);

#endif
