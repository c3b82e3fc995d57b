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
 *
 * `sequence(low, second, lead, rest, keep_below, first, mask, kept)` is fingerprint.py's `_assembled`
 * (the opening's values and kept flags) over what `shingle_hashes` returned.
 *
 * `bands(packed, bands, rows, tag)` is fingerprint.py's `_bands_in_python` (the LSH band keys: xxh3
 * of each band's bytes), the same list of digests without a slice and a keyword call per band.
 *
 * `mapped(lead_shingles, stray, mask, kept, sequence, other, d, start=0, *, resync=True)` is
 * fingerprint.py's `_mapped_in_python` (the article in hand's `sequence` laid over a remembered
 * opening `other` at shift d: (agreeing, compared)), the same two ints for every input, without a
 * Python int or slice per comparison; fingerprint.py binds the first four, its constants, with
 * `functools.partial`. tests/unit/dedup/test_mapped_compiled.py checks it against the Python.
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

/* Shingle s (tokens s .. s+width-1 joined by one space) into `buf`, which holds the longest;
 * returns its length in bytes. */
static size_t join_shingle(unsigned char *buf, const char *const *ptrs, const Py_ssize_t *lens, Py_ssize_t s,
                           Py_ssize_t width) {
    size_t size = 0;
    for (Py_ssize_t j = 0; j < width; j++) {
        if (j) buf[size++] = ' ';
        memcpy(buf + size, ptrs[s + j], (size_t)lens[s + j]);
        size += (size_t)lens[s + j];
    }
    return size;
}

/* Python's own hash of a shingle's bytes (SipHash, keyed by the process' random hash secret), as
 * a Python set of the shingles would index them. */
static inline Py_hash_t keyed_hash(const unsigned char *bytes, size_t len) {
#if PY_VERSION_HEX >= 0x030E0000
    return Py_HashBuffer(bytes, (Py_ssize_t)len);
#else
    return _Py_HashBytes(bytes, (Py_ssize_t)len);
#endif
}

/* The distinct count's table is indexed first by rensa's hash, which every shingle has already
 * (its low bits are the high bits of a 64-bit product: well spread). That hash is not keyed:
 * input built to collide in it could make the probing quadratic. So the probes are counted, and
 * past `probe_limit` per shingle (a random text needs about one) the count starts again on the
 * keyed hash, where no input can be built to collide: such input costs twice, never n^2. The
 * keyed hash is ~180 instructions a shingle, the whole distinct count's cost before this
 * (docs/BENCHMARKS.md, session 26). `set_probe_limit` is the tests' way to force the keyed pass. */
static Py_ssize_t probe_limit = 8;
static Py_ssize_t keyed_counts = 0; /* how many counts fell back to the keyed hash */

/* Distinct shingles by open addressing over shingle indices (-1: empty; at most half full),
 * indexed by `index[s]`; equal shingles are those of equal index, rensa hash and bytes. With
 * `limit` >= 0, -1 once the probes past the first slot exceed it. */
static Py_ssize_t count_distinct(const char *const *ptrs, const Py_ssize_t *lens, const uint64_t *values,
                                 const uint64_t *index, Py_ssize_t n, Py_ssize_t width, Py_ssize_t *table,
                                 Py_ssize_t slots, Py_ssize_t limit) {
    memset(table, 0xff, sizeof(*table) * (size_t)slots);
    Py_ssize_t distinct = 0, probes = 0;
    for (Py_ssize_t s = 0; s < n; s++) {
        uint64_t key = index[s];
        size_t slot = (size_t)key & (size_t)(slots - 1);
        for (;;) {
            Py_ssize_t other = table[slot];
            if (other < 0) {
                table[slot] = s;
                distinct++;
                break;
            }
            if (index[other] == key && values[other] == values[s] && same_shingle(ptrs, lens, other, s, width))
                break;
            slot = (slot + 1) & (size_t)(slots - 1);
            if (limit >= 0 && ++probes > limit)
                return -1;
        }
    }
    return distinct;
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
    uint64_t *keyed = NULL;
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
    /* the distinct count's table (`count_distinct`) */
    Py_ssize_t slots = 1;
    while (slots < 2 * n) slots <<= 1;
    table = PyMem_Malloc(sizeof(*table) * (size_t)slots);
    if (buf == NULL || values == NULL || table == NULL) {
        PyErr_NoMemory();
        goto done;
    }

    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(hashes);
    unsigned char *lows = (unsigned char *)PyBytes_AS_STRING(low);
    unsigned char *seconds = (unsigned char *)PyBytes_AS_STRING(second);
    Py_ssize_t distinct;
    for (Py_ssize_t s = 0; s < n; s++) {
        size_t size = join_shingle(buf, ptrs, lens, s, width);
        uint64_t h = rensa_hash(buf, size);
        values[s] = h;
        memcpy(out + 8 * s, &h, 8);
        if (s < seq) {
            XXH64_hash_t x = XXH3_64bits_withSeed(buf, size, (XXH64_hash_t)seed);
            lows[s] = (unsigned char)x;
            seconds[s] = (unsigned char)(x >> 8);
        }
    }
    if (probe_limit < 0) {
        distinct = -1;
    } else { /* a limit too large to count to is none */
        Py_ssize_t limit = n && probe_limit > PY_SSIZE_T_MAX / n ? -1 : probe_limit * n;
        distinct = count_distinct(ptrs, lens, values, values, n, width, table, slots, limit);
    }
    if (distinct < 0) { /* too many probes on the unkeyed hash: the keyed one, without a limit */
        keyed = PyMem_Malloc(sizeof(*keyed) * (size_t)(n ? n : 1));
        if (keyed == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t s = 0; s < n; s++) {
            size_t size = join_shingle(buf, ptrs, lens, s, width);
            keyed[s] = (uint64_t)keyed_hash(buf, size);
        }
        distinct = count_distinct(ptrs, lens, values, keyed, n, width, table, slots, -1);
        keyed_counts++;
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

/* fingerprint.py's `_assembled` over the `low` and `second` bytes `shingle_hashes` returns:
 * out[i] = (low[i] & mask) | (second[i] < keep_below ? kept : 0) for the first `first` shingles,
 * then for as many again if fewer than `rest` of out[lead:] carry `kept` (none past the end of
 * `low`). The same bytes, without a translate, two ints and a slice per part. */
static PyObject *sequence(PyObject *self, PyObject *args) {
    Py_buffer low, second;
    Py_ssize_t lead, rest, keep_below, first, mask, kept;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*nnnnnn:sequence", &low, &second, &lead, &rest, &keep_below, &first,
                          &mask, &kept))
        return NULL;
    PyObject *out = NULL;
    if (low.len != second.len || lead < 0 || first < 0 || mask < 0 || mask > 255 || kept < 0 || kept > 255) {
        PyErr_SetString(PyExc_ValueError, "low and second must be as long; lead, first, mask, kept in range");
        goto done;
    }
    Py_ssize_t size = low.len;
    Py_ssize_t stop = first < size ? first : size;
    Py_ssize_t counted = 0;
    for (Py_ssize_t i = lead; i < stop; i++) /* the first part's kept shingles past the lead */
        counted += ((const unsigned char *)second.buf)[i] < keep_below;
    if (stop == first && counted < rest) /* the second part, where the first left room */
        stop = first <= size - first ? 2 * first : size; /* (first <= size here: no overflow) */
    out = PyBytes_FromStringAndSize(NULL, stop);
    if (out == NULL)
        goto done;
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *l = low.buf, *sec = second.buf;
    for (Py_ssize_t i = 0; i < stop; i++)
        o[i] = (unsigned char)((l[i] & mask) | (sec[i] < keep_below ? kept : 0));
done:
    PyBuffer_Release(&low);
    PyBuffer_Release(&second);
    return out;
}

/* fingerprint.py's `_bands_in_python(packed, bands, rows, tag)`: band b is xxh3_64 of
 * packed[b * 4 * rows : (b + 1) * 4 * rows] (shorter, or empty, past the end, as a slice is) with
 * the seed tag * 1000 + b, as xxhash's `digest()` writes it (8 bytes, big-endian). A list of
 * `bands` bytes objects: ~0.1 us a band against ~0.35 in Python (a slice, a call with a keyword). */
static PyObject *bands(PyObject *self, PyObject *args) {
    Py_buffer packed;
    Py_ssize_t count, rows;
    unsigned long long tag;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnK:bands", &packed, &count, &rows, &tag))
        return NULL;
    PyObject *out = NULL;
    if (count < 0 || rows < 0 || rows > PY_SSIZE_T_MAX / 4) {
        PyErr_SetString(PyExc_ValueError, "bands and rows must be >= 0 (and rows a signature's)");
        goto done;
    }
    out = PyList_New(count);
    if (out == NULL)
        goto done;
    const unsigned char *data = packed.buf;
    Py_ssize_t size = packed.len, width = 4 * rows;
    for (Py_ssize_t b = 0; b < count; b++) {
        /* as the slice packed[b * width : (b + 1) * width], without a product past PY_SSIZE_T_MAX */
        Py_ssize_t start = width == 0 || b <= size / width ? b * width : size;
        if (start > size)
            start = size;
        Py_ssize_t stop = width <= size - start ? start + width : size;
        XXH64_hash_t h = XXH3_64bits_withSeed(data + start, (size_t)(stop - start),
                                              (XXH64_hash_t)(tag * 1000 + (unsigned long long)b));
        XXH64_canonical_t canonical;
        XXH64_canonicalFromHash(&canonical, h); /* big-endian, as `digest()` */
        PyObject *digest = PyBytes_FromStringAndSize((const char *)canonical.digest, 8);
        if (digest == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, b, digest);
    }
done:
    PyBuffer_Release(&packed);
    return out;
}

/* fingerprint.py's `_pack_opening_in_python(values)` with its `OPENING_BITS` as `bits` (1-8): a
 * count byte, then value i's low `bits` bits at bit bits * i of a little-endian bit string, in
 * (bits * count + 7) / 8 bytes; b"" for no values. More than 255 values raise ValueError, as
 * `bytes((count,))` does. ~0.1 us against ~2.5 for the Python's big-integer lanes. */
static PyObject *pack_opening(PyObject *self, PyObject *args) {
    Py_buffer values;
    int bits;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*i:pack_opening", &values, &bits))
        return NULL;
    PyObject *out = NULL;
    Py_ssize_t count = values.len;
    if (bits < 1 || bits > 8) {
        PyErr_SetString(PyExc_ValueError, "bits must be 1-8");
        goto done;
    }
    if (count == 0) {
        out = PyBytes_FromStringAndSize(NULL, 0);
        goto done;
    }
    if (count > 255) {
        PyErr_SetString(PyExc_ValueError, "bytes must be in range(0, 256)");
        goto done;
    }
    Py_ssize_t size = 1 + (bits * count + 7) / 8;
    out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL)
        goto done;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *src = values.buf;
    unsigned int mask = (1u << bits) - 1, acc = 0;
    int held = 0;
    Py_ssize_t at = 1;
    dst[0] = (unsigned char)count;
    for (Py_ssize_t i = 0; i < count; i++) {
        acc |= (src[i] & mask) << held;
        held += bits;
        while (held >= 8) {
            dst[at++] = (unsigned char)(acc & 0xFF);
            acc >>= 8;
            held -= 8;
        }
    }
    if (held > 0)
        dst[at++] = (unsigned char)(acc & 0xFF);
done:
    PyBuffer_Release(&values);
    return out;
}

/* The first `width` bytes of every bytes object of `items` (a tuple or a list), joined: the band
 * tags of a record (decision.py's `band_tags`). An item shorter than `width` gives what it has,
 * as a slice does. ~0.15 us for 12 bands against ~1.5 for the join of slices. */
static PyObject *prefixes(PyObject *self, PyObject *args) {
    PyObject *items;
    Py_ssize_t width;
    (void)self;
    if (!PyArg_ParseTuple(args, "On:prefixes", &items, &width))
        return NULL;
    if (width < 0) {
        PyErr_SetString(PyExc_ValueError, "width must be >= 0");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(items, "prefixes() takes a sequence of bytes");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), total = 0;
    PyObject **item = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(item[i])) {
            PyErr_SetString(PyExc_TypeError, "prefixes() takes a sequence of bytes");
            Py_DECREF(seq);
            return NULL;
        }
        Py_ssize_t len = PyBytes_GET_SIZE(item[i]);
        total += len < width ? len : width; /* <= n * width bytes that exist: no overflow */
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, total);
    if (out != NULL) {
        char *dst = PyBytes_AS_STRING(out);
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t len = PyBytes_GET_SIZE(item[i]);
            len = len < width ? len : width;
            memcpy(dst, PyBytes_AS_STRING(item[i]), (size_t)len);
            dst += len;
        }
    }
    Py_DECREF(seq);
    return out;
}

/* An int argument as the "n" format converts it: its __index__, OverflowError past a Py_ssize_t. */
static int as_ssize(PyObject *obj, Py_ssize_t *out) {
    PyObject *index = PyNumber_Index(obj);
    if (index == NULL)
        return 0;
    *out = PyLong_AsSsize_t(index);
    Py_DECREF(index);
    return !(*out == -1 && PyErr_Occurred());
}

/* fingerprint.py's `_mapped_in_python`, step for step (its docstring says what is counted and why).
 * Its constants come in as arguments, so that they are defined once, in Python:
 *   lead_shingles  `_LEAD_SHINGLES`: the other's lead (`other[:lead_shingles]`), compared shingle
 *                  by shingle; its kept values follow (`other[lead_shingles:]`, the tail)
 *   stray          `_STRAY`: how far a lead match may stray from its place (`_SPREAD`)
 *   mask           `_OPENING_MASK`: a value's bits (`_LOW_BITS` is `b & mask` as a table)
 *   kept           `KEPT`: the flag of a `sequence` shingle the opening keeps
 * `_agree_in_place` pads the other's lead with 0xff bytes (`_PAD`), which a value (< 0xff: `mask`
 * is checked) never equals: here the places outside it are simply not compared. Note that the
 * lead part compares against `head[lo + d:]`, so a match may stray back no further than the
 * first place compared, not to the head's start. Positions are 128-bit where d comes in: -d and
 * lead_shingles - d overflow 64 bits for a d near its bounds. A negative `start` indexes as
 * Python does (from the end, IndexError past it), as the Python path's slices and indexing do.
 *
 * METH_FASTCALL, its arguments parsed here: the comparisons call it some 60 times a candidate pair,
 * through a functools.partial and mostly with `resync=` by keyword, where PyArg_ParseTupleAndKeywords
 * (a tuple, a dict of the keywords, the partial's copy of it) made such a call on a 128-byte
 * sequence 0.73 us, this 0.47 us; ~0.35 us a call on average over real pairs' calls. */
static PyObject *mapped(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t lead_shingles, stray, mask, kept, d, start = 0;
    PyObject *sequence, *other, *start_arg = NULL, *resync_arg = NULL;
    int resync = 1;
    (void)self;
    if (nargs < 7 || nargs > 8) {
        PyErr_Format(PyExc_TypeError, "mapped() takes 7 or 8 positional arguments (%zd given)", nargs);
        return NULL;
    }
    if (nargs == 8)
        start_arg = args[7];
    Py_ssize_t keywords = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < keywords; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i); /* a str: the interpreter checks */
        PyObject **slot = PyUnicode_CompareWithASCIIString(name, "start") == 0    ? &start_arg
                          : PyUnicode_CompareWithASCIIString(name, "resync") == 0 ? &resync_arg
                                                                                   : NULL;
        if (slot == NULL || *slot != NULL) {
            PyErr_Format(PyExc_TypeError, "mapped() got %s argument '%U'",
                         slot == NULL ? "an unexpected keyword" : "multiple values for", name);
            return NULL;
        }
        *slot = args[nargs + i];
    }
    if (!as_ssize(args[0], &lead_shingles) || !as_ssize(args[1], &stray) || !as_ssize(args[2], &mask) ||
        !as_ssize(args[3], &kept) || !as_ssize(args[6], &d) ||
        (start_arg != NULL && !as_ssize(start_arg, &start)))
        return NULL;
    if (resync_arg != NULL && (resync = PyObject_IsTrue(resync_arg)) < 0)
        return NULL;
    sequence = args[4];
    other = args[5];
    if (!PyBytes_Check(sequence) || !PyBytes_Check(other)) {
        PyErr_Format(PyExc_TypeError, "sequence and other must be bytes, not %.100s and %.100s",
                     Py_TYPE(sequence)->tp_name, Py_TYPE(other)->tp_name);
        return NULL;
    }
    if (lead_shingles < 0 || stray < 0 || mask < 0 || mask >= 0xff) {
        PyErr_SetString(PyExc_ValueError, "lead_shingles and stray must be >= 0, mask in 0..0xfe");
        return NULL;
    }
    const unsigned char *seq = (const unsigned char *)PyBytes_AS_STRING(sequence);
    const unsigned char *oth = (const unsigned char *)PyBytes_AS_STRING(other);
    Py_ssize_t n = PyBytes_GET_SIZE(sequence), size = PyBytes_GET_SIZE(other);
    /* head, tail = other[:lead_shingles], other[lead_shingles:] */
    Py_ssize_t head = size < lead_shingles ? size : lead_shingles;
    const unsigned char *tail = oth + head;
    Py_ssize_t tail_len = size - head;
    Py_ssize_t agree = 0, compared = 0;
    int last = 0; /* the shingles before the first kept one agree as the last one compared did */

    /* within the other's lead: this side's shingles lo..hi-1, each agreeing when the other's
     * lead holds its value at its place + d, within `stray` (`_agree_in_place`) */
    __int128 lo = (__int128)start > -(__int128)d ? (__int128)start : -(__int128)d;
    __int128 hi = (__int128)n < (__int128)head - d ? (__int128)n : (__int128)head - d;
    if (hi > lo) {
        compared = (Py_ssize_t)(hi - lo); /* <= head, as lo >= -d */
        /* sequence[lo:hi] as Python slices it: fewer than `compared` where lo < 0 */
        __int128 a = lo < 0 ? (lo + n < 0 ? 0 : lo + n) : lo;
        __int128 b = hi < 0 ? (hi + n < 0 ? 0 : hi + n) : hi;
        Py_ssize_t first = (Py_ssize_t)a, count = b > a ? (Py_ssize_t)(b - a) : 0;
        Py_ssize_t base = (Py_ssize_t)(lo + d); /* head[lo + d:]: 0 <= base < head */
        const unsigned char *h = oth + base;
        Py_ssize_t h_len = head - base;
        for (Py_ssize_t t = 0; t < count; t++) {
            unsigned char value = (unsigned char)(seq[first + t] & mask);
            Py_ssize_t j = t > stray ? t - stray : 0;
            Py_ssize_t j_end = h_len - t <= stray ? h_len : t + stray + 1;
            int found = 0;
            for (; j < j_end; j++) {
                if (h[j] == value) {
                    found = 1;
                    break;
                }
            }
            agree += found;
            if (t == compared - 1) /* the top bit of Python's `compared`-byte mask */
                last = found;
        }
    }

    /* past the other's lead: this side's kept shingles against the tail's values, in order */
    __int128 past = (__int128)start > (__int128)lead_shingles - d ? (__int128)start
                                                                  : (__int128)lead_shingles - d;
    if (past < n) { /* range(past, len(sequence)) is not empty */
        if (past < -(__int128)n) {
            PyErr_SetString(PyExc_IndexError, "index out of range"); /* sequence[past] */
            return NULL;
        }
        Py_ssize_t i = (Py_ssize_t)past, since = i, rank = 0;
        int broke = 0;
        for (; i < n; i++) {
            unsigned char byte = seq[i < 0 ? i + n : i];
            if (!(byte & kept))
                continue;
            if (rank >= tail_len) {
                broke = 1;
                break;
            }
            Py_ssize_t value = byte & mask;
            int found = tail[rank] == value;
            if (!found && resync) { /* kept on one side only (an edit): one place off from here on */
                if (rank - 1 >= 0 && tail[rank - 1] == value) { /* rank - 1 first, as in Python */
                    rank -= 1;
                    found = 1;
                } else if (rank + 1 < tail_len && tail[rank + 1] == value) {
                    rank += 1;
                    found = 1;
                }
            }
            /* the shingles not kept before this one agree if it and the one before agree */
            compared += i + 1 - since;
            if (found)
                agree += last ? i + 1 - since : 1;
            rank += 1;
            since = i + 1;
            last = found;
        }
        if (!broke && rank) { /* the for's else: the shingles after this side's last kept one */
            compared += n - since;
            if (last)
                agree += n - since;
        }
    }
    return Py_BuildValue("nn", agree, compared);
}

/* For the tests: the probes per shingle the unkeyed count may take (< 0: none, straight to the
 * keyed count); returns the previous limit. */
static PyObject *set_probe_limit(PyObject *self, PyObject *arg) {
    (void)self;
    Py_ssize_t limit = PyLong_AsSsize_t(arg);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t previous = probe_limit;
    probe_limit = limit;
    return PyLong_FromSsize_t(previous);
}

static PyObject *get_keyed_counts(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromSsize_t(keyed_counts);
}

static PyMethodDef methods[] = {
    {"shingle_hashes", shingle_hashes, METH_VARARGS,
     "shingle_hashes(tokens, k, seed, sequence_count) -> (hashes, distinct, low, second, count)\n\n"
     "Word k-shingles of `tokens` (bytes, joined by one space), hashed: see the module's source."},
    {"set_probe_limit", set_probe_limit, METH_O,
     "set_probe_limit(per_shingle) -> previous: the distinct count's probe limit (tests only)"},
    {"keyed_counts", get_keyed_counts, METH_NOARGS,
     "keyed_counts() -> how many distinct counts fell back to the keyed hash in this process"},
    {"sequence", sequence, METH_VARARGS,
     "sequence(low, second, lead, rest, keep_below, first, mask, kept) -> bytes\n\n"
     "worker/dedup/fingerprint.py's `_assembled`, compiled: see the module's source."},
    {"bands", bands, METH_VARARGS,
     "bands(packed, bands, rows, tag) -> list of 8-byte digests\n\n"
     "worker/dedup/fingerprint.py's `_bands_in_python`, compiled: see the module's source."},
    {"pack_opening", pack_opening, METH_VARARGS,
     "pack_opening(values, bits) -> bytes\n\n"
     "worker/dedup/fingerprint.py's `_pack_opening_in_python`, compiled: see the module's source."},
    {"prefixes", prefixes, METH_VARARGS,
     "prefixes(items, width) -> bytes: the first `width` bytes of each bytes object, joined"},
    {"mapped", (PyCFunction)(void (*)(void))mapped, METH_FASTCALL | METH_KEYWORDS,
     "mapped(lead_shingles, stray, mask, kept, sequence, other, d, start=0, *, resync=True)"
     " -> (agreeing, compared)\n\n"
     "worker/dedup/fingerprint.py's `_mapped_in_python`, compiled: see the module's source."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_shingles",
    "The fingerprint stage's shingle hashing and opening comparison, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__shingles(void) { return PyModule_Create(&module); }
