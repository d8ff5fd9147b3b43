/* The buffers behind Decoder.columns: a table per event type, a column per leaf or object (see columns.c).
 *
 * A contract's columns are its fields depth first (an object, then its members), numbered once by
 * columns_number. Buffers are bytearrays, handed to Python trimmed to size (pyarrow wraps them
 * zero-copy): int64, double, bit-packed bool, int32 offsets + bytes for strings, and a validity bitmap
 * for every leaf or object that may be absent or null. A table's rows are reserved once, for every
 * line left in the batch (untouched pages cost no memory), so its columns never move; string bytes
 * grow by doubling.
 */
#include "columns.h"

static void number_fields(Spec *obj, Py_ssize_t *next) {
    obj->first_key = 0;
    for (Py_ssize_t i = 0; i < obj->n_fields; i++) {
        Spec *f = &obj->fields[i];
        f->column = (*next)++;
        f->next_key = i + 1 < obj->n_fields ? i + 1 : 0;
        f->last_enum = 0;
        f->plain_key = 1;
        for (Py_ssize_t k = 0; k < f->key_len; k++) {
            unsigned char ch = (unsigned char)f->key[k];
            if (ch < 0x20 || ch > 0x7E || ch == '"' || ch == '\\') f->plain_key = 0;
        }
        if (f->kind == KIND_OBJECT) number_fields(f, next);
    }
}

void columns_number(Spec *contract) {
    Py_ssize_t next = 0;
    contract->column = -1;
    number_fields(contract, &next);
    contract->n_columns = next;
}

static Py_ssize_t values_size(int kind, Py_ssize_t rows) {
    switch (kind) {
    case KIND_INTEGER:
    case KIND_NUMBER: return rows * 8;
    case KIND_BOOLEAN: return (rows + 7) / 8;
    case KIND_STRING: return (rows + 1) * 4;
    default: return 0;
    }
}

/* A bytearray of `size` bytes, new or resized, not zeroed: every row writes all its slots (and bits). */
int bytes_resize(PyObject **array, char **storage, Py_ssize_t size) {
    if (!*array) {
        *array = PyByteArray_FromStringAndSize(NULL, size);
        if (!*array) return -1;
    } else if (PyByteArray_Resize(*array, size) < 0) {
        return -1;
    }
    *storage = PyByteArray_AS_STRING(*array);
    return 0;
}

static void collect(Table *t, const Spec *obj) {
    for (Py_ssize_t i = 0; i < obj->n_fields; i++) {
        const Spec *f = &obj->fields[i];
        t->cols[f->column].spec = f;
        if (f->kind == KIND_OBJECT) collect(t, f);
    }
}

static int grow_rows(Table *t, Py_ssize_t cap) {
    for (Py_ssize_t i = 0; i < t->n_cols; i++) {
        Column *col = &t->cols[i];
        int kind = col->spec->kind;
        if (kind != KIND_OBJECT && bytes_resize(&col->values, &col->v, values_size(kind, cap)) < 0) return -1;
        if (kind == KIND_STRING && t->cap == 0) ((int32_t *)col->v)[0] = 0;
        if (may_be_null(col->spec)) {
            char *bits;
            if (bytes_resize(&col->validity, &bits, (cap + 7) / 8) < 0) return -1;
            col->bits = (uint8_t *)bits;
        }
    }
    char *lines;
    if (bytes_resize(&t->index, &lines, cap * 8) < 0) return -1;
    t->lines = (int64_t *)lines;
    t->cap = cap;
    return 0;
}

/* Room for one more row of a line of `size` bytes, `left` lines (this one included) still to come: 0,
 * 1 when the strings' int32 offsets would overflow (the batch stops there; the caller goes on with the
 * rest), -1 on error. A table's rows are reserved once, for every line left (untouched pages cost no
 * memory), so the columns never move; strings grow by doubling. */
int table_room(Table *t, const Spec *contract, Py_ssize_t size, Py_ssize_t left) {
    if (!t->cols) {
        t->cols = PyMem_Calloc((size_t)(contract->n_columns ? contract->n_columns : 1), sizeof(Column));
        if (!t->cols) {
            PyErr_NoMemory();
            return -1;
        }
        t->n_cols = contract->n_columns;
        collect(t, contract);
        t->strings = PyMem_Calloc((size_t)(t->n_cols ? t->n_cols : 1), sizeof(Column *));
        if (!t->strings) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < t->n_cols; i++) {
            Column *col = &t->cols[i];
            if (col->spec->kind != KIND_STRING) continue;
            if (t->encode && t->encode[i]) {
                if (!(col->dict = dict_new())) return -1;
            } else {
                t->strings[t->n_strings++] = col; /* offsets + bytes: room reserved below, line by line */
            }
        }
    }
    if (t->rows >= t->cap && grow_rows(t, t->rows + (left > 64 ? left : 64)) < 0) return -1;
    for (Py_ssize_t i = 0; i < t->n_strings; i++) {
        Column *col = t->strings[i];
        /* a string is shorter than its line; 8 more for copies by whole words */
        Py_ssize_t end = (Py_ssize_t)((int32_t *)col->v)[t->rows] + size + 8;
        if (end > INT32_MAX) return 1;
        if (end > col->d_cap) {
            Py_ssize_t cap = col->d_cap * 2 > end ? col->d_cap * 2 : end + 65536;
            if (cap > INT32_MAX) cap = INT32_MAX;
            if (bytes_resize(&col->data, &col->d, cap) < 0) return -1;
            col->d_cap = cap;
        }
    }
    return 0;
}

/* An absent or null field (valid = 0), or a member of a null object that is never null (valid = 1):
 * zero values, as the msgspec path's filler has them. */
void put_empty(Table *t, const Spec *s, Py_ssize_t r, int valid) {
    Column *col = &t->cols[s->column];
    if (col->bits) bit_put(col->bits, r, valid);
    switch (s->kind) {
    case KIND_INTEGER: ((int64_t *)col->v)[r] = 0; break;
    case KIND_NUMBER: ((double *)col->v)[r] = 0.0; break;
    case KIND_BOOLEAN: bit_put((uint8_t *)col->v, r, 0); break;
    case KIND_STRING:
        if (col->dict) ((int32_t *)col->v)[r] = 0; /* "" */
        else ((int32_t *)col->v)[r + 1] = ((int32_t *)col->v)[r];
        break;
    case KIND_OBJECT:
        for (Py_ssize_t i = 0; i < s->n_fields; i++) {
            const Spec *f = &s->fields[i];
            put_empty(t, f, r, f->kind == KIND_OBJECT || !may_be_null(f));
        }
        break;
    }
}

static Py_ssize_t count_nulls(const uint8_t *bits, Py_ssize_t rows) {
    Py_ssize_t valid = 0, whole = rows / 8;
    for (Py_ssize_t i = 0; i < whole; i++) valid += __builtin_popcount(bits[i]);
    for (Py_ssize_t i = whole * 8; i < rows; i++) valid += bit_get(bits, i);
    return rows - valid;
}

/* (rows, index, ((validity|None, values|None, data|None, null_count), ...)) with buffers trimmed to size; a
 * dictionary-encoded column's values are its int32 indices and its data the dictionary's (offsets, bytes). */
PyObject *table_result(Table *t) {
    Py_ssize_t rows = t->rows;
    PyObject *data = NULL;
    if (PyByteArray_Resize(t->index, rows * 8) < 0) return NULL;
    PyObject *cols = PyTuple_New(t->n_cols);
    if (!cols) return NULL;
    for (Py_ssize_t i = 0; i < t->n_cols; i++) {
        Column *col = &t->cols[i];
        int kind = col->spec->kind;
        Py_ssize_t nulls = col->bits ? count_nulls(col->bits, rows) : 0;
        if (rows % 8) { /* the last byte's bits past the end: zero, as Arrow prefers them */
            uint8_t keep = (uint8_t)((1u << (rows % 8)) - 1);
            if (col->bits) col->bits[rows / 8] &= keep;
            if (kind == KIND_BOOLEAN) ((uint8_t *)col->v)[rows / 8] &= keep;
        }
        data = col->data ? Py_NewRef(col->data) : Py_NewRef(Py_None);
        Py_ssize_t size = values_size(kind, rows);
        if (col->dict) { /* indices, and (offsets, data) of the dictionary */
            size = rows * 4;
            Py_SETREF(data, dict_result(col->dict));
            if (!data) goto error_data;
        } else if (kind == KIND_STRING) {
            Py_ssize_t used = ((int32_t *)col->v)[rows];
            if (!col->data && bytes_resize(&col->data, &col->d, 0) < 0) goto error_data;
            if (PyByteArray_Resize(col->data, used) < 0) goto error_data;
            Py_SETREF(data, Py_NewRef(col->data));
        }
        /* trimmed last: a smaller buffer may move, and the pointers above are not used again */
        if (col->values && PyByteArray_Resize(col->values, size) < 0) goto error_data;
        if (col->validity && PyByteArray_Resize(col->validity, (rows + 7) / 8) < 0) goto error_data;
        PyObject *entry = Py_BuildValue("(OOOn)", nulls ? col->validity : Py_None, col->values ? col->values : Py_None,
                                        data, nulls);
        Py_CLEAR(data);
        if (!entry) goto error_data;
        PyTuple_SET_ITEM(cols, i, entry);
    }
    return Py_BuildValue("(nON)", rows, t->index, cols);
error_data:
    Py_XDECREF(data);
    Py_DECREF(cols);
    return NULL;
}

void table_clear(Table *t) {
    if (t->cols) {
        for (Py_ssize_t i = 0; i < t->n_cols; i++) {
            Py_XDECREF(t->cols[i].values);
            Py_XDECREF(t->cols[i].data);
            Py_XDECREF(t->cols[i].validity);
            dict_free(t->cols[i].dict);
        }
        PyMem_Free(t->cols);
    }
    PyMem_Free(t->strings);
    Py_XDECREF(t->index);
}

