/* One JSON record -> the validated event as a dict, or None: "not proven valid here, ask the reference".
 *
 * Generic: what to check comes from a "program" that `schemas.native_program` compiles from
 * `schemas.contract` at import (field names, kinds, bounds, enums, patterns, nesting, required_when,
 * the probabilities' sum). Nothing in this file knows a field by name.
 *
 * Conservative by construction: this code never refuses a record, it only accepts or gives up. It gives
 * up (returns None) on anything it does not handle exactly as the reference does: backslash escapes,
 * bytes >= 0x80 or < 0x20 inside strings, unknown or repeated keys, arrays, integers of 19 digits or
 * more, numbers that do not fit a double, a first key other than the event's tag, any rule broken.
 *
 * Memory safety: every read is checked against the end of the buffer; no fixed-size buffers; recursion
 * only follows the program's nested objects (two levels), never the input's own nesting.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { KIND_STRING = 0, KIND_INTEGER = 1, KIND_NUMBER = 2, KIND_BOOLEAN = 3, KIND_OBJECT = 4 };
#define MAX_FIELDS 64 /* one bit each in the "seen" mask */

typedef struct {
    unsigned char set[16]; /* ASCII bitmap */
    Py_ssize_t min, max;   /* max < 0: unbounded */
} PatternItem;

typedef struct Spec {
    PyObject *name; /* str, the dict key */
    const char *key; /* its UTF-8 bytes (owned by `name`) */
    Py_ssize_t key_len;
    int kind, required, nullable;
    long long int_lo, int_hi; /* integer kind */
    double num_lo, num_hi;    /* number kind */
    PyObject **enum_values;   /* str objects, returned as they are */
    Py_ssize_t n_enum;
    PatternItem *pattern;
    Py_ssize_t n_pattern; /* < 0: no compiled pattern */
    PyObject *pattern_check; /* callable(str) -> None when the value does not match, or NULL */
    Py_ssize_t max_length;   /* < 0: none */
    struct Spec *fields;     /* object members */
    Py_ssize_t n_fields;
    Py_ssize_t when_index; /* required_when: sibling index, < 0 none */
    PyObject *when_value;
    double sum_limit; /* object: |sum of members - 1| must be below it; < 0: no rule */
    PyObject **cache; /* string values seen before, already checked (ids repeat from record to record) */
} Spec;

#define CACHE_SLOTS 64     /* per field, direct-mapped by a hash of the bytes */
#define CACHE_MAX_LEN 64   /* longer values are not remembered */

typedef struct {
    PyObject_HEAD
    Spec *contracts; /* objects, one per event type; `name` is the tag's value */
    Py_ssize_t n_contracts;
    PyObject *tag; /* the key naming the event type ("schema") */
    const char *tag_key;
    Py_ssize_t tag_len;
} Decoder;

typedef struct {
    const char *p, *end;
    Decoder *decoder;
} Cursor;

/* An event (or a nested object): the values of an object's fields in the program's order, NULL where
 * absent. A read-only mapping of the present fields (registered as a collections.abc.Mapping by
 * schemas.fast_decode), equal to the reference's dict. Not tracked by the GC: its values are str, int,
 * float, bool, None or Events, so it can hold no cycle. */
typedef struct {
    PyObject_VAR_HEAD
    const Spec *spec;
    PyObject *owner; /* the Decoder whose program `spec` belongs to */
    PyObject *values[1];
} Event;

/* ------------------------------------------------------------------ program */

static void spec_clear(Spec *s) {
    Py_CLEAR(s->name);
    if (s->enum_values) {
        for (Py_ssize_t i = 0; i < s->n_enum; i++) Py_XDECREF(s->enum_values[i]);
        PyMem_Free(s->enum_values);
        s->enum_values = NULL;
    }
    PyMem_Free(s->pattern);
    s->pattern = NULL;
    Py_CLEAR(s->pattern_check);
    if (s->fields) {
        for (Py_ssize_t i = 0; i < s->n_fields; i++) spec_clear(&s->fields[i]);
        PyMem_Free(s->fields);
        s->fields = NULL;
    }
    Py_CLEAR(s->when_value);
    if (s->cache) {
        for (Py_ssize_t i = 0; i < CACHE_SLOTS; i++) Py_XDECREF(s->cache[i]);
        PyMem_Free(s->cache);
        s->cache = NULL;
    }
}

static int spec_from(Spec *s, PyObject *t, int depth);

static int fields_from(Spec *s, PyObject *tuple, int depth) {
    if (!PyTuple_Check(tuple)) {
        PyErr_SetString(PyExc_TypeError, "program: fields must be a tuple");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if (n > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "program: more than 64 fields in one object");
        return -1;
    }
    s->fields = PyMem_Calloc(n ? n : 1, sizeof(Spec));
    if (!s->fields) {
        PyErr_NoMemory();
        return -1;
    }
    s->n_fields = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        s->fields[i].n_pattern = -1;
        if (spec_from(&s->fields[i], PyTuple_GET_ITEM(tuple, i), depth + 1) < 0) return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t w = s->fields[i].when_index;
        if (w >= n) {
            PyErr_SetString(PyExc_ValueError, "program: required_when names no sibling");
            return -1;
        }
    }
    return 0;
}

/* (name, kind, required, nullable, int_lo, int_hi, num_lo, num_hi, enum|None, pattern|None,
 *  pattern_check|None, max_length, fields|None, when_index, when_value|None, sum_limit, remember) */
static int spec_from(Spec *s, PyObject *t, int depth) {
    PyObject *name, *enums, *pattern, *check, *fields, *when_value;
    int kind, required, nullable;
    long long int_lo, int_hi;
    double num_lo, num_hi, sum_limit;
    Py_ssize_t max_length, when_index;
    int remember;
    s->n_pattern = -1;
    s->max_length = -1;
    s->when_index = -1;
    s->sum_limit = -1.0;
    if (depth > 8) {
        PyErr_SetString(PyExc_ValueError, "program: objects nested too deeply");
        return -1;
    }
    if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "UippLLddOOOnOnOdp", &name, &kind, &required, &nullable,
                                               &int_lo, &int_hi, &num_lo, &num_hi, &enums, &pattern, &check,
                                               &max_length, &fields, &when_index, &when_value, &sum_limit,
                                               &remember)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "program: a field must be a tuple");
        return -1;
    }
    if (kind < KIND_STRING || kind > KIND_OBJECT) {
        PyErr_SetString(PyExc_ValueError, "program: unknown kind");
        return -1;
    }
    s->name = Py_NewRef(name);
    s->key = PyUnicode_AsUTF8AndSize(name, &s->key_len);
    if (!s->key) return -1;
    s->kind = kind;
    s->required = required;
    s->nullable = nullable;
    s->int_lo = int_lo;
    s->int_hi = int_hi;
    s->num_lo = num_lo;
    s->num_hi = num_hi;
    s->max_length = max_length;
    s->when_index = when_index;
    s->sum_limit = sum_limit;
    if (enums != Py_None) {
        if (!PyTuple_Check(enums) || kind != KIND_STRING) {
            PyErr_SetString(PyExc_TypeError, "program: enum must be a tuple of str on a string field");
            return -1;
        }
        s->n_enum = PyTuple_GET_SIZE(enums);
        s->enum_values = PyMem_Calloc(s->n_enum ? s->n_enum : 1, sizeof(PyObject *));
        if (!s->enum_values) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < s->n_enum; i++) {
            PyObject *v = PyTuple_GET_ITEM(enums, i);
            if (!PyUnicode_Check(v) || PyUnicode_READY(v) < 0 || !PyUnicode_IS_ASCII(v)) {
                /* non-ASCII enum values never match here (non-ASCII input is given up on) */
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "program: enum values must be ASCII str");
                return -1;
            }
            s->enum_values[i] = Py_NewRef(v);
        }
    }
    if (pattern != Py_None) {
        if (!PyTuple_Check(pattern)) {
            PyErr_SetString(PyExc_TypeError, "program: pattern must be a tuple");
            return -1;
        }
        Py_ssize_t n = PyTuple_GET_SIZE(pattern);
        s->pattern = PyMem_Calloc(n ? n : 1, sizeof(PatternItem));
        if (!s->pattern) {
            PyErr_NoMemory();
            return -1;
        }
        s->n_pattern = n;
        for (Py_ssize_t i = 0; i < n; i++) {
            const char *bits;
            Py_ssize_t nbits;
            PyObject *item = PyTuple_GET_ITEM(pattern, i);
            if (!PyTuple_Check(item) ||
                !PyArg_ParseTuple(item, "y#nn", &bits, &nbits, &s->pattern[i].min, &s->pattern[i].max)) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "program: pattern item");
                return -1;
            }
            if (nbits != 16 || s->pattern[i].min < 0) {
                PyErr_SetString(PyExc_ValueError, "program: pattern item must be (16-byte set, min, max)");
                return -1;
            }
            memcpy(s->pattern[i].set, bits, 16);
        }
    }
    if (check != Py_None) {
        if (!PyCallable_Check(check)) {
            PyErr_SetString(PyExc_TypeError, "program: pattern_check must be callable");
            return -1;
        }
        s->pattern_check = Py_NewRef(check);
    }
    if (when_value != Py_None) s->when_value = Py_NewRef(when_value);
    if (remember && kind == KIND_STRING && enums == Py_None) {
        s->cache = PyMem_Calloc(CACHE_SLOTS, sizeof(PyObject *));
        if (!s->cache) {
            PyErr_NoMemory();
            return -1;
        }
    }
    if (fields != Py_None) {
        if (kind != KIND_OBJECT) {
            PyErr_SetString(PyExc_ValueError, "program: members on a field that is no object");
            return -1;
        }
        if (fields_from(s, fields, depth) < 0) return -1;
    } else if (kind == KIND_OBJECT) {
        PyErr_SetString(PyExc_ValueError, "program: an object without members");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ scanning */

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

/* A plain string (no escapes, printable ASCII) starting at the opening quote: its bytes, or 0 to give up. */
static inline int scan_string(Cursor *c, const char **start, Py_ssize_t *len) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *s = ++c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *start = s;
            *len = c->p - s;
            c->p++;
            return 1;
        }
        if (ch == '\\' || ch < 0x20 || ch >= 0x80) return 0;
        c->p++;
    }
    return 0;
}

static inline int literal(Cursor *c, const char *word, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int pattern_matches(const Spec *s, const char *v, Py_ssize_t n) {
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < s->n_pattern; i++) {
        const PatternItem *item = &s->pattern[i];
        Py_ssize_t count = 0, max = item->max < 0 ? PY_SSIZE_T_MAX : item->max;
        while (pos < n && count < max) {
            unsigned char ch = (unsigned char)v[pos];
            if (ch >= 128 || !(item->set[ch >> 3] & (1u << (ch & 7)))) break;
            pos++;
            count++;
        }
        if (count < item->min) return 0;
    }
    return pos == n;
}

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

typedef struct {
    int is_float, negative;
    uint64_t mant; /* significant digits, when there are at most 19 */
    int digits;    /* significant digits counted (capped) */
    int int_digits; /* digits before the point, for integers */
    long exp10;
    const char *start, *stop;
} Number;

/* The JSON number grammar exactly; 0 when the text is no number (the reference decides). */
static int scan_number(Cursor *c, Number *n) {
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

static int number_to_double(const Number *n, double *out) {
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

/* ------------------------------------------------------------------ values */

#define FAIL() return NULL

static PyObject *parse_object(const Spec *obj, Cursor *c, Event *event);

static PyTypeObject EventType;
static PyObject *KEYS_VIEW, *ITEMS_VIEW, *VALUES_VIEW; /* collections.abc's views */

static Event *event_new(Decoder *d, const Spec *spec) {
    PyTypeObject *tp = &EventType;
    size_t size = (size_t)_PyObject_VAR_SIZE(tp, spec->n_fields);
    Event *e = (Event *)PyObject_Malloc(size);
    if (!e) {
        PyErr_NoMemory();
        return NULL;
    }
    memset(e, 0, size);
    PyObject_InitVar((PyVarObject *)e, tp, spec->n_fields);
    e->spec = spec;
    e->owner = Py_NewRef((PyObject *)d);
    return e;
}

static PyObject *make_ascii(const char *s, Py_ssize_t n) {
    PyObject *u = PyUnicode_New(n, 127);
    if (u) memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
    return u;
}

/* The value of one field, or NULL (an exception set only for real errors, such as no memory). */
static PyObject *parse_value(const Spec *s, Cursor *c, double *as_double) {
    if (c->p >= c->end) FAIL();
    char ch = *c->p;
    if (ch == 'n') {
        if (!s->nullable || !literal(c, "null", 4)) FAIL();
        Py_RETURN_NONE;
    }
    switch (s->kind) {
    case KIND_STRING: {
        const char *v;
        Py_ssize_t n;
        if (!scan_string(c, &v, &n)) FAIL();
        if (s->enum_values) {
            for (Py_ssize_t i = 0; i < s->n_enum; i++) {
                PyObject *e = s->enum_values[i];
                if (PyUnicode_GET_LENGTH(e) == n && memcmp(PyUnicode_1BYTE_DATA(e), v, (size_t)n) == 0)
                    return Py_NewRef(e);
            }
            FAIL();
        }
        size_t slot = 0;
        if (s->cache && n <= CACHE_MAX_LEN) {
            uint32_t h = 2166136261u; /* FNV-1a */
            for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)v[i]) * 16777619u;
            slot = (h ^ (h >> 16)) & (CACHE_SLOTS - 1);
            PyObject *seen = s->cache[slot];
            if (seen && PyUnicode_GET_LENGTH(seen) == n && memcmp(PyUnicode_1BYTE_DATA(seen), v, (size_t)n) == 0)
                return Py_NewRef(seen); /* it passed every check when it was remembered */
        }
        if (s->max_length >= 0 && n > s->max_length) FAIL(); /* ASCII: bytes are characters */
        if (s->n_pattern >= 0 && !pattern_matches(s, v, n)) FAIL();
        PyObject *u = make_ascii(v, n);
        if (u && s->pattern_check) {
            PyObject *m = PyObject_CallOneArg(s->pattern_check, u);
            if (!m || m == Py_None) {
                Py_XDECREF(m);
                Py_DECREF(u);
                FAIL();
            }
            Py_DECREF(m);
        }
        if (u && s->cache && n <= CACHE_MAX_LEN) Py_XSETREF(s->cache[slot], Py_NewRef(u));
        return u;
    }
    case KIND_BOOLEAN:
        if (literal(c, "true", 4)) Py_RETURN_TRUE;
        if (literal(c, "false", 5)) Py_RETURN_FALSE;
        FAIL();
    case KIND_OBJECT: {
        if (ch != '{') FAIL();
        c->p++;
        Event *e = event_new(c->decoder, s);
        if (!e) FAIL();
        if (!parse_object(s, c, e)) {
            Py_DECREF(e);
            FAIL();
        }
        return (PyObject *)e;
    }
    case KIND_INTEGER:
    case KIND_NUMBER: {
        Number n;
        if (!scan_number(c, &n)) FAIL();
        if (!n.is_float) {
            /* 18 digits fit an int64 with room; longer ones (rare, near or past the limits) go back */
            if (n.int_digits > 18) FAIL();
            long long v = (long long)n.mant;
            if (n.negative) v = -v;
            if (s->kind == KIND_INTEGER) {
                if (v < s->int_lo || v > s->int_hi) FAIL();
            } else {
                /* the reference compares the int with float bounds exactly: exact here below 2^53 */
                if (v > (1LL << 53) || v < -(1LL << 53)) FAIL();
                double dv = (double)v;
                if (dv < s->num_lo || dv > s->num_hi) FAIL();
                *as_double = dv;
            }
            return PyLong_FromLongLong(v);
        }
        if (s->kind == KIND_INTEGER) FAIL(); /* 96.0 is no integer for the reference */
        double d;
        if (!number_to_double(&n, &d) || !isfinite(d)) FAIL();
        if (d < s->num_lo || d > s->num_hi) FAIL();
        *as_double = d;
        return PyFloat_FromDouble(d);
    }
    }
    FAIL();
}

static inline Py_ssize_t find_field(const Spec *obj, const char *k, Py_ssize_t n, Py_ssize_t hint) {
    if (hint < obj->n_fields && obj->fields[hint].key_len == n && memcmp(obj->fields[hint].key, k, (size_t)n) == 0)
        return hint;
    for (Py_ssize_t i = 0; i < obj->n_fields; i++)
        if (obj->fields[i].key_len == n && memcmp(obj->fields[i].key, k, (size_t)n) == 0) return i;
    return -1;
}

/* Members of `obj` into `event`, the cursor just past '{'; consumes the closing '}'.
 * Returns `event` (borrowed) or NULL to give up. */
static PyObject *parse_object(const Spec *obj, Cursor *c, Event *event) {
    Py_ssize_t hint = 0;
    uint64_t seen = 0;
    double sum = 0.0;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        goto close;
    }
    for (;;) {
        const char *k;
        Py_ssize_t kn;
        if (!scan_string(c, &k, &kn)) FAIL();
        Py_ssize_t i = find_field(obj, k, kn, hint);
        if (i < 0 || (seen & (UINT64_C(1) << i))) FAIL(); /* unknown (a newer minor's) or repeated */
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':') FAIL();
        c->p++;
        skip_ws(c);
        double as_double = 0.0;
        PyObject *v = parse_value(&obj->fields[i], c, &as_double);
        if (!v) FAIL();
        event->values[i] = v; /* i was not seen: the slot is empty */
        sum += as_double; /* members of a sum rule are numbers; in JSON order, as the reference sums */
        seen |= UINT64_C(1) << i;
        hint = i + 1;
        skip_ws(c);
        if (c->p >= c->end) FAIL();
        if (*c->p == '}') {
            c->p++;
            break;
        }
        if (*c->p != ',') FAIL();
        c->p++;
        skip_ws(c);
    }
close:
    for (Py_ssize_t i = 0; i < obj->n_fields; i++) {
        const Spec *f = &obj->fields[i];
        if (seen & (UINT64_C(1) << i)) continue;
        if (f->required) FAIL();
        if (f->when_index >= 0 && (seen & (UINT64_C(1) << f->when_index))) {
            PyObject *sibling = event->values[f->when_index];
            if (!sibling) FAIL();
            int equal = PyObject_RichCompareBool(sibling, f->when_value, Py_EQ);
            if (equal != 0) FAIL(); /* required by its sibling's value (or the comparison failed) */
        }
    }
    if (obj->sum_limit >= 0.0) {
        if (obj->n_fields == 0 || !(fabs(sum - 1.0) < obj->sum_limit)) FAIL();
    }
    return (PyObject *)event;
}

/* ------------------------------------------------------------------ the event type */

static Py_ssize_t field_index(const Spec *spec, PyObject *key) {
    for (Py_ssize_t i = 0; i < spec->n_fields; i++)
        if (spec->fields[i].name == key) return i; /* interned names: the usual case */
    if (!PyUnicode_Check(key)) return -1;
    for (Py_ssize_t i = 0; i < spec->n_fields; i++)
        if (PyUnicode_Compare(spec->fields[i].name, key) == 0) return i;
    return -1;
}

static void Event_dealloc(Event *self) {
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) Py_XDECREF(self->values[i]);
    Py_XDECREF(self->owner);
    PyObject_Free(self);
}

static Py_ssize_t Event_length(Event *self) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) n += self->values[i] != NULL;
    return n;
}

static PyObject *Event_subscript(Event *self, PyObject *key) {
    Py_ssize_t i = field_index(self->spec, key);
    if (i >= 0 && self->values[i]) return Py_NewRef(self->values[i]);
    PyErr_SetObject(PyExc_KeyError, key);
    return NULL;
}

static int Event_contains(Event *self, PyObject *key) {
    Py_ssize_t i = field_index(self->spec, key);
    return i >= 0 && self->values[i] != NULL;
}

static PyObject *Event_get(Event *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get expected 1 or 2 arguments");
        return NULL;
    }
    Py_ssize_t i = field_index(self->spec, args[0]);
    if (i >= 0 && self->values[i]) return Py_NewRef(self->values[i]);
    return Py_NewRef(nargs == 2 ? args[1] : Py_None);
}

static PyObject *Event_iter(Event *self) {
    PyObject *keys = PyTuple_New(Event_length(self));
    if (!keys) return NULL;
    for (Py_ssize_t i = 0, k = 0; i < Py_SIZE(self); i++)
        if (self->values[i]) PyTuple_SET_ITEM(keys, k++, Py_NewRef(self->spec->fields[i].name));
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

/* The plain dict, nested events as dicts too (what writers serialise). */
static PyObject *Event_to_dict(Event *self, PyObject *unused) {
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) {
        PyObject *v = self->values[i];
        if (!v) continue;
        if (Py_IS_TYPE(v, &EventType)) v = Event_to_dict((Event *)v, NULL);
        else Py_INCREF(v);
        if (!v || PyDict_SetItem(d, self->spec->fields[i].name, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *Event_view(Event *self, PyObject *view) {
    return PyObject_CallOneArg(view, (PyObject *)self);
}
static PyObject *Event_keys(Event *self, PyObject *unused) { return Event_view(self, KEYS_VIEW); }
static PyObject *Event_items(Event *self, PyObject *unused) { return Event_view(self, ITEMS_VIEW); }
static PyObject *Event_values(Event *self, PyObject *unused) { return Event_view(self, VALUES_VIEW); }

/* Equal to a mapping with the same keys and values (nested ones compared the same way), as a dict is. */
static PyObject *Event_richcompare(Event *self, PyObject *other, int op) {
    if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = Event_to_dict(self, NULL);
    if (!mine) return NULL;
    PyObject *theirs = Py_IS_TYPE(other, &EventType) ? Event_to_dict((Event *)other, NULL) : Py_NewRef(other);
    if (!theirs) {
        Py_DECREF(mine);
        return NULL;
    }
    PyObject *result = PyObject_RichCompare(mine, theirs, op);
    Py_DECREF(mine);
    Py_DECREF(theirs);
    return result;
}

/* Pickled and copied as its plain dict; shown as that dict. */
static PyObject *Event_reduce(Event *self, PyObject *unused) {
    PyObject *d = Event_to_dict(self, NULL);
    return d ? Py_BuildValue("(O(N))", (PyObject *)&PyDict_Type, d) : NULL;
}

static PyObject *Event_repr(Event *self) {
    PyObject *d = Event_to_dict(self, NULL);
    if (!d) return NULL;
    PyObject *r = PyObject_Repr(d);
    Py_DECREF(d);
    return r;
}

static PyMappingMethods Event_as_mapping = {(lenfunc)Event_length, (binaryfunc)Event_subscript, NULL};
static PySequenceMethods Event_as_sequence = {.sq_contains = (objobjproc)Event_contains};

static PyMethodDef Event_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Event_get, METH_FASTCALL, "get(key, default=None)"},
    {"to_dict", (PyCFunction)Event_to_dict, METH_NOARGS, "The plain dict, nested objects as dicts."},
    {"__reduce__", (PyCFunction)Event_reduce, METH_NOARGS, "Pickled as its plain dict."},
    {"keys", (PyCFunction)Event_keys, METH_NOARGS, "A KeysView."},
    {"items", (PyCFunction)Event_items, METH_NOARGS, "An ItemsView."},
    {"values", (PyCFunction)Event_values, METH_NOARGS, "A ValuesView."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject EventType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "schemas._record.Event",
    .tp_basicsize = offsetof(Event, values),
    .tp_itemsize = sizeof(PyObject *),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A validated event (or nested object): a read-only mapping of its present fields.",
    .tp_dealloc = (destructor)Event_dealloc,
    .tp_as_mapping = &Event_as_mapping,
    .tp_as_sequence = &Event_as_sequence,
    .tp_iter = (getiterfunc)Event_iter,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_richcompare = (richcmpfunc)Event_richcompare,
    .tp_repr = (reprfunc)Event_repr,
    .tp_methods = Event_methods,
};

/* ------------------------------------------------------------------ the decoder type */

/* Past one JSON value of any shape, without judging it (only to find the tag; the parse proper is strict). */
static int skip_value(Cursor *c) {
    int depth = 0;
    for (;;) {
        skip_ws(c);
        if (c->p >= c->end) return 0;
        char ch = *c->p;
        if (ch == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end) return 0;
                if (*c->p == '\\') {
                    if (c->end - c->p < 2) return 0;
                    c->p += 2;
                } else if (*c->p++ == '"') {
                    break;
                }
            }
        } else if (ch == '{' || ch == '[') {
            if (++depth > 64) return 0;
            c->p++;
            continue;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0) return 0;
            depth--;
            c->p++;
        } else if (ch == ',' || ch == ':') {
            if (depth == 0) return 0;
            c->p++;
            continue;
        } else {
            const char *s = c->p;
            while (c->p < c->end && *c->p != ',' && *c->p != '}' && *c->p != ']' && *c->p != ':' && *c->p != ' ' &&
                   *c->p != '\n' && *c->p != '\r' && *c->p != '\t' && *c->p != '"' && *c->p != '{' && *c->p != '[')
                c->p++;
            if (c->p == s) return 0;
        }
        if (depth == 0) return 1;
    }
}

/* The contract the record's tag names (the tag may be any top-level key; the edge writes it first),
 * or NULL. Reads a copy of the cursor, just past the opening brace. */
static const Spec *find_contract(Decoder *self, Cursor c) {
    for (;;) {
        const char *k, *v;
        Py_ssize_t kn, vn;
        skip_ws(&c);
        if (!scan_string(&c, &k, &kn)) return NULL;
        skip_ws(&c);
        if (c.p >= c.end || *c.p != ':') return NULL;
        c.p++;
        skip_ws(&c);
        if (kn == self->tag_len && memcmp(k, self->tag_key, (size_t)kn) == 0) {
            if (!scan_string(&c, &v, &vn)) return NULL;
            for (Py_ssize_t i = 0; i < self->n_contracts; i++) {
                const Spec *s = &self->contracts[i];
                if (s->key_len == vn && memcmp(s->key, v, (size_t)vn) == 0) return s;
            }
            return NULL;
        }
        if (!skip_value(&c)) return NULL;
        skip_ws(&c);
        if (c.p >= c.end || *c.p != ',') return NULL;
        c.p++;
    }
}

static PyObject *Decoder_parse(Decoder *self, PyObject *raw) {
    Cursor c;
    c.decoder = self;
    if (PyBytes_Check(raw)) {
        c.p = PyBytes_AS_STRING(raw);
        c.end = c.p + PyBytes_GET_SIZE(raw);
    } else if (PyUnicode_Check(raw) && PyUnicode_IS_READY(raw) && PyUnicode_IS_ASCII(raw)) {
        c.p = (const char *)PyUnicode_1BYTE_DATA(raw);
        c.end = c.p + PyUnicode_GET_LENGTH(raw);
    } else {
        Py_RETURN_NONE;
    }
    if (!self->tag_key) Py_RETURN_NONE; /* never initialised */
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') Py_RETURN_NONE;
    c.p++;
    const Spec *contract = find_contract(self, c);
    if (!contract) Py_RETURN_NONE;
    Event *event = event_new(self, contract);
    if (!event) return NULL;
    if (!parse_object(contract, &c, event)) {
        Py_DECREF(event);
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_MemoryError)) PyErr_Clear(); /* a pattern check's error: give up */
            else return NULL;
        }
        Py_RETURN_NONE;
    }
    skip_ws(&c);
    if (c.p != c.end) {
        Py_DECREF(event);
        Py_RETURN_NONE;
    }
    return (PyObject *)event;
}

static int Decoder_init(Decoder *self, PyObject *args, PyObject *kwds) {
    PyObject *contracts, *tag;
    static char *names[] = {"contracts", "tag", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!U", names, &PyTuple_Type, &contracts, &tag)) return -1;
    if (self->contracts) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder already initialised");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(contracts);
    self->contracts = PyMem_Calloc(n ? n : 1, sizeof(Spec));
    if (!self->contracts) {
        PyErr_NoMemory();
        return -1;
    }
    self->n_contracts = n;
    self->tag = Py_NewRef(tag);
    self->tag_key = PyUnicode_AsUTF8AndSize(tag, &self->tag_len);
    if (!self->tag_key) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (spec_from(&self->contracts[i], PyTuple_GET_ITEM(contracts, i), 0) < 0) return -1;
        if (self->contracts[i].kind != KIND_OBJECT) {
            PyErr_SetString(PyExc_ValueError, "program: a contract must be an object");
            return -1;
        }
    }
    return 0;
}

static void Decoder_dealloc(Decoder *self) {
    if (self->contracts) {
        for (Py_ssize_t i = 0; i < self->n_contracts; i++) spec_clear(&self->contracts[i]);
        PyMem_Free(self->contracts);
    }
    Py_XDECREF(self->tag);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Decoder_methods[] = {
    {"parse", (PyCFunction)Decoder_parse, METH_O,
     "parse(raw: bytes | str) -> dict | None\n\nThe valid event as a dict, or None: not proven valid here."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "schemas._record.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Decoder(contracts, tag): validates records against compiled contracts "
              "(schemas.native_program).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_methods = Decoder_methods,
};

static PyObject *match_pattern(PyObject *module, PyObject *args) {
    PyObject *items;
    const char *value;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "O!s#", &PyTuple_Type, &items, &value, &n)) return NULL;
    Spec s;
    memset(&s, 0, sizeof s);
    PyObject *field = Py_BuildValue("(siiiLLddOOOnOnOdi)", "v", KIND_STRING, 1, 0, 0LL, 0LL, 0.0, 0.0, Py_None, items,
                                    Py_None, (Py_ssize_t)-1, Py_None, (Py_ssize_t)-1, Py_None, -1.0, 0);
    if (!field) return NULL;
    int ok = spec_from(&s, field, 0);
    Py_DECREF(field);
    PyObject *result = NULL;
    if (ok == 0) result = PyBool_FromLong(pattern_matches(&s, value, n));
    spec_clear(&s);
    return result;
}

static PyMethodDef module_methods[] = {
    {"match_pattern", match_pattern, METH_VARARGS,
     "match_pattern(items, value: str) -> bool: the compiled pattern's greedy match (for tests)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "schemas._record",
                                    "Records validated against compiled contracts, in C.", -1, module_methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__record(void) {
    if (PyType_Ready(&EventType) < 0 || PyType_Ready(&DecoderType) < 0) return NULL;
    PyObject *abc = PyImport_ImportModule("collections.abc");
    if (!abc) return NULL;
    KEYS_VIEW = PyObject_GetAttrString(abc, "KeysView");
    ITEMS_VIEW = PyObject_GetAttrString(abc, "ItemsView");
    VALUES_VIEW = PyObject_GetAttrString(abc, "ValuesView");
    Py_DECREF(abc);
    if (!KEYS_VIEW || !ITEMS_VIEW || !VALUES_VIEW) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Decoder", (PyObject *)&DecoderType) < 0 ||
        PyModule_AddObjectRef(m, "Event", (PyObject *)&EventType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
