/* lb_npy.c — the NumPy .npy format (versions 1.0, 2.0, 3.0) as plain C: parsing and checking
** the header dict, converting stored elements to the runtime's dtypes, and writing headers.
** No Lua here (see lb_io.h); nb.save / nb.load and the .npz archive are in lb_io.c.
** Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "lb_io.h"

#define HEADER_LIMIT (1u << 20)   /* NumPy's own limit is 10000 bytes; anything longer is junk */
#define CHUNK (1u << 16)

int lb_io_fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, LB_IO_ERRLEN, fmt, ap);
    va_end(ap);
    return -1;
}

static int host_big(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* ---- element codec ----------------------------------------------------------------------- */
static uint64_t load_uint(const unsigned char *p, int size, int big)
{
    uint64_t u = 0;
    for (int i = 0; i < size; i++) u |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
    return u;
}

/* IEEE binary16 -> float: normal values are (1024 + man) * 2^(exp - 25). */
static float half_to_float(uint16_t h)
{
    int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), exp - 25);
    return (h & 0x8000) ? -v : v;
}

static double load_float(uint64_t u, int size)
{
    if (size == 2) return half_to_float((uint16_t)u);
    if (size == 4) {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        return f;
    }
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Bytes (IDX images, |u1 arrays) -> f32 is the hot path of loading a data set. */
static void decode_u8_f32(const unsigned char *raw, int64_t n, float *dst)
{
    for (int64_t k = 0; k < n; k++) dst[k] = (float)raw[k];
}

int lb_io_decode(const unsigned char *raw, int64_t n, lb_elem e, rt_tensor *t, int64_t start,
                 char *err)
{
    char *base = rt_tensor_data(t);
    if (e.kind == 'u' && e.size == 1 && t->dtype == RT_F32) {
        decode_u8_f32(raw, n, (float *)base + start);
        return 0;
    }
    for (int64_t k = 0; k < n; k++) {
        uint64_t u = load_uint(raw + k * e.size, e.size, e.big);
        double dv = 0;
        int64_t iv = 0;
        int isf = e.kind == 'f';
        if (isf) {
            dv = load_float(u, e.size);
        } else if (e.kind == 'i') {
            int sh = 64 - 8 * e.size;   /* sign-extend through the top bits */
            iv = sh ? (int64_t)(u << sh) >> sh : (int64_t)u;
        } else if (e.kind == 'u') {
            if (u > (uint64_t)INT64_MAX)
                return lb_io_fail(err, "element %lld is %llu, which does not fit in i64",
                                  (long long)(start + k), (unsigned long long)u);
            iv = (int64_t)u;
        } else {
            iv = u != 0;
        }
        int64_t j = start + k;
        switch (t->dtype) {
        case RT_F32: ((float *)base)[j] = isf ? (float)dv : (float)iv; break;
        case RT_F64: ((double *)base)[j] = isf ? dv : (double)iv; break;
        case RT_I64:
            if (isf) {
                if (!(dv >= -0x1p63 && dv < 0x1p63))
                    return lb_io_fail(err, "element %lld is %g, which does not fit in i64",
                                      (long long)j, dv);
                iv = (int64_t)dv;
            }
            ((int64_t *)base)[j] = iv;
            break;
        }
    }
    return 0;
}

/* ---- byte sources ----------------------------------------------------------------------- */
int lb_src_read(lb_src *s, void *dst, uint64_t n, char *err)
{
    if (n == 0) return 0;
    if (n > s->end - s->pos)
        return lb_io_fail(err, "%s: truncated: %llu bytes needed at byte offset %llu, but it "
                          "ends at byte offset %llu", s->name, (unsigned long long)n,
                          (unsigned long long)s->pos, (unsigned long long)s->end);
    if (s->mem) {
        memcpy(dst, s->mem + s->pos, n);
    } else if (fread(dst, 1, n, s->f) != n) {
        return lb_io_fail(err, "%s: read error at byte offset %llu: %s", s->name,
                          (unsigned long long)s->pos,
                          ferror(s->f) ? strerror(errno) : "the file became shorter");
    }
    s->pos += n;
    return 0;
}

/* ---- header dict --------------------------------------------------------------------------
** The header is a Python literal such as
**     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
** padded with spaces and a newline.  A small recursive-descent reader accepts exactly that
** grammar (either quote style, Python 2's 3L sizes), so nothing is ever evaluated. */
typedef struct {
    const char *s;
    size_t n, i;
    uint64_t base;   /* offset of s[0] in the source, for messages */
    const char *name;
    char *err;
} hparse;

typedef struct {
    char descr[32];
    int fortran, ndim;
    int64_t shape[RT_MAXDIM];
} npy_header;

static int perr(hparse *p, const char *what)
{
    return lb_io_fail(p->err, "%s: malformed header: %s at byte offset %llu", p->name, what,
                      (unsigned long long)(p->base + p->i));
}

static void skip_ws(hparse *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i]) p->i++;
}

static int peek(hparse *p) { return p->i < p->n ? (unsigned char)p->s[p->i] : -1; }

static int parse_string(hparse *p, char *out, size_t cap)
{
    int q = peek(p);
    if (q != '\'' && q != '"') return perr(p, "expected a quoted string");
    size_t len = 0;
    for (p->i++; peek(p) != q; p->i++) {
        if (peek(p) < 0 || peek(p) == '\n') return perr(p, "unterminated string");
        if (peek(p) == '\\') return perr(p, "escape sequences are not supported");
        if (len + 1 >= cap) return perr(p, "string too long");
        out[len++] = p->s[p->i];
    }
    out[len] = '\0';
    p->i++;
    return 0;
}

static int parse_bool(hparse *p, int *v)
{
    const char *rest = p->s + p->i;
    size_t left = p->n - p->i;
    if (left >= 4 && memcmp(rest, "True", 4) == 0) { *v = 1; p->i += 4; return 0; }
    if (left >= 5 && memcmp(rest, "False", 5) == 0) { *v = 0; p->i += 5; return 0; }
    return perr(p, "'fortran_order' must be True or False");
}

static int parse_size(hparse *p, int64_t *v)
{
    if (peek(p) == '-') return perr(p, "negative size in 'shape'");
    if (peek(p) < '0' || peek(p) > '9') return perr(p, "expected a size in 'shape'");
    int64_t x = 0;
    while (peek(p) >= '0' && peek(p) <= '9') {
        int d = peek(p) - '0';
        if (x > (INT64_MAX - d) / 10) return perr(p, "size in 'shape' overflows 64 bits");
        x = 10 * x + d;
        p->i++;
    }
    if (peek(p) == 'L') p->i++;   /* written by Python 2 */
    *v = x;
    return 0;
}

static int parse_shape(hparse *p, npy_header *h)
{
    if (peek(p) != '(') return perr(p, "'shape' must be a tuple");
    p->i++;
    h->ndim = 0;
    for (;;) {
        skip_ws(p);
        if (peek(p) == ')') break;
        if (h->ndim == RT_MAXDIM) {
            char msg[64];
            snprintf(msg, sizeof msg, "'shape' has more than %d dimensions", RT_MAXDIM);
            return perr(p, msg);
        }
        if (parse_size(p, &h->shape[h->ndim++])) return -1;
        skip_ws(p);
        if (peek(p) == ',') p->i++;
        else if (peek(p) != ')') return perr(p, "expected ',' or ')' in 'shape'");
    }
    p->i++;
    return 0;
}

static int parse_header(hparse *p, npy_header *h)
{
    int seen[3] = {0, 0, 0};   /* descr, fortran_order, shape */
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    skip_ws(p);
    if (peek(p) != '{') return perr(p, "the header is not a dict (no '{')");
    p->i++;
    for (;;) {
        skip_ws(p);
        if (peek(p) == '}') break;
        char key[32];
        if (parse_string(p, key, sizeof key)) return -1;
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0) k++;
        if (k == 3) return perr(p, "unexpected key (only 'descr', 'fortran_order', 'shape')");
        if (seen[k]) return perr(p, "duplicate key");
        seen[k] = 1;
        skip_ws(p);
        if (peek(p) != ':') return perr(p, "expected ':' after a key");
        p->i++;
        skip_ws(p);
        int rc;
        if (k == 0) {
            if (peek(p) == '[') return perr(p, "structured dtypes (a list 'descr') are not "
                                               "supported");
            rc = parse_string(p, h->descr, sizeof h->descr);
        } else if (k == 1) {
            rc = parse_bool(p, &h->fortran);
        } else {
            rc = parse_shape(p, h);
        }
        if (rc) return -1;
        skip_ws(p);
        if (peek(p) == ',') p->i++;
        else if (peek(p) != '}') return perr(p, "expected ',' or '}' in the header dict");
    }
    p->i++;
    skip_ws(p);
    if (p->i < p->n) return perr(p, "unexpected text after the header dict");
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return lb_io_fail(p->err, "%s: malformed header: no '%s' key", p->name, keys[k]);
    return 0;
}

/* '<f4' and friends -> element type and the dtype it loads as.  Returns 0 or -1. */
static int parse_descr(const char *d, lb_elem *e, rt_dtype *dt)
{
    char order = '=';
    if (*d && strchr("<>|=", *d)) order = *d++;
    e->kind = *d ? *d++ : 0;
    if (e->kind == '?' && !*d) {   /* NumPy writes '|b1', but '?' names the same type */
        e->kind = 'b';
        d = "1";
    }
    char *end;
    errno = 0;
    long size = strtol(d, &end, 10);
    if (d[0] < '0' || d[0] > '9' || *end || errno) return -1;
    e->size = (int)size;
    e->big = order == '>' || (order == '=' && host_big());
    switch (e->kind) {
    case 'f':
        *dt = size == 8 ? RT_F64 : RT_F32;
        return size == 2 || size == 4 || size == 8 ? 0 : -1;
    case 'i':
    case 'u':
        *dt = RT_I64;
        return size == 1 || size == 2 || size == 4 || size == 8 ? 0 : -1;
    case 'b':
        *dt = RT_I64;
        return size == 1 ? 0 : -1;
    default:
        return -1;
    }
}

/* ---- reading ------------------------------------------------------------------------------- */
/* Magic, version and header length; leaves s at the header text. */
static int read_prefix(lb_src *s, uint32_t *hlen, char *err)
{
    unsigned char pre[12];
    uint64_t start = s->pos;
    if (s->end - start < 10)
        return lb_io_fail(err, "%s: truncated: %llu bytes, too short for a .npy header "
                          "(at least 10)", s->name, (unsigned long long)(s->end - start));
    if (lb_src_read(s, pre, 8, err)) return -1;
    if (memcmp(pre, "PK\3\4", 4) == 0)
        return lb_io_fail(err, "%s: this is a zip archive (.npz), not a .npy file: use "
                          "nb.load_state", s->name);
    if (memcmp(pre, "\x93NUMPY", 6) != 0)
        return lb_io_fail(err, "%s: bad magic: not a .npy file (expected \\x93NUMPY at byte "
                          "offset %llu)", s->name, (unsigned long long)start);
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
        return lb_io_fail(err, "%s: unsupported .npy format version %d.%d (1.0, 2.0 and 3.0 "
                          "are read)", s->name, pre[6], pre[7]);
    int wide = pre[6] >= 2;   /* 2.0 and 3.0 have a 4-byte header length */
    if (lb_src_read(s, pre + 8, wide ? 4 : 2, err)) return -1;
    *hlen = (uint32_t)load_uint(pre + 8, wide ? 4 : 2, 0);
    if (*hlen > HEADER_LIMIT)
        return lb_io_fail(err, "%s: header length %lu at byte offset %llu is implausibly "
                          "large (limit %u)", s->name, (unsigned long)*hlen,
                          (unsigned long long)(start + 8), HEADER_LIMIT);
    if (*hlen > s->end - s->pos)
        return lb_io_fail(err, "%s: truncated header: it says it is %lu bytes long (to byte "
                          "offset %llu), but the data ends at byte offset %llu", s->name,
                          (unsigned long)*hlen, (unsigned long long)(s->pos + *hlen),
                          (unsigned long long)s->end);
    return 0;
}

static int read_header(lb_src *s, npy_header *h, lb_elem *e, rt_dtype *dt, char *err)
{
    uint32_t hlen = 0;
    if (read_prefix(s, &hlen, err)) return -1;
    char *text = malloc(hlen + 1u);
    if (!text) return lb_io_fail(err, "%s: out of memory for the header", s->name);
    hparse p = {text, hlen, 0, s->pos, s->name, err};
    int rc = lb_src_read(s, text, hlen, err);
    if (rc == 0) {
        text[hlen] = '\0';
        if (memchr(text, '\0', hlen)) rc = perr(&p, "NUL byte in the header");
    }
    if (rc == 0) rc = parse_header(&p, h);
    free(text);
    if (rc) return -1;
    if (parse_descr(h->descr, e, dt))
        return lb_io_fail(err, "%s: unknown or unsupported dtype '%s' (read: f2 f4 f8 i1 i2 i4 "
                          "i8 u1 u2 u4 u8 b1)", s->name, h->descr);
    return 0;
}

/* Element count and byte size, refusing shapes whose size overflows. */
static int data_size(lb_src *s, const npy_header *h, int itemsize, uint64_t *nbytes, char *err)
{
    char buf[200];
    uint64_t n = 1;
    for (int d = 0; d < h->ndim; d++) {
        uint64_t k = (uint64_t)h->shape[d];
        if (k != 0 && n > (UINT64_MAX / 16) / k)
            return lb_io_fail(err, "%s: shape %s is too large (its element count overflows)",
                              s->name, rt_shape_str(h->ndim, h->shape, buf, sizeof buf));
        n *= k;
    }
    *nbytes = n * (uint64_t)itemsize;
    uint64_t left = s->end - s->pos;
    if (*nbytes > left)
        return lb_io_fail(err, "%s: data is shorter than the header says: shape %s of '%s' "
                          "needs %llu bytes from byte offset %llu, but the data ends at byte "
                          "offset %llu (%llu bytes missing)", s->name,
                          rt_shape_str(h->ndim, h->shape, buf, sizeof buf), h->descr,
                          (unsigned long long)*nbytes, (unsigned long long)s->pos,
                          (unsigned long long)s->end, (unsigned long long)(*nbytes - left));
    if (*nbytes < left)
        return lb_io_fail(err, "%s: %llu unexpected bytes after the data (from byte offset %llu)",
                          s->name, (unsigned long long)(left - *nbytes),
                          (unsigned long long)(s->pos + *nbytes));
    return 0;
}

static int read_elements(lb_src *s, lb_elem e, rt_tensor *t, char *err)
{
    int64_t n = rt_tensor_numel(t);
    int native = e.big == host_big() &&
                 ((e.kind == 'f' && e.size == 4 && t->dtype == RT_F32) ||
                  (e.kind == 'f' && e.size == 8 && t->dtype == RT_F64) ||
                  (e.kind == 'i' && e.size == 8 && t->dtype == RT_I64));
    if (native) return lb_src_read(s, rt_tensor_data(t), (uint64_t)n * (uint64_t)e.size, err);
    unsigned char *buf = malloc(CHUNK);
    if (!buf) return lb_io_fail(err, "%s: out of memory", s->name);
    int64_t per = CHUNK / e.size;
    int rc = 0;
    for (int64_t k = 0; k < n && rc == 0; k += per) {
        int64_t m = n - k < per ? n - k : per;
        uint64_t at = s->pos;
        rc = lb_src_read(s, buf, (uint64_t)m * (uint64_t)e.size, err);
        if (rc == 0 && lb_io_decode(buf, m, e, t, k, err)) {
            char inner[LB_IO_ERRLEN];
            memcpy(inner, err, sizeof inner);
            rc = lb_io_fail(err, "%s: %s (in the data from byte offset %llu)", s->name, inner,
                            (unsigned long long)at);
        }
    }
    free(buf);
    return rc;
}

/* Fortran order stores the transpose: read it as the reversed shape, then permute back. */
static int to_c_order(const char *name, rt_tensor **t, char *err)
{
    int perm[RT_MAXDIM];
    int nd = (*t)->ndim;
    for (int d = 0; d < nd; d++) perm[d] = nd - 1 - d;
    rt_tensor *v = NULL, *c = NULL;
    rt_status st = rt_view_permute(*t, perm, &v);
    if (st == RT_OK) st = rt_contiguous(v, &c);
    rt_tensor_release(v);
    if (st != RT_OK) return lb_io_fail(err, "%s: %s", name, rt_last_error());
    rt_tensor_release(*t);
    *t = c;
    return 0;
}

int lb_npy_read(lb_src *s, rt_tensor **out, char *err)
{
    npy_header h;
    lb_elem e;
    rt_dtype dt = RT_F32;
    uint64_t nbytes;
    if (read_header(s, &h, &e, &dt, err) || data_size(s, &h, e.size, &nbytes, err)) return -1;
    int64_t shape[RT_MAXDIM];
    for (int d = 0; d < h.ndim; d++) shape[d] = h.shape[h.fortran ? h.ndim - 1 - d : d];
    rt_tensor *t = NULL;
    if (rt_empty(dt, h.ndim, shape, &t) != RT_OK)
        return lb_io_fail(err, "%s: %s", s->name, rt_last_error());
    if (read_elements(s, e, t, err) || (h.fortran && h.ndim > 1 && to_c_order(s->name, &t, err))) {
        rt_tensor_release(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */
size_t lb_npy_header(const rt_tensor *t, char *buf)
{
    static const char *const codes[] = {"f4", "f8", "i8"};   /* by rt_dtype */
    char dict[400];
    int n = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                     host_big() ? '>' : '<', codes[t->dtype]);
    for (int d = 0; d < t->ndim; d++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, d + 1 < t->ndim ? "%lld, " : "%lld",
                      (long long)t->shape[d]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", t->ndim == 1 ? "," : "");
    /* NumPy pads the header with spaces so the data starts at a multiple of 64 bytes */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + n + pad] = '\n';
    return 10 + hlen;
}
