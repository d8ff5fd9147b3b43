/* A batch of JSON lines -> Arrow column buffers per event type, for the lines proven valid here.
 *
 * Decoder.columns(lines, max_bytes) runs the program and the checks of record.c (the same scanner,
 * numbers, patterns, enums, bounds, required_when, the probabilities' sum, the same reasons to give
 * up) but writes each accepted record's values straight into per-leaf column buffers instead of
 * building Python objects: int64, double, bit-packed bool, int32 offsets + bytes for strings (or int32
 * indices into a dictionary for the string columns the caller names, dictionary.c), and a validity
 * bitmap for every leaf or object that may be absent or null. Nothing here knows a field.
 *
 * Conservative like record.c: a line is either proven valid (its values go into its event type's
 * columns, its index into that table's row index) or refused (its index into `refused`: the caller's
 * reference decides). A half-parsed record leaves no trace: a row's slots are all written before
 * the row counts, and a string's bytes go after the row's start offset, which only moves on success.
 *
 * Layout (column_buffers.c; batch.compact.native_decode wraps it with pyarrow, zero-copy): a
 * contract's columns are its fields depth first (an object, then its members). A null or absent
 * object's members hold what the msgspec path's filler holds: zero for members that are never null,
 * null for the others.
 */
#include "columns.h"

static int object_row(Table *t, Spec *obj, Cursor *c, Py_ssize_t r);

#if FLT_EVAL_METHOD == 0
static const double POWERS_OF_TEN[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                         1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#endif

/* The usual number, -?(0|[1-9][0-9]*)(.[0-9]+)? with at most 18 digits, read and converted in one pass:
 * an integer, or a decimal whose digits fit 2^53 (then one correctly rounded division by an exact power
 * of ten gives what float() gives, as in numbers.c). 0, the cursor unmoved, for anything else. */
static inline int quick_number(Cursor *c, int *is_float, long long *v, double *d) {
#if FLT_EVAL_METHOD == 0
    const char *p = c->p, *end = c->end;
    int negative = p < end && *p == '-', digits = 0, decimals = 0;
    uint64_t m = 0;
    p += negative;
    if (p < end && *p == '0') {
        p++;
        digits = 1;
    } else {
        for (; p < end && (unsigned)(*p - '0') < 10u; p++, digits++) m = m * 10 + (uint64_t)(*p - '0');
        if (digits == 0) return 0;
    }
    if (p < end && *p == '.') {
        p++;
        for (; p < end && (unsigned)(*p - '0') < 10u; p++, decimals++) m = m * 10 + (uint64_t)(*p - '0');
        if (decimals == 0) return 0;
    }
    if ((p < end && (*p == 'e' || *p == 'E')) || digits + decimals > 18) return 0; /* m may have wrapped: unused */
    if (decimals == 0) {
        *is_float = 0;
        *v = negative ? -(long long)m : (long long)m;
    } else {
        if (m > (UINT64_C(1) << 53) || decimals > 22) return 0;
        double x = (double)m / POWERS_OF_TEN[decimals];
        *is_float = 1;
        *d = negative ? -x : x;
    }
    c->p = p;
    return 1;
#else
    return 0;
#endif
}

/* A pattern the C code cannot match: the Python check, on a str. 1 matches, 0 not (or it raised), -1 no memory. */
static int python_pattern(const Spec *s, const char *v, Py_ssize_t n) {
    PyObject *u = PyUnicode_New(n, 127);
    if (!u) return -1;
    memcpy(PyUnicode_1BYTE_DATA(u), v, (size_t)n);
    PyObject *m = PyObject_CallOneArg(s->pattern_check, u);
    Py_DECREF(u);
    if (!m) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) return -1;
        PyErr_Clear();
        return 0;
    }
    int ok = m != Py_None;
    Py_DECREF(m);
    return ok;
}

/* One field's value into its column at row r: 1, 0 to give up, -1 on error. */
static int put_value(Table *t, const Spec *s, Cursor *c, Py_ssize_t r, double *as_double) {
    Column *col = &t->cols[s->column];
    if (c->p >= c->end) return 0;
    if (*c->p == 'n') {
        if (!s->nullable || !literal(c, "null", 4)) return 0;
        put_empty(t, s, r, 0);
        return 1;
    }
    switch (s->kind) {
    case KIND_STRING: {
        const char *v;
        Py_ssize_t n;
        if (!scan_string(c, &v, &n)) return 0;
        if (s->enum_values) { /* the value matched last first (values repeat from row to row), then all */
            if (s->n_enum == 0) return 0;
            PyObject *e = s->enum_values[s->last_enum];
            if (!(PyUnicode_GET_LENGTH(e) == n && same_bytes((const char *)PyUnicode_1BYTE_DATA(e), v, n))) {
                Py_ssize_t i = 0;
                while (i < s->n_enum && !(PyUnicode_GET_LENGTH(s->enum_values[i]) == n &&
                                          same_bytes((const char *)PyUnicode_1BYTE_DATA(s->enum_values[i]), v, n)))
                    i++;
                if (i == s->n_enum) return 0;
                ((Spec *)s)->last_enum = i;
            }
        } else {
            if (s->max_length >= 0 && n > s->max_length) return 0; /* ASCII: bytes are characters */
            if (s->n_pattern >= 0 && !pattern_matches(s, v, n)) return 0;
            if (s->pattern_check) {
                int ok = python_pattern(s, v, n);
                if (ok <= 0) return ok;
            }
        }
        if (col->dict) {
            int32_t k = dict_find(col->dict, v, n);
            if (k >= 0) {
                ((int32_t *)col->v)[r] = k;
                break;
            }
            if (k == -1 || dict_to_plain(t, col, r, n) < 0) return -1; /* full: plain from here on */
        }
        int32_t *offsets = (int32_t *)col->v;
        char *to = col->d + offsets[r]; /* table_room reserved the line's size + 8 (dict_to_plain: n + 8) */
        if (c->end - v >= n + 8) { /* whole words, the last one past the string: still inside the line */
            for (Py_ssize_t k = 0; k < n; k += 8) memcpy(to + k, v + k, 8);
        } else {
            memcpy(to, v, (size_t)n);
        }
        offsets[r + 1] = offsets[r] + (int32_t)n;
        break;
    }
    case KIND_BOOLEAN:
        if (literal(c, "true", 4)) bit_put((uint8_t *)col->v, r, 1);
        else if (literal(c, "false", 5)) bit_put((uint8_t *)col->v, r, 0);
        else return 0;
        break;
    case KIND_OBJECT: {
        if (*c->p != '{') return 0;
        c->p++;
        int ok = object_row(t, (Spec *)s, c, r); /* learns its key order */
        if (ok <= 0) return ok;
        break;
    }
    case KIND_INTEGER:
    case KIND_NUMBER: {
        int is_float = 0;
        long long v = 0;
        double d = 0.0;
        if (!quick_number(c, &is_float, &v, &d)) { /* the full grammar and conversion, as record.c */
            Number n;
            if (!scan_number(c, &n)) return 0;
            is_float = n.is_float;
            if (!is_float) {
                if (n.int_digits > 18) return 0; /* longer ones go back */
                v = n.negative ? -(long long)n.mant : (long long)n.mant;
            } else if (s->kind == KIND_INTEGER || !number_to_double(&n, &d)) {
                return 0; /* 96.0 is no integer for the reference */
            }
        }
        if (!is_float) {
            if (s->kind == KIND_INTEGER) {
                if (v < s->int_lo || v > s->int_hi) return 0;
                ((int64_t *)col->v)[r] = v;
                break;
            }
            if (v > (1LL << 53) || v < -(1LL << 53)) return 0; /* exact as a double only below */
            d = (double)v; /* the lake stores an int in a number field as its float */
        } else if (s->kind == KIND_INTEGER || !isfinite(d)) {
            return 0;
        }
        if (d < s->num_lo || d > s->num_hi) return 0;
        *as_double = d;
        ((double *)col->v)[r] = d;
        break;
    }
    default: return 0;
    }
    if (col->bits) bit_put(col->bits, r, 1);
    return 1;
}

/* Whether a sibling's value at row r equals `value` as the reference compares them: 1, 0, or -1 when
 * this code cannot tell (a sibling that is no string, a value that is no str): then it gives up. */
static int sibling_equals(Table *t, const Spec *sibling, PyObject *value, Py_ssize_t r) {
    if (sibling->kind != KIND_STRING || !PyUnicode_CheckExact(value) || !TEXT_READY(value)) return -1;
    const Column *col = &t->cols[sibling->column];
    if (col->bits && !bit_get(col->bits, r)) return 0; /* null: None is no str */
    if (!PyUnicode_IS_ASCII(value)) return 0;          /* the column holds ASCII only */
    const int32_t *slots = (const int32_t *)col->v;
    Py_ssize_t n;
    const char *bytes;
    if (col->dict) {
        bytes = dict_value(col->dict, slots[r], &n);
    } else {
        n = slots[r + 1] - slots[r];
        bytes = col->d + slots[r];
    }
    return PyUnicode_GET_LENGTH(value) == n && memcmp(PyUnicode_1BYTE_DATA(value), bytes, (size_t)n) == 0;
}

/* Members of `obj` into row r, the cursor just past '{'; consumes the closing '}'. 1, 0 to give up, -1 on error. */
static int object_row(Table *t, Spec *obj, Cursor *c, Py_ssize_t r) {
    uint64_t seen = 0;
    double sum = 0.0;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        goto close;
    }
    for (Py_ssize_t last = -1;;) {
        /* The key the writer's order predicts, compared in place; else scanned and looked up, and learned. */
        Py_ssize_t i = last < 0 ? obj->first_key : obj->fields[last].next_key;
        Spec *guess = &obj->fields[i];
        if (guess->plain_key && c->end - c->p > guess->key_len + 1 && c->p[0] == '"' && c->p[guess->key_len + 1] == '"' &&
            same_bytes(c->p + 1, guess->key, guess->key_len)) {
            c->p += guess->key_len + 2;
        } else {
            const char *k;
            Py_ssize_t kn;
            if (!scan_string(c, &k, &kn)) return 0;
            i = find_field(obj, k, kn, obj->n_fields);
            if (i < 0) return 0; /* unknown (a newer minor's): the reference keeps it */
            if (last < 0) obj->first_key = i;
            else obj->fields[last].next_key = i;
        }
        if (seen & (UINT64_C(1) << i)) return 0; /* repeated */
        if (!past_colon(c)) return 0;
        double as_double = 0.0;
        int ok = put_value(t, &obj->fields[i], c, r, &as_double);
        if (ok <= 0) return ok;
        sum += as_double; /* members of a sum rule are numbers; in JSON order, as the reference sums */
        seen |= UINT64_C(1) << i;
        last = i;
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
        if (absent == ABSENT_IF_SIBLING_DIFFERS
            && sibling_equals(t, &obj->fields[f->when_index], f->when_value, r) != 0) return 0;
        put_empty(t, f, r, 0);
    }
    return sum_holds(obj, sum);
}

/* The record (cursor just past its '{') as a row of `contract`: 1 accepted, 0 not, 2 the table is full, -1 error. */
static int row_as(Decoder *self, Table *tables, const Spec *contract, Cursor c, Py_ssize_t size, Py_ssize_t line,
                  Py_ssize_t left) {
    Table *t = &tables[contract - self->contracts];
    int room = table_room(t, contract, size, left);
    if (room != 0) return room < 0 ? -1 : 2;
    int ok = object_row(t, (Spec *)contract, &c, t->rows); /* learns its key order */
    if (ok <= 0) return ok;
    skip_ws(&c);
    if (c.p != c.end) return 0; /* anything after the object */
    t->lines[t->rows++] = line;
    return 1;
}

/* One line, p[0..size), as a row of the table of its type: as row_as. */
int line_row(Decoder *self, Table *tables, const char *p, Py_ssize_t size, Py_ssize_t line, Py_ssize_t left) {
    Cursor c;
    c.decoder = self;
    c.p = p;
    c.end = p + size;
    c.start = NULL;
    c.source = NULL;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') return 0;
    c.p++;
    const Spec *contract;
    if (leading_tag(self, c, &contract)) return contract ? row_as(self, tables, contract, c, size, line, left) : 0;
    for (Py_ssize_t i = 0; i < self->n_contracts; i++) { /* the tag comes later: at most one type can succeed */
        int ok = row_as(self, tables, &self->contracts[i], c, size, line, left);
        if (ok != 0) return ok;
    }
    return 0;
}
