/* Column buffers for Decoder.columns (columns.c parses a line, column_batches.c loops over a batch,
 * column_buffers.c holds the buffers, dictionary.c the dictionaries of dictionary-encoded strings). */
#ifndef MOODLENS_COLUMNS_H
#define MOODLENS_COLUMNS_H

#include "record.h"

typedef struct Dictionary Dictionary;

typedef struct {
    const Spec *spec;
    PyObject *values;   /* bytearray: int64, double, bool bits, int32 offsets (strings) or int32 indices
                           (dictionary-encoded strings); NULL for objects */
    PyObject *data;     /* bytearray: the strings' bytes; NULL for other kinds */
    PyObject *validity; /* bytearray bitmap; NULL when the column is never null */
    char *v, *d;        /* their storage, refreshed whenever they grow */
    uint8_t *bits;
    Py_ssize_t d_cap;
    Dictionary *dict; /* a dictionary-encoded string column's values (dictionary.c); NULL: offsets + bytes */
} Column;

typedef struct {
    Column *cols; /* NULL until the first line of this type */
    Column **strings; /* the string columns among them */
    Py_ssize_t n_cols, n_strings, rows, cap;
    PyObject *index; /* bytearray of int64: each row's line */
    int64_t *lines;
    const char *encode; /* one byte per column, nonzero: dictionary-encode that string column; NULL: none */
} Table;

/* Lines are refused beyond this, so one line always fits an empty table's int32 offsets. */
#define LINE_LIMIT ((Py_ssize_t)1 << 30)

static inline int may_be_null(const Spec *s) { return !s->required || s->nullable; }

static inline void bit_put(uint8_t *bits, Py_ssize_t i, int on) {
    if (on) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    else bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static inline int bit_get(const uint8_t *bits, Py_ssize_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

/* columns.c: one line as a row of its type's table: 1 accepted, 0 not, 2 the table is full, -1 error */
int line_row(Decoder *self, Table *tables, const char *p, Py_ssize_t size, Py_ssize_t line, Py_ssize_t left);

/* column_buffers.c */
int table_room(Table *t, const Spec *contract, Py_ssize_t size, Py_ssize_t left);
void put_empty(Table *t, const Spec *s, Py_ssize_t r, int valid);
PyObject *table_result(Table *t);
void table_clear(Table *t);
int bytes_resize(PyObject **array, char **storage, Py_ssize_t size);

/* dictionary.c: a string column as int32 indices into a dictionary of at most DICT_LIMIT values per batch */
#define DICT_LIMIT 1024
#define DICT_SLOTS (2 * DICT_LIMIT) /* a power of two: at most half full, so every probe ends */

struct Dictionary {
    PyObject *offsets, *data; /* bytearrays: an Arrow string array's int32 offsets and bytes */
    int32_t *off;
    char *bytes;
    Py_ssize_t size, data_cap;
    int32_t last;              /* the index found last, tried first */
    int32_t slots[DICT_SLOTS]; /* index + 1 by hash; 0: empty */
};

static inline int dict_holds(const Dictionary *d, int32_t k, const char *v, Py_ssize_t n) {
    return d->off[k + 1] - d->off[k] == n && same_bytes(d->bytes + d->off[k], v, n);
}
Dictionary *dict_new(void);
void dict_free(Dictionary *d);
/* The index of value v[0..n) (added if new): >= 0; -2 when the dictionary is full; -1 on error. Index 0
 * is always "" (the value of a row that is null or empty). */
int32_t dict_index(Dictionary *d, const char *v, Py_ssize_t n);
/* The same, the value matched last compared here (values come in runs), the rest in dict_index. */
static inline int32_t dict_find(Dictionary *d, const char *v, Py_ssize_t n) {
    return dict_holds(d, d->last, v, n) ? d->last : dict_index(d, v, n);
}
/* Value k's bytes. */
const char *dict_value(const Dictionary *d, int32_t k, Py_ssize_t *n);
/* A full dictionary's column back to offsets + bytes for its `rows` rows, with room for `more` bytes. 0, -1 on error. */
int dict_to_plain(Table *t, Column *col, Py_ssize_t rows, Py_ssize_t more);
/* (offsets, data): the dictionary as an Arrow string array's buffers, trimmed to size; NULL on error. */
PyObject *dict_result(Dictionary *d);

#endif
