/* The dedup store's op packing, compiled: worker/dedup/store.py's `_pack_ops_in_python`, the same
 * output for every input it accepts.
 *
 * `pack_ops(ops, buckets, shards, per_bucket)`: `ops` a list of (field, value, mode) bytes tuples.
 * An op's bucket is its field's first four bytes read little-endian (fewer when the field is
 * shorter), modulo `buckets`; its shard is the bucket modulo `shards`. Returns one entry per shard,
 * in the order the shards first appear: (its buckets in the order they first appear, its ops
 * packed, the positions of its ops in `ops`). An op is packed as Lua's script reads it: the 1-based
 * index of its bucket's first key (`per_bucket` keys a bucket, in order) as a big-endian u32, the
 * mode byte, the field's length as one byte, the field, the value's length as a big-endian u32,
 * the value. The Python loop took ~1.4 µs an op, some 15 ops an article, in the event loop's
 * process; tests/unit/dedup/test_store_ops_compiled.py checks this against it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    Py_ssize_t shard_slot; /* index into the shards seen, in order */
    Py_ssize_t ordinal;    /* the bucket's place among its shard's buckets */
} OpPlace;

typedef struct {
    long long bucket; /* -1: empty */
    Py_ssize_t ordinal;
} BucketEntry;

/* The slot of `key` in an open-addressing table of `capacity` (a power of two, never full):
 * where it is, or the empty slot where it goes. */
static Py_ssize_t find(const BucketEntry *table, Py_ssize_t capacity, long long key) {
    size_t h = ((unsigned long long)key * 0x9E3779B97F4A7C15ULL) >> 7;
    Py_ssize_t at = (Py_ssize_t)(h & (size_t)(capacity - 1));
    while (table[at].bucket != -1 && table[at].bucket != key)
        at = (at + 1) & (capacity - 1);
    return at;
}

static void put_u32(unsigned char *out, uint32_t v) {
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
}

static PyObject *pack_ops(PyObject *self, PyObject *args) {
    PyObject *ops;
    long long buckets, shards, per_bucket;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!LLL:pack_ops", &PyList_Type, &ops, &buckets, &shards, &per_bucket))
        return NULL;
    if (buckets < 1 || shards < 1 || per_bucket < 0) {
        PyErr_SetString(PyExc_ValueError, "buckets and shards must be >= 1, per_bucket >= 0");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(ops);
    PyObject *result = NULL;
    OpPlace *places = NULL;
    BucketEntry *table = NULL;       /* bucket -> its ordinal within its shard */
    BucketEntry *shard_table = NULL; /* shard -> its slot */
    long long *shard_of_slot = NULL;     /* shard number of each slot */
    Py_ssize_t *slot_of_shard_ops = NULL; /* per slot: op count */
    Py_ssize_t *slot_bytes = NULL;        /* per slot: packed size */
    Py_ssize_t *slot_buckets = NULL;      /* per slot: bucket count */
    PyObject **entries = NULL;            /* per slot: (order, packed, positions) parts */
    Py_ssize_t slots = 0;

    places = PyMem_Malloc(sizeof(OpPlace) * (size_t)(n ? n : 1));
    Py_ssize_t capacity = 16;
    while (capacity < 2 * n)
        capacity <<= 1;
    table = PyMem_Malloc(sizeof(BucketEntry) * (size_t)capacity);
    shard_table = PyMem_Malloc(sizeof(BucketEntry) * (size_t)capacity);
    /* a shard appears at most once per op: n slots at most (and at most `shards`) */
    Py_ssize_t max_slots = n < shards ? n : (Py_ssize_t)shards;
    if (max_slots < 1)
        max_slots = 1;
    shard_of_slot = PyMem_Malloc(sizeof(long long) * (size_t)max_slots);
    slot_of_shard_ops = PyMem_Calloc((size_t)max_slots, sizeof(Py_ssize_t));
    slot_bytes = PyMem_Calloc((size_t)max_slots, sizeof(Py_ssize_t));
    slot_buckets = PyMem_Calloc((size_t)max_slots, sizeof(Py_ssize_t));
    if (!places || !table || !shard_table || !shard_of_slot || !slot_of_shard_ops || !slot_bytes || !slot_buckets) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < capacity; i++)
        table[i].bucket = shard_table[i].bucket = -1;

    /* first pass: each op's shard slot and bucket ordinal, each shard's sizes */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *op = PyList_GET_ITEM(ops, i);
        if (!PyTuple_Check(op) || PyTuple_GET_SIZE(op) != 3) {
            PyErr_SetString(PyExc_TypeError, "an op is a (field, value, mode) tuple");
            goto done;
        }
        PyObject *field = PyTuple_GET_ITEM(op, 0), *value = PyTuple_GET_ITEM(op, 1), *mode = PyTuple_GET_ITEM(op, 2);
        if (!PyBytes_Check(field) || !PyBytes_Check(value) || !PyBytes_Check(mode)) {
            PyErr_SetString(PyExc_TypeError, "an op's field, value and mode are bytes");
            goto done;
        }
        Py_ssize_t field_len = PyBytes_GET_SIZE(field), value_len = PyBytes_GET_SIZE(value);
        if (PyBytes_GET_SIZE(mode) != 1 || field_len > 255 || value_len > (Py_ssize_t)UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "a mode is one byte, a field at most 255 bytes, a value under 4 GiB");
            goto done;
        }
        const unsigned char *f = (const unsigned char *)PyBytes_AS_STRING(field);
        unsigned long long head = 0;
        for (Py_ssize_t b = 0; b < 4 && b < field_len; b++)
            head |= (unsigned long long)f[b] << (8 * b);
        long long bucket = (long long)(head % (unsigned long long)buckets);
        long long shard = bucket % shards;
        /* the shard's slot, in order of first appearance */
        Py_ssize_t sat = find(shard_table, capacity, shard);
        if (shard_table[sat].bucket == -1) {
            shard_table[sat].bucket = shard;
            shard_table[sat].ordinal = slots;
            shard_of_slot[slots++] = shard;
        }
        Py_ssize_t slot = shard_table[sat].ordinal;
        /* the bucket's ordinal within its shard (a bucket has one shard) */
        Py_ssize_t at = find(table, capacity, bucket);
        if (table[at].bucket == -1) {
            table[at].bucket = bucket;
            table[at].ordinal = slot_buckets[slot]++;
        }
        places[i].shard_slot = slot;
        places[i].ordinal = table[at].ordinal;
        slot_of_shard_ops[slot]++;
        slot_bytes[slot] += 4 + 1 + 1 + field_len + 4 + value_len;
    }

    entries = PyMem_Calloc((size_t)(slots ? slots * 3 : 1), sizeof(PyObject *));
    if (!entries) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t s = 0; s < slots; s++) {
        entries[3 * s] = PyList_New(slot_buckets[s]);
        entries[3 * s + 1] = PyBytes_FromStringAndSize(NULL, slot_bytes[s]);
        entries[3 * s + 2] = PyList_New(slot_of_shard_ops[s]);
        if (!entries[3 * s] || !entries[3 * s + 1] || !entries[3 * s + 2])
            goto done;
        slot_of_shard_ops[s] = 0; /* reused below as each slot's write position, in ops */
        slot_bytes[s] = 0;        /* and in bytes */
    }
    /* the buckets in order of first appearance: the table knows each one's ordinal */
    for (Py_ssize_t at = 0; at < capacity; at++) {
        if (table[at].bucket == -1)
            continue;
        long long bucket = table[at].bucket;
        Py_ssize_t slot = shard_table[find(shard_table, capacity, bucket % shards)].ordinal;
        PyObject *number = PyLong_FromLongLong(bucket);
        if (!number)
            goto done;
        PyList_SET_ITEM(entries[3 * slot], table[at].ordinal, number);
    }
    /* second pass: the packed ops and their positions */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *op = PyList_GET_ITEM(ops, i);
        PyObject *field = PyTuple_GET_ITEM(op, 0), *value = PyTuple_GET_ITEM(op, 1), *mode = PyTuple_GET_ITEM(op, 2);
        Py_ssize_t slot = places[i].shard_slot;
        long long base = 1 + (long long)places[i].ordinal * per_bucket; /* Lua is 1-based */
        if (base > (long long)UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "a bucket's key index does not fit 32 bits");
            goto done;
        }
        Py_ssize_t field_len = PyBytes_GET_SIZE(field), value_len = PyBytes_GET_SIZE(value);
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(entries[3 * slot + 1]) + slot_bytes[slot];
        put_u32(out, (uint32_t)base);
        out[4] = (unsigned char)PyBytes_AS_STRING(mode)[0];
        out[5] = (unsigned char)field_len;
        memcpy(out + 6, PyBytes_AS_STRING(field), (size_t)field_len);
        put_u32(out + 6 + field_len, (uint32_t)value_len);
        memcpy(out + 10 + field_len, PyBytes_AS_STRING(value), (size_t)value_len);
        slot_bytes[slot] += 10 + field_len + value_len;
        PyObject *position = PyLong_FromSsize_t(i);
        if (!position)
            goto done;
        PyList_SET_ITEM(entries[3 * slot + 2], slot_of_shard_ops[slot]++, position);
    }
    result = PyList_New(slots);
    if (!result)
        goto done;
    for (Py_ssize_t s = 0; s < slots; s++) {
        PyObject *entry = PyTuple_Pack(3, entries[3 * s], entries[3 * s + 1], entries[3 * s + 2]);
        if (!entry) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, s, entry);
    }

done:
    if (entries) {
        for (Py_ssize_t k = 0; k < 3 * slots; k++)
            Py_XDECREF(entries[k]);
        PyMem_Free(entries);
    }
    PyMem_Free(places);
    PyMem_Free(table);
    PyMem_Free(shard_table);
    PyMem_Free(shard_of_slot);
    PyMem_Free(slot_of_shard_ops);
    PyMem_Free(slot_bytes);
    PyMem_Free(slot_buckets);
    return result;
}

/* Decimal digits of `v` (>= 0) written at `out`; their count. */
static Py_ssize_t put_decimal(char *out, unsigned long long v) {
    char digits[20];
    Py_ssize_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

static Py_ssize_t decimal_width(unsigned long long v) {
    Py_ssize_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* One command in Redis' protocol (RESP: "*<count>\r\n", then "$<length>\r\n<bytes>\r\n" an
 * argument), as `hiredis.pack_command` gives it, for a tuple of exact bytes, str (UTF-8) and int
 * (decimal) arguments; None for any other tuple (another type, a str that is not UTF-8 encodable,
 * an int past 64 bits), which the caller then gives to hiredis (the same bytes, or its error).
 * hiredis formats each argument's length with sprintf (~400 instructions an argument; a batch's
 * claim scripts carry ~50 arguments an article, most of them keys) and copies the command out of
 * its own buffer; here the lengths are written by hand into the command's bytes object, and a
 * key's UTF-8 is the one the str caches (the store keeps its key strings for a generation). */
static PyObject *pack_command(PyObject *self, PyObject *args) {
    PyObject *command;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!:pack_command", &PyTuple_Type, &command))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(command);
    if (n == 0)
        Py_RETURN_NONE;
    const char **data = PyMem_Malloc((size_t)n * sizeof(char *));
    Py_ssize_t *lengths = PyMem_Malloc((size_t)n * sizeof(Py_ssize_t));
    char *numbers = PyMem_Malloc((size_t)n * 21);
    PyObject *out = NULL;
    if (data == NULL || lengths == NULL || numbers == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t total = 1 + decimal_width((unsigned long long)n) + 2;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *arg = PyTuple_GET_ITEM(command, i);
        if (PyBytes_CheckExact(arg)) {
            data[i] = PyBytes_AS_STRING(arg);
            lengths[i] = PyBytes_GET_SIZE(arg);
        } else if (PyUnicode_CheckExact(arg)) {
            data[i] = PyUnicode_AsUTF8AndSize(arg, &lengths[i]);
            if (data[i] == NULL) { /* not encodable: hiredis raises its own error */
                PyErr_Clear();
                out = Py_NewRef(Py_None);
                goto done;
            }
        } else if (PyLong_CheckExact(arg)) {
            int overflow = 0;
            long long v = PyLong_AsLongLongAndOverflow(arg, &overflow);
            if (overflow || (v == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                out = Py_NewRef(Py_None);
                goto done;
            }
            char *at = numbers + i * 21;
            Py_ssize_t len = 0;
            unsigned long long magnitude = (unsigned long long)v;
            if (v < 0) {
                at[len++] = '-';
                magnitude = 0ULL - magnitude;
            }
            len += put_decimal(at + len, magnitude);
            data[i] = at;
            lengths[i] = len;
        } else {
            out = Py_NewRef(Py_None);
            goto done;
        }
        if (lengths[i] > PY_SSIZE_T_MAX / 2 - total - 32) {
            PyErr_SetString(PyExc_OverflowError, "command too long");
            goto done;
        }
        total += 1 + decimal_width((unsigned long long)lengths[i]) + 2 + lengths[i] + 2;
    }
    out = PyBytes_FromStringAndSize(NULL, total);
    if (out == NULL)
        goto done;
    char *w = PyBytes_AS_STRING(out);
    *w++ = '*';
    w += put_decimal(w, (unsigned long long)n);
    *w++ = '\r';
    *w++ = '\n';
    for (Py_ssize_t i = 0; i < n; i++) {
        *w++ = '$';
        w += put_decimal(w, (unsigned long long)lengths[i]);
        *w++ = '\r';
        *w++ = '\n';
        memcpy(w, data[i], (size_t)lengths[i]);
        w += lengths[i];
        *w++ = '\r';
        *w++ = '\n';
    }
done:
    PyMem_Free(data);
    PyMem_Free(lengths);
    PyMem_Free(numbers);
    return out;
}

static PyMethodDef methods[] = {
    {"pack_ops", pack_ops, METH_VARARGS,
     "pack_ops(ops, buckets, shards, per_bucket) -> [(buckets in order, packed ops, positions)] per shard\n\n"
     "worker/dedup/store.py's `_pack_ops_in_python`, compiled: see the module's source."},
    {"pack_command", pack_command, METH_VARARGS,
     "pack_command(args) -> bytes | None\n\n"
     "hiredis.pack_command's bytes for a tuple of bytes, str and int (64-bit) arguments; None for "
     "any other tuple."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_store_ops", "The dedup store's op and command packing, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__store_ops(void) { return PyModule_Create(&module); }
