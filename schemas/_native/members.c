/* The members of one JSON object checked against its Spec (the program's part for it), and the values of an
 * Event made from their places in the record on first read (record.h, Event). The decoder type that calls
 * these is record.c; its header comment says what is checked and why this code only accepts or gives up.
 *
 * Memory safety: every read is checked against the end of the buffer; no fixed-size buffers; recursion
 * only follows the program's nested objects (two levels), never the input's own nesting.
 */
#include "columns.h" /* (and record.h) */

#define FAIL() return NULL

/* How parse_value hands back what it read. CHECK: every rule is checked, but a value that would cost an
 * allocation (a number, a nested object, a string not remembered) is left in the record: LAZY. MAKE: the
 * value itself (a nested object as an Event whose own members are checked the CHECK way). */
enum { CHECK = 0, MAKE = 1 };
static char lazy_marker;
#define LAZY ((PyObject *)&lazy_marker) /* a marker, never a reference: nothing to release */

static PyObject *make_ascii(const char *s, Py_ssize_t n) {
    PyObject *u = PyUnicode_New(n, 127);
    if (u) memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
    return u;
}

/* The members' values and places after parse_members, given up on or done with: the references released. */
static void release(PyObject **values, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) Py_CLEAR(values[i]);
}

/* The value of one field (a new reference), LAZY (CHECK only), or NULL to give up (an exception set only
 * for real errors, such as no memory). */
static PyObject *parse_value(const Spec *s, Cursor *c, double *as_double, int mode) {
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
        /* checked in full; made now only where a remembered value or a Python check needs the object */
        if (mode == CHECK && !s->cache && !s->pattern_check) return LAZY;
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
        if (mode == CHECK) { /* its members checked into scratch slots, then let go */
            PyObject *values[MAX_FIELDS];
            Py_ssize_t places[MAX_FIELDS];
            memset(values, 0, (size_t)s->n_fields * sizeof(PyObject *));
            memset(places, 0, (size_t)s->n_fields * sizeof(Py_ssize_t));
            int ok = parse_members(s, c, values, places);
            release(values, s->n_fields);
            if (!ok) FAIL();
            return LAZY;
        }
        Event *e = event_new(c->decoder, s, c->source);
        if (!e) FAIL();
        if (!parse_members(s, c, e->values, event_places(e))) {
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
            return mode == CHECK ? LAZY : PyLong_FromLongLong(v);
        }
        if (s->kind == KIND_INTEGER) FAIL(); /* 96.0 is no integer for the reference */
        double d;
        if (!number_to_double(&n, &d) || !isfinite(d)) FAIL();
        if (d < s->num_lo || d > s->num_hi) FAIL();
        *as_double = d;
        return mode == CHECK ? LAZY : PyFloat_FromDouble(d);
    }
    }
    FAIL();
}

/* The value of field `s` left at `place` (parse_members' places) in the record `c` reads: a new reference,
 * or NULL with an exception set. The record is immutable and was checked, so it reads as it did then. */
static PyObject *make_at(const Spec *s, const Cursor *c, Py_ssize_t place) {
    Cursor at = *c;
    double unused = 0.0;
    at.p = c->start + place - 1;
    PyObject *v = parse_value(s, &at, &unused, MAKE);
    if (!v && !PyErr_Occurred())
        PyErr_Format(PyExc_RuntimeError, "field %U no longer reads as it did when it was checked", s->name);
    return v;
}

/* Members of `obj` checked (CHECK) into `values` and `places` (n_fields each, zeroed), the cursor just past
 * '{'; consumes the closing '}'. 1, or 0 to give up (the caller releases `values` either way). */
int parse_members(const Spec *obj, Cursor *c, PyObject **values, Py_ssize_t *places) {
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
        if (!scan_string(c, &k, &kn)) return 0;
        Py_ssize_t i = find_field(obj, k, kn, hint);
        if (i < 0 || (seen & (UINT64_C(1) << i))) return 0; /* unknown (a newer minor's) or repeated */
        if (!past_colon(c)) return 0;
        double as_double = 0.0;
        const char *at = c->p;
        PyObject *v = parse_value(&obj->fields[i], c, &as_double, CHECK);
        if (!v) return 0;
        if (v == LAZY) places[i] = at - c->start + 1;
        else values[i] = v; /* i was not seen: the slot is empty */
        sum += as_double; /* members of a sum rule are numbers; in JSON order, as the reference sums */
        seen |= UINT64_C(1) << i;
        hint = i + 1;
        int more = next_member(c);
        if (more < 0) return 0;
        if (!more) break;
    }
close:
    for (Py_ssize_t i = 0; i < obj->n_fields; i++) {
        const Spec *f = &obj->fields[i];
        if (seen & (UINT64_C(1) << i)) continue;
        int absent = absent_member(f, seen);
        if (absent == ABSENT_REFUSED) return 0;
        if (absent == ABSENT_IF_SIBLING_DIFFERS) {
            Py_ssize_t w = f->when_index;
            PyObject *sibling = values[w] ? Py_NewRef(values[w]) : make_at(&obj->fields[w], c, places[w]);
            if (!sibling) return 0;
            int equal = PyObject_RichCompareBool(sibling, f->when_value, Py_EQ);
            Py_DECREF(sibling);
            if (equal != 0) return 0; /* required by its sibling's value (or the comparison failed) */
        }
    }
    return sum_holds(obj, sum);
}

int event_read(Event *e, Py_ssize_t i, PyObject **out) {
    PyObject *v = e->values[i];
    if (!v) {
        Py_ssize_t place = event_places(e)[i];
        if (!place) return 0;
        Cursor c;
        c.decoder = (Decoder *)e->owner;
        c.source = e->source;
        if (PyBytes_Check(e->source)) {
            c.start = PyBytes_AS_STRING(e->source);
            c.end = c.start + PyBytes_GET_SIZE(e->source);
        } else { /* an ASCII str: parse took nothing else */
            c.start = (const char *)PyUnicode_1BYTE_DATA(e->source);
            c.end = c.start + PyUnicode_GET_LENGTH(e->source);
        }
        c.p = c.start;
        v = make_at(&e->spec->fields[i], &c, place);
        if (!v) return -1;
        if (e->values[i]) Py_DECREF(v); /* made meanwhile by a Python check this one called */
        else e->values[i] = v;
        v = e->values[i];
    }
    *out = v;
    return 1;
}
