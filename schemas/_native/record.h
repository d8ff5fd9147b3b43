/* Shared by the C validator's files in schemas/_native (one extension: schemas._record).
 *
 * A program (schemas.native_program) becomes a tree of Specs; a record is read with a Cursor; an
 * accepted record becomes an Event. See record.c for what is checked and when this code gives up.
 */
#ifndef MOODLENS_RECORD_H
#define MOODLENS_RECORD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Text is always "ready" from 3.12 on (the macros are deprecated there); before, check it. */
#if PY_VERSION_HEX < 0x030C0000
#define TEXT_READY(o) PyUnicode_IS_READY(o) /* a legacy string not yet ready: not read here */
#else
#define TEXT_READY(o) 1
#endif

enum { KIND_STRING = 0, KIND_INTEGER = 1, KIND_NUMBER = 2, KIND_BOOLEAN = 3, KIND_OBJECT = 4 };
#define MAX_FIELDS 64 /* one bit each in the "seen" mask */

typedef struct {
    unsigned char set[16]; /* ASCII bitmap */
    unsigned char in[256]; /* the same, one byte per character: 1 for members (never above 127) */
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
    Py_ssize_t column;    /* columns.c: its column among its contract's, depth first (the contract's own: 0) */
    Py_ssize_t n_columns; /* columns.c, on a contract: how many columns it has */
    /* columns.c learns the order writers put keys in: the member expected first in this object, and
     * the one expected after this field. Only guesses, always checked. */
    Py_ssize_t first_key, next_key;
    int plain_key; /* the key is printable ASCII without quote or backslash: compared in place */
    Py_ssize_t last_enum; /* columns.c: the enum value matched last, tried first */
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
    PyObject *fallback; /* callable(raw, max_bytes) for what this code does not prove valid, or NULL */
} Decoder;

typedef struct {
    const char *p, *end;
    Decoder *decoder;
    /* record.c: the record's first byte and the object holding it (bytes or ASCII str, both immutable), so
     * a value left in the record is found again by its place. columns.c leaves them NULL. */
    const char *start;
    PyObject *source;
} Cursor;

/* An event (or a nested object): a read-only mapping of its present fields (registered as a
 * collections.abc.Mapping by schemas.fast_decode), equal to the reference's dict.
 *
 * The whole record is checked when it is parsed, but only the values that cost no allocation (enum
 * members, remembered strings, booleans, null) are kept as objects then; a number, a nested object or a
 * string seen once is kept as its place in the record and made on its first read (then kept). A reader
 * such as the window engine reads a few fields of each event: the others are never built, and the ones
 * it reads are made just before it uses them, while the record is still in the cache.
 *
 * After `values` (n_fields of them, NULL where not made) come n_fields places (Py_ssize_t): 0 for a
 * value not left in the record, else its offset from `start` plus one. A field is present when either
 * is set. Not tracked by the GC: its values are str, int, float, bool, None or Events and `source` is
 * bytes or str, so it can hold no cycle. */
typedef struct {
    PyObject_VAR_HEAD
    const Spec *spec;
    PyObject *owner;  /* the Decoder whose program `spec` belongs to */
    PyObject *source; /* the record the places point into (bytes or ASCII str) */
    PyObject *values[1];
} Event;

static inline Py_ssize_t *event_places(Event *e) { return (Py_ssize_t *)(e->values + Py_SIZE(e)); }

static inline int event_has(Event *e, Py_ssize_t i) { return e->values[i] != NULL || event_places(e)[i] != 0; }

typedef struct {
    int is_float, negative;
    uint64_t mant; /* significant digits, when there are at most 19 */
    int digits;    /* significant digits counted (capped) */
    int int_digits; /* digits before the point, for integers */
    long exp10;
    const char *start, *stop;
} Number;

/* Scanning, shared by record.c (one record -> an Event) and columns.c (a batch -> Arrow columns). */

static inline void skip_ws(Cursor *c) {
    if (c->p < c->end && (unsigned char)*c->p > ' ') return; /* the usual case: compact JSON */
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

/* Eight bytes at once: nonzero when any of them is a quote, a backslash, a control character (< 0x20)
 * or not ASCII (>= 0x80): the bytes a plain string stops or gives up at. Exact as a yes/no (the
 * classic "has a byte less than n" tests), not as a position: the byte loop finds which one. */
#define BYTES8(b) (UINT64_C(0x0101010101010101) * (b))
static inline uint64_t special8(uint64_t w) {
#define HAS_LESS(x, n) (((x) - BYTES8(n)) & ~(x) & BYTES8(0x80))
    return HAS_LESS(w, 0x20) | HAS_LESS(w ^ BYTES8(0x22), 1) | HAS_LESS(w ^ BYTES8(0x5C), 1) | (w & BYTES8(0x80));
#undef HAS_LESS
}

/* A plain string (no escapes, printable ASCII) starting at the opening quote: its bytes, or 0 to give up. */
static inline int scan_string(Cursor *c, const char **start, Py_ssize_t *len) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *s = ++c->p;
    while (c->end - c->p >= 8) { /* whole words of ordinary bytes, then byte by byte */
        uint64_t w;
        memcpy(&w, c->p, 8);
        if (special8(w)) break;
        c->p += 8;
    }
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

/* memcmp(a, b, n) == 0 for short n without a call (keys, enum values): words, then bytes. */
static inline int same_bytes(const char *a, const char *b, Py_ssize_t n) {
    uint64_t x, y;
    uint32_t u, w;
    if (n >= 8) { /* words, the last one overlapping */
        for (Py_ssize_t k = 0; k + 8 < n; k += 8) {
            memcpy(&x, a + k, 8);
            memcpy(&y, b + k, 8);
            if (x != y) return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        memcpy(&u, a, 4);
        memcpy(&w, b, 4);
        if (u != w) return 0;
        memcpy(&u, a + n - 4, 4);
        memcpy(&w, b + n - 4, 4);
        return u == w;
    }
    for (; n > 0; n--)
        if (*a++ != *b++) return 0;
    return 1;
}

/* An object's member syntax, shared by both object parsers. */

/* The field of `obj` named k (n bytes), trying `hint` first; -1 when it has none (a newer minor's key). */
static inline Py_ssize_t find_field(const Spec *obj, const char *k, Py_ssize_t n, Py_ssize_t hint) {
    if (hint < obj->n_fields && obj->fields[hint].key_len == n && same_bytes(obj->fields[hint].key, k, n))
        return hint;
    for (Py_ssize_t i = 0; i < obj->n_fields; i++)
        if (obj->fields[i].key_len == n && same_bytes(obj->fields[i].key, k, n)) return i;
    return -1;
}

/* Past the ':' after a key, and the blanks around it: 1, or 0 when it is not there. */
static inline int past_colon(Cursor *c) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') return 0;
    c->p++;
    skip_ws(c);
    return 1;
}

/* After a member's value: 1 past ',' (another member follows), 0 past the closing '}', -1 malformed. */
static inline int next_member(Cursor *c) {
    skip_ws(c);
    if (c->p >= c->end) return -1;
    if (*c->p == '}') {
        c->p++;
        return 0;
    }
    if (*c->p != ',') return -1;
    c->p++;
    skip_ws(c);
    return 1;
}

/* Member `f` absent from a record whose members marked in `seen` were there: ABSENT_REFUSED when it is
 * required, ABSENT_IF_SIBLING_DIFFERS when a seen sibling's value decides (required_when: the caller compares
 * it with `when_value`, each parser reading values its own way), else ABSENT_FINE. */
enum { ABSENT_REFUSED = 0, ABSENT_FINE = 1, ABSENT_IF_SIBLING_DIFFERS = 2 };
static inline int absent_member(const Spec *f, uint64_t seen) {
    if (f->required) return ABSENT_REFUSED;
    if (f->when_index >= 0 && (seen & (UINT64_C(1) << f->when_index))) return ABSENT_IF_SIBLING_DIFFERS;
    return ABSENT_FINE;
}

/* The object's sum rule (its members add up to 1 within its tolerance), or no rule at all. */
static inline int sum_holds(const Spec *obj, double sum) {
    return obj->sum_limit < 0.0 || (obj->n_fields > 0 && fabs(sum - 1.0) < obj->sum_limit);
}

static inline int literal(Cursor *c, const char *word, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

static inline int pattern_matches(const Spec *s, const char *v, Py_ssize_t n) {
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < s->n_pattern; i++) {
        const PatternItem *item = &s->pattern[i];
        Py_ssize_t count = 0, limit = n - pos;
        if (item->max >= 0 && item->max < limit) limit = item->max;
        while (count < limit && item->in[(unsigned char)v[pos + count]]) count++;
        if (count < item->min) return 0;
        pos += count;
    }
    return pos == n;
}

/* program.c: a Spec from one field's tuple, and its release */
int spec_from(Spec *s, PyObject *t, int depth);
void spec_clear(Spec *s);

/* numbers.c: the JSON number grammar, and the double Python's float() gives for it */
int scan_number(Cursor *c, Number *n);
int number_to_double(const Number *n, double *out);

/* record.c: when the record's first key is the tag, 1 and the contract it names (NULL: none); else 0 */
int leading_tag(Decoder *self, Cursor c, const Spec **contract);

/* columns.c: a batch of lines -> Arrow column buffers (Decoder.columns, .columns_in), and where lines end */
void columns_number(Spec *contract);
PyObject *Decoder_columns(Decoder *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *Decoder_columns_in(Decoder *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *line_ends(PyObject *module, PyObject *arg);

/* members.c: the members of object `obj` checked into `values` and `places` (n_fields each, zeroed), the
 * cursor just past its closing brace: 1, or 0 to give up (an exception set only when memory ran out) */
int parse_members(const Spec *obj, Cursor *c, PyObject **values, Py_ssize_t *places);

/* members.c: field i of an event, made from its place in the record on the first read: 1 and a borrowed
 * reference in *out, 0 when the field is absent, -1 with an exception set */
int event_read(Event *e, Py_ssize_t i, PyObject **out);

/* event.c: the Event type */
extern PyTypeObject EventType;
int event_type_ready(void);
Event *event_new(Decoder *d, const Spec *spec, PyObject *source);

#endif
