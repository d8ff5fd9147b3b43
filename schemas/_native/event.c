/* Event: a validated event (or nested object) as a read-only mapping of its present fields. */
#include "record.h"

static PyObject *KEYS_VIEW, *ITEMS_VIEW, *VALUES_VIEW; /* collections.abc's views */

Event *event_new(Decoder *d, const Spec *spec, PyObject *source) {
    PyTypeObject *tp = &EventType;
    /* tp_basicsize is offsetof(Event, values): pointer-aligned, so the slots follow without padding */
    size_t size = (size_t)tp->tp_basicsize + (size_t)spec->n_fields * (sizeof(PyObject *) + sizeof(Py_ssize_t));
    Event *e = (Event *)PyObject_Malloc(size);
    if (!e) {
        PyErr_NoMemory();
        return NULL;
    }
    memset(e, 0, size);
    PyObject_InitVar((PyVarObject *)e, tp, spec->n_fields);
    e->spec = spec;
    e->owner = Py_NewRef((PyObject *)d);
    e->source = Py_NewRef(source);
    return e;
}

static Py_ssize_t field_index(const Spec *spec, PyObject *key) {
    for (Py_ssize_t i = 0; i < spec->n_fields; i++)
        if (spec->fields[i].name == key) return i; /* interned names: the usual case */
    if (!PyUnicode_Check(key)) return -1;
    for (Py_ssize_t i = 0; i < spec->n_fields; i++)
        if (PyUnicode_Compare(spec->fields[i].name, key) == 0) return i;
    return -1;
}

static void Event_dealloc(Event *self) {
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) Py_XDECREF(self->values[i]);
    Py_XDECREF(self->owner);
    Py_XDECREF(self->source);
    PyObject_Free(self);
}

static Py_ssize_t Event_length(Event *self) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) n += event_has(self, i);
    return n;
}

static PyObject *Event_subscript(Event *self, PyObject *key) {
    Py_ssize_t i = field_index(self->spec, key);
    PyObject *v;
    int found = i >= 0 ? event_read(self, i, &v) : 0;
    if (found > 0) return Py_NewRef(v);
    if (found == 0) PyErr_SetObject(PyExc_KeyError, key);
    return NULL;
}

static int Event_contains(Event *self, PyObject *key) {
    Py_ssize_t i = field_index(self->spec, key);
    return i >= 0 && event_has(self, i);
}

static PyObject *Event_get(Event *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get expected 1 or 2 arguments");
        return NULL;
    }
    Py_ssize_t i = field_index(self->spec, args[0]);
    PyObject *v;
    int found = i >= 0 ? event_read(self, i, &v) : 0;
    if (found < 0) return NULL;
    return Py_NewRef(found ? v : nargs == 2 ? args[1] : Py_None);
}

static PyObject *Event_iter(Event *self) {
    PyObject *keys = PyTuple_New(Event_length(self));
    if (!keys) return NULL;
    for (Py_ssize_t i = 0, k = 0; i < Py_SIZE(self); i++)
        if (event_has(self, i)) PyTuple_SET_ITEM(keys, k++, Py_NewRef(self->spec->fields[i].name));
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

/* The plain dict, nested events as dicts too (what writers serialise). */
static PyObject *Event_to_dict(Event *self, PyObject *unused) {
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++) {
        PyObject *v;
        int found = event_read(self, i, &v);
        if (found < 0) {
            Py_DECREF(d);
            return NULL;
        }
        if (!found) continue;
        if (Py_IS_TYPE(v, &EventType)) v = Event_to_dict((Event *)v, NULL);
        else Py_INCREF(v);
        if (!v || PyDict_SetItem(d, self->spec->fields[i].name, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *Event_view(Event *self, PyObject *view) {
    return PyObject_CallOneArg(view, (PyObject *)self);
}
static PyObject *Event_keys(Event *self, PyObject *unused) { return Event_view(self, KEYS_VIEW); }
static PyObject *Event_items(Event *self, PyObject *unused) { return Event_view(self, ITEMS_VIEW); }
static PyObject *Event_values(Event *self, PyObject *unused) { return Event_view(self, VALUES_VIEW); }

/* Equal to a mapping with the same keys and values (nested ones compared the same way), as a dict is. */
static PyObject *Event_richcompare(Event *self, PyObject *other, int op) {
    if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = Event_to_dict(self, NULL);
    if (!mine) return NULL;
    PyObject *theirs = Py_IS_TYPE(other, &EventType) ? Event_to_dict((Event *)other, NULL) : Py_NewRef(other);
    if (!theirs) {
        Py_DECREF(mine);
        return NULL;
    }
    PyObject *result = PyObject_RichCompare(mine, theirs, op);
    Py_DECREF(mine);
    Py_DECREF(theirs);
    return result;
}

/* Pickled and copied as its plain dict; shown as that dict. */
static PyObject *Event_reduce(Event *self, PyObject *unused) {
    PyObject *d = Event_to_dict(self, NULL);
    return d ? Py_BuildValue("(O(N))", (PyObject *)&PyDict_Type, d) : NULL;
}

static PyObject *Event_repr(Event *self) {
    PyObject *d = Event_to_dict(self, NULL);
    if (!d) return NULL;
    PyObject *r = PyObject_Repr(d);
    Py_DECREF(d);
    return r;
}

static PyMappingMethods Event_as_mapping = {(lenfunc)Event_length, (binaryfunc)Event_subscript, NULL};
static PySequenceMethods Event_as_sequence = {.sq_contains = (objobjproc)Event_contains};

static PyMethodDef Event_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Event_get, METH_FASTCALL, "get(key, default=None)"},
    {"to_dict", (PyCFunction)Event_to_dict, METH_NOARGS, "The plain dict, nested objects as dicts."},
    {"__reduce__", (PyCFunction)Event_reduce, METH_NOARGS, "Pickled as its plain dict."},
    {"keys", (PyCFunction)Event_keys, METH_NOARGS, "A KeysView."},
    {"items", (PyCFunction)Event_items, METH_NOARGS, "An ItemsView."},
    {"values", (PyCFunction)Event_values, METH_NOARGS, "A ValuesView."},
    {NULL, NULL, 0, NULL}};

PyTypeObject EventType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "schemas._record.Event",
    .tp_basicsize = offsetof(Event, values),
    .tp_itemsize = sizeof(PyObject *),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A validated event (or nested object): a read-only mapping of its present fields.",
    .tp_dealloc = (destructor)Event_dealloc,
    .tp_as_mapping = &Event_as_mapping,
    .tp_as_sequence = &Event_as_sequence,
    .tp_iter = (getiterfunc)Event_iter,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_richcompare = (richcmpfunc)Event_richcompare,
    .tp_repr = (reprfunc)Event_repr,
    .tp_methods = Event_methods,
};

int event_type_ready(void) {
    if (PyType_Ready(&EventType) < 0) return -1;
    PyObject *abc = PyImport_ImportModule("collections.abc");
    if (!abc) return -1;
    KEYS_VIEW = PyObject_GetAttrString(abc, "KeysView");
    ITEMS_VIEW = PyObject_GetAttrString(abc, "ItemsView");
    VALUES_VIEW = PyObject_GetAttrString(abc, "ValuesView");
    /* a Mapping to isinstance(), as the reference's dicts and msgspec's structs are */
    PyObject *mapping = PyObject_GetAttrString(abc, "Mapping");
    PyObject *registered = mapping ? PyObject_CallMethod(mapping, "register", "O", (PyObject *)&EventType) : NULL;
    Py_XDECREF(mapping);
    Py_DECREF(abc);
    if (!registered) return -1;
    Py_DECREF(registered);
    return KEYS_VIEW && ITEMS_VIEW && VALUES_VIEW ? 0 : -1;
}
