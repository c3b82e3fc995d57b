/*
 * worker.dedup._shingles: the fingerprint stage's shingling and per-shingle hashing, compiled.
 *
 * `shingle_hashes(tokens, k, seed, sequence_count)` does, in one pass and without one Python
 * object per shingle, what worker/dedup/fingerprint.py does in Python with
 * `list(map(b" ".join, zip(...)))` (word k-shingles joined by one space), `len(set(shingles))`,
 * rensa's per-token hash (the input of its MinHash) and `xxhash.xxh3_64_digest(shingle, seed)`
 * of the first shingles (the opening's values). The results are the same bytes, which
 * tests/unit/dedup/test_fingerprint.py checks against the Python path on real and generated
 * keys; bench/check_identical.py checks them over whole corpora.
 *
 * `tokens` is a list of bytes, or a key (bytes) to be split as `bytes.split()` splits it.
 * Returns (hashes, distinct, low, second, count):
 *   hashes    8 bytes per shingle, in text order: rensa's hash of the shingle's UTF-8 bytes as
 *             a native-endian u64, `memoryview(hashes).cast("Q")` (what `RMinHash.update` computes for a bytes token; fed to
 *             `RMinHash.digest_matrix_from_flat_token_hashes` it gives `update`'s digest)
 *   distinct  the number of distinct shingles (by their bytes)
 *   low       for the first min(n, sequence_count) shingles, the low byte of xxh3_64(shingle, seed)
 *   second    the same shingles' second-lowest byte
 *   count     the number of tokens
 *
 * rensa's hash is `rensa::utils::calculate_hash_fast` (rensa 0.5: rustc-hash's byte hasher, then
 * a multiply and a rotation), reproduced below; pyproject.toml caps rensa below 0.6 for it.
 * xxh3 is xxHash's own code (libxxhash-dev's header, inlined: nothing to link at run time).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#if !defined(__SIZEOF_INT128__)
#error "a compiler with 128-bit integers is needed (gcc or clang on a 64-bit target)"
#endif

#define K_U64 0xf1357aea2e62a9c5ULL
#define SEED1 0x243f6a8885a308d3ULL
#define SEED2 0x13198a2e03707344ULL
#define PREVENT_TRIVIAL_ZERO_COLLAPSE 0xa4093822299f31d0ULL

static inline uint64_t read_u64_le(const unsigned char *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint64_t read_u32_le(const unsigned char *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

static inline uint64_t multiply_mix(uint64_t x, uint64_t y) {
    unsigned __int128 full = (unsigned __int128)x * y;
    return (uint64_t)full ^ (uint64_t)(full >> 64);
}

static uint64_t rensa_hash(const unsigned char *bytes, size_t len) {
    uint64_t s0 = SEED1, s1 = SEED2;
    if (len <= 16) {
        if (len >= 8) {
            s0 ^= read_u64_le(bytes);
            s1 ^= read_u64_le(bytes + len - 8);
        } else if (len >= 4) {
            s0 ^= read_u32_le(bytes);
            s1 ^= read_u32_le(bytes + len - 4);
        } else if (len > 0) {
            s0 ^= bytes[0];
            s1 ^= (uint64_t)bytes[len - 1] << 8 | bytes[len / 2];
        }
    } else {
        size_t off = 0;
        while (off < len - 16) {
            uint64_t x = read_u64_le(bytes + off);
            uint64_t y = read_u64_le(bytes + off + 8);
            uint64_t t = multiply_mix(s0 ^ x, PREVENT_TRIVIAL_ZERO_COLLAPSE ^ y);
            s0 = s1;
            s1 = t;
            off += 16;
        }
        s0 ^= read_u64_le(bytes + len - 16);
        s1 ^= read_u64_le(bytes + len - 8);
    }
    uint64_t hash = (multiply_mix(s0, s1) ^ (uint64_t)len) * K_U64;
    return hash << 26 | hash >> 38;
}

/* Tokens i .. i+k-1 of two shingles are equal, byte for byte. Tokens hold no space (they are the
 * parts of a split on whitespace), so equal token runs <=> equal joined shingles. */
static int same_shingle(const char *const *ptrs, const Py_ssize_t *lens, Py_ssize_t a, Py_ssize_t b,
                        Py_ssize_t k) {
    for (Py_ssize_t j = 0; j < k; j++) {
        if (lens[a + j] != lens[b + j] || memcmp(ptrs[a + j], ptrs[b + j], (size_t)lens[a + j]) != 0)
            return 0;
    }
    return 1;
}

/* The distinct count's table is indexed by Python's own hash of the shingle's bytes (SipHash, keyed
 * by the process' random hash secret), as a Python set of the shingles would be: rensa's hash is
 * not keyed, and input built to collide in it must not turn the count quadratic. */
static inline Py_hash_t keyed_hash(const unsigned char *bytes, size_t len) {
#if PY_VERSION_HEX >= 0x030E0000
    return Py_HashBuffer(bytes, (Py_ssize_t)len);
#else
    return _Py_HashBytes(bytes, (Py_ssize_t)len);
#endif
}

static PyObject *shingle_hashes(PyObject *self, PyObject *args) {
    PyObject *tokens;
    Py_ssize_t k, sequence_count;
    unsigned long long seed;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnKn:shingle_hashes", &tokens, &k, &seed, &sequence_count))
        return NULL;
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "k must be >= 1");
        return NULL;
    }
    if (!PyList_Check(tokens) && !PyBytes_Check(tokens)) {
        PyErr_Format(PyExc_TypeError, "tokens must be a list of bytes or bytes, not %.100s",
                     Py_TYPE(tokens)->tp_name);
        return NULL;
    }
    if (sequence_count < 0)
        sequence_count = 0;

    PyObject *hashes = NULL, *low = NULL, *second = NULL, *result = NULL;
    const char **ptrs = NULL;
    Py_ssize_t *lens = NULL;
    unsigned char *buf = NULL;
    Py_ssize_t *table = NULL;
    uint64_t *values = NULL;
    Py_hash_t *keyed = NULL;
    Py_ssize_t count = 0;

    if (PyBytes_Check(tokens)) {
        /* a key: its tokens are what `bytes.split()` gives (runs of ASCII whitespace separate) */
        const char *key = PyBytes_AS_STRING(tokens);
        Py_ssize_t size = PyBytes_GET_SIZE(tokens);
        Py_ssize_t most = size / 2 + 1;
        ptrs = PyMem_Malloc(sizeof(*ptrs) * (size_t)most);
        lens = PyMem_Malloc(sizeof(*lens) * (size_t)most);
        if (ptrs == NULL || lens == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t i = 0;
        while (i < size) {
            while (i < size && Py_ISSPACE(Py_CHARMASK(key[i]))) i++;
            if (i == size) break;
            Py_ssize_t start = i;
            while (i < size && !Py_ISSPACE(Py_CHARMASK(key[i]))) i++;
            ptrs[count] = key + start;
            lens[count] = i - start;
            count++;
        }
    } else {
        Py_ssize_t listed = PyList_GET_SIZE(tokens);
        ptrs = PyMem_Malloc(sizeof(*ptrs) * (size_t)(listed ? listed : 1));
        lens = PyMem_Malloc(sizeof(*lens) * (size_t)(listed ? listed : 1));
        if (ptrs == NULL || lens == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (; count < listed; count++) {
            PyObject *token = PyList_GET_ITEM(tokens, count);
            if (!PyBytes_Check(token)) {
                PyErr_Format(PyExc_TypeError, "tokens must be bytes, not %.100s", Py_TYPE(token)->tp_name);
                goto done;
            }
            ptrs[count] = PyBytes_AS_STRING(token);
            lens[count] = PyBytes_GET_SIZE(token);
        }
    }
    /* A text of k tokens or fewer is one shingle of all of them; none at all, no shingle. */
    Py_ssize_t n = count == 0 ? 0 : (count <= k ? 1 : count - k + 1);
    Py_ssize_t width = count <= k ? count : k; /* tokens per shingle */
    Py_ssize_t seq = sequence_count < n ? sequence_count : n;
    Py_ssize_t longest = 0; /* the longest shingle, in bytes */
    Py_ssize_t run = 0; /* bytes of the current window of `width` tokens, spaces included */
    for (Py_ssize_t i = 0; i < count; i++) {
        run += lens[i] + (i ? 1 : 0);
        if (i >= width) run -= lens[i - width] + 1;
        if (i >= width - 1 && run > longest) longest = run;
    }

    hashes = PyBytes_FromStringAndSize(NULL, n * 8);
    low = PyBytes_FromStringAndSize(NULL, seq);
    second = PyBytes_FromStringAndSize(NULL, seq);
    if (hashes == NULL || low == NULL || second == NULL)
        goto done;
    buf = PyMem_Malloc((size_t)(longest ? longest : 1));
    values = PyMem_Malloc(sizeof(*values) * (size_t)(n ? n : 1));
    keyed = PyMem_Malloc(sizeof(*keyed) * (size_t)(n ? n : 1));
    /* open addressing over shingle indices (-1: empty), at most half full */
    Py_ssize_t slots = 1;
    while (slots < 2 * n) slots <<= 1;
    table = PyMem_Malloc(sizeof(*table) * (size_t)slots);
    if (buf == NULL || values == NULL || keyed == NULL || table == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(table, 0xff, sizeof(*table) * (size_t)slots);

    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(hashes);
    unsigned char *lows = (unsigned char *)PyBytes_AS_STRING(low);
    unsigned char *seconds = (unsigned char *)PyBytes_AS_STRING(second);
    Py_ssize_t distinct = 0;
    for (Py_ssize_t s = 0; s < n; s++) {
        size_t size = 0;
        for (Py_ssize_t j = 0; j < width; j++) {
            if (j) buf[size++] = ' ';
            memcpy(buf + size, ptrs[s + j], (size_t)lens[s + j]);
            size += (size_t)lens[s + j];
        }
        uint64_t h = rensa_hash(buf, size);
        values[s] = h;
        memcpy(out + 8 * s, &h, 8);
        if (s < seq) {
            XXH64_hash_t x = XXH3_64bits_withSeed(buf, size, (XXH64_hash_t)seed);
            lows[s] = (unsigned char)x;
            seconds[s] = (unsigned char)(x >> 8);
        }
        Py_hash_t kh = keyed_hash(buf, size);
        keyed[s] = kh;
        Py_ssize_t slot = (Py_ssize_t)((size_t)kh & (size_t)(slots - 1));
        for (;;) {
            Py_ssize_t other = table[slot];
            if (other < 0) {
                table[slot] = s;
                distinct++;
                break;
            }
            if (keyed[other] == kh && values[other] == h && same_shingle(ptrs, lens, other, s, width))
                break;
            slot = (slot + 1) & (slots - 1);
        }
    }
    result = Py_BuildValue("OnOOn", hashes, distinct, low, second, count);

done:
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    PyMem_Free(buf);
    PyMem_Free(table);
    PyMem_Free(values);
    PyMem_Free(keyed);
    Py_XDECREF(hashes);
    Py_XDECREF(low);
    Py_XDECREF(second);
    return result;
}

static PyMethodDef methods[] = {
    {"shingle_hashes", shingle_hashes, METH_VARARGS,
     "shingle_hashes(tokens, k, seed, sequence_count) -> (hashes, distinct, low, second, count)\n\n"
     "Word k-shingles of `tokens` (bytes, joined by one space), hashed: see the module's source."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_shingles", "The fingerprint stage's shingle hashing, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__shingles(void) { return PyModule_Create(&module); }
