/* Decoder.columns and .columns_in: where a batch's lines are, and the loop over them (columns.c parses one line).
 *
 * Also line_ends(data): where each line of a buffer ends, for batch.compact.line_buffer.
 */
#include "columns.h"

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

/* Which string columns to dictionary-encode: None, or per contract (in the program's order) None or bytes
 * with one byte per column (nonzero: encode it; only string columns are). 0, -1 (an error set) when malformed. */
static int encodings_of(Decoder *self, PyObject *arg, Table *state) {
    if (arg == Py_None) return 0;
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != self->n_contracts) goto bad;
    for (Py_ssize_t k = 0; k < self->n_contracts; k++) {
        PyObject *flags = PyTuple_GET_ITEM(arg, k);
        if (flags == Py_None) continue;
        if (!PyBytes_Check(flags) || PyBytes_GET_SIZE(flags) != self->contracts[k].n_columns) goto bad;
        state[k].encode = PyBytes_AS_STRING(flags);
    }
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "dictionary: a tuple with, per contract, None or bytes of one flag per column");
    return -1;
}

/* The n lines of `src` -> (consumed, refused, tables), as columns() and columns_in() return them. */
static PyObject *columns_of(Decoder *self, const LineSource *src, Py_ssize_t n, Py_ssize_t max_bytes,
                            PyObject *encodings) {
    PyObject *refused = PyList_New(0), *tables = NULL, *result = NULL;
    Table *state = PyMem_Calloc((size_t)(self->n_contracts ? self->n_contracts : 1), sizeof(Table));
    Py_ssize_t i;
    if (!refused || !state) {
        if (!state) PyErr_NoMemory();
        goto done;
    }
    if (encodings_of(self, encodings, state) < 0) goto done;
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

/* The two entry points' common checks: `required` arguments and one optional (the dictionary), on a
 * decoder whose __init__ has run. */
static int entry_check(Decoder *self, Py_ssize_t nargs, Py_ssize_t required, const char *usage) {
    if (nargs != required && nargs != required + 1) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    if (!self->tag_key) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder not initialised");
        return -1;
    }
    return 0;
}

/* columns(lines, max_bytes[, dictionary]) -> (consumed, refused, tables): `consumed` lines read (fewer than
 * all only when a table's strings reached 2 GiB: call again with the rest); `refused` the indices of those
 * not proven valid here (not bytes, longer than max_bytes, or any reason record.c gives up); `tables` per
 * contract, in the program's order, None or (rows, index, columns). `dictionary` (see encodings_of) names
 * the string columns to give as int32 indices + (offsets, bytes) of their distinct values. */
PyObject *Decoder_columns(Decoder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (entry_check(self, nargs, 2, "columns(lines, max_bytes[, dictionary])") < 0) return NULL;
    Py_ssize_t max_bytes;
    if (max_bytes_of(args[1], &max_bytes) < 0) return NULL;
    /* Python code runs in the loop only where a field's pattern is checked by `re`: then the lines are read
     * from a tuple of their own, so that code cannot free or move them under the loop. */
    PyObject *seq = calls_back(self) && !PyTuple_CheckExact(args[0])
                        ? PySequence_Tuple(args[0])
                        : PySequence_Fast(args[0], "columns: lines must be a sequence");
    if (!seq) return NULL;
    LineSource src = {PySequence_Fast_ITEMS(seq), NULL, 0, NULL, NULL};
    PyObject *result = columns_of(self, &src, PySequence_Fast_GET_SIZE(seq), max_bytes, nargs == 3 ? args[2] : Py_None);
    Py_DECREF(seq);
    return result;
}

/* columns_in(data, starts, ends, max_bytes[, dictionary]) -> as columns(): line i is data[starts[i]:ends[i]], read in place
 * (no bytes object per line). `data` any contiguous buffer; `starts` and `ends` C-contiguous buffers of int64
 * of one length (numpy arrays). A line whose offsets fall outside `data` is refused. The views held here keep
 * all three alive and unresizable while Python code (a pattern checked by `re`) may run in the loop. */
PyObject *Decoder_columns_in(Decoder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (entry_check(self, nargs, 4, "columns_in(data, starts, ends, max_bytes[, dictionary])") < 0) return NULL;
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
        result = columns_of(self, &src, starts.len / 8, max_bytes, nargs == 5 ? args[4] : Py_None);
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
