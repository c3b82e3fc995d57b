/*
 * worker.normalize._text_passes: character passes of the normalize stage, compiled (used by
 * worker/normalize/text.py, arabic.py and normal_forms.py).
 *
 * Each function returns exactly what its Python counterpart returns, for any str
 * (tests/unit/normalize/test_text_passes_compiled.py, test_arabic.py and test_normal_forms.py
 * compare them on generated text and every BMP character, and bench/check_identical.py on whole
 * corpora); each module uses them only when they agree on its probe texts at import, or exist
 * (an extension left over from an older source falls back to the Python).
 *
 * collapse_lines(s)
 *     "\n".join(" ".join(line.split()) for line in s.split("\n") if line.split()):
 *     the text's non-empty lines, each with its whitespace runs (str.split's: Py_UNICODE_ISSPACE)
 *     collapsed to one space and stripped (`_lines`, joined).
 *
 * fix_spacing(s)
 *     `_fix_spacing`: its rules in its order, each pass over the previous pass' output:
 *       1. delete a space right before "،", "؛" or "؟";
 *       2. " ," followed by whitespace or the end -> ",";  3. the same for " .";
 *       4. delete every space of a run of spaces that follows "(", "[" or "{" or precedes ")",
 *          "]" or "}" (the Python loops replace to a fixed point);
 *       5. a space after "،" or "؛" before a word character (re's \w: Py_UNICODE_ISALNUM or "_"),
 *          after "," between two letters (re's [^\W\d_]: alphanumeric, not a decimal digit)
 *          of scripts written with spaces (not in chinese.UNSPACED_RANGES), the one before it
 *          after a character that is no Py_UNICODE_ISSPACE, where its token (between
 *          Py_UNICODE_ISSPACE characters) holds not both a "/" and a "." before two lowercase
 *          ASCII letters or digits (a URL), and
 *          after ":" between two Arabic letters (U+0621-U+064A). These look at the pass' input
 *          only, as one re.sub does, and cannot affect each other: a space is only inserted
 *          before a letter, and none of them looks at a letter's left neighbours but ",", ":".
 *     Rules 1 to 3 each only delete a space before their mark: deleting one never makes or
 *     unmakes a match of another mark of the same rule, so each rule is one pass; rules 2 and 3
 *     stay two passes (" . , x": rule 2 changes what follows the period).
 *
 * chars_in(s, bits)
 *     set(CLASS.findall(s)) for a one-character class that `bits` (one bit per BMP code point,
 *     built at import by running the class over every BMP character) holds: `_clean_pass`'s scan
 *     for the characters its rules act on.
 *
 * fold_chars(s, image)
 *     s.translate(table) for a table of single characters to one BMP character or to None, given
 *     as an image of the code points below len(image) / 2 (two bytes each, little-endian: the
 *     character itself where it is kept, DELETED (0xFFFF) where it goes, else what it becomes);
 *     characters past the image are kept. `s` itself where nothing changes.
 *     worker/normalize/arabic.py's fold_for_match.
 *
 * reorder_marks(s, table)
 *     The form of `s` where every character is sure in it (below): each run of marks (combining
 *     class not 0) sorted by class, stably (Unicode's canonical ordering; a sure character
 *     composes with nothing and is not changed on its own, so ordering is all the form does to
 *     such text). None where a character is unsure or outside the BMP, or a run is longer than
 *     MAX_REORDERED_RUN: the full normalization decides.
 *
 * surely_normal(s, table)
 *     True where UAX #15's quick check says Yes from the tables given (below): `s` is then in the
 *     normal form they were made for. False where it might not be: the full check decides
 *     (worker/normalize/normal_forms.py).
 *
 * may_break(s)
 *     False where `_BREAK_RE` (text.py's sentence breaks) cannot match anywhere in `s`, so that
 *     `_paragraphs` skips its scan (a regex that starts with a class of four characters reads
 *     every character; ~4 in 100 real articles have a break). A match needs a terminator
 *     (".", "!", "?", "؟"), any closing quotes or brackets after it, then a comma (spaces and
 *     tabs may come first) or a character that is not whitespace, a decimal digit or another
 *     terminator: True wherever that is so (a superset of the matches; the regex decides).
 *
 * cp1256_key(s, image)
 *     `_key_cp1256`'s b" ".join(s.encode("cp1256").translate(table, delete).split())
 *     .decode("cp1256") in one pass, or None where s does not encode. `image` (bytes, two per
 *     BMP code point, little-endian) says per character: not encodable (0xFFFF), deleted
 *     (0xFFFE), a separator (0xFFFD: what the translation maps to bytes whitespace), else the
 *     character it becomes. text.py builds it from the codec and the translation at import.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define IMAGE_NONE 0xFFFF
#define IMAGE_DELETE 0xFFFE
#define IMAGE_SEPARATOR 0xFFFD

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The loops below are written once for any string kind and instantiated per kind (1, 2 and 4
   bytes per character) by DISPATCH: with the kind a constant, PyUnicode_READ's switch folds
   away, which halves their cost on Arabic (two-byte) text. */
#define DISPATCH(kind, call_1, call_2, call_4) \
    ((kind) == PyUnicode_1BYTE_KIND ? (call_1) : (kind) == PyUnicode_2BYTE_KIND ? (call_2) : (call_4))

/* str.split's whitespace (Py_UNICODE_ISSPACE) for the BMP, one bit per code point, filled from
   Py_UNICODE_ISSPACE itself when the module loads: a lookup instead of a call per character. */
static unsigned char space_bits[0x10000 / 8];

static void fill_space_bits(void) {
    for (Py_UCS4 c = 0; c < 0x10000; c++)
        if (Py_UNICODE_ISSPACE(c)) space_bits[c >> 3] |= (unsigned char)(1u << (c & 7));
}

ALWAYS_INLINE int is_space(Py_UCS4 c) {
    return c < 0x10000 ? (space_bits[c >> 3] >> (c & 7)) & 1 : Py_UNICODE_ISSPACE(c);
}

/* Parses (s, table) for the functions that read a table of an exact size (`format`: "Uy*:name"):
   0 with the buffer held (the caller releases it), or -1 with the error set and nothing held. */
static int str_and_table(PyObject *args, const char *format, Py_ssize_t size, const char *refusal, PyObject **s,
                         Py_buffer *table) {
    if (!PyArg_ParseTuple(args, format, s, table)) return -1;
    if (table->len != size) {
        PyBuffer_Release(table);
        PyErr_SetString(PyExc_ValueError, refusal);
        return -1;
    }
    return 0;
}

/* A working copy of a str: its characters as UCS-4, and a second buffer of the same room. */
typedef struct {
    Py_UCS4 *a;
    Py_UCS4 *b;
    Py_ssize_t n;
} Work;

static PyObject *from_ucs4(const Py_UCS4 *buf, Py_ssize_t n) {
    return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, n);
}

/* Whether `s` is collapsed already: no whitespace but single spaces inside lines, no empty
   line (most clean text, returned as it is). */
ALWAYS_INLINE int collapsed_k(int kind, const void *data, Py_ssize_t n) {
    Py_UCS4 prev = '\n';
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == ' ') {
            if (prev == ' ' || prev == '\n') return 0;
        } else if (c == '\n') {
            if (prev == ' ' || prev == '\n') return 0;
        } else if (is_space(c)) {
            return 0;
        }
        prev = c;
    }
    return prev != ' ' && prev != '\n';
}

ALWAYS_INLINE Py_ssize_t collapse_k(int kind, const void *data, Py_ssize_t n, void *out) {
    Py_ssize_t len = 0;
    int any_line = 0; /* a line was written: the next one starts with "\n" */
    int in_line = 0;  /* this line has a word written */
    int pending = 0;  /* whitespace after a word of this line */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '\n') {
            in_line = pending = 0;
        } else if (is_space(c)) {
            pending = in_line;
        } else {
            if (!in_line) {
                if (any_line) {
                    PyUnicode_WRITE(kind, out, len, '\n');
                    len++;
                }
                any_line = in_line = 1;
            } else if (pending) {
                PyUnicode_WRITE(kind, out, len, ' ');
                len++;
            }
            pending = 0;
            PyUnicode_WRITE(kind, out, len, c);
            len++;
        }
    }
    return len;
}

static PyObject *collapse_lines(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "collapse_lines() expects a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    if (n > 0 && DISPATCH(kind, collapsed_k(1, data, n), collapsed_k(2, data, n), collapsed_k(4, data, n))) {
        Py_INCREF(arg);
        return arg;
    }
    /* the output is never longer than the input and holds only its characters, " " and "\n":
       a buffer of the input's kind fits it (PyUnicode_FromKindAndData narrows if it can) */
    void *out = PyMem_Malloc(n > 0 ? (size_t)n * (size_t)kind : 1);
    if (out == NULL) return PyErr_NoMemory();
    Py_ssize_t len =
        DISPATCH(kind, collapse_k(1, data, n, out), collapse_k(2, data, n, out), collapse_k(4, data, n, out));
    PyObject *result = PyUnicode_FromKindAndData(kind, out, len);
    PyMem_Free(out);
    return result;
}

static inline int is_word(Py_UCS4 c) { return Py_UNICODE_ISALNUM(c) || c == '_'; }

static inline int is_letter(Py_UCS4 c) { return Py_UNICODE_ISALNUM(c) && !Py_UNICODE_ISDECIMAL(c); }

/* worker/normalize/chinese.py's UNSPACED_RANGES: scripts written without spaces between words */
static inline int is_unspaced(Py_UCS4 c) {
    return (c >= 0x0E00 && c <= 0x0EFF) || (c >= 0x1000 && c <= 0x109F) || (c >= 0x1780 && c <= 0x17FF) ||
           (c >= 0x19E0 && c <= 0x19FF) || (c >= 0x3005 && c <= 0x3007) || (c >= 0x3040 && c <= 0x30FF) ||
           (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x323AF);
}

static inline int is_spaced_letter(Py_UCS4 c) { return is_letter(c) && !is_unspaced(c); }

static inline int is_url_char(Py_UCS4 c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static inline int is_arabic_letter(Py_UCS4 c) { return c >= 0x0621 && c <= 0x064A; }

static inline int is_opener(Py_UCS4 c) { return c == '(' || c == '[' || c == '{'; }

static inline int is_closer(Py_UCS4 c) { return c == ')' || c == ']' || c == '}'; }

#define AR_COMMA 0x060C
#define AR_SEMICOLON 0x061B
#define AR_QUESTION 0x061F

/* The pass' output becomes the next pass' input. */
static void swap(Work *w, Py_ssize_t len) {
    Py_UCS4 *t = w->a;
    w->a = w->b;
    w->b = t;
    w->n = len;
}

/* rule 1: no space before the Arabic comma, semicolon, question mark */
static void space_before_arabic(Work *w) {
    const Py_UCS4 *a = w->a;
    Py_ssize_t n = w->n, len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (a[i] == ' ' && i + 1 < n &&
            (a[i + 1] == AR_COMMA || a[i + 1] == AR_SEMICOLON || a[i + 1] == AR_QUESTION))
            continue;
        w->b[len++] = a[i];
    }
    swap(w, len);
}

/* rules 2 and 3: " ," (" .") followed by whitespace or the end loses its space */
static void space_before_mark(Work *w, Py_UCS4 mark) {
    const Py_UCS4 *a = w->a;
    Py_ssize_t n = w->n, len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (a[i] == ' ' && i + 1 < n && a[i + 1] == mark && (i + 2 == n || Py_UNICODE_ISSPACE(a[i + 2]))) {
            w->b[len++] = mark;
            i++;
            continue;
        }
        w->b[len++] = a[i];
    }
    swap(w, len);
}

/* rule 4: no spaces inside brackets (whole runs, as the replace-to-a-fixed-point loops do) */
static void space_in_brackets(Work *w) {
    const Py_UCS4 *a = w->a;
    Py_ssize_t n = w->n, len = 0;
    for (Py_ssize_t i = 0; i < n;) {
        if (a[i] != ' ') {
            w->b[len++] = a[i++];
            continue;
        }
        Py_ssize_t end = i;
        while (end < n && a[end] == ' ') end++;
        int drop = (i > 0 && is_opener(a[i - 1])) || (end < n && is_closer(a[end]));
        if (!drop)
            for (Py_ssize_t j = i; j < end; j++) w->b[len++] = ' ';
        i = end;
    }
    swap(w, len);
}

/* Whether a token ends between a[j - 1] and a[j]: white space, or the space this rule puts after
   "،" or "؛" before a word character (the Python rules run one after the other, so the comma
   rule sees that space). */
static inline int token_edge(const Py_UCS4 *a, Py_ssize_t j) {
    return Py_UNICODE_ISSPACE(a[j - 1]) || Py_UNICODE_ISSPACE(a[j]) ||
           ((a[j - 1] == AR_COMMA || a[j - 1] == AR_SEMICOLON) && is_word(a[j]));
}

/* Whether the token around a[i] holds a "/" and a "." before two lowercase ASCII letters or
   digits (a URL); each token is scanned once, when the first of its commas asks (`*token_end`:
   where the last token scanned ends). */
static int in_slashed_token(const Py_UCS4 *a, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *token_end, int *slashed) {
    if (i >= *token_end) {
        Py_ssize_t start = i, end = i + 1;
        while (start > 0 && !token_edge(a, start)) start--;
        while (end < n && !token_edge(a, end)) end++;
        int slash = 0, period = 0;
        for (Py_ssize_t j = start; j < end && !(slash && period); j++) {
            slash |= a[j] == '/';
            period |= a[j] == '.' && j + 2 < end && is_url_char(a[j + 1]) && is_url_char(a[j + 2]);
        }
        *slashed = slash && period;
        *token_end = end;
    }
    return *slashed;
}

/* rule 5: the spaces inserted after "،", "؛", "," and ":" */
static void space_after(Work *w) {
    const Py_UCS4 *a = w->a;
    Py_ssize_t n = w->n, len = 0, token_end = 0;
    int slashed = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = a[i];
        w->b[len++] = c;
        if (i + 1 >= n) continue;
        Py_UCS4 next = a[i + 1];
        if (c == AR_COMMA || c == AR_SEMICOLON) {
            if (is_word(next)) w->b[len++] = ' ';
        } else if (c == ',') {
            if (i > 1 && !Py_UNICODE_ISSPACE(a[i - 2]) && is_spaced_letter(a[i - 1]) && is_spaced_letter(next) &&
                !in_slashed_token(a, n, i, &token_end, &slashed))
                w->b[len++] = ' ';
        } else if (c == ':') {
            if (i > 0 && is_arabic_letter(a[i - 1]) && is_arabic_letter(next)) w->b[len++] = ' ';
        }
    }
    swap(w, len);
}

enum { RULE_AR_BEFORE = 1, RULE_COMMA = 2, RULE_PERIOD = 4, RULE_BRACKETS = 8, RULE_AFTER = 16 };

/* The rules that can change `s`, from one scan of its pairs and triples of characters: a
   rule's pattern in `s` itself, since no rule makes a pattern of a later one (each deletes a
   space before its mark, which then follows what preceded the space; or inserts one after a mark,
   before a letter). A rule set here may still find nothing to do; one not set has nothing. */
ALWAYS_INLINE int rules_k(int kind, const void *data, Py_ssize_t n) {
    int rules = 0;
    Py_UCS4 before = 0, prev = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (prev == ' ') {
            if (c == AR_COMMA || c == AR_SEMICOLON || c == AR_QUESTION) rules |= RULE_AR_BEFORE;
            else if (c == ',') rules |= RULE_COMMA;
            else if (c == '.') rules |= RULE_PERIOD;
            else if (is_closer(c)) rules |= RULE_BRACKETS;
        } else if (c == ' ' && is_opener(prev)) {
            rules |= RULE_BRACKETS;
        } else if (prev == AR_COMMA || prev == AR_SEMICOLON) {
            if (is_word(c)) rules |= RULE_AFTER;
        } else if (prev == ',') {
            if (is_letter(before) && is_letter(c)) rules |= RULE_AFTER;
        } else if (prev == ':') {
            if (is_arabic_letter(before) && is_arabic_letter(c)) rules |= RULE_AFTER;
        }
        before = prev;
        prev = c;
    }
    return rules;
}

static PyObject *fix_spacing(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "fix_spacing() expects a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    int rules = DISPATCH(kind, rules_k(1, data, n), rules_k(2, data, n), rules_k(4, data, n));
    if (!rules) {
        Py_INCREF(arg);
        return arg;
    }
    /* rule 5 inserts at most one character per input character */
    Py_ssize_t room = (rules & RULE_AFTER) ? 2 * n : n;
    Work w;
    w.a = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)(room > 0 ? room : 1));
    w.b = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)(room > 0 ? room : 1));
    if (w.a == NULL || w.b == NULL) {
        PyMem_Free(w.a);
        PyMem_Free(w.b);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) w.a[i] = PyUnicode_READ(kind, data, i);
    w.n = n;
    if (rules & RULE_AR_BEFORE) space_before_arabic(&w);
    if (rules & RULE_COMMA) space_before_mark(&w, ',');
    if (rules & RULE_PERIOD) space_before_mark(&w, '.');
    if (rules & RULE_BRACKETS) space_in_brackets(&w);
    if (rules & RULE_AFTER) space_after(&w);
    PyObject *result = from_ucs4(w.a, w.n);
    PyMem_Free(w.a);
    PyMem_Free(w.b);
    return result;
}

/* The key's characters into `out`; -1 where a character has no image (not in windows-1256). */
ALWAYS_INLINE Py_ssize_t key_k(int kind, const void *data, Py_ssize_t n, const unsigned char *map, Py_UCS2 *out) {
    Py_ssize_t len = 0;
    int pending = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c > 0xFFFF) return -1;
        Py_UCS4 to = (Py_UCS4)map[2 * c] | (Py_UCS4)map[2 * c + 1] << 8;
        if (to == IMAGE_NONE) return -1;
        if (to == IMAGE_DELETE) continue;
        if (to == IMAGE_SEPARATOR) {
            pending = len > 0;
            continue;
        }
        if (pending) out[len++] = ' ';
        pending = 0;
        out[len++] = (Py_UCS2)to;
    }
    return len;
}

static PyObject *cp1256_key(PyObject *self, PyObject *args) {
    PyObject *s;
    Py_buffer image;
    if (str_and_table(args, "Uy*:cp1256_key", 2 * 0x10000, "cp1256_key(): the image holds two bytes per BMP code point",
                      &s, &image) < 0)
        return NULL;
    const unsigned char *map = image.buf;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_UCS2 *out = PyMem_Malloc(sizeof(Py_UCS2) * (size_t)(n > 0 ? n : 1));
    if (out == NULL) {
        PyBuffer_Release(&image);
        return PyErr_NoMemory();
    }
    Py_ssize_t len = DISPATCH(
        kind, key_k(1, data, n, map, out), key_k(2, data, n, map, out), key_k(4, data, n, map, out)
    );
    PyBuffer_Release(&image);
    PyObject *result = NULL;
    if (len < 0) {
        Py_INCREF(Py_None);
        result = Py_None;
    } else {
        result = PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, out, len);
    }
    PyMem_Free(out);
    return result;
}

/* The distinct characters of `s` whose bit is set in `bits` (one bit per BMP code point; none
   outside the BMP is ever set), as a set of one-character strings. */
ALWAYS_INLINE int chars_in_k(int kind, const void *data, Py_ssize_t n, const unsigned char *bits, PyObject *found) {
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x10000 && (bits[c >> 3] >> (c & 7)) & 1) {
            PyObject *ch = PyUnicode_FromOrdinal((int)c);
            if (ch == NULL) return -1;
            int added = PySet_Add(found, ch);
            Py_DECREF(ch);
            if (added < 0) return -1;
        }
    }
    return 0;
}

static PyObject *chars_in(PyObject *self, PyObject *args) {
    PyObject *s;
    Py_buffer bits;
    if (str_and_table(args, "Uy*:chars_in", 0x10000 / 8, "chars_in(): the bitmap holds one bit per BMP code point", &s,
                      &bits) < 0)
        return NULL;
    PyObject *found = PySet_New(NULL);
    if (found == NULL) {
        PyBuffer_Release(&bits);
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    const unsigned char *map = bits.buf;
    int failed = DISPATCH(kind, chars_in_k(1, data, n, map, found), chars_in_k(2, data, n, map, found),
                          chars_in_k(4, data, n, map, found));
    PyBuffer_Release(&bits);
    if (failed) {
        Py_DECREF(found);
        return NULL;
    }
    return found;
}

#define DELETED 0xFFFF

ALWAYS_INLINE Py_ssize_t fold_first_change_k(int kind, const void *data, Py_ssize_t n, const unsigned char *image,
                                            Py_ssize_t size) {
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if ((Py_ssize_t)c < size && (Py_UCS4)(image[2 * c] | image[2 * c + 1] << 8) != c) return i;
    }
    return n;
}

ALWAYS_INLINE Py_ssize_t fold_k(int kind, const void *data, Py_ssize_t n, const unsigned char *image, Py_ssize_t size,
                                Py_ssize_t from, Py_UCS4 *out) {
    Py_ssize_t len = 0;
    for (Py_ssize_t i = 0; i < from; i++) out[len++] = PyUnicode_READ(kind, data, i);
    for (Py_ssize_t i = from; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if ((Py_ssize_t)c < size) {
            Py_UCS4 to = image[2 * c] | image[2 * c + 1] << 8;
            if (to == DELETED) continue;
            c = to;
        }
        out[len++] = c;
    }
    return len;
}

static PyObject *fold_chars(PyObject *self, PyObject *args) {
    PyObject *s;
    Py_buffer image;
    (void)self;
    if (!PyArg_ParseTuple(args, "Uy*:fold_chars", &s, &image)) return NULL;
    if (image.len % 2 != 0 || image.len > 2 * 0x10000) {
        PyBuffer_Release(&image);
        PyErr_SetString(PyExc_ValueError, "fold_chars(): the image holds two bytes per code point, at most the BMP");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), size = image.len / 2;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    const unsigned char *map = image.buf;
    Py_ssize_t first = DISPATCH(kind, fold_first_change_k(1, data, n, map, size),
                                fold_first_change_k(2, data, n, map, size), fold_first_change_k(4, data, n, map, size));
    if (first == n) {
        PyBuffer_Release(&image);
        Py_INCREF(s);
        return s;
    }
    Py_UCS4 *out = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)n);
    if (out == NULL) {
        PyBuffer_Release(&image);
        return PyErr_NoMemory();
    }
    Py_ssize_t len = DISPATCH(kind, fold_k(1, data, n, map, size, first, out), fold_k(2, data, n, map, size, first, out),
                              fold_k(4, data, n, map, size, first, out));
    PyBuffer_Release(&image);
    PyObject *result = from_ucs4(out, len);
    PyMem_Free(out);
    return result;
}

/* UAX #15's quick check, for a result of Yes only: every character in the BMP, none unsure, and
   the canonical combining classes never decreasing within a run of marks. `table` holds a byte
   per BMP code point: UNSURE (its Quick_Check is not Yes, or may not be), else its canonical
   combining class (at most 240). */
#define UNSURE 0xFF

ALWAYS_INLINE int surely_normal_k(int kind, const void *data, Py_ssize_t n, const unsigned char *table) {
    unsigned char last = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        unsigned char cls = table[c];
        if (cls != 0 && (cls == UNSURE || cls < last)) return 0;
        last = cls;
    }
    return 1;
}

/* Longest run of marks reorder_marks sorts (insertion sort: quadratic in the run). */
#define MAX_REORDERED_RUN 64

ALWAYS_INLINE int reorder_k(int kind, const void *data, Py_ssize_t n, const unsigned char *table, Py_UCS4 *out) {
    Py_ssize_t run = 0; /* marks so far in the current run, the last `run` entries of out[0..i) */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        unsigned char cls = table[c];
        if (cls == UNSURE) return 0;
        if (cls == 0) {
            run = 0;
            out[i] = c;
            continue;
        }
        if (++run > MAX_REORDERED_RUN) return 0;
        Py_ssize_t j = i; /* insert c after every mark of the run whose class is <= its own */
        while (j > i - run + 1 && table[out[j - 1]] > cls) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = c;
    }
    return 1;
}

static PyObject *reorder_marks(PyObject *self, PyObject *args) {
    PyObject *s;
    Py_buffer table;
    (void)self;
    if (str_and_table(args, "Uy*:reorder_marks", 0x10000, "reorder_marks(): the table holds one byte per BMP code point",
                      &s, &table) < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    if (kind == PyUnicode_4BYTE_KIND) { /* holds a character outside the BMP */
        PyBuffer_Release(&table);
        Py_RETURN_NONE;
    }
    Py_UCS4 *out = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)(n ? n : 1));
    if (out == NULL) {
        PyBuffer_Release(&table);
        return PyErr_NoMemory();
    }
    const void *data = PyUnicode_DATA(s);
    int done = kind == PyUnicode_1BYTE_KIND ? reorder_k(1, data, n, table.buf, out) : reorder_k(2, data, n, table.buf, out);
    PyBuffer_Release(&table);
    PyObject *result;
    if (done) {
        result = from_ucs4(out, n);
    } else {
        Py_INCREF(Py_None);
        result = Py_None;
    }
    PyMem_Free(out);
    return result;
}

static PyObject *surely_normal(PyObject *self, PyObject *args) {
    PyObject *s;
    Py_buffer table;
    (void)self;
    if (str_and_table(args, "Uy*:surely_normal", 0x10000, "surely_normal(): the table holds one byte per BMP code point",
                      &s, &table) < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    const unsigned char *map = table.buf;
    /* a four-byte string holds a character outside the BMP: not sure */
    int sure = kind == PyUnicode_1BYTE_KIND   ? surely_normal_k(1, data, n, map)
               : kind == PyUnicode_2BYTE_KIND ? surely_normal_k(2, data, n, map)
                                              : 0;
    PyBuffer_Release(&table);
    return PyBool_FromLong(sure);
}

/* `_BREAK_RE`'s terminators and closers (text.py's _CLOSERS). */
ALWAYS_INLINE int is_terminator(Py_UCS4 c) { return c == '.' || c == '!' || c == '?' || c == 0x061F; }
ALWAYS_INLINE int is_quote_closer(Py_UCS4 c) {
    return c == '"' || c == '\'' || c == 0x201D || c == 0x2019 || c == 0x00BB || c == ')' || c == ']';
}

ALWAYS_INLINE int may_break_k(int kind, const void *data, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!is_terminator(PyUnicode_READ(kind, data, i))) continue;
        Py_ssize_t j = i + 1;
        while (j < n && is_quote_closer(PyUnicode_READ(kind, data, j))) j++;
        if (j >= n) continue;
        Py_UCS4 c = PyUnicode_READ(kind, data, j);
        if (c == ' ' || c == '\t') {
            while (j < n && ((c = PyUnicode_READ(kind, data, j)) == ' ' || c == '\t')) j++;
            if (j < n && c == ',') return 1;
            continue;
        }
        if (c == '\n' || is_terminator(c) || Py_UNICODE_ISDECIMAL(c)) continue;
        return 1;
    }
    return 0;
}

static PyObject *may_break(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "may_break() takes a str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    return PyBool_FromLong(DISPATCH(kind, may_break_k(1, data, n), may_break_k(2, data, n), may_break_k(4, data, n)));
}

static PyMethodDef methods[] = {
    {"collapse_lines", collapse_lines, METH_O,
     "collapse_lines(s) -> str\n\nThe non-empty lines of `s`, whitespace collapsed, joined by \"\\n\"."},
    {"fix_spacing", fix_spacing, METH_O, "fix_spacing(s) -> str\n\nworker/normalize/text.py's _fix_spacing."},
    {"fold_chars", fold_chars, METH_VARARGS,
     "fold_chars(s, image) -> str\n\ns.translate(table) for a table of one character to one BMP character or None, as an image."},
    {"reorder_marks", reorder_marks, METH_VARARGS,
     "reorder_marks(s, table) -> str | None\n\nThe normal form of text of sure characters: its runs of marks in canonical order."},
    {"surely_normal", surely_normal, METH_VARARGS,
     "surely_normal(s, table) -> bool\n\nUAX #15's quick check, True for a result of Yes (a byte per BMP code point)."},
    {"may_break", may_break, METH_O,
     "may_break(s) -> bool\n\nFalse where worker/normalize/text.py's _BREAK_RE cannot match in `s`."},
    {"cp1256_key", cp1256_key, METH_VARARGS,
     "cp1256_key(s, image) -> str | None\n\nworker/normalize/text.py's _key_cp1256, by a per-character image."},
    {"chars_in", chars_in, METH_VARARGS,
     "chars_in(s, bits) -> set[str]\n\nThe distinct characters of `s` whose bit is set (one bit per BMP code point)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_text_passes", "Character passes of the normalize stage, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__text_passes(void) {
    fill_space_bits();
    return PyModule_Create(&module);
}
