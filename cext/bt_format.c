/* printf-style formatting for bpf_trace_printk, bpf_trace_vprintk and bpf_snprintf.
 *
 * Follows the kernel's bpf_bprintf_prepare rules: conversions d i u x X o c s p %
 * with flags (- + space 0 #), width, precision and the length modifiers
 * hh h l ll z; every conversion takes one u64 argument, cast to the width its
 * length modifier says (no modifier: 32 bits, as in C). %s reads the string
 * with bt_probe_read_str semantics, so a bad pointer prints "(fault)" (NULL:
 * "(null)") instead of crashing. Anything else, or more conversions than arguments, is -EINVAL.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bt_format.h"
#include "bt_helpers.h"

#define BT_FMT_STR_MAX 512

static size_t put(char *out, size_t outlen, size_t pos, const char *s, size_t n)
{
    if (pos < outlen) {
        size_t room = outlen - pos - 1;
        memcpy(out + pos, s, n < room ? n : room);
    }
    return pos + n;
}

long bt_format(char *out, size_t outlen, const char *fmt, size_t fmtlen, const uint64_t *args,
               uint32_t nargs)
{
    size_t pos = 0;
    uint32_t argi = 0;
    if (!out || outlen == 0)
        return -EINVAL;
    for (size_t i = 0; i < fmtlen && fmt[i]; i++) {
        if (fmt[i] != '%') {
            pos = put(out, outlen, pos, &fmt[i], 1);
            continue;
        }
        if (i + 1 < fmtlen && fmt[i + 1] == '%') {
            pos = put(out, outlen, pos, "%", 1);
            i++;
            continue;
        }
        /* %[flags][width][.prec][len]conv, rebuilt into spec for snprintf */
        char spec[32];
        size_t sl = 0;
        spec[sl++] = '%';
        size_t j = i + 1;
        while (j < fmtlen && strchr("-+ 0#", fmt[j]) && fmt[j] && sl < 8)
            spec[sl++] = fmt[j++];
        while (j < fmtlen && fmt[j] >= '0' && fmt[j] <= '9' && sl < 16)
            spec[sl++] = fmt[j++];
        if (j < fmtlen && fmt[j] == '.') {
            spec[sl++] = fmt[j++];
            while (j < fmtlen && fmt[j] >= '0' && fmt[j] <= '9' && sl < 24)
                spec[sl++] = fmt[j++];
        }
        int longs = 0, shorts = 0, size_t_mod = 0;
        while (j < fmtlen && (fmt[j] == 'l' || fmt[j] == 'h' || fmt[j] == 'z')) {
            if (fmt[j] == 'l')
                longs++;
            else if (fmt[j] == 'h')
                shorts++;
            else
                size_t_mod++;
            j++;
        }
        if (j >= fmtlen || !fmt[j] || longs > 2 || shorts > 2 || (longs && shorts))
            return -EINVAL;
        char conv = fmt[j];
        if (!strchr("diuxXocsp", conv))
            return -EINVAL;
        if (argi >= nargs)
            return -EINVAL;
        uint64_t a = args[argi++];
        char buf[BT_FMT_STR_MAX + 64];
        int n;
        int wide = longs > 0 || size_t_mod > 0;
        if (conv == 'p') {
            /* %p and the kernel's %px / %pK: the raw address in hex */
            if (j + 1 < fmtlen && (fmt[j + 1] == 'x' || fmt[j + 1] == 'K'))
                j++;
            spec[sl++] = 'l';
            spec[sl++] = 'x';
            spec[sl] = 0;
            pos = put(out, outlen, pos, "0x", 2);
            n = snprintf(buf, sizeof buf, spec, (unsigned long)a);
        } else if (conv == 's') {
            char str[BT_FMT_STR_MAX];
            spec[sl++] = 's';
            spec[sl] = 0;
            long got = a ? bt_probe_read_str(str, sizeof str, (const void *)(uintptr_t)a) : 0;
            n = snprintf(buf, sizeof buf, spec, !a ? "(null)" : got < 0 ? "(fault)" : str);
        } else if (conv == 'c') {
            spec[sl++] = 'c';
            spec[sl] = 0;
            n = snprintf(buf, sizeof buf, spec, (int)(unsigned char)a);
        } else {
            int is_signed = conv == 'd' || conv == 'i';
            spec[sl++] = 'l';
            spec[sl++] = 'l';
            spec[sl++] = conv;
            spec[sl] = 0;
            long long v;
            if (wide)
                v = (long long)a;
            else if (shorts == 2)
                v = is_signed ? (long long)(signed char)a : (long long)(unsigned char)a;
            else if (shorts == 1)
                v = is_signed ? (long long)(short)a : (long long)(unsigned short)a;
            else
                v = is_signed ? (long long)(int)a : (long long)(unsigned int)a;
            n = snprintf(buf, sizeof buf, spec, v);
        }
        if (n < 0)
            return -EINVAL;
        pos = put(out, outlen, pos, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        i = j;
    }
    out[pos < outlen ? pos : outlen - 1] = 0;
    return (long)pos;
}
