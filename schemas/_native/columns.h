/* Column buffers for Decoder.columns (columns.c parses, column_buffers.c holds the buffers). */
#ifndef MOODLENS_COLUMNS_H
#define MOODLENS_COLUMNS_H

#include "record.h"

typedef struct {
    const Spec *spec;
    PyObject *values;   /* bytearray: int64, double, bool bits, int32 offsets (strings); NULL for objects */
    PyObject *data;     /* bytearray: the strings' bytes; NULL for other kinds */
    PyObject *validity; /* bytearray bitmap; NULL when the column is never null */
    char *v, *d;        /* their storage, refreshed whenever they grow */
    uint8_t *bits;
    Py_ssize_t d_cap;
} Column;

typedef struct {
    Column *cols; /* NULL until the first line of this type */
    Column **strings; /* the string columns among them */
    Py_ssize_t n_cols, n_strings, rows, cap;
    PyObject *index; /* bytearray of int64: each row's line */
    int64_t *lines;
} Table;

/* Lines are refused beyond this, so one line always fits an empty table's int32 offsets. */
#define LINE_LIMIT ((Py_ssize_t)1 << 30)

static inline int may_be_null(const Spec *s) { return !s->required || s->nullable; }

static inline void bit_put(uint8_t *bits, Py_ssize_t i, int on) {
    if (on) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    else bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static inline int bit_get(const uint8_t *bits, Py_ssize_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

/* column_buffers.c */
int table_room(Table *t, const Spec *contract, Py_ssize_t size, Py_ssize_t left);
void put_empty(Table *t, const Spec *s, Py_ssize_t r, int valid);
PyObject *table_result(Table *t);
void table_clear(Table *t);

#endif
