/* lb_idx.c — IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain, read with
** zlib as plain C (no Lua; see lb_io.h).  The header is checked against the file's size before
** anything is allocated, and truncation or corruption is reported with the byte offset in the
** decompressed stream.  Format: big-endian magic 0x0000TTNN (T type code, N dims), N
** big-endian u32 sizes, then the data in C order.  http://yann.lecun.com/exdb/mnist/ */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "lb_io.h"

#define CHUNK (1u << 16)
#define DEFLATE_MAX_RATIO 1032u   /* deflate cannot expand one byte into more than this */

typedef struct {
    gzFile gz;
    const char *path;
    uint64_t pos;   /* offset in the decompressed stream */
} idx_in;

/* zlib's gz message without the "path: " it starts with (ours names the file already). */
static const char *zlib_message(idx_in *in, int *errnum)
{
    const char *msg = gzerror(in->gz, errnum);
    size_t n = strlen(in->path);
    if (strncmp(msg, in->path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2;
    return msg;
}

/* Reads exactly n bytes; `need` is how far the header says the stream goes (for messages). */
static int gz_read(idx_in *in, void *dst, unsigned n, uint64_t need, char *err)
{
    int got = gzread(in->gz, dst, n);
    if (got == (int)n) {
        in->pos += n;
        return 0;
    }
    int errnum = Z_OK;
    const char *msg = zlib_message(in, &errnum);
    uint64_t at = in->pos + (uint64_t)(got > 0 ? got : 0);
    if (errnum != Z_OK && errnum != Z_BUF_ERROR)   /* Z_BUF_ERROR: the gzip stream was cut */
        return lb_io_fail(err, "%s: corrupt gzip data (found reading from byte offset %llu of "
                          "the decompressed data): %s", in->path, (unsigned long long)at, msg);
    return lb_io_fail(err, "%s: truncated: the data ends at byte offset %llu (decompressed), "
                      "but the IDX header needs %llu bytes", in->path, (unsigned long long)at,
                      (unsigned long long)need);
}

static int elem_of(int code, lb_elem *e)
{
    e->big = 1;
    switch (code) {
    case 0x08: e->kind = 'u'; e->size = 1; return 0;
    case 0x09: e->kind = 'i'; e->size = 1; return 0;
    case 0x0B: e->kind = 'i'; e->size = 2; return 0;
    case 0x0C: e->kind = 'i'; e->size = 4; return 0;
    case 0x0D: e->kind = 'f'; e->size = 4; return 0;
    case 0x0E: e->kind = 'f'; e->size = 8; return 0;
    default: return -1;
    }
}

/* Magic and sizes; *rowbytes is the byte size of one entry along the first dimension. */
static int read_header(idx_in *in, lb_elem *e, int *ndim, int64_t *shape, uint64_t *rowbytes,
                       char *err)
{
    unsigned char m[4], d[4];
    if (gz_read(in, m, 4, 4, err)) return -1;
    uint32_t magic = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    if (m[0] != 0 || m[1] != 0 || elem_of(m[2], e) || m[3] < 1 || m[3] > RT_MAXDIM)
        return lb_io_fail(err, "%s: bad magic number 0x%08lx at byte offset 0: not an IDX file "
                          "(expected 0x0000TTNN with type code TT in 08 09 0B 0C 0D 0E and 1..%d "
                          "dimensions NN)", in->path, (unsigned long)magic, RT_MAXDIM);
    *ndim = m[3];
    uint64_t hdr = 4 + 4 * (uint64_t)*ndim;
    *rowbytes = (uint64_t)e->size;
    for (int k = 0; k < *ndim; k++) {
        if (gz_read(in, d, 4, hdr, err)) return -1;
        shape[k] = (int64_t)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 |
                             d[3]);
        /* one entry along dim 1 stays below 2^31 bytes, so rows * rowbytes cannot overflow */
        if (k > 0 && shape[k] > 0 && *rowbytes > ((uint64_t)1 << 31) / (uint64_t)shape[k])
            return lb_io_fail(err, "%s: IDX sizes are implausibly large (at byte offset %llu)",
                              in->path, (unsigned long long)(in->pos - 4));
        if (k > 0) *rowbytes *= (uint64_t)shape[k];
    }
    return 0;
}

static int read_data(idx_in *in, lb_elem e, rt_tensor *t, uint64_t need, char *err)
{
    unsigned char *buf = malloc(CHUNK);
    if (!buf) return lb_io_fail(err, "%s: out of memory", in->path);
    int64_t n = rt_tensor_numel(t), per = CHUNK / e.size;
    int rc = 0;
    for (int64_t k = 0; k < n && rc == 0; k += per) {
        int64_t m = n - k < per ? n - k : per;
        uint64_t at = in->pos;
        rc = gz_read(in, buf, (unsigned)(m * e.size), need, err);
        if (rc == 0 && lb_io_decode(buf, m, e, t, k, err)) {
            char inner[LB_IO_ERRLEN];
            memcpy(inner, err, sizeof inner);
            rc = lb_io_fail(err, "%s: %s (in the data from byte offset %llu)", in->path, inner,
                            (unsigned long long)at);
        }
    }
    free(buf);
    return rc;
}

/* After the last entry the stream must end, and reading on makes zlib check the gzip CRC. */
static int check_end(idx_in *in, char *err)
{
    unsigned char extra;
    int got = gzread(in->gz, &extra, 1);
    if (got > 0)
        return lb_io_fail(err, "%s: unexpected data after the last entry (at byte offset %llu "
                          "of the decompressed data)", in->path, (unsigned long long)in->pos);
    int errnum = Z_OK;
    const char *msg = zlib_message(in, &errnum);
    if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END))
        return lb_io_fail(err, "%s: corrupt gzip data after byte offset %llu of the decompressed "
                          "data: %s", in->path, (unsigned long long)in->pos, msg);
    return 0;
}

static int read_idx(idx_in *in, uint64_t file_size, rt_dtype dt, int64_t max_rows,
                    rt_tensor **out, char *err)
{
    lb_elem e;
    int ndim = 0;
    int64_t shape[RT_MAXDIM];
    uint64_t rowbytes = 0;
    if (read_header(in, &e, &ndim, shape, &rowbytes, err)) return -1;
    int all = max_rows < 0 || max_rows >= shape[0];
    if (!all) shape[0] = max_rows;
    uint64_t need = in->pos + (uint64_t)shape[0] * rowbytes;
    /* a forged size must not become a huge allocation: the file cannot hold more than this */
    uint64_t cap = gzdirect(in->gz) ? file_size : file_size * DEFLATE_MAX_RATIO + 1024;
    char buf[200];
    if (need > cap && gzdirect(in->gz))
        return lb_io_fail(err, "%s: truncated: the IDX header (shape %s) needs %llu bytes, but "
                          "the file ends at byte offset %llu", in->path,
                          rt_shape_str(ndim, shape, buf, sizeof buf), (unsigned long long)need,
                          (unsigned long long)file_size);
    if (need > cap)
        return lb_io_fail(err, "%s: the IDX header (shape %s) needs %llu bytes of data, more "
                          "than a %llu-byte gzip file can hold: the file is corrupt", in->path,
                          rt_shape_str(ndim, shape, buf, sizeof buf), (unsigned long long)need,
                          (unsigned long long)file_size);
    rt_tensor *t = NULL;
    if (rt_empty(dt, ndim, shape, &t) != RT_OK)
        return lb_io_fail(err, "%s: %s", in->path, rt_last_error());
    if (read_data(in, e, t, need, err) || (all && check_end(in, err))) {
        rt_tensor_release(t);
        return -1;
    }
    *out = t;
    return 0;
}

int lb_idx_read(const char *path, rt_dtype dt, int64_t max_rows, rt_tensor **out, char *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return lb_io_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return lb_io_fail(err, "%s: is a directory", path);
    gzFile gz = gzopen(path, "rb");
    if (!gz) return lb_io_fail(err, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(gz, 1u << 17);
    idx_in in = {gz, path, 0};
    int rc = read_idx(&in, (uint64_t)st.st_size, dt, max_rows, out, err);
    gzclose(gz);
    return rc;
}
