/*
 * sfmpi-csv2h5: one column of a CSV file as an HDF5 ID dataset, for PSI (sfmpi csv2h5).
 *
 *   sfmpi-csv2h5 --column NAME|INDEX --out FILE.h5 [--dataset ids]
 *                [--type int64|bytes:L|string:L] [--hash] [--trim] [--lower]
 *                [--skip-empty] [--no-header] [--delimiter C] [--block R] INPUT.csv|-
 *
 * Input: RFC 4180 CSV. Fields are separated by the delimiter (default ','), records by
 * LF or CRLF (a CR not before LF or the end is an ordinary character). A field may be
 * quoted ("..."): inside, the delimiter, CR and LF are literal and "" is one quote. A quote
 * in an unquoted field, anything but a delimiter or line end after a closing quote, an
 * unterminated quoted field, a record with a different number of fields than the first
 * (the header, by default; a blank line is a record of one empty field) and a field over
 * 1 MiB are errors. A UTF-8 byte order mark at the start is skipped. Line numbers are
 * physical lines, 1-based, of the record's start.
 *
 * Column: a header name (exact match; a name appearing twice is an error) or a 1-based
 * index (all digits: an index, even if a header has such a name).
 *
 * Value: --trim removes leading and trailing blanks (space, tab), --lower makes ASCII
 * letters lower case. Then an empty value is an error, or skipped and counted with
 * --skip-empty. Output types:
 *   int64      int64 [n]: an optional sign and decimal digits, nothing else; out of range
 *              or not a number is an error naming file, line, column and value;
 *   bytes:L    uint8 [n, L]: the value's bytes, zero-padded to L (longer is an error);
 *   string:L   H5T_C_S1 of L bytes, NUL-padded (longer, or a NUL byte in it, is an error);
 *   --hash     the SHA-256 of the value, uint8 [n, 32] (--type bytes:32, the default with
 *              --hash), e.g. for e-mail addresses with --trim --lower.
 *
 * Output: written in blocks of --block rows into a growing dataset under a temporary
 * name, renamed into place only when the whole input converted (io/h5out): any error
 * leaves no output file. Memory: one block plus one field. A summary goes to stderr:
 * rows written, values skipped. Exit status 0, 1 (bad input or output failure), 2 (usage).
 */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5out.h"

#define ME "sfmpi-csv2h5"
#define MAX_FIELD ((size_t)1 << 20)
#define MAX_WIDTH 4096
#define DEFAULT_BLOCK 65536

typedef enum { T_INT64, T_BYTES, T_STRING } out_type;

typedef struct {
    const char *in, *out, *column, *dataset, *type_text;
    out_type type;
    int64_t width;
    int hash, trim, lower, skip_empty, header;
    char delim;
    int64_t block;
} options;

/* ---------------------------------------------------------------- reading */

typedef struct {
    FILE *f;
    const char *name;
    unsigned char buf[65536];
    size_t pos, len;
    int eof, err;
    int64_t line; /* physical line of the next character */
} reader;

static int next_char(reader *r) {
    if (r->pos == r->len) {
        if (r->eof) return EOF;
        r->len = fread(r->buf, 1, sizeof r->buf, r->f);
        r->pos = 0;
        if (r->len == 0) {
            r->eof = 1;
            r->err = ferror(r->f);
            return EOF;
        }
    }
    int c = r->buf[r->pos++];
    if (c == '\n') r->line++;
    return c;
}

static int peek_char(reader *r) {
    int c = next_char(r);
    if (c != EOF) {
        r->pos--;
        if (c == '\n') r->line--;
    }
    return c;
}

typedef struct {
    char *s;
    size_t len, cap;
} strbuf;

static int sb_put(strbuf *b, char c) {
    if (b->len + 1 >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        char *s = realloc(b->s, cap);
        if (!s) return -1;
        b->s = s;
        b->cap = cap;
    }
    b->s[b->len++] = c;
    b->s[b->len] = 0;
    return 0;
}

/* One record: the fields' values are handed to `on_field` one by one. */
typedef struct converter converter;
static int on_field(converter *cv, int64_t col, char *v, size_t n);
static int on_record(converter *cv, int64_t nfields);

struct converter {
    const options *o;
    reader rd;
    strbuf field, value;        /* the current field; the target's value of this record */
    int blank;                  /* the current record is an empty line */
    int64_t rec_line;           /* line where the current record began */
    int64_t ncols;              /* fields per record (0: not known yet) */
    int64_t target;             /* 1-based column, 0: by name, resolved from the header */
    int in_header;
    char **names;               /* the header's names */
    int64_t nnames;
    h5out_file *file;
    h5out_dset *ds;
    unsigned char *block;
    int64_t nblock, written, skipped;
    char err[8192];
};

static void show_value(char *dst, size_t cap, const char *v, size_t n) {
    size_t o = 0;
    dst[o++] = '"';
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)v[i];
        if (i == 60) {
            o += (size_t)snprintf(dst + o, cap - o, "...");
            break;
        }
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(dst + o, cap - o, "\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    dst[o++] = '"';
    dst[o] = 0;
}

/* "FILE line N, column C (name): " then the message. */
static int fail_at(converter *cv, int64_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(converter *cv, int64_t col, const char *fmt, ...) {
    size_t o = (size_t)snprintf(cv->err, sizeof cv->err, "%s line %" PRId64, cv->o->in,
                                cv->rec_line);
    if (col > 0 && o < sizeof cv->err) {
        o += (size_t)snprintf(cv->err + o, sizeof cv->err - o, ", column %" PRId64, col);
        if (col <= cv->nnames && o < sizeof cv->err)
            o += (size_t)snprintf(cv->err + o, sizeof cv->err - o, " (%s)", cv->names[col - 1]);
    }
    if (o < sizeof cv->err) o += (size_t)snprintf(cv->err + o, sizeof cv->err - o, ": ");
    if (o < sizeof cv->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cv->err + o, sizeof cv->err - o, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_line_end(reader *r, int c) {
    if (c == '\n') return 1;
    if (c == '\r') {
        int d = peek_char(r);
        if (d == '\n') next_char(r);
        if (d == '\n' || d == EOF) return 1;
    }
    return 0;
}

static int end_field(converter *cv, int64_t *col) {
    char empty[1] = "";
    int rc = on_field(cv, *col, cv->field.s ? cv->field.s : empty, cv->field.len);
    cv->field.len = 0;
    if (cv->field.s) cv->field.s[0] = 0;
    (*col)++;
    return rc;
}

static int add_char(converter *cv, int64_t col, int c) {
    if (cv->field.len >= MAX_FIELD)
        return fail_at(cv, col, "a field longer than %zu bytes", MAX_FIELD);
    if (sb_put(&cv->field, (char)c) != 0) return fail_at(cv, col, "out of memory");
    return 0;
}

/* Parse the whole input, calling on_field/on_record. */
static int parse(converter *cv) {
    reader *r = &cv->rd;
    enum { START, UNQUOTED, QUOTED, AFTER_QUOTE } st = START;
    int64_t col = 1, quote_line = 0;
    int at_record_start = 1;
    /* a UTF-8 byte order mark */
    if (peek_char(r) == 0xEF && r->len - r->pos >= 3 && r->buf[r->pos + 1] == 0xBB &&
        r->buf[r->pos + 2] == 0xBF)
        r->pos += 3;
    for (;;) {
        if (at_record_start) {
            cv->rec_line = r->line;
            cv->blank = 1;
        }
        int c = next_char(r);
        if (c != '\n' && c != '\r') cv->blank = 0;
        if (c == EOF && r->err) {
            snprintf(cv->err, sizeof cv->err, "%s: read error after line %" PRId64, cv->o->in, r->line);
            return -1;
        }
        if (c == EOF && at_record_start) return 0;
        at_record_start = 0;
        switch (st) {
        case START:
        case UNQUOTED:
            if (c == EOF || is_line_end(r, c)) {
                if (end_field(cv, &col) || on_record(cv, col - 1)) return -1;
                if (c == EOF) return 0;
                col = 1;
                st = START;
                at_record_start = 1;
            } else if (c == cv->o->delim) {
                if (end_field(cv, &col)) return -1;
                st = START;
            } else if (c == '"') {
                if (st == UNQUOTED)
                    return fail_at(cv, col, "a quote inside an unquoted field (quote the whole "
                                            "field and double the quote: \"a\"\"b\")");
                st = QUOTED;
                quote_line = r->line;
            } else {
                if (add_char(cv, col, c)) return -1;
                st = UNQUOTED;
            }
            break;
        case QUOTED:
            if (c == EOF) {
                cv->rec_line = quote_line;
                return fail_at(cv, col, "unterminated quoted field (it begins on this line)");
            }
            if (c == '"')
                st = AFTER_QUOTE;
            else if (add_char(cv, col, c))
                return -1;
            break;
        case AFTER_QUOTE:
            if (c == '"') {
                if (add_char(cv, col, '"')) return -1;
                st = QUOTED;
            } else if (c == cv->o->delim) {
                if (end_field(cv, &col)) return -1;
                st = START;
            } else if (c == EOF || is_line_end(r, c)) {
                if (end_field(cv, &col) || on_record(cv, col - 1)) return -1;
                if (c == EOF) return 0;
                col = 1;
                st = START;
                at_record_start = 1;
            } else {
                char shown[16];
                show_value(shown, sizeof shown, (const char *)&(char){(char)c}, 1);
                return fail_at(cv, col, "%s after the closing quote of a quoted field", shown);
            }
            break;
        }
    }
}

/* ---------------------------------------------------------------- converting */

static int flush_block(converter *cv) {
    if (!cv->nblock) return 0;
    if (h5out_write(cv->ds, cv->written, cv->nblock, cv->block, cv->err, sizeof cv->err)) return -1;
    cv->written += cv->nblock;
    cv->nblock = 0;
    return 0;
}

static int parse_int64(const char *v, size_t n, int64_t *out, int *range) {
    size_t i = 0;
    int neg = 0;
    *range = 0;
    if (i < n && (v[i] == '+' || v[i] == '-')) neg = v[i++] == '-';
    if (i == n) return -1;
    uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        unsigned d = (unsigned)(v[i] - '0');
        if (acc > (lim - d) / 10) *range = 1;
        else acc = acc * 10 + d;
    }
    if (*range) return -1;
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* v: the field buffer (or "" when n is 0), modified in place by --lower. */
static int convert_value(converter *cv, int64_t col, char *v, size_t n) {
    const options *o = cv->o;
    if (o->trim) {
        while (n && (*v == ' ' || *v == '\t')) v++, n--;
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    }
    if (o->lower)
        for (size_t i = 0; i < n; i++)
            if (v[i] >= 'A' && v[i] <= 'Z') v[i] = (char)(v[i] - 'A' + 'a');
    if (n == 0) {
        if (o->skip_empty) {
            cv->skipped++;
            return 0;
        }
        return fail_at(cv, col, "empty value (--skip-empty skips such rows)");
    }
    size_t rb = h5out_rowbytes(cv->ds);
    unsigned char *dst = cv->block + (size_t)cv->nblock * rb;
    char shown[200];
    if (o->hash) {
        crypto_hash_sha256(dst, (const unsigned char *)v, n);
    } else if (o->type == T_INT64) {
        int64_t x;
        int range;
        if (parse_int64(v, n, &x, &range)) {
            show_value(shown, sizeof shown, v, n);
            return fail_at(cv, col, range ? "%s is out of the int64 range"
                                          : "%s is not an int64 (an optional sign and decimal digits)",
                           shown);
        }
        memcpy(dst, &x, 8);
    } else {
        if ((int64_t)n > o->width) {
            show_value(shown, sizeof shown, v, n);
            return fail_at(cv, col, "a value of %zu bytes is longer than %" PRId64
                                    " (--type %s): %s", n, o->width, o->type_text, shown);
        }
        if (o->type == T_STRING && memchr(v, 0, n))
            return fail_at(cv, col, "a NUL byte in the value (--type %s cannot hold it)", o->type_text);
        memcpy(dst, v, n);
        memset(dst + n, 0, rb - n);
    }
    if (++cv->nblock == o->block) return flush_block(cv);
    return 0;
}

static int64_t find_column(converter *cv) {
    const char *want = cv->o->column;
    int64_t found = 0;
    for (int64_t i = 0; i < cv->nnames; i++)
        if (!strcmp(cv->names[i], want)) {
            if (found)
                return fail_at(cv, 0, "column \"%s\" appears twice in the header (columns %" PRId64
                                      " and %" PRId64 "); give its index", want, found, i + 1);
            found = i + 1;
        }
    if (!found) {
        size_t o = (size_t)snprintf(cv->err, sizeof cv->err,
                                    "%s line %" PRId64 ": column \"%s\" is not in the header (",
                                    cv->o->in, cv->rec_line, want);
        for (int64_t i = 0; i < cv->nnames && o < sizeof cv->err - 8; i++)
            o += (size_t)snprintf(cv->err + o, sizeof cv->err - o, "%s\"%s\"", i ? ", " : "",
                                  cv->names[i]);
        if (o < sizeof cv->err) snprintf(cv->err + o, sizeof cv->err - o, ")");
        return -1;
    }
    return found;
}

static int on_field(converter *cv, int64_t col, char *v, size_t n) {
    if (cv->in_header) {
        char **nn = realloc(cv->names, (size_t)(cv->nnames + 1) * sizeof *nn);
        if (nn) cv->names = nn;
        if (!nn || !(nn[cv->nnames] = strndup(v, n))) return fail_at(cv, col, "out of memory");
        cv->nnames++;
        return 0;
    }
    if (col != cv->target) return 0;
    cv->value.len = 0;
    for (size_t i = 0; i < n; i++)
        if (sb_put(&cv->value, v[i])) return fail_at(cv, col, "out of memory");
    return 0;
}

static int on_record(converter *cv, int64_t nfields) {
    if (cv->ncols == 0) {
        cv->ncols = nfields;
    } else if (nfields != cv->ncols) {
        return fail_at(cv, 0, "%" PRId64 " field%s, but the %s has %" PRId64 "%s", nfields,
                       nfields == 1 ? "" : "s", cv->o->header ? "header" : "first record",
                       cv->ncols, cv->blank ? " (a blank line)" : "");
    }
    int was_header = cv->in_header;
    if (cv->in_header) {
        cv->in_header = 0;
        if (cv->target == 0) {
            int64_t t = find_column(cv);
            if (t < 0) return -1;
            cv->target = t;
        }
    }
    if (cv->target > cv->ncols)
        return fail_at(cv, 0, "--column %s, but the %s has %" PRId64 " column%s", cv->o->column,
                       cv->o->header ? "header" : "first record", cv->ncols,
                       cv->ncols == 1 ? "" : "s");
    if (was_header) return 0;
    char empty[1] = "";
    return convert_value(cv, cv->target, cv->value.len ? cv->value.s : empty, cv->value.len);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f) {
    fprintf(f,
            "usage: sfmpi csv2h5 --column NAME|INDEX --out FILE.h5 [options] INPUT.csv|-\n"
            "Writes one column of an RFC 4180 CSV file (quoted fields, \"\" escapes, LF or CRLF)\n"
            "as an HDF5 ID dataset for PSI, in blocks, atomically (no output on any error).\n"
            "\n"
            "  --column C        the column: a header name, or a 1-based index (all digits)\n"
            "  --out FILE.h5     the output file (replaced atomically)\n"
            "  --dataset NAME    the dataset (default ids)\n"
            "  --type T          int64 (default; strict decimal), bytes:L (uint8 [n, L],\n"
            "                    zero-padded) or string:L (fixed-length, NUL-padded); a longer\n"
            "                    value is an error\n"
            "  --hash            store the SHA-256 of each value (uint8 [n, 32]; --type bytes:32)\n"
            "  --trim            remove leading and trailing spaces and tabs\n"
            "  --lower           ASCII letters to lower case (e.g. e-mail addresses)\n"
            "  --skip-empty      skip rows whose value is empty (counted), instead of failing\n"
            "  --no-header       the first line is data, not column names\n"
            "  --delimiter C     the field separator (default ,)\n"
            "  --block R         rows per written block (default %d)\n"
            "  --help            this text\n"
            "\n"
            "Errors name the file, line and column. A summary line goes to stderr.\n"
            "Example: sfmpi csv2h5 --column email --trim --lower --hash --out alice.h5 customers.csv\n",
            DEFAULT_BLOCK);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, ME ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return 2;
}

static int parse_type(options *o) {
    const char *s = o->type_text;
    if (!strcmp(s, "int64")) {
        o->type = T_INT64;
        return 0;
    }
    int b = !strncmp(s, "bytes:", 6), st = !strncmp(s, "string:", 7);
    if (!b && !st) return usage_error("--type %s: expected int64, bytes:L or string:L", s);
    const char *num = s + (b ? 6 : 7);
    char *end;
    errno = 0;
    long long w = strtoll(num, &end, 10);
    if (!*num || *end || errno || w < 1 || w > MAX_WIDTH)
        return usage_error("--type %s: L must be a whole number from 1 to %d", s, MAX_WIDTH);
    o->type = b ? T_BYTES : T_STRING;
    o->width = w;
    return 0;
}

static int parse_options(options *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (o->in) return usage_error("more than one input file (%s and %s)", o->in, a);
            o->in = a;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        }
        int *flag = !strcmp(a, "--hash")         ? &o->hash
                    : !strcmp(a, "--trim")       ? &o->trim
                    : !strcmp(a, "--lower")      ? &o->lower
                    : !strcmp(a, "--skip-empty") ? &o->skip_empty
                                                 : NULL;
        if (flag) {
            *flag = 1;
            continue;
        }
        if (!strcmp(a, "--no-header")) {
            o->header = 0;
            continue;
        }
        const char *eq = strchr(a, '='), *val = NULL;
        size_t ol = eq ? (size_t)(eq - a) : strlen(a);
        static const char *const known[] = {"--column", "--out", "--dataset", "--type",
                                            "--delimiter", "--block"};
        int k = 0;
        while (k < 6 && (strlen(known[k]) != ol || strncmp(a, known[k], ol))) k++;
        if (k == 6) return usage_error("unknown option %s", a);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return usage_error("%s needs a value", known[k]);
        switch (k) {
        case 0: o->column = val; break;
        case 1: o->out = val; break;
        case 2: o->dataset = val; break;
        case 3: o->type_text = val; break;
        case 4:
            if (strlen(val) != 1 || val[0] == '"' || val[0] == '\r' || val[0] == '\n')
                return usage_error("--delimiter %s: expected one character other than a quote, CR or LF",
                                   val);
            o->delim = val[0];
            break;
        case 5: {
            char *end;
            errno = 0;
            long long b = strtoll(val, &end, 10);
            if (!*val || *end || errno || b < 1 || b > (1 << 24))
                return usage_error("--block %s: expected a whole number from 1 to %d", val, 1 << 24);
            o->block = b;
            break;
        }
        }
    }
    if (!o->in) return usage_error("no input file (a CSV file, or - for standard input)");
    if (!o->out || !*o->out) return usage_error("--out FILE.h5 is required");
    if (!o->column || !*o->column) return usage_error("--column NAME|INDEX is required");
    if (!*o->dataset) return usage_error("--dataset: empty name");
    if (o->hash && !o->type_text) o->type_text = "bytes:32";
    if (!o->type_text) o->type_text = "int64";
    if (parse_type(o)) return 2;
    if (o->hash && !(o->type == T_BYTES && o->width == 32))
        return usage_error("--hash stores 32-byte SHA-256 digests: use --type bytes:32, not %s",
                           o->type_text);
    return 0;
}

int main(int argc, char **argv) {
    options o = {.dataset = "ids", .header = 1, .delim = ',', .block = DEFAULT_BLOCK};
    h5out_remove_on_signals();
    int rc = parse_options(&o, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    converter cv;
    memset(&cv, 0, sizeof cv);
    cv.o = &o;
    cv.rd.name = o.in;
    cv.rd.line = 1;
    cv.in_header = o.header;
    const char *c = o.column;
    size_t digits = strspn(c, "0123456789");
    if (c[digits] == 0) {
        char *end;
        errno = 0;
        long long t = strtoll(c, &end, 10);
        if (errno || t < 1) return usage_error("--column %s: an index counts from 1", c);
        cv.target = t;
    } else if (!o.header) {
        return usage_error("--column %s: a name needs a header line (drop --no-header, or give "
                           "the column's index)", c);
    }
    if (sodium_init() < 0) {
        fprintf(stderr, ME ": libsodium failed to initialise\n");
        return 1;
    }
    cv.rd.f = strcmp(o.in, "-") ? fopen(o.in, "rb") : stdin;
    if (!cv.rd.f) {
        fprintf(stderr, ME ": %s: cannot open: %s\n", o.in, strerror(errno));
        return 1;
    }
    if (!strcmp(o.in, "-")) o.in = "(standard input)";
    rc = 1;
    cv.file = h5out_create(o.out, cv.err, sizeof cv.err);
    if (cv.file)
        cv.ds = h5out_dataset(cv.file, o.dataset, o.type == T_INT64 ? H5OUT_INT64
                                                  : o.type == T_BYTES ? H5OUT_BYTES
                                                                       : H5OUT_STRING,
                              o.type == T_INT64 ? 0 : o.width, -1, cv.err, sizeof cv.err);
    if (cv.ds && !(cv.block = malloc((size_t)o.block * h5out_rowbytes(cv.ds))))
        snprintf(cv.err, sizeof cv.err, "out of memory for a block of %" PRId64 " rows", o.block);
    if (cv.block && parse(&cv) == 0 && flush_block(&cv) == 0) {
        if (o.header && cv.in_header)
            snprintf(cv.err, sizeof cv.err, "%s: no header line (the file is empty)", o.in);
        else if (h5out_attr(cv.ds, "program", ME, cv.err, sizeof cv.err) == 0 &&
                 h5out_attr(cv.ds, "source", o.in, cv.err, sizeof cv.err) == 0 &&
                 h5out_attr(cv.ds, "column", o.column, cv.err, sizeof cv.err) == 0 &&
                 h5out_attr(cv.ds, "type", o.type_text, cv.err, sizeof cv.err) == 0 &&
                 h5out_attr(cv.ds, "transform",
                            o.hash ? (o.trim ? (o.lower ? "trim,lower,sha256" : "trim,sha256")
                                             : (o.lower ? "lower,sha256" : "sha256"))
                                   : (o.trim ? (o.lower ? "trim,lower" : "trim")
                                             : (o.lower ? "lower" : "none")),
                            cv.err, sizeof cv.err) == 0 &&
                 h5out_commit(&cv.file, cv.err, sizeof cv.err) == 0)
            rc = 0;
    }
    if (rc == 0) {
        char col[64] = "";
        if (cv.target <= cv.nnames) snprintf(col, sizeof col, " (%s)", cv.names[cv.target - 1]);
        fprintf(stderr,
                ME ": wrote %" PRId64 " rows (%s%s) to %s dataset \"%s\" from %s column %" PRId64
                   "%s; %" PRId64 " empty value%s skipped\n",
                cv.written, o.type_text, o.hash ? ", SHA-256" : "", o.out, o.dataset, o.in,
                cv.target, col, cv.skipped, cv.skipped == 1 ? "" : "s");
    } else {
        fprintf(stderr, ME ": %s\n", cv.err);
    }
    h5out_abort(&cv.file);
    if (cv.rd.f != stdin) fclose(cv.rd.f);
    for (int64_t i = 0; i < cv.nnames; i++) free(cv.names[i]);
    free(cv.names);
    free(cv.field.s);
    free(cv.value.s);
    free(cv.block);
    return rc;
}
