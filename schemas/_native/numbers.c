/* JSON numbers: the grammar exactly, and the double Python's float() gives for the text. */
#include "record.h"

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if defined(__x86_64__) && LDBL_MANT_DIG == 64 && FLT_EVAL_METHOD == 0
#define HAVE_X87_EXTENDED 1
/* Powers of ten exact in 64 bits of mantissa: 10^27 = 5^27 * 2^27 and 5^27 < 2^64. */
static const long double POW10L[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
    1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

/* The double nearest mant * 10^exp10, as Python's float() gives it; 0 when not computed exactly here. */
static int exact_double(uint64_t mant, int exp10, int negative, double *out) {
    double d;
    if (mant == 0) {
        d = 0.0;
    }
#if FLT_EVAL_METHOD == 0
    /* Clinger: both operands exact, one correctly rounded operation. */
    else if (mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        d = (double)mant;
        d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
    }
#endif
#ifdef HAVE_X87_EXTENDED
    /* 64-bit mantissa: one correct rounding to 64 bits, then to 53. The second rounding is exact unless
     * the first landed on a midpoint between two doubles (low 11 bits 100...0): then give up. */
    else if (exp10 >= -27 && exp10 <= 27) {
        long double x = (long double)mant;
        x = exp10 < 0 ? x / POW10L[-exp10] : x * POW10L[exp10];
        uint64_t bits;
        memcpy(&bits, &x, sizeof bits); /* x87 extended: the explicit 64-bit mantissa comes first */
        if ((bits & 0x7FF) == 0x400) return 0;
        d = (double)x;
    }
#endif
    else {
        return 0;
    }
    *out = negative ? -d : d;
    return 1;
}

/* The JSON number grammar exactly; 0 when the text is no number (the reference decides). */
int scan_number(Cursor *c, Number *n) {
    const char *p = c->p, *end = c->end;
    memset(n, 0, sizeof *n);
    n->start = p;
    if (p < end && *p == '-') {
        n->negative = 1;
        p++;
    }
    if (p >= end) return 0;
    if (*p == '0') {
        p++;
        n->int_digits = 1;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            if (n->digits < 19) n->mant = n->mant * 10 + (uint64_t)(*p - '0');
            else n->exp10++; /* dropped digit: only counted, the slow path converts */
            n->digits++;
            n->int_digits++;
            p++;
        }
    } else {
        return 0;
    }
    if (p < end && *p == '.') {
        n->is_float = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9') return 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (n->digits == 0 && *p == '0') {
                n->exp10--; /* leading zeros after the point are no significant digits */
            } else {
                if (n->digits < 19) {
                    n->mant = n->mant * 10 + (uint64_t)(*p - '0');
                    n->exp10--;
                }
                n->digits++;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        n->is_float = 1;
        p++;
        int neg = 0;
        long e = 0;
        if (p < end && (*p == '+' || *p == '-')) neg = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9') return 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (e < 100000) e = e * 10 + (*p - '0');
            p++;
        }
        n->exp10 += neg ? -e : e;
    }
    n->stop = p;
    c->p = p;
    return 1;
}

int number_to_double(const Number *n, double *out) {
    if (n->digits <= 19 && exact_double(n->mant, (int)(n->exp10 < -1000 ? -1000 : n->exp10 > 1000 ? 1000 : n->exp10),
                                        n->negative, out))
        return 1;
    /* Python's own correctly rounded conversion; the token is followed by a delimiter or the buffer's NUL */
    char *stop = NULL;
    double d = PyOS_string_to_double(n->start, &stop, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (stop != n->stop) return 0;
    *out = d;
    return 1;
}
