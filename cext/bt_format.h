/* printf-style formatting for the printk and snprintf helpers; see bt_format.c. */
#ifndef BT_FORMAT_H
#define BT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Format fmt (at most fmtlen bytes, stops at NUL) with nargs u64 args into out
 * (always NUL-terminated, truncated to outlen - 1). Returns the length the full
 * output would have (without NUL), or -EINVAL for a bad format or too few args. */
long bt_format(char *out, size_t outlen, const char *fmt, size_t fmtlen, const uint64_t *args,
               uint32_t nargs);

#endif
