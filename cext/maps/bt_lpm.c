/* LPM_TRIE: longest-prefix match, the kernel's lpm_trie algorithm on offsets.
 *
 * Key: { u32 prefixlen; u8 data[key_size - 4] } (data in network order, most
 * significant bit first). A binary trie of nodes
 *   { u64 child[2]; u64 fnext; u32 prefixlen; u8 flags, mark; data; value }
 * where intermediate nodes (flag IM) exist only to branch and always have two
 * children. Lookup walks down while a node's prefix matches and returns the
 * deepest non-intermediate match; update and delete match exactly (the same
 * prefixlen and the same first prefixlen bits). get_next_key returns keys in
 * the kernel's post-order (more specific prefixes first) and restarts from the
 * first key when given one that is not there.
 *
 * The kernel requires BPF_F_NO_PREALLOC and allocates nodes as it goes; here
 * 2 * max_entries nodes are preallocated (a trie of n entries has fewer than n
 * intermediate nodes, plus one node for a replacement in flight). Updates and
 * deletes hold the map lock and link nodes with single stores in the kernel's
 * order; lookups take no lock and are bounded by the trie depth. A node freed
 * by a delete may be reused while a racing lookup still reads it (the kernel
 * waits for an RCU grace period instead). Full: -ENOSPC, as the kernel.
 *
 * aux: [0] root, [1] free list, [2] entries, [3] node pool, [4] node size,
 *      [5] nodes, [6] data size
 */
#include "bt_map_impl.h"

#define LPM_DATA_SIZE_MAX 256u
#define LPM_KEY_SIZE_MIN 5u
#define LPM_KEY_SIZE_MAX (4u + LPM_DATA_SIZE_MAX)
#define LPM_NODE_KSIZE 40u /* the kernel's struct lpm_trie_node, for its value limit */
#define LPM_VAL_SIZE_MAX (BT_KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - LPM_NODE_KSIZE)
#define LPM_IM 1u

enum { A_ROOT, A_FREE, A_COUNT, A_POOL, A_NSIZE, A_NNODES, A_DSIZE };

typedef struct lpm_node {
    uint64_t child[2];
    uint64_t fnext;
    uint32_t prefixlen;
    uint8_t flags;
    uint8_t mark;
    uint16_t pad;
    uint8_t data[];
} lpm_node;

_Static_assert(sizeof(lpm_node) == 32, "lpm node header");

static int lpm_check(const bt_map_attr *a, char *err, size_t errlen)
{
    const uint32_t mask = BT_F_NO_PREALLOC | BT_F_NUMA_NODE | BT_F_ACCESS_MASK;
    if (a->max_entries == 0)
        return bt_err(err, errlen, -EINVAL, "max_entries must be > 0");
    if (!(a->map_flags & BT_F_NO_PREALLOC))
        return bt_err(err, errlen, -EINVAL, "LPM tries need map_flags BPF_F_NO_PREALLOC");
    if (a->map_flags & ~mask)
        return bt_err(err, errlen, -EINVAL, "map_flags %#x not allowed for LPM tries",
                      a->map_flags & ~mask);
    if (a->key_size < LPM_KEY_SIZE_MIN || a->key_size > LPM_KEY_SIZE_MAX)
        return bt_err(err, errlen, -EINVAL,
                      "key_size %u: LPM keys are a u32 prefixlen and 1..%u bytes of data",
                      a->key_size, LPM_DATA_SIZE_MAX);
    if (a->value_size < 1 || a->value_size > LPM_VAL_SIZE_MAX)
        return bt_err(err, errlen, -EINVAL, "value_size %u out of range 1..%u", a->value_size,
                      LPM_VAL_SIZE_MAX);
    return 0;
}

static uint64_t node_size(uint32_t key_size, uint32_t value_size)
{
    return sizeof(lpm_node) + bt_round8(key_size - 4) + bt_round8(value_size);
}

static uint64_t lpm_size(const bt_map_attr *a, uint32_t ncpu)
{
    (void)ncpu;
    return bt_mul_add(2ULL * a->max_entries, node_size(a->key_size, a->value_size), 0);
}

static inline lpm_node *node_at(const bt_map *m, uint64_t off)
{
    return off ? (lpm_node *)bt_map__at(m, off) : NULL;
}
static inline lpm_node *node_idx(const bt_map *m, uint64_t i)
{
    return node_at(m, m->aux[A_POOL] + i * m->aux[A_NSIZE]);
}
static inline uint64_t off_of(const bt_map *m, const lpm_node *n)
{
    return n ? bt_map__off_of(m, n) : 0;
}
static inline uint8_t *nvalue(const bt_map *m, lpm_node *n)
{
    return n->data + bt_round8(m->aux[A_DSIZE]);
}
static inline uint32_t max_prefixlen(const bt_map *m)
{
    return (uint32_t)m->aux[A_DSIZE] * 8;
}
static inline uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void publish(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void push_free(bt_map *m, lpm_node *n)
{
    n->fnext = m->aux[A_FREE];
    m->aux[A_FREE] = off_of(m, n);
}

static lpm_node *pop_free(bt_map *m)
{
    lpm_node *n = node_at(m, m->aux[A_FREE]);
    if (n) {
        m->aux[A_FREE] = n->fnext;
        n->child[0] = n->child[1] = 0;
        n->flags = 0;
    }
    return n;
}

static void lpm_init(bt_map *m)
{
    m->aux[A_DSIZE] = m->key_size - 4;
    m->aux[A_NSIZE] = node_size(m->key_size, m->value_size);
    m->aux[A_NNODES] = 2ULL * m->max_entries;
    m->aux[A_POOL] = m->data_off;
    for (uint64_t i = m->aux[A_NNODES]; i-- > 0;)
        push_free(m, node_idx(m, i));
}

static inline uint32_t key_prefixlen(const void *key)
{
    return bt_key_u32(key);
}
static inline const uint8_t *key_data(const void *key)
{
    return (const uint8_t *)key + 4;
}

static inline int extract_bit(const uint8_t *data, uint32_t index)
{
    return !!(data[index / 8] & (1u << (7 - (index % 8))));
}

/* bits of node->data that match key, at most min(node, key) prefixlen */
static uint32_t longest_prefix_match(const bt_map *m, const lpm_node *node, const void *key)
{
    uint32_t kp = key_prefixlen(key);
    uint32_t limit = node->prefixlen < kp ? node->prefixlen : kp;
    uint32_t prefixlen = 0;
    const uint8_t *kd = key_data(key);
    for (uint64_t i = 0; i < m->aux[A_DSIZE]; i++) {
        uint8_t diff = node->data[i] ^ kd[i];
        prefixlen += diff ? (uint32_t)__builtin_clz((uint32_t)diff) - 24 : 8;
        if (prefixlen >= limit)
            return limit;
        if (diff)
            break;
    }
    return prefixlen;
}

static lpm_node *find_longest(bt_map *m, const void *key)
{
    if (key_prefixlen(key) > max_prefixlen(m))
        return NULL;
    lpm_node *found = NULL;
    uint32_t steps = max_prefixlen(m) + 2;
    for (lpm_node *node = node_at(m, load(&m->aux[A_ROOT])); node && steps--;) {
        uint32_t matchlen = longest_prefix_match(m, node, key);
        if (matchlen == max_prefixlen(m)) {
            found = node;
            break;
        }
        if (matchlen < node->prefixlen)
            break;
        if (!(node->flags & LPM_IM))
            found = node;
        node = node_at(m, load(&node->child[extract_bit(key_data(key), node->prefixlen)]));
    }
    return found;
}

static void *lpm_lookup(bt_map *m, const void *key)
{
    lpm_node *n = find_longest(m, key);
    return n ? nvalue(m, n) : NULL;
}

static int lpm_user_lookup(bt_map *m, const void *key, void *value)
{
    lpm_node *n = find_longest(m, key);
    if (!n)
        return -ENOENT;
    memcpy(value, nvalue(m, n), m->value_size);
    return 0;
}

/* the kernel's trie_check_add_elem */
static long check_add(bt_map *m, uint64_t flags)
{
    if (flags == BT_EXIST)
        return -ENOENT;
    if (m->aux[A_COUNT] >= m->max_entries)
        return -ENOSPC;
    m->aux[A_COUNT]++;
    return 0;
}

static long lpm_update_locked(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    uint32_t kp = key_prefixlen(key);
    lpm_node *new_node = pop_free(m);
    if (!new_node)
        return -ENOMEM;
    new_node->prefixlen = kp;
    memcpy(new_node->data, key_data(key), m->aux[A_DSIZE]);
    memcpy(nvalue(m, new_node), value, m->value_size);

    uint64_t *slot = &m->aux[A_ROOT];
    lpm_node *node;
    uint32_t matchlen = 0;
    while ((node = node_at(m, *slot))) {
        matchlen = longest_prefix_match(m, node, key);
        if (node->prefixlen != matchlen || node->prefixlen == kp)
            break;
        slot = &node->child[extract_bit(key_data(key), node->prefixlen)];
    }
    long rc;
    if (!node) {
        if ((rc = check_add(m, flags)))
            goto fail;
        publish(slot, off_of(m, new_node));
        return 0;
    }
    if (node->prefixlen == matchlen) {
        /* an exact match: replace it (an intermediate node becomes a real one) */
        if (!(node->flags & LPM_IM)) {
            if (flags == BT_NOEXIST) {
                rc = -EEXIST;
                goto fail;
            }
        } else if ((rc = check_add(m, flags))) {
            goto fail;
        }
        new_node->child[0] = node->child[0];
        new_node->child[1] = node->child[1];
        publish(slot, off_of(m, new_node));
        push_free(m, node);
        return 0;
    }
    if ((rc = check_add(m, flags)))
        goto fail;
    if (matchlen == kp) {
        /* the new prefix covers node: insert it above */
        new_node->child[extract_bit(node->data, matchlen)] = off_of(m, node);
        publish(slot, off_of(m, new_node));
        return 0;
    }
    lpm_node *im = pop_free(m);
    if (!im) {
        m->aux[A_COUNT]--;
        rc = -ENOMEM;
        goto fail;
    }
    im->prefixlen = matchlen;
    im->flags = LPM_IM;
    memcpy(im->data, node->data, m->aux[A_DSIZE]);
    int bit = extract_bit(key_data(key), matchlen);
    im->child[bit] = off_of(m, new_node);
    im->child[!bit] = off_of(m, node);
    publish(slot, off_of(m, im));
    return 0;
fail:
    push_free(m, new_node);
    return rc;
}

static long lpm_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    if (flags > BT_EXIST)
        return -EINVAL;
    if (key_prefixlen(key) > max_prefixlen(m))
        return -EINVAL;
    bt_map__lock(m);
    long rc = lpm_update_locked(m, key, value, flags);
    bt_map__unlock(m);
    return rc;
}

static long lpm_delete_locked(bt_map *m, const void *key)
{
    uint32_t kp = key_prefixlen(key);
    uint64_t *trim = &m->aux[A_ROOT], *trim2 = trim;
    lpm_node *node, *parent = NULL;
    uint32_t matchlen = 0;
    while ((node = node_at(m, *trim))) {
        matchlen = longest_prefix_match(m, node, key);
        if (node->prefixlen != matchlen || node->prefixlen == kp)
            break;
        parent = node;
        trim2 = trim;
        trim = &node->child[extract_bit(key_data(key), node->prefixlen)];
    }
    if (!node || node->prefixlen != kp || node->prefixlen != matchlen || (node->flags & LPM_IM))
        return -ENOENT;
    m->aux[A_COUNT]--;
    if (node->child[0] && node->child[1]) {
        /* still needed to branch: keep it as an intermediate node */
        node->flags |= LPM_IM;
        return 0;
    }
    if (parent && (parent->flags & LPM_IM) && !node->child[0] && !node->child[1]) {
        /* the intermediate parent is no longer needed: promote the sibling */
        publish(trim2, node_at(m, parent->child[0]) == node ? parent->child[1] : parent->child[0]);
        push_free(m, parent);
        push_free(m, node);
        return 0;
    }
    publish(trim, node->child[0] ? node->child[0] : node->child[1]);
    push_free(m, node);
    return 0;
}

static long lpm_delete(bt_map *m, const void *key)
{
    if (key_prefixlen(key) > max_prefixlen(m))
        return -EINVAL;
    bt_map__lock(m);
    long rc = lpm_delete_locked(m, key);
    bt_map__unlock(m);
    return rc;
}

static int lpm_user_update(bt_map *m, const void *key, const void *value, uint64_t flags)
{
    return (int)lpm_update(m, key, value, flags);
}

static int lpm_user_delete(bt_map *m, const void *key)
{
    return (int)lpm_delete(m, key);
}

static void copy_key(const bt_map *m, const lpm_node *n, void *out)
{
    memcpy(out, &n->prefixlen, 4);
    memcpy((uint8_t *)out + 4, n->data, m->aux[A_DSIZE]);
}

static int lpm_next_key(bt_map *m, const void *key, void *next)
{
    uint64_t stack[LPM_DATA_SIZE_MAX * 8 + 1];
    int sp = -1;
    bt_map__lock(m); /* a consistent walk; user side only */
    lpm_node *search_root = node_at(m, m->aux[A_ROOT]), *node, *next_node = NULL;
    int rc = 0;
    if (!search_root) {
        rc = -ENOENT;
        goto out;
    }
    if (!key || key_prefixlen(key) > max_prefixlen(m))
        goto find_leftmost;
    uint32_t matchlen = 0;
    for (node = search_root; node;) {
        stack[++sp] = off_of(m, node);
        matchlen = longest_prefix_match(m, node, key);
        if (node->prefixlen != matchlen || node->prefixlen == key_prefixlen(key))
            break;
        node = node_at(m, node->child[extract_bit(key_data(key), node->prefixlen)]);
    }
    if (!node || node->prefixlen != matchlen || node->prefixlen != key_prefixlen(key) ||
        (node->flags & LPM_IM))
        goto find_leftmost;
    /* found: the next node in post-order */
    node = node_at(m, stack[sp]);
    while (sp > 0) {
        lpm_node *parent = node_at(m, stack[sp - 1]);
        if (node_at(m, parent->child[0]) == node && parent->child[1]) {
            search_root = node_at(m, parent->child[1]);
            goto find_leftmost;
        }
        if (!(parent->flags & LPM_IM)) {
            next_node = parent;
            goto copy;
        }
        node = parent;
        sp--;
    }
    rc = -ENOENT;
    goto out;
find_leftmost:
    /* the first node in post-order under search_root (intermediate nodes have
     * two children, so this ends on a real node) */
    for (node = search_root; node;) {
        if (node->flags & LPM_IM) {
            node = node_at(m, node->child[0]);
        } else {
            next_node = node;
            node = node_at(m, node->child[0]);
            if (!node)
                node = node_at(m, next_node->child[1]);
        }
    }
copy:
    copy_key(m, next_node, next);
out:
    bt_map__unlock(m);
    return rc;
}

static uint64_t lpm_count(bt_map *m)
{
    return __atomic_load_n(&m->aux[A_COUNT], __ATOMIC_RELAXED);
}

/* a holder died mid-update: the nodes reachable from the root are the trie,
 * every other node goes back on the free list */
static void lpm_repair(bt_map *m)
{
    uint64_t n = m->aux[A_NNODES], entries = 0;
    for (uint64_t i = 0; i < n; i++)
        node_idx(m, i)->mark = 0;
    /* depth-first walk with the stack linked through fnext (rebuilt below anyway),
     * so no recursion on a traced thread's small stack */
    lpm_node *todo = node_at(m, m->aux[A_ROOT]);
    if (todo) {
        todo->mark = 1;
        todo->fnext = 0;
    }
    while (todo) {
        lpm_node *cur = todo;
        todo = node_at(m, cur->fnext);
        if (!(cur->flags & LPM_IM))
            entries++;
        for (int c = 0; c < 2; c++) {
            lpm_node *ch = node_at(m, cur->child[c]);
            if (ch && !ch->mark) {
                ch->mark = 1;
                ch->fnext = off_of(m, todo);
                todo = ch;
            }
        }
    }
    m->aux[A_FREE] = 0;
    for (uint64_t i = n; i-- > 0;)
        if (!node_idx(m, i)->mark)
            push_free(m, node_idx(m, i));
    m->aux[A_COUNT] = entries;
}

const bt_map_ops bt_lpm_ops = {
    .check = lpm_check,
    .data_size = lpm_size,
    .init = lpm_init,
    .lookup = lpm_lookup,
    .update = lpm_update,
    .delete = lpm_delete,
    .user_lookup = lpm_user_lookup,
    .user_update = lpm_user_update,
    .user_delete = lpm_user_delete,
    .next_key = lpm_next_key,
    .count = lpm_count,
    .repair = lpm_repair,
};
