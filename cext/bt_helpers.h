/* The kernel's helper functions for a user process, with the kernel's ids.
 *
 * Every helper has the bt_helper_fn signature (bt_ctx.h): five u64 arguments
 * and the run context. Helpers never print and never crash on bad pointers
 * from the program: reads of user memory go through bt_probe_read, which
 * returns -EFAULT instead of faulting.
 *
 * bt_helpers__fill fills a helper table with every helper below; a program
 * that calls an id left NULL is refused at load.
 */
#ifndef BT_HELPERS_H
#define BT_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "bt_ctx.h"

enum {
    BT_FN_map_lookup_elem = 1,
    BT_FN_map_update_elem = 2,
    BT_FN_map_delete_elem = 3,
    BT_FN_probe_read = 4,
    BT_FN_ktime_get_ns = 5,
    BT_FN_trace_printk = 6,
    BT_FN_get_prandom_u32 = 7,
    BT_FN_get_smp_processor_id = 8,
    BT_FN_tail_call = 12,
    BT_FN_get_current_pid_tgid = 14,
    BT_FN_get_current_uid_gid = 15,
    BT_FN_get_current_comm = 16,
    BT_FN_perf_event_output = 25,
    BT_FN_get_stackid = 27,
    BT_FN_probe_read_str = 45,
    BT_FN_override_return = 58,
    BT_FN_get_stack = 67,
    BT_FN_map_push_elem = 87,
    BT_FN_map_pop_elem = 88,
    BT_FN_map_peek_elem = 89,
    BT_FN_spin_lock = 93,
    BT_FN_spin_unlock = 94,
    BT_FN_send_signal = 109,
    BT_FN_probe_read_user = 112,
    BT_FN_probe_read_kernel = 113,
    BT_FN_probe_read_user_str = 114,
    BT_FN_probe_read_kernel_str = 115,
    BT_FN_send_signal_thread = 117,
    BT_FN_ktime_get_boot_ns = 125,
    BT_FN_ringbuf_output = 130,
    BT_FN_ringbuf_reserve = 131,
    BT_FN_ringbuf_submit = 132,
    BT_FN_ringbuf_discard = 133,
    BT_FN_ringbuf_query = 134,
    BT_FN_ktime_get_coarse_ns = 160,
    BT_FN_for_each_map_elem = 164,
    BT_FN_snprintf = 165,
    BT_FN_get_attach_cookie = 174,
    BT_FN_trace_vprintk = 177,
    BT_FN_loop = 181,
    BT_FN_strncmp = 182,
    BT_FN_get_func_arg = 183,
    BT_FN_get_func_ret = 184,
    BT_FN_get_func_arg_cnt = 185,
};

/* Fill table[id] for every helper above (other slots are left as they are). */
void bt_helpers__fill(bt_helper_fn *table, size_t n);
/* Only the helpers that need no map (bt_helpers.c). */
void bt_helpers__fill_core(bt_helper_fn *table, size_t n);
/* bpf_trace_printk / bpf_trace_vprintk (bt_helpers_trace.c). */
void bt_helpers__fill_trace(bt_helper_fn *table, size_t n);

/* Copy n bytes from src; -EFAULT (dst zeroed) if any byte is unreadable. */
long bt_probe_read(void *dst, uint64_t n, const void *src);
/* Copy a NUL-terminated string of at most n bytes (NUL included); returns its length
 * with the NUL, or -EFAULT (dst zeroed) if the string runs into unreadable memory. */
long bt_probe_read_str(void *dst, uint64_t n, const void *src);

/* User stack of the calling thread, innermost first, into ips[0..max); skips the
 * frames of bt_user_stack and of the helper that calls it, plus `skip` more.
 * Returns the number of addresses stored. */
int bt_user_stack(uint64_t *ips, int max, uint64_t skip);

/* Write one bpf_printk line ("comm-pid [cpu] ts: msg") to ctx->trace.
 * Returns the message length or a negative errno. */
long bt_trace__write(bt_ctx *ctx, const char *msg, uint32_t len);

/* A fork child learnt of by the syscall hooks before libc's atfork handlers ran:
 * bpf_get_current_pid_tgid must not return the parent's ids meanwhile. */
void bt_helpers__forget_pid(void);

#endif
