/* A batch of JSON lines -> Arrow column buffers per event type, for the lines proven valid here.
 *
 * Decoder.columns(lines, max_bytes) runs the program and the checks of record.c (the same scanner,
 * numbers, patterns, enums, bounds, required_when, the probabilities' sum, the same reasons to give
 * up) but writes each accepted record's values straight into per-leaf column buffers instead of
 * building Python objects: int64, double, bit-packed bool, or int32 offsets + bytes for strings, and
 * a validity bitmap for every leaf or object that may be absent or null. Nothing here knows a field.
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
        int32_t *offsets = (int32_t *)col->v;
        char *to = col->d + offsets[r]; /* table_room reserved the line's size + 8 */
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
    const int32_t *offsets = (const int32_t *)col->v;
    Py_ssize_t n = offsets[r + 1] - offsets[r];
    return PyUnicode_GET_LENGTH(value) == n && memcmp(PyUnicode_1BYTE_DATA(value), col->d + offsets[r], (size_t)n) == 0;
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
        if (f->required) return 0;
        if (f->when_index >= 0 && (seen & (UINT64_C(1) << f->when_index))) {
            if (sibling_equals(t, &obj->fields[f->when_index], f->when_value, r) != 0) return 0;
        }
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
static int line_row(Decoder *self, Table *tables, const char *p, Py_ssize_t size, Py_ssize_t line, Py_ssize_t left) {
    Cursor c;
    c.decoder = self;
    c.p = p;
    c.end = p + size;
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

static int calls_python(const Spec *s) {
    int calls = s->pattern_check != NULL;
    for (Py_ssize_t i = 0; i < s->n_fields; i++) calls |= calls_python(&s->fields[i]);
    return calls;
}

/* Where a batch's lines are: a sequence of bytes objects, or one buffer and each line's start and end in it. */
typedef struct {
    PyObject **items; /* the lines (a tuple's or list's items), or NULL: then the buffer */
    const char *data;
    Py_ssize_t size;
    const char *starts, *ends; /* int64 offsets into data, read with memcpy (no alignment assumed) */
} LineSource;

/* Line i: 1 and where its bytes are, or 0 when it cannot be read here (no bytes object; offsets outside the buffer). */
static inline int line_at(const LineSource *src, Py_ssize_t i, const char **p, Py_ssize_t *size) {
    if (src->items) {
        PyObject *raw = src->items[i];
        if (!PyBytes_Check(raw)) return 0;
        *p = PyBytes_AS_STRING(raw);
        *size = PyBytes_GET_SIZE(raw);
        return 1;
    }
    int64_t start, end;
    memcpy(&start, src->starts + 8 * i, 8);
    memcpy(&end, src->ends + 8 * i, 8);
    if (start < 0 || start > end || end > (int64_t)src->size) return 0;
    *p = src->data + start;
    *size = (Py_ssize_t)(end - start);
    return 1;
}

static int calls_back(const Decoder *self) {
    int calls = 0;
    for (Py_ssize_t k = 0; k < self->n_contracts; k++) calls |= calls_python(&self->contracts[k]);
    return calls;
}

static int max_bytes_of(PyObject *arg, Py_ssize_t *max_bytes) {
    *max_bytes = PyLong_AsSsize_t(arg);
    if (*max_bytes == -1 && PyErr_Occurred()) return -1;
    if (*max_bytes > LINE_LIMIT) *max_bytes = LINE_LIMIT; /* longer ones refused: the reference decides */
    return 0;
}

/* The n lines of `src` -> (consumed, refused, tables), as columns() and columns_in() return them. */
static PyObject *columns_of(Decoder *self, const LineSource *src, Py_ssize_t n, Py_ssize_t max_bytes) {
    PyObject *refused = PyList_New(0), *tables = NULL, *result = NULL;
    Table *state = PyMem_Calloc((size_t)(self->n_contracts ? self->n_contracts : 1), sizeof(Table));
    Py_ssize_t i;
    if (!refused || !state) {
        if (!state) PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        const char *p;
        Py_ssize_t size;
        int ok = 0;
        if (line_at(src, i, &p, &size) && size <= max_bytes) ok = line_row(self, state, p, size, i, n - i);
        if (ok < 0) goto done;
        if (ok == 2) break;
        if (ok == 0) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (!index || PyList_Append(refused, index) < 0) {
                Py_XDECREF(index);
                goto done;
            }
            Py_DECREF(index);
        }
    }
    tables = PyTuple_New(self->n_contracts);
    if (!tables) goto done;
    for (Py_ssize_t k = 0; k < self->n_contracts; k++) {
        PyObject *entry = state[k].rows ? table_result(&state[k]) : Py_NewRef(Py_None);
        if (!entry) goto done;
        PyTuple_SET_ITEM(tables, k, entry);
    }
    result = Py_BuildValue("(nOO)", i, refused, tables);
done:
    if (state) {
        for (Py_ssize_t k = 0; k < self->n_contracts; k++) table_clear(&state[k]);
        PyMem_Free(state);
    }
    Py_XDECREF(tables);
    Py_XDECREF(refused);
    return result;
}

/* columns(lines, max_bytes) -> (consumed, refused, tables): `consumed` lines read (fewer than all only
 * when a table's strings reached 2 GiB: call again with the rest); `refused` the indices of those not
 * proven valid here (not bytes, longer than max_bytes, or any reason record.c gives up); `tables` per
 * contract, in the program's order, None or (rows, index, columns). */
PyObject *Decoder_columns(Decoder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "columns(lines, max_bytes)");
        return NULL;
    }
    if (!self->tag_key) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder not initialised");
        return NULL;
    }
    Py_ssize_t max_bytes;
    if (max_bytes_of(args[1], &max_bytes) < 0) return NULL;
    /* Python code runs in the loop only where a field's pattern is checked by `re`: then the lines are read
     * from a tuple of their own, so that code cannot free or move them under the loop. */
    PyObject *seq = calls_back(self) && !PyTuple_CheckExact(args[0])
                        ? PySequence_Tuple(args[0])
                        : PySequence_Fast(args[0], "columns: lines must be a sequence");
    if (!seq) return NULL;
    LineSource src = {PySequence_Fast_ITEMS(seq), NULL, 0, NULL, NULL};
    PyObject *result = columns_of(self, &src, PySequence_Fast_GET_SIZE(seq), max_bytes);
    Py_DECREF(seq);
    return result;
}

/* columns_in(data, starts, ends, max_bytes) -> as columns(): line i is data[starts[i]:ends[i]], read in place
 * (no bytes object per line). `data` any contiguous buffer; `starts` and `ends` C-contiguous buffers of int64
 * of one length (numpy arrays). A line whose offsets fall outside `data` is refused. The views held here keep
 * all three alive and unresizable while Python code (a pattern checked by `re`) may run in the loop. */
PyObject *Decoder_columns_in(Decoder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "columns_in(data, starts, ends, max_bytes)");
        return NULL;
    }
    if (!self->tag_key) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder not initialised");
        return NULL;
    }
    Py_ssize_t max_bytes;
    if (max_bytes_of(args[3], &max_bytes) < 0) return NULL;
    Py_buffer data, starts, ends;
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &starts, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &ends, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&starts);
        PyBuffer_Release(&data);
        return NULL;
    }
    PyObject *result = NULL;
    if (starts.len != ends.len || starts.len % 8) {
        PyErr_SetString(PyExc_ValueError, "columns_in: starts and ends must be int64 arrays of one length");
    } else {
        LineSource src = {NULL, data.buf, data.len, starts.buf, ends.buf};
        result = columns_of(self, &src, starts.len / 8, max_bytes);
    }
    PyBuffer_Release(&ends);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&data);
    return result;
}

/* line_ends(data) -> bytearray of int64: where each line of `data` ends, at its '\n' (or at len(data) for a
 * last line without one): the lines bytes.split(b"\n") cuts, less the empty piece after a final newline. */
PyObject *line_ends(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *base = view.buf, *p = base, *end = base + view.len;
    Py_ssize_t cap = view.len / 128 + 16, n = 0; /* lines of ~128 bytes or more: rarely grown */
    PyObject *out = PyByteArray_FromStringAndSize(NULL, cap * 8);
    while (out && p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        int64_t at = newline ? (int64_t)(newline - base) : (int64_t)view.len;
        if (n == cap) {
            cap *= 2;
            if (PyByteArray_Resize(out, cap * 8) < 0) Py_CLEAR(out);
            if (!out) break;
        }
        memcpy(PyByteArray_AS_STRING(out) + 8 * n++, &at, 8);
        if (!newline) break;
        p = newline + 1;
    }
    PyBuffer_Release(&view);
    if (out && PyByteArray_Resize(out, n * 8) < 0) Py_CLEAR(out);
    return out;
}
