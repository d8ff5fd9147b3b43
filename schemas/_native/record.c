/* One JSON record -> the validated event (an Event mapping), or None: "not proven valid here, ask the reference".
 *
 * Generic: what to check comes from a "program" that `schemas.native_program` compiles from
 * `schemas.contract` at import (field names, kinds, bounds, enums, patterns, nesting, required_when,
 * the probabilities' sum). Nothing in this file knows a field by name.
 *
 * Conservative by construction: this code never refuses a record, it only accepts or gives up. It gives
 * up (returns None) on anything it does not handle exactly as the reference does: backslash escapes,
 * bytes >= 0x80 or < 0x20 inside strings, unknown or repeated keys, arrays, integers of 19 digits or
 * more, numbers that do not fit a double, any rule broken. The tag may be any key: when it is not the
 * first, the record is parsed as each event type in turn (at most one can succeed).
 *
 * Checked once, built on demand: the whole record is checked when it is parsed (members.c), but a value that
 * costs an allocation is made only when it is first read, from its place in the record (record.h, Event).
 *
 * Memory safety: every read is checked against the end of the buffer; no fixed-size buffers; recursion
 * only follows the program's nested objects (two levels), never the input's own nesting.
 */
#include "columns.h" /* (and record.h) */

/* ------------------------------------------------------------------ the decoder type */

/* When the record's first key is the tag (as the edge writes it): 1 and the contract it names (NULL:
 * none this decoder knows). Else 0: the tag comes later (writers that sort keys). The cursor is a copy. */
int leading_tag(Decoder *self, Cursor c, const Spec **contract) {
    const char *k, *v;
    Py_ssize_t kn, vn;
    *contract = NULL;
    skip_ws(&c);
    if (!scan_string(&c, &k, &kn) || kn != self->tag_len || memcmp(k, self->tag_key, (size_t)kn) != 0) return 0;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != ':') return 1;
    c.p++;
    skip_ws(&c);
    if (!scan_string(&c, &v, &vn)) return 1;
    for (Py_ssize_t i = 0; i < self->n_contracts; i++) {
        const Spec *s = &self->contracts[i];
        if (s->key_len == vn && memcmp(s->key, v, (size_t)vn) == 0) *contract = s;
    }
    return 1;
}

/* The record as an event of `contract`, or NULL (an exception set only when memory ran out). */
static PyObject *parse_as(Decoder *self, const Spec *contract, Cursor c) {
    Event *event = event_new(self, contract, c.source);
    if (!event) return NULL;
    if (parse_members(contract, &c, event->values, event_places(event))) {
        skip_ws(&c);
        if (c.p == c.end) return (PyObject *)event;
    }
    Py_DECREF(event);
    if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_MemoryError)) PyErr_Clear(); /* a pattern check's */
    return NULL;
}

static PyObject *Decoder_parse(Decoder *self, PyObject *raw) {
    Cursor c;
    c.decoder = self;
    if (PyBytes_Check(raw)) {
        c.p = PyBytes_AS_STRING(raw);
        c.end = c.p + PyBytes_GET_SIZE(raw);
    } else if (PyUnicode_Check(raw) && TEXT_READY(raw) && PyUnicode_IS_ASCII(raw)) {
        c.p = (const char *)PyUnicode_1BYTE_DATA(raw);
        c.end = c.p + PyUnicode_GET_LENGTH(raw);
    } else {
        Py_RETURN_NONE;
    }
    c.start = c.p;
    c.source = raw;
    if (!self->tag_key) Py_RETURN_NONE; /* never initialised */
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') Py_RETURN_NONE;
    c.p++;
    const Spec *contract;
    if (leading_tag(self, c, &contract)) {
        if (!contract) Py_RETURN_NONE;
        PyObject *event = parse_as(self, contract, c);
        if (event || PyErr_Occurred()) return event;
        Py_RETURN_NONE;
    }
    /* The tag comes later: parse as each event type in turn. Tags differ and each contract's tag is a
     * required one-value enum, so at most one can succeed, and a wrong one usually fails at its first
     * unknown key: cheaper than finding the tag first. */
    for (Py_ssize_t i = 0; i < self->n_contracts; i++) {
        PyObject *event = parse_as(self, &self->contracts[i], c);
        if (event || PyErr_Occurred()) return event;
    }
    Py_RETURN_NONE;
}

/* validate(raw, max_bytes=None): the event when proven valid here (and raw fits max_bytes), else what
 * fallback(raw, max_bytes) returns or raises: the stream's hot path, with no Python frame of its own. */
static PyObject *Decoder_validate(Decoder *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs + nkw > 2 ||
        (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "max_bytes") != 0)) {
        PyErr_SetString(PyExc_TypeError, "validate(raw, max_bytes=None)");
        return NULL;
    }
    PyObject *raw = args[0], *max_bytes = nargs + nkw == 2 ? args[1] : Py_None;
    Py_ssize_t size = -1; /* bytes, or ASCII text (one byte per character); other text: the fallback */
    if (PyBytes_Check(raw)) size = PyBytes_GET_SIZE(raw);
    else if (PyUnicode_Check(raw) && TEXT_READY(raw) && PyUnicode_IS_ASCII(raw)) size = PyUnicode_GET_LENGTH(raw);
    if (size >= 0) {
        int fits = 1;
        if (max_bytes != Py_None) {
            long long limit = PyLong_Check(max_bytes) ? PyLong_AsLongLong(max_bytes) : -1;
            if (limit == -1 && PyErr_Occurred()) PyErr_Clear(); /* a limit beyond int64: the fallback judges */
            fits = PyLong_Check(max_bytes) && limit >= 0 && size <= limit;
        }
        if (fits) {
            PyObject *event = Decoder_parse(self, raw);
            if (event != Py_None) return event; /* the event, or NULL: no memory */
            Py_DECREF(event);
        }
    }
    if (!self->fallback) Py_RETURN_NONE;
    PyObject *call[2] = {raw, max_bytes};
    return PyObject_Vectorcall(self->fallback, call, 2, NULL);
}

static int Decoder_init(Decoder *self, PyObject *args, PyObject *kwds) {
    PyObject *contracts, *tag, *fallback = Py_None;
    static char *names[] = {"contracts", "tag", "fallback", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!U|O", names, &PyTuple_Type, &contracts, &tag, &fallback))
        return -1;
    if (fallback != Py_None && !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return -1;
    }
    if (self->contracts) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder already initialised");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(contracts);
    self->contracts = PyMem_Calloc(n ? n : 1, sizeof(Spec));
    if (!self->contracts) {
        PyErr_NoMemory();
        return -1;
    }
    self->n_contracts = n;
    self->tag = Py_NewRef(tag);
    if (fallback != Py_None) self->fallback = Py_NewRef(fallback);
    self->tag_key = PyUnicode_AsUTF8AndSize(tag, &self->tag_len);
    if (!self->tag_key) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (spec_from(&self->contracts[i], PyTuple_GET_ITEM(contracts, i), 0) < 0) return -1;
        const Spec *contract = &self->contracts[i];
        if (contract->kind != KIND_OBJECT) {
            PyErr_SetString(PyExc_ValueError, "program: a contract must be an object");
            return -1;
        }
        /* Decoder_parse relies on it: the tag is a required, non-null field whose one value is the
         * contract's name, and names differ, so a record can be valid under one contract at most. */
        int tagged = 0;
        for (Py_ssize_t f = 0; f < contract->n_fields; f++) {
            const Spec *field = &contract->fields[f];
            if (field->key_len == self->tag_len && memcmp(field->key, self->tag_key, (size_t)self->tag_len) == 0)
                tagged = field->required && !field->nullable && field->n_enum == 1 &&
                         PyUnicode_Compare(field->enum_values[0], contract->name) == 0;
        }
        for (Py_ssize_t j = 0; j < i; j++)
            if (PyUnicode_Compare(self->contracts[j].name, contract->name) == 0) tagged = 0;
        if (!tagged) {
            PyErr_SetString(PyExc_ValueError, "program: each contract needs its own name as a required one-value tag");
            return -1;
        }
        columns_number(&self->contracts[i]);
    }
    return 0;
}

/* The fallback is usually a bound method of the object holding this decoder: a cycle the GC must see. */
static int Decoder_traverse(Decoder *self, visitproc visit, void *arg) {
    Py_VISIT(self->fallback);
    return 0;
}

static int Decoder_clear(Decoder *self) {
    Py_CLEAR(self->fallback);
    return 0;
}

static void Decoder_dealloc(Decoder *self) {
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->fallback);
    if (self->contracts) {
        for (Py_ssize_t i = 0; i < self->n_contracts; i++) spec_clear(&self->contracts[i]);
        PyMem_Free(self->contracts);
    }
    Py_XDECREF(self->tag);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Decoder_methods[] = {
    {"parse", (PyCFunction)Decoder_parse, METH_O,
     "parse(raw: bytes | str) -> Event | None\n\nThe valid event, or None: not proven valid here."},
    {"validate", (PyCFunction)(void (*)(void))Decoder_validate, METH_FASTCALL | METH_KEYWORDS,
     "validate(raw, max_bytes=None) -> the event proven valid here, else fallback(raw, max_bytes)."},
    {"columns", (PyCFunction)(void (*)(void))Decoder_columns, METH_FASTCALL,
     "columns(lines, max_bytes) -> (consumed, refused, tables): the lines proven valid here as Arrow column\n"
     "buffers per contract (see schemas/_native/columns.c)."},
    {"columns_in", (PyCFunction)(void (*)(void))Decoder_columns_in, METH_FASTCALL,
     "columns_in(data, starts, ends, max_bytes) -> as columns(), line i being data[starts[i]:ends[i]], read in\n"
     "place (starts, ends: int64 arrays)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "schemas._record.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)Decoder_traverse,
    .tp_clear = (inquiry)Decoder_clear,
    .tp_doc = "Decoder(contracts, tag): validates records against compiled contracts "
              "(schemas.native_program).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_methods = Decoder_methods,
};

static PyObject *match_pattern(PyObject *module, PyObject *args) {
    PyObject *items;
    const char *value;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "O!s#", &PyTuple_Type, &items, &value, &n)) return NULL;
    Spec s;
    memset(&s, 0, sizeof s);
    PyObject *field = Py_BuildValue("(siiiLLddOOOnOnOdi)", "v", KIND_STRING, 1, 0, 0LL, 0LL, 0.0, 0.0, Py_None, items,
                                    Py_None, (Py_ssize_t)-1, Py_None, (Py_ssize_t)-1, Py_None, -1.0, 0);
    if (!field) return NULL;
    int ok = spec_from(&s, field, 0);
    Py_DECREF(field);
    PyObject *result = NULL;
    if (ok == 0) result = PyBool_FromLong(pattern_matches(&s, value, n));
    spec_clear(&s);
    return result;
}

static PyMethodDef module_methods[] = {
    {"match_pattern", match_pattern, METH_VARARGS,
     "match_pattern(items, value: str) -> bool: the compiled pattern's greedy match (for tests)."},
    {"line_ends", line_ends, METH_O,
     "line_ends(data) -> bytearray of int64: each line's end (its newline, or len(data) for an unterminated\n"
     "last one), the lines data.split(b'\\n') gives less the empty piece after a final newline."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "schemas._record",
                                    "Records validated against compiled contracts, in C.", -1, module_methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__record(void) {
    if (event_type_ready() < 0 || PyType_Ready(&DecoderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Decoder", (PyObject *)&DecoderType) < 0 ||
        PyModule_AddObjectRef(m, "Event", (PyObject *)&EventType) < 0 ||
        PyModule_AddIntConstant(m, "DICTIONARY_LIMIT", DICT_LIMIT) < 0) { /* distinct values per column and batch */
        Py_DECREF(m);
        return NULL;
    }
    return m;
}