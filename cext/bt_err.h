/* Error messages for the C core: write a formatted message into the caller's
 * buffer (if any) and return the error code, so a failure path is one line. */
#ifndef BT_ERR_H
#define BT_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

__attribute__((format(printf, 4, 5))) static inline int bt_err(char *err, size_t errlen, int rc,
                                                               const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

#endif
