/* usdt_probe.h: USDT probes (SystemTap SDT, version 3 notes) for x86_64 gcc and clang,
 * without <sys/sdt.h>.
 *
 *   USDT_PROBE(provider, name, arg...)       0 to 6 arguments
 *   USDT_SEMAPHORE(provider, name);          at file scope, before a guarded probe
 *   if (USDT_ENABLED(provider, name)) USDT_PROBE(provider, name, expensive());
 *
 * A probe is a one-byte nop at the probe site plus a note in .note.stapsdt that tracers
 * read from the file (see the SystemTap wiki, "UserSpaceProbeImplementation"):
 *
 *   namesz=8  descsz  type=3  "stapsdt\0"
 *   desc: u64 pc           link-time address of the nop
 *         u64 base         link-time address of _.stapsdt.base (detects prelinking)
 *         u64 semaphore    link-time address of the is-enabled counter, or 0
 *         "provider\0" "name\0" "args\0"
 *
 * Each argument is written SIZE@OPERAND, SIZE the byte size, negative when the type is
 * signed, OPERAND as the assembler would take it: %reg, $imm or disp(%reg). The
 * compiler picks the operand ("nor": immediate, offsettable memory or register), so the
 * probe costs no more than the nop. The semaphore is a 2-byte counter in .probes that a
 * tracer increments while it listens; USDT_ENABLED reads it.
 */
#ifndef USDT_PROBE_H
#define USDT_PROBE_H

#if !defined(__x86_64__)
#error "usdt_probe.h writes x86_64 operands only"
#endif

/* integers (classes 1-4: integer, char, enum, bool) keep their type; anything else
 * (pointers) is treated as an unsigned value of its size */
#define USDT_INT_TYPE_(x) \
    __typeof__(__builtin_choose_expr(__builtin_classify_type(x) >= 1 && \
                                     __builtin_classify_type(x) <= 4, (x), 0UL))
#define USDT_UNSIGNED_(x) ((USDT_INT_TYPE_(x))-1 > (USDT_INT_TYPE_(x))0)
#define USDT_SIZE_(x) ((int)sizeof(x) * (USDT_UNSIGNED_(x) ? 1 : -1))

#define USDT_STR_(x) #x
#define USDT_XSTR_(x) USDT_STR_(x)

#define USDT_SEMAPHORE(provider, name) \
    __extension__ volatile unsigned short provider##_##name##_semaphore \
        __attribute__((section(".probes"), used, visibility("hidden"))) = 0
#define USDT_ENABLED(provider, name) __builtin_expect(provider##_##name##_semaphore != 0, 0)

#define USDT_NOTE_(provider, name, sem, args) \
    "990: nop\n" \
    ".pushsection .note.stapsdt, \"\", \"note\"\n" \
    ".balign 4\n" \
    ".4byte 992f-991f, 994f-993f, 3\n" \
    "991: .asciz \"stapsdt\"\n" \
    "992: .balign 4\n" \
    "993: .8byte 990b\n" \
    ".8byte _.stapsdt.base\n" \
    ".8byte " sem "\n" \
    ".asciz \"" USDT_XSTR_(provider) "\"\n" \
    ".asciz \"" USDT_XSTR_(name) "\"\n" \
    ".asciz \"" args "\"\n" \
    "994: .balign 4\n" \
    ".popsection\n" \
    ".ifndef _.stapsdt.base\n" \
    ".pushsection .stapsdt.base, \"aG\", \"progbits\", .stapsdt.base, comdat\n" \
    ".weak _.stapsdt.base\n" \
    ".hidden _.stapsdt.base\n" \
    "_.stapsdt.base: .space 1\n" \
    ".size _.stapsdt.base, 1\n" \
    ".popsection\n" \
    ".endif\n"

/* operand lists: a size ("n", printed bare by %c) and a value ("nor") per argument */
#define USDT_OP_(i, x) [s##i] "n"(USDT_SIZE_(x)), [a##i] "nor"(x)
#define USDT_ARGS_0 ""
#define USDT_ARGS_1 "%c[s1]@%[a1]"
#define USDT_ARGS_2 USDT_ARGS_1 " %c[s2]@%[a2]"
#define USDT_ARGS_3 USDT_ARGS_2 " %c[s3]@%[a3]"
#define USDT_ARGS_4 USDT_ARGS_3 " %c[s4]@%[a4]"
#define USDT_ARGS_5 USDT_ARGS_4 " %c[s5]@%[a5]"
#define USDT_ARGS_6 USDT_ARGS_5 " %c[s6]@%[a6]"
#define USDT_OPS_0()
#define USDT_OPS_1(a) USDT_OP_(1, a)
#define USDT_OPS_2(a, b) USDT_OPS_1(a), USDT_OP_(2, b)
#define USDT_OPS_3(a, b, c) USDT_OPS_2(a, b), USDT_OP_(3, c)
#define USDT_OPS_4(a, b, c, d) USDT_OPS_3(a, b, c), USDT_OP_(4, d)
#define USDT_OPS_5(a, b, c, d, e) USDT_OPS_4(a, b, c, d), USDT_OP_(5, e)
#define USDT_OPS_6(a, b, c, d, e, f) USDT_OPS_5(a, b, c, d, e), USDT_OP_(6, f)

#define USDT_NARG_(...) USDT_NARG2_(0, ##__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define USDT_NARG2_(_0, _1, _2, _3, _4, _5, _6, n, ...) n
#define USDT_CAT_(a, b) USDT_CAT2_(a, b)
#define USDT_CAT2_(a, b) a##b

#define USDT_EMIT_(provider, name, sem, n, ...) \
    __asm__ __volatile__(USDT_NOTE_(provider, name, sem, USDT_CAT_(USDT_ARGS_, n)) \
                         :: USDT_CAT_(USDT_OPS_, n)(__VA_ARGS__))

/* a probe; its semaphore, if it has one, must be declared with USDT_SEMAPHORE */
#define USDT_PROBE(provider, name, ...) \
    USDT_EMIT_(provider, name, "0", USDT_NARG_(__VA_ARGS__), ##__VA_ARGS__)
#define USDT_PROBE_SEM(provider, name, ...) \
    USDT_EMIT_(provider, name, USDT_XSTR_(provider##_##name##_semaphore), \
               USDT_NARG_(__VA_ARGS__), ##__VA_ARGS__)

#endif
