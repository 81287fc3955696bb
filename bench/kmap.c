/* Kernel side of the map benchmarks: bpf() map commands timed in a C loop.
 *
 * bench/run.py compiles this file with the system C compiler into a temporary
 * shared library and calls it through ctypes, so the kernel's figures carry no
 * Python overhead (as libbpf's wrappers would not). Each function returns ns per
 * operation (or per element for batches), or a negative errno.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int kb_map_create(int type, int key_size, int value_size, int max_entries)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = (uint32_t)type;
    a.key_size = (uint32_t)key_size;
    a.value_size = (uint32_t)value_size;
    a.max_entries = (uint32_t)max_entries;
    long fd = sys_bpf(BPF_MAP_CREATE, &a);
    return fd < 0 ? -errno : (int)fd;
}

static long elem(int cmd, int fd, const void *key, void *value, uint64_t flags)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)fd;
    a.key = (uint64_t)(uintptr_t)key;
    a.value = (uint64_t)(uintptr_t)value;
    a.flags = flags;
    return sys_bpf(cmd, &a);
}

/* ops operations with u32 keys cycling over 0..nkeys-1 and u64 values */
double kb_update(int fd, long ops, uint32_t nkeys)
{
    uint64_t v = 1;
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        uint32_t k = (uint32_t)(i % nkeys);
        if (elem(BPF_MAP_UPDATE_ELEM, fd, &k, &v, BPF_ANY) < 0)
            return -errno;
    }
    return (now_ns() - t0) / (double)ops;
}

double kb_lookup(int fd, long ops, uint32_t nkeys)
{
    uint64_t v;
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        uint32_t k = (uint32_t)(i % nkeys);
        if (elem(BPF_MAP_LOOKUP_ELEM, fd, &k, &v, 0) < 0)
            return -errno;
    }
    return (now_ns() - t0) / (double)ops;
}

/* delete keys 0..nkeys-1 (which must exist); ns per delete */
double kb_delete(int fd, uint32_t nkeys)
{
    double t0 = now_ns();
    for (uint32_t k = 0; k < nkeys; k++)
        if (elem(BPF_MAP_DELETE_ELEM, fd, &k, NULL, 0) < 0)
            return -errno;
    return (now_ns() - t0) / (double)nkeys;
}

/* one BPF_MAP_{LOOKUP,UPDATE}_BATCH call over keys 0..n-1; ns per element */
double kb_batch(int fd, int update, uint32_t n, uint32_t *keys, uint64_t *values)
{
    union bpf_attr a;
    uint64_t out_batch = 0;
    memset(&a, 0, sizeof a);
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = i;
        values[i] = i;
    }
    a.batch.map_fd = (uint32_t)fd;
    a.batch.keys = (uint64_t)(uintptr_t)keys;
    a.batch.values = (uint64_t)(uintptr_t)values;
    a.batch.count = n;
    if (!update)
        a.batch.out_batch = (uint64_t)(uintptr_t)&out_batch;
    double t0 = now_ns();
    long rc = sys_bpf(update ? BPF_MAP_UPDATE_BATCH : BPF_MAP_LOOKUP_BATCH, &a);
    double t1 = now_ns();
    /* a lookup batch that reaches the end reports ENOENT with the elements it read */
    if (rc < 0 && !(errno == ENOENT && !update && a.batch.count == n))
        return -errno;
    return (t1 - t0) / (double)n;
}
