/* Dictionary-encoded string columns for Decoder.columns: int32 indices per row + the distinct values.
 *
 * Low-cardinality strings (sites, cameras, kinds, versions) repeat from row to row: an index per row
 * instead of a copy of the bytes makes the lake's partition split (an Arrow `take`) and its Parquet
 * writing (which dictionary-encodes them anyway) cheaper. The caller names the columns (see
 * batch.compact.dictionary); a column that meets more than DICT_LIMIT distinct values in one batch goes
 * back to offsets + bytes for that batch (dict_to_plain), so nothing here depends on guessing right.
 *
 * Values are found by the one matched last (values come in runs), then by an open-addressing hash of
 * their bytes. Index 0 is always "": a null row's slot holds it (any index would do under a null bit;
 * this one always exists), and so does a never-null member of a null object (the filler's empty string).
 */
#include "columns.h"


static uint32_t hash_of(const char *v, Py_ssize_t n) {
    uint32_t h = 2166136261u ^ (uint32_t)n; /* FNV-1a: values are short */
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)v[i]) * 16777619u;
    return h ^ (h >> 15);
}

Dictionary *dict_new(void) {
    Dictionary *d = PyMem_Calloc(1, sizeof(Dictionary));
    if (!d) {
        PyErr_NoMemory();
        return NULL;
    }
    char *off;
    if (bytes_resize(&d->offsets, &off, (DICT_LIMIT + 1) * 4) < 0 || bytes_resize(&d->data, &d->bytes, 256) < 0) {
        dict_free(d);
        return NULL;
    }
    d->off = (int32_t *)off;
    d->off[0] = 0;
    d->data_cap = 256;
    if (dict_index(d, "", 0) != 0) { /* cannot fail: room for 256 bytes */
        dict_free(d);
        return NULL;
    }
    return d;
}

void dict_free(Dictionary *d) {
    if (!d) return;
    Py_XDECREF(d->offsets);
    Py_XDECREF(d->data);
    PyMem_Free(d);
}

int32_t dict_index(Dictionary *d, const char *v, Py_ssize_t n) {
    if (d->size > 0 && dict_holds(d, d->last, v, n)) return d->last;
    uint32_t i = hash_of(v, n) & (DICT_SLOTS - 1);
    for (; d->slots[i]; i = (i + 1) & (DICT_SLOTS - 1)) {
        int32_t k = d->slots[i] - 1;
        if (dict_holds(d, k, v, n)) return d->last = k;
    }
    if (d->size == DICT_LIMIT) return -2;
    Py_ssize_t end = (Py_ssize_t)d->off[d->size] + n;
    if (end > d->data_cap) { /* values are at most a line long, lines at most LINE_LIMIT: no int32 overflow */
        Py_ssize_t cap = d->data_cap * 2 > end ? d->data_cap * 2 : end;
        if (bytes_resize(&d->data, &d->bytes, cap) < 0) return -1;
        d->data_cap = cap;
    }
    memcpy(d->bytes + d->off[d->size], v, (size_t)n);
    d->off[d->size + 1] = (int32_t)end;
    d->slots[i] = (int32_t)d->size + 1;
    d->last = (int32_t)d->size;
    return (int32_t)d->size++;
}

const char *dict_value(const Dictionary *d, int32_t k, Py_ssize_t *n) {
    *n = d->off[k + 1] - d->off[k];
    return d->bytes + d->off[k];
}

int dict_to_plain(Table *t, Column *col, Py_ssize_t rows, Py_ssize_t more) {
    Dictionary *d = col->dict;
    int32_t *slots = (int32_t *)col->v; /* indices now; offsets (one more of them) after */
    Py_ssize_t total = 0;
    for (Py_ssize_t r = 0; r < rows; r++) total += d->off[slots[r] + 1] - d->off[slots[r]];
    Py_ssize_t cap = total + more + 8 + 65536;
    if (total + more + 8 > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a dictionary column's strings exceed 2 GiB in one batch");
        return -1;
    }
    if (cap > INT32_MAX) cap = INT32_MAX;
    if (bytes_resize(&col->data, &col->d, cap) < 0) return -1;
    col->d_cap = cap;
    /* forward: offsets[r + 1] overwrites indices[r + 1], so each index is read before its slot is reused */
    int32_t at = 0, next = rows ? slots[0] : 0;
    slots[0] = 0;
    for (Py_ssize_t r = 0; r < rows; r++) {
        int32_t k = next;
        if (r + 1 < rows) next = slots[r + 1];
        Py_ssize_t n;
        const char *v = dict_value(d, k, &n);
        memcpy(col->d + at, v, (size_t)n);
        at += (int32_t)n;
        slots[r + 1] = at;
    }
    dict_free(d);
    col->dict = NULL;
    t->strings[t->n_strings++] = col; /* table_room reserves its bytes from now on */
    return 0;
}

PyObject *dict_result(Dictionary *d) {
    Py_ssize_t used = d->off[d->size];
    if (PyByteArray_Resize(d->offsets, (d->size + 1) * 4) < 0 || PyByteArray_Resize(d->data, used) < 0) return NULL;
    d->off = (int32_t *)PyByteArray_AS_STRING(d->offsets);
    d->bytes = PyByteArray_AS_STRING(d->data);
    return Py_BuildValue("(OO)", d->offsets, d->data);
}
