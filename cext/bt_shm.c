/* The shared-memory segment of bt_shm.h: naming, creation and checked opening,
 * the block allocator, and the possible-CPU count.
 *
 * Allocator: every block carries a 16-byte header {size, next} just below the
 * offset handed out, so blocks stay 16-byte aligned. Freed blocks go on a
 * singly linked free list (first fit, large blocks are split); otherwise the
 * bump pointer grows. Fresh heap memory comes zeroed from the kernel (shm
 * pages), reused blocks are cleared on allocation. The allocator lock is the
 * header's robust alloc_lock; its stores are ordered so a holder's death at
 * any point at worst leaks a block.
 *
 * Does not own: what lives in the blocks (maps: bt_map.c), nor any lifetime
 * rule beyond "the creator may unlink the name".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_err.h"
#include "bt_shm.h"

#define BLK_HDR 16u
#define SPLIT_MIN 64u /* split a free block when at least this much would be left over */

typedef struct blk {
    uint64_t size; /* usable bytes after this header */
    uint64_t next; /* free list: offset (of the usable area) of the next free block */
} blk;

_Static_assert(sizeof(blk) == BLK_HDR, "block header");

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static uint64_t heap_start(void)
{
    return round_up(sizeof(bt_shm_header), 64);
}

/* smallest segment: the header and 64 KiB of heap */
static uint64_t min_size(void)
{
    return round_up(heap_start() + (64u << 10), 4096);
}

static int check_name(const char *name, char *err, size_t errlen)
{
    size_t len = name ? strlen(name) : 0;
    if (len < 2 || name[0] != '/')
        return bt_err(err, errlen, -EINVAL,
                      "bad segment name '%s': it must be '/' followed by a name, e.g. "
                      "'/bpftime-demo'",
                      name ? name : "");
    if (len >= BT_SHM_NAME_MAX)
        return bt_err(err, errlen, -ENAMETOOLONG,
                      "bad segment name '%s': longer than %d characters", name,
                      BT_SHM_NAME_MAX - 1);
    if (strcmp(name, "/.") == 0 || strcmp(name, "/..") == 0)
        return bt_err(err, errlen, -EINVAL, "bad segment name '%s'", name);
    for (size_t i = 1; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        if (!ok)
            return bt_err(err, errlen, -EINVAL,
                          "bad segment name '%s': character '%c' is not allowed (use letters, "
                          "digits, '-', '_' and '.')",
                          name, c);
    }
    return 0;
}

int bt_shm__create(bt_shm *shm, const char *name, uint64_t size, char *err, size_t errlen)
{
    memset(shm, 0, sizeof(*shm));
    shm->fd = -1;
    int rc = check_name(name, err, errlen);
    if (rc)
        return rc;
    if (size < min_size())
        return bt_err(err, errlen, -EINVAL, "segment %s: size %llu is too small (at least %llu)",
                      name, (unsigned long long)size, (unsigned long long)min_size());
    if (size > (1ULL << 46))
        return bt_err(err, errlen, -E2BIG, "segment %s: size %llu is too large", name,
                      (unsigned long long)size);
    size = round_up(size, 4096);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        rc = -errno;
        if (rc == -EEXIST)
            return bt_err(err, errlen, rc,
                          "segment %s already exists: open it (create=False) or unlink it", name);
        return bt_err(err, errlen, rc, "segment %s: shm_open: %s", name, strerror(-rc));
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        rc = -errno;
        bt_err(err, errlen, rc, "segment %s: cannot size it to %llu bytes: %s", name,
               (unsigned long long)size, strerror(-rc));
        goto fail;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        bt_err(err, errlen, rc, "segment %s: mmap: %s", name, strerror(-rc));
        goto fail;
    }
    bt_shm_header *h = (bt_shm_header *)base;
    h->version = BT_SHM_VERSION;
    h->header_size = sizeof(bt_shm_header);
    h->size = size;
    h->ncpu = bt_num_possible_cpus();
    h->creator_pid = (uint32_t)getpid();
    h->heap_off = heap_start();
    h->heap_brk = h->heap_off;
    /* the magic goes last: an opener that sees it sees a complete header */
    __atomic_store_n(&h->magic, BT_SHM_MAGIC, __ATOMIC_RELEASE);
    shm->base = base;
    shm->size = size;
    shm->fd = fd;
    shm->owner = 1;
    snprintf(shm->name, sizeof(shm->name), "%s", name);
    return 0;
fail:
    close(fd);
    shm_unlink(name);
    return rc;
}

int bt_shm__open(bt_shm *shm, const char *name, char *err, size_t errlen)
{
    memset(shm, 0, sizeof(*shm));
    shm->fd = -1;
    int rc = check_name(name, err, errlen);
    if (rc)
        return rc;
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) {
        rc = -errno;
        if (rc == -ENOENT)
            return bt_err(err, errlen, rc, "no segment named %s (create it first)", name);
        return bt_err(err, errlen, rc, "segment %s: shm_open: %s", name, strerror(-rc));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        bt_err(err, errlen, rc, "segment %s: fstat: %s", name, strerror(-rc));
        goto fail;
    }
    if ((uint64_t)st.st_size < sizeof(bt_shm_header)) {
        rc = bt_err(err, errlen, -EINVAL,
                    "%s is not a bpftime segment: %lld bytes, smaller than the header (%zu); "
                    "is its creator still setting it up?",
                    name, (long long)st.st_size, sizeof(bt_shm_header));
        goto fail;
    }
    uint8_t *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        bt_err(err, errlen, rc, "segment %s: mmap: %s", name, strerror(-rc));
        goto fail;
    }
    bt_shm_header *h = (bt_shm_header *)base;
    uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
    if (magic != BT_SHM_MAGIC)
        rc = bt_err(err, errlen, -EINVAL,
                    "%s is not a bpftime segment (magic %#llx, expected %#llx)", name,
                    (unsigned long long)magic, (unsigned long long)BT_SHM_MAGIC);
    else if (h->version != BT_SHM_VERSION)
        rc = bt_err(err, errlen, -EPROTO,
                    "segment %s has layout version %u, this bpftime reads version %u; recreate "
                    "it with this bpftime",
                    name, h->version, BT_SHM_VERSION);
    else if (h->header_size != sizeof(bt_shm_header))
        rc = bt_err(err, errlen, -EPROTO,
                    "segment %s has a %u-byte header, this bpftime expects %zu; recreate it",
                    name, h->header_size, sizeof(bt_shm_header));
    else if (h->size != (uint64_t)st.st_size)
        rc = bt_err(err, errlen, -EINVAL,
                    "segment %s is damaged: its header says %llu bytes, the object has %lld",
                    name, (unsigned long long)h->size, (long long)st.st_size);
    else if (h->heap_off < sizeof(bt_shm_header) || h->heap_brk > h->size ||
             h->nmaps > BT_SHM_MAX_MAPS)
        rc = bt_err(err, errlen, -EINVAL, "segment %s is damaged: bad heap or map directory",
                    name);
    if (rc) {
        munmap(base, (size_t)st.st_size);
        goto fail;
    }
    shm->base = base;
    shm->size = (uint64_t)st.st_size;
    shm->fd = fd;
    shm->owner = 0;
    snprintf(shm->name, sizeof(shm->name), "%s", name);
    return 0;
fail:
    close(fd);
    return rc;
}

void bt_shm__close(bt_shm *shm, int unlink_name)
{
    if (shm->base)
        munmap(shm->base, shm->size);
    if (shm->fd >= 0)
        close(shm->fd);
    if (unlink_name && shm->name[0])
        shm_unlink(shm->name);
    shm->base = NULL;
    shm->fd = -1;
}

static blk *blk_of(const bt_shm *shm, uint64_t off)
{
    return (blk *)(shm->base + off - BLK_HDR);
}

uint64_t bt_shm__alloc(bt_shm *shm, uint64_t size)
{
    bt_shm_header *h = bt_shm__header(shm);
    if (size > h->size)
        return 0;
    size = size ? round_up(size, 16) : 16;
    bt_lock__acquire(&h->alloc_lock);
    uint64_t *link = &h->free_list;
    for (uint64_t off = *link; off; off = *link) {
        blk *b = blk_of(shm, off);
        if (b->size >= size) {
            if (b->size - size >= SPLIT_MIN + BLK_HDR) {
                uint64_t rest = off + size + BLK_HDR;
                blk *r = blk_of(shm, rest);
                r->size = b->size - size - BLK_HDR;
                r->next = b->next;
                b->size = size;
                *link = rest;
            } else {
                *link = b->next;
            }
            bt_lock__release(&h->alloc_lock);
            memset(shm->base + off, 0, b->size);
            return off;
        }
        link = &b->next;
    }
    uint64_t need = size + BLK_HDR;
    if (h->heap_brk + need > h->size) {
        bt_lock__release(&h->alloc_lock);
        return 0;
    }
    uint64_t off = h->heap_brk + BLK_HDR;
    blk *b = blk_of(shm, off);
    b->size = size;
    b->next = 0;
    h->heap_brk += need;
    bt_lock__release(&h->alloc_lock);
    return off;
}

void bt_shm__free(bt_shm *shm, uint64_t off)
{
    bt_shm_header *h = bt_shm__header(shm);
    if (off < h->heap_off + BLK_HDR || off >= h->heap_brk || off % 16)
        return;
    blk *b = blk_of(shm, off);
    bt_lock__acquire(&h->alloc_lock);
    b->next = h->free_list;
    h->free_list = off;
    bt_lock__release(&h->alloc_lock);
}

uint64_t bt_shm__available(const bt_shm *shm)
{
    bt_shm_header *h = bt_shm__header(shm);
    bt_lock__acquire(&h->alloc_lock);
    uint64_t avail = h->size - h->heap_brk;
    avail = avail > BLK_HDR ? avail - BLK_HDR : 0;
    for (uint64_t off = h->free_list; off; off = blk_of(shm, off)->next)
        avail += blk_of(shm, off)->size;
    bt_lock__release(&h->alloc_lock);
    return avail;
}

/* "0-3,5,7-8" -> 9 (highest CPU + 1) */
static uint32_t parse_cpu_list(const char *s)
{
    uint32_t max = 0;
    int seen = 0;
    while (*s) {
        char *end;
        unsigned long a = strtoul(s, &end, 10);
        if (end == s)
            break;
        unsigned long b = a;
        s = end;
        if (*s == '-') {
            b = strtoul(s + 1, &end, 10);
            s = end;
        }
        if (b + 1 > max)
            max = (uint32_t)(b + 1);
        seen = 1;
        if (*s != ',')
            break;
        s++;
    }
    return seen ? max : 0;
}

uint32_t bt_num_possible_cpus(void)
{
    static uint32_t cached;
    uint32_t n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (n)
        return n;
    char buf[256] = {0};
    FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = 0;
        fclose(f);
    }
    n = parse_cpu_list(buf);
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_CONF);
        n = c > 0 ? (uint32_t)c : 1;
    }
    __atomic_store_n(&cached, n, __ATOMIC_RELAXED);
    return n;
}
