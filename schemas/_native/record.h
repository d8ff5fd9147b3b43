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
    PyObject *fallback; /* callable(raw, max_bytes) for what this code does not prove valid, or NULL */
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

typedef struct {
    int is_float, negative;
    uint64_t mant; /* significant digits, when there are at most 19 */
    int digits;    /* significant digits counted (capped) */
    int int_digits; /* digits before the point, for integers */
    long exp10;
    const char *start, *stop;
} Number;

/* program.c: a Spec from one field's tuple, and its release */
int spec_from(Spec *s, PyObject *t, int depth);
void spec_clear(Spec *s);

/* numbers.c: the JSON number grammar, and the double Python's float() gives for it */
int scan_number(Cursor *c, Number *n);
int number_to_double(const Number *n, double *out);

/* event.c: the Event type */
extern PyTypeObject EventType;
int event_type_ready(void);
Event *event_new(Decoder *d, const Spec *spec);

#endif
