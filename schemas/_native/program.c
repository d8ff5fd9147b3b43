/* The program (schemas.native_program's nested tuples) as a tree of Specs, checked as it is read. */
#include "record.h"

void spec_clear(Spec *s) {
    Py_CLEAR(s->name);
    if (s->enum_values) {
        for (Py_ssize_t i = 0; i < s->n_enum; i++) Py_XDECREF(s->enum_values[i]);
        PyMem_Free(s->enum_values);
        s->enum_values = NULL;
    }
    PyMem_Free(s->pattern);
    s->pattern = NULL;
    Py_CLEAR(s->pattern_check);
    if (s->fields) {
        for (Py_ssize_t i = 0; i < s->n_fields; i++) spec_clear(&s->fields[i]);
        PyMem_Free(s->fields);
        s->fields = NULL;
    }
    Py_CLEAR(s->when_value);
    if (s->cache) {
        for (Py_ssize_t i = 0; i < CACHE_SLOTS; i++) Py_XDECREF(s->cache[i]);
        PyMem_Free(s->cache);
        s->cache = NULL;
    }
}


static int fields_from(Spec *s, PyObject *tuple, int depth) {
    if (!PyTuple_Check(tuple)) {
        PyErr_SetString(PyExc_TypeError, "program: fields must be a tuple");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if (n > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "program: more than 64 fields in one object");
        return -1;
    }
    s->fields = PyMem_Calloc(n ? n : 1, sizeof(Spec));
    if (!s->fields) {
        PyErr_NoMemory();
        return -1;
    }
    s->n_fields = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        s->fields[i].n_pattern = -1;
        if (spec_from(&s->fields[i], PyTuple_GET_ITEM(tuple, i), depth + 1) < 0) return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t w = s->fields[i].when_index;
        if (w >= n) {
            PyErr_SetString(PyExc_ValueError, "program: required_when names no sibling");
            return -1;
        }
    }
    return 0;
}

/* (name, kind, required, nullable, int_lo, int_hi, num_lo, num_hi, enum|None, pattern|None,
 *  pattern_check|None, max_length, fields|None, when_index, when_value|None, sum_limit, remember) */
int spec_from(Spec *s, PyObject *t, int depth) {
    PyObject *name, *enums, *pattern, *check, *fields, *when_value;
    int kind, required, nullable;
    long long int_lo, int_hi;
    double num_lo, num_hi, sum_limit;
    Py_ssize_t max_length, when_index;
    int remember;
    s->n_pattern = -1;
    s->max_length = -1;
    s->when_index = -1;
    s->sum_limit = -1.0;
    if (depth > 8) {
        PyErr_SetString(PyExc_ValueError, "program: objects nested too deeply");
        return -1;
    }
    if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "UippLLddOOOnOnOdp", &name, &kind, &required, &nullable,
                                               &int_lo, &int_hi, &num_lo, &num_hi, &enums, &pattern, &check,
                                               &max_length, &fields, &when_index, &when_value, &sum_limit,
                                               &remember)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "program: a field must be a tuple");
        return -1;
    }
    if (kind < KIND_STRING || kind > KIND_OBJECT) {
        PyErr_SetString(PyExc_ValueError, "program: unknown kind");
        return -1;
    }
    s->name = Py_NewRef(name);
    s->key = PyUnicode_AsUTF8AndSize(name, &s->key_len);
    if (!s->key) return -1;
    s->kind = kind;
    s->required = required;
    s->nullable = nullable;
    s->int_lo = int_lo;
    s->int_hi = int_hi;
    s->num_lo = num_lo;
    s->num_hi = num_hi;
    s->max_length = max_length;
    s->when_index = when_index;
    s->sum_limit = sum_limit;
    if (enums != Py_None) {
        if (!PyTuple_Check(enums) || kind != KIND_STRING) {
            PyErr_SetString(PyExc_TypeError, "program: enum must be a tuple of str on a string field");
            return -1;
        }
        s->n_enum = PyTuple_GET_SIZE(enums);
        s->enum_values = PyMem_Calloc(s->n_enum ? s->n_enum : 1, sizeof(PyObject *));
        if (!s->enum_values) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < s->n_enum; i++) {
            PyObject *v = PyTuple_GET_ITEM(enums, i);
            if (!PyUnicode_Check(v) || !TEXT_READY(v) || !PyUnicode_IS_ASCII(v)) {
                /* non-ASCII enum values never match here (non-ASCII input is given up on) */
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "program: enum values must be ASCII str");
                return -1;
            }
            s->enum_values[i] = Py_NewRef(v);
        }
    }
    if (pattern != Py_None) {
        if (!PyTuple_Check(pattern)) {
            PyErr_SetString(PyExc_TypeError, "program: pattern must be a tuple");
            return -1;
        }
        Py_ssize_t n = PyTuple_GET_SIZE(pattern);
        s->pattern = PyMem_Calloc(n ? n : 1, sizeof(PatternItem));
        if (!s->pattern) {
            PyErr_NoMemory();
            return -1;
        }
        s->n_pattern = n;
        for (Py_ssize_t i = 0; i < n; i++) {
            const char *bits;
            Py_ssize_t nbits;
            PyObject *item = PyTuple_GET_ITEM(pattern, i);
            if (!PyTuple_Check(item) ||
                !PyArg_ParseTuple(item, "y#nn", &bits, &nbits, &s->pattern[i].min, &s->pattern[i].max)) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "program: pattern item");
                return -1;
            }
            if (nbits != 16 || s->pattern[i].min < 0) {
                PyErr_SetString(PyExc_ValueError, "program: pattern item must be (16-byte set, min, max)");
                return -1;
            }
            memcpy(s->pattern[i].set, bits, 16);
            for (int ch = 0; ch < 128; ch++) s->pattern[i].in[ch] = (bits[ch >> 3] >> (ch & 7)) & 1;
        }
    }
    if (check != Py_None) {
        if (!PyCallable_Check(check)) {
            PyErr_SetString(PyExc_TypeError, "program: pattern_check must be callable");
            return -1;
        }
        s->pattern_check = Py_NewRef(check);
    }
    if (when_value != Py_None) s->when_value = Py_NewRef(when_value);
    if (remember && kind == KIND_STRING && enums == Py_None) {
        s->cache = PyMem_Calloc(CACHE_SLOTS, sizeof(PyObject *));
        if (!s->cache) {
            PyErr_NoMemory();
            return -1;
        }
    }
    if (fields != Py_None) {
        if (kind != KIND_OBJECT) {
            PyErr_SetString(PyExc_ValueError, "program: members on a field that is no object");
            return -1;
        }
        if (fields_from(s, fields, depth) < 0) return -1;
    } else if (kind == KIND_OBJECT) {
        PyErr_SetString(PyExc_ValueError, "program: an object without members");
        return -1;
    }
    return 0;
}
