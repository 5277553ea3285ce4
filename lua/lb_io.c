/* lb_io.c — files: nb.save / nb.load (.npy), nb.save_state / nb.load_state (.npz, a zip of
** .npy members: stored and deflated members are read, stored ones are written), and the
** internal helpers of the `data` module (IDX reading, seeded permutations, row gathering).
** The parsing itself is plain C that reports into an error buffer (lb_io.h), so every file is
** closed and every buffer freed before a binding raises.  Zip layout: PKWARE APPNOTE.TXT 6.3. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "lb.h"
#include "lb_io.h"

#define ZIP_MT "nabla.ZipReader"
#define DEFLATE_MAX_RATIO 1032u
#define EOCD_LEN 22
#define CDIR_LEN 46
#define LOCAL_LEN 30
#define ZIP_LIMIT 0xFFFFFFFFu   /* sizes and offsets beyond this need zip64 */

static uint32_t get16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get32(const unsigned char *p) { return get16(p) | get16(p + 2) << 16; }
static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static void put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

static int read_at(FILE *f, uint64_t off, void *dst, size_t n)
{
    return fseeko(f, (off_t)off, SEEK_SET) == 0 && fread(dst, 1, n, f) == n ? 0 : -1;
}

static uint64_t file_size(FILE *f)
{
    if (fseeko(f, 0, SEEK_END) != 0) return 0;
    off_t n = ftello(f);
    rewind(f);
    return n < 0 ? 0 : (uint64_t)n;
}

/* zlib's crc32 takes a uInt length, so long buffers go in pieces. */
static uint32_t crc_update(uint32_t crc, const void *data, uint64_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

/* ---- .npy files -------------------------------------------------------------------------- */
static int npy_load(const char *path, rt_tensor **out, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lb_io_fail(err, "%s: cannot open: %s", path, strerror(errno));
    lb_src s = {f, NULL, 0, file_size(f), path};
    int rc = lb_npy_read(&s, out, err);
    fclose(f);
    return rc;
}

static int npy_save(const char *path, const rt_tensor *t, char *err)
{
    char hdr[LB_NPY_HDRMAX];
    size_t hlen = lb_npy_header(t, hdr);
    size_t nbytes = (size_t)rt_tensor_numel(t) * rt_dtype_size(t->dtype);
    FILE *f = fopen(path, "wb");
    if (!f) return lb_io_fail(err, "%s: cannot open for writing: %s", path, strerror(errno));
    int ok = fwrite(hdr, 1, hlen, f) == hlen &&
             (nbytes == 0 || fwrite(rt_tensor_data(t), 1, nbytes, f) == nbytes);
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        lb_io_fail(err, "%s: write error: %s", path, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}

/* ---- .npz reading -------------------------------------------------------------------------
** The reader lives in a userdata with __gc, so the file and directory are released even if a
** Lua call between members raises. */
typedef struct {
    char *name;
    uint32_t flags, method, crc;
    uint64_t csize, usize, local;
} zip_entry;

typedef struct {
    FILE *f;
    const char *path;   /* anchored by the caller's argument */
    uint64_t size;
    uint64_t n;
    zip_entry *e;
} zip_reader;

static void zip_close(zip_reader *z)
{
    if (z->f) fclose(z->f);
    for (uint64_t k = 0; z->e && k < z->n; k++) free(z->e[k].name);
    free(z->e);
    z->f = NULL;
    z->e = NULL;
    z->n = 0;
}

static int zip_gc(lua_State *L)
{
    zip_close(luaL_checkudata(L, 1, ZIP_MT));
    return 0;
}

/* Finds the end-of-central-directory record in the last 64 KiB (it ends with a comment of
** up to 65535 bytes); returns its offset or -1. */
static int64_t find_eocd(zip_reader *z, char *err)
{
    uint64_t tail = z->size < EOCD_LEN + 65535u ? z->size : EOCD_LEN + 65535u;
    unsigned char *buf = malloc(tail);
    if (!buf) return lb_io_fail(err, "%s: out of memory", z->path);
    int64_t at = -1;
    if (read_at(z->f, z->size - tail, buf, tail) == 0) {
        for (int64_t i = (int64_t)tail - EOCD_LEN; i >= 0 && at < 0; i--)
            if (memcmp(buf + i, "PK\5\6", 4) == 0 &&
                (uint64_t)i + EOCD_LEN + get16(buf + i + 20) <= tail)
                at = (int64_t)(z->size - tail) + i;
    }
    free(buf);
    if (at < 0)
        lb_io_fail(err, "%s: no zip end-of-central-directory record (not a .npz file, or "
                   "truncated)", z->path);
    return at;
}

/* The zip64 end record that the locator just before eocd points to. */
static int read_zip64_end(zip_reader *z, uint64_t eocd, uint64_t *n, uint64_t *cd_size,
                          uint64_t *cd_off, char *err)
{
    unsigned char loc[20], rec[56];
    if (eocd < 20 || read_at(z->f, eocd - 20, loc, 20) || get32(loc) != 0x07064b50)
        return lb_io_fail(err, "%s: the zip end record asks for zip64, but there is no zip64 "
                          "locator before byte offset %llu", z->path, (unsigned long long)eocd);
    uint64_t off = get64(loc + 8);
    if (off > eocd - 20 || read_at(z->f, off, rec, 56) || get32(rec) != 0x06064b50)
        return lb_io_fail(err, "%s: bad zip64 end record at byte offset %llu", z->path,
                          (unsigned long long)off);
    *n = get64(rec + 32);
    *cd_size = get64(rec + 40);
    *cd_off = get64(rec + 48);
    return 0;
}

/* Zip64 extra field (id 1): the 64-bit values of the fields that are 0xFFFFFFFF, in order. */
static int zip64_extra(const unsigned char *x, uint32_t len, zip_entry *e)
{
    uint64_t *want[3] = {&e->usize, &e->csize, &e->local};
    for (uint32_t p = 0; p + 4 <= len;) {
        uint32_t id = get16(x + p), sz = get16(x + p + 2);
        if (p + 4 + sz > len) return -1;
        if (id == 1) {
            uint32_t q = p + 4;
            for (int k = 0; k < 3; k++) {
                if (*want[k] != ZIP_LIMIT) continue;
                if (q + 8 > p + 4 + sz) return -1;
                *want[k] = get64(x + q);
                q += 8;
            }
        }
        p += 4 + sz;
    }
    return 0;
}

static int parse_entry(zip_reader *z, const unsigned char *cd, uint64_t len, uint64_t *p,
                       uint64_t base, zip_entry *e, char *err)
{
    const unsigned char *r = cd + *p;
    if (len - *p < CDIR_LEN || get32(r) != 0x02014b50)
        return lb_io_fail(err, "%s: bad central directory entry at byte offset %llu", z->path,
                          (unsigned long long)(base + *p));
    uint32_t nlen = get16(r + 28), xlen = get16(r + 30), clen = get16(r + 32);
    if (len - *p - CDIR_LEN < (uint64_t)nlen + xlen + clen)
        return lb_io_fail(err, "%s: central directory entry at byte offset %llu runs past the "
                          "directory", z->path, (unsigned long long)(base + *p));
    e->flags = get16(r + 8);
    e->method = get16(r + 10);
    e->crc = get32(r + 16);
    e->csize = get32(r + 20);
    e->usize = get32(r + 24);
    e->local = get32(r + 42);
    if (zip64_extra(r + CDIR_LEN + nlen, xlen, e))
        return lb_io_fail(err, "%s: bad zip64 extra field at byte offset %llu", z->path,
                          (unsigned long long)(base + *p + CDIR_LEN + nlen));
    e->name = malloc(nlen + 1u);
    if (!e->name) return lb_io_fail(err, "%s: out of memory", z->path);
    memcpy(e->name, r + CDIR_LEN, nlen);
    e->name[nlen] = '\0';
    if (strlen(e->name) != nlen)
        return lb_io_fail(err, "%s: NUL byte in a member name at byte offset %llu", z->path,
                          (unsigned long long)(base + *p + CDIR_LEN));
    *p += CDIR_LEN + nlen + xlen + clen;
    return 0;
}

static int zip_open(zip_reader *z, const char *path, char *err)
{
    unsigned char rec[EOCD_LEN];
    z->path = path;
    z->f = fopen(path, "rb");
    if (!z->f) return lb_io_fail(err, "%s: cannot open: %s", path, strerror(errno));
    z->size = file_size(z->f);
    if (z->size >= 6 && read_at(z->f, 0, rec, 6) == 0 && memcmp(rec, "\x93NUMPY", 6) == 0)
        return lb_io_fail(err, "%s: this is a .npy file, not a .npz archive: use nb.load", path);
    if (z->size < EOCD_LEN || read_at(z->f, 0, rec, 4) ||
        (memcmp(rec, "PK\3\4", 4) != 0 && memcmp(rec, "PK\5\6", 4) != 0))
        return lb_io_fail(err, "%s: bad magic: not a .npz (zip) file (expected PK\\3\\4 at byte "
                          "offset 0)", path);
    int64_t eocd = find_eocd(z, err);
    if (eocd < 0 || read_at(z->f, (uint64_t)eocd, rec, EOCD_LEN)) return -1;
    uint64_t n = get16(rec + 10), cd_size = get32(rec + 12), cd_off = get32(rec + 16);
    if (get16(rec + 4) != 0 || get16(rec + 6) != 0 || get16(rec + 8) != n)
        return lb_io_fail(err, "%s: multi-disk zip archives are not supported", path);
    if ((n == 0xFFFF || cd_size == ZIP_LIMIT || cd_off == ZIP_LIMIT) &&
        read_zip64_end(z, (uint64_t)eocd, &n, &cd_size, &cd_off, err))
        return -1;
    if (cd_off > (uint64_t)eocd || cd_size > (uint64_t)eocd - cd_off)
        return lb_io_fail(err, "%s: the central directory (%llu bytes at byte offset %llu) runs "
                          "past the end record at byte offset %llu", path,
                          (unsigned long long)cd_size, (unsigned long long)cd_off,
                          (unsigned long long)eocd);
    if (n > cd_size / CDIR_LEN)
        return lb_io_fail(err, "%s: the end record claims %llu members, but the central "
                          "directory (%llu bytes) has room for at most %llu", path,
                          (unsigned long long)n, (unsigned long long)cd_size,
                          (unsigned long long)(cd_size / CDIR_LEN));
    unsigned char *cd = malloc(cd_size ? cd_size : 1);
    z->e = calloc(n ? n : 1, sizeof *z->e);
    int rc = cd && z->e ? 0 : lb_io_fail(err, "%s: out of memory", path);
    if (rc == 0 && read_at(z->f, cd_off, cd, cd_size))
        rc = lb_io_fail(err, "%s: cannot read the central directory", path);
    uint64_t p = 0;
    for (z->n = 0; rc == 0 && z->n < n; z->n++)
        rc = parse_entry(z, cd, cd_size, &p, cd_off, &z->e[z->n], err);
    free(cd);
    return rc;
}

/* Inflates a raw deflate stream (zip method 8) into exactly m bytes. */
static int inflate_member(const unsigned char *in, uint64_t n, unsigned char *out, uint64_t m,
                          const char *label, uint64_t at, char *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) return lb_io_fail(err, "%s: zlib init failed", label);
    zs.next_in = (unsigned char *)in;
    zs.next_out = out;
    uint64_t in_left = n, out_left = m;
    int rc;
    for (;;) {
        if (zs.avail_in == 0 && in_left) {
            zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left) {
            zs.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
            out_left -= zs.avail_out;
        }
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK) break;
    }
    uint64_t used = zs.total_in, made = zs.total_out;
    const char *msg = zs.msg ? zs.msg : "no detail";
    int full = zs.avail_out == 0 && out_left == 0;
    inflateEnd(&zs);
    if (rc == Z_STREAM_END && made == m) return 0;
    if (rc == Z_STREAM_END)
        return lb_io_fail(err, "%s: inflates to %llu bytes, but the directory says %llu", label,
                          (unsigned long long)made, (unsigned long long)m);
    if (rc == Z_BUF_ERROR && full)
        return lb_io_fail(err, "%s: inflates to more than the %llu bytes the directory says",
                          label, (unsigned long long)m);
    if (rc == Z_BUF_ERROR)
        return lb_io_fail(err, "%s: deflate data ends early (truncated) at byte offset %llu",
                          label, (unsigned long long)(at + used));
    return lb_io_fail(err, "%s: corrupt deflate data near byte offset %llu: %s", label,
                      (unsigned long long)(at + used), msg);
}

/* Where member e's data starts, after checking its local header and sizes. */
static int member_data(zip_reader *z, const zip_entry *e, const char *label, uint64_t *data,
                       char *err)
{
    unsigned char loc[LOCAL_LEN];
    if (e->flags & 1) return lb_io_fail(err, "%s: encrypted members are not supported", label);
    if (e->method != 0 && e->method != 8)
        return lb_io_fail(err, "%s: compression method %u is not supported (stored and "
                          "deflated members are read)", label, (unsigned)e->method);
    if (e->local > z->size - LOCAL_LEN || read_at(z->f, e->local, loc, LOCAL_LEN) ||
        get32(loc) != 0x04034b50)
        return lb_io_fail(err, "%s: bad local header at byte offset %llu", label,
                          (unsigned long long)e->local);
    *data = e->local + LOCAL_LEN + get16(loc + 26) + get16(loc + 28);
    if (*data > z->size || e->csize > z->size - *data)
        return lb_io_fail(err, "%s: its %llu bytes of data from byte offset %llu run past the "
                          "end of the file (%llu bytes)", label, (unsigned long long)e->csize,
                          (unsigned long long)*data, (unsigned long long)z->size);
    if (e->method == 0 && e->csize != e->usize)
        return lb_io_fail(err, "%s: stored member with compressed size %llu != size %llu", label,
                          (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (e->method == 8 && e->usize / DEFLATE_MAX_RATIO > e->csize + 1)
        return lb_io_fail(err, "%s: claims %llu bytes inflated from %llu (impossible for "
                          "deflate): the directory is corrupt", label,
                          (unsigned long long)e->usize, (unsigned long long)e->csize);
    return 0;
}

/* Reads member k (a .npy image) into a new tensor.  Sizes are checked against the file before
** anything is allocated; the CRC-32 is checked before parsing. */
static int zip_member(zip_reader *z, uint64_t k, rt_tensor **out, char *err)
{
    const zip_entry *e = &z->e[k];
    char label[LB_IO_ERRLEN / 2];
    snprintf(label, sizeof label, "%s: member '%s'", z->path, e->name);
    uint64_t data = 0;
    if (member_data(z, e, label, &data, err)) return -1;
    unsigned char *cbuf = malloc(e->csize ? e->csize : 1), *ubuf = cbuf;
    int rc = cbuf ? 0 : lb_io_fail(err, "%s: out of memory", label);
    if (rc == 0 && read_at(z->f, data, cbuf, e->csize))
        rc = lb_io_fail(err, "%s: read error at byte offset %llu", label,
                        (unsigned long long)data);
    if (rc == 0 && e->method == 8) {
        ubuf = malloc(e->usize ? e->usize : 1);
        rc = ubuf ? inflate_member(cbuf, e->csize, ubuf, e->usize, label, data, err)
                  : lb_io_fail(err, "%s: out of memory", label);
    }
    if (rc == 0) {
        uint32_t crc = crc_update(0, ubuf, e->usize);
        if (crc != e->crc)
            rc = lb_io_fail(err, "%s: CRC-32 mismatch (the directory says %08lx, the data gives "
                            "%08lx): the member is corrupt", label, (unsigned long)e->crc,
                            (unsigned long)crc);
    }
    if (rc == 0) {
        lb_src s = {NULL, ubuf, 0, e->usize, label};
        rc = lb_npy_read(&s, out, err);
    }
    if (ubuf != cbuf) free(ubuf);
    free(cbuf);
    return rc;
}

/* ---- .npz writing ------------------------------------------------------------------------ */
typedef struct {
    const char *name;          /* key; the member is name .. ".npy" */
    const rt_tensor *t;        /* contiguous */
    uint32_t crc;
    uint64_t size, offset;
} npz_item;

/* Local header (when central is 0) or central directory entry for it; returns its length. */
static size_t zip_record(unsigned char *r, const npz_item *it, size_t nlen, int central)
{
    uint32_t flags = 0;
    for (size_t i = 0; i < nlen - 4; i++)
        if ((unsigned char)it->name[i] >= 0x80) flags = 1u << 11;   /* UTF-8 name */
    unsigned char *p = r;
    put32(p, central ? 0x02014b50 : 0x04034b50);
    p += 4;
    if (central) {
        put16(p, 3u << 8 | 20);   /* made by: Unix, zip 2.0 (so the mode bits below count) */
        p += 2;
    }
    put16(p, 20);                 /* version needed */
    put16(p + 2, flags);
    put16(p + 4, 0);              /* stored */
    put16(p + 6, 0);              /* 00:00:00 */
    put16(p + 8, 1u << 5 | 1);    /* 1980-01-01: fixed, so equal states give equal files */
    put32(p + 10, it->crc);
    put32(p + 14, (uint32_t)it->size);
    put32(p + 18, (uint32_t)it->size);
    put16(p + 22, (uint32_t)nlen);
    put16(p + 24, 0);             /* extra */
    p += 26;
    if (central) {
        put16(p, 0);              /* comment */
        put16(p + 2, 0);          /* disk */
        put16(p + 4, 0);          /* internal attributes */
        put32(p + 6, 0100644u << 16);
        put32(p + 10, (uint32_t)it->offset);
        p += 14;
    }
    return (size_t)(p - r);
}

static int write_name(FILE *f, const char *name)
{
    size_t n = strlen(name);
    return fwrite(name, 1, n, f) == n && fwrite(".npy", 1, 4, f) == 4;
}

static int write_member(FILE *f, npz_item *it, uint64_t offset)
{
    char hdr[LB_NPY_HDRMAX];
    unsigned char rec[CDIR_LEN];
    size_t hlen = lb_npy_header(it->t, hdr);
    uint64_t nbytes = (uint64_t)rt_tensor_numel(it->t) * rt_dtype_size(it->t->dtype);
    it->offset = offset;
    it->size = hlen + nbytes;
    it->crc = crc_update(crc_update(0, hdr, hlen), rt_tensor_data(it->t), nbytes);
    if (it->size >= ZIP_LIMIT || offset >= ZIP_LIMIT) return 0;
    size_t rlen = zip_record(rec, it, strlen(it->name) + 4, 0);
    return fwrite(rec, 1, rlen, f) == rlen && write_name(f, it->name) &&
           fwrite(hdr, 1, hlen, f) == hlen &&
           (nbytes == 0 || fwrite(rt_tensor_data(it->t), 1, nbytes, f) == nbytes);
}

static int npz_write(const char *path, uint64_t n, npz_item *items, char *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return lb_io_fail(err, "%s: cannot open for writing: %s", path, strerror(errno));
    unsigned char rec[CDIR_LEN];
    uint64_t off = 0;
    int ok = 1;
    for (uint64_t k = 0; k < n && ok; k++) {
        ok = write_member(f, &items[k], off);
        off += LOCAL_LEN + strlen(items[k].name) + 4 + items[k].size;
    }
    uint64_t cd_off = off;
    for (uint64_t k = 0; k < n && ok; k++) {
        size_t nlen = strlen(items[k].name) + 4;
        size_t rlen = zip_record(rec, &items[k], nlen, 1);
        ok = fwrite(rec, 1, rlen, f) == rlen && write_name(f, items[k].name);
        off += rlen + nlen;
    }
    int too_big = off >= ZIP_LIMIT;
    memcpy(rec, "PK\5\6\0\0\0\0", 8);
    put16(rec + 8, (uint32_t)n);
    put16(rec + 10, (uint32_t)n);
    put32(rec + 12, (uint32_t)(off - cd_off));
    put32(rec + 16, (uint32_t)cd_off);
    put16(rec + 20, 0);
    ok = ok && !too_big && fwrite(rec, 1, EOCD_LEN, f) == EOCD_LEN;
    int closed = fclose(f) == 0;
    if (ok && closed) return 0;
    remove(path);
    if (too_big || off >= ZIP_LIMIT)
        return lb_io_fail(err, "%s: the archive would exceed 4 GiB, which needs zip64 (not "
                          "written): save the tensors in several files", path);
    return lb_io_fail(err, "%s: write error: %s", path, strerror(errno));
}

/* ---- bindings: .npy and .npz --------------------------------------------------------------- */
static int l_save(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    rt_tensor *t = lb_checktensor(L, 2);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_contiguous(t, slot);
    if (st != RT_OK) return lb_raise(L, st, 2);
    char err[LB_IO_ERRLEN];
    return npy_save(path, *slot, err) ? luaL_error(L, "%s", err) : 0;
}

static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    rt_tensor **slot = lb_newslot(L);
    char err[LB_IO_ERRLEN];
    return npy_load(path, slot, err) ? luaL_error(L, "%s", err) : 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const npz_item *)a)->name, ((const npz_item *)b)->name);
}

static int l_save_state(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_newtable(L);   /* 3: the contiguous tensors, anchored until written */
    uint64_t n = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_argerror(L, 2, lua_pushfstring(L, "keys must be strings (names like "
                                 "'layer1.weight'), got a %s key", luaL_typename(L, -2)));
        size_t len;
        const char *k = lua_tolstring(L, -2, &len);
        if (len == 0 || len > 60000 || strlen(k) != len)
            return luaL_argerror(L, 2, lua_pushfstring(L, "bad name '%s' (1 to 60000 bytes, "
                                 "no NUL)", k));
        if (!lb_testtensor(L, -1))
            return luaL_argerror(L, 2, lua_pushfstring(L, "value of '%s' is a %s, expected a "
                                 "tensor", k, lb_typename(L, -1)));
        n++;
    }
    if (n > 0xFFFF) return luaL_argerror(L, 2, "more than 65535 tensors");
    npz_item *items = lua_newuserdatauv(L, (n ? n : 1) * sizeof *items, 0);   /* 4 */
    uint64_t k = 0;
    for (lua_pushnil(L); lua_next(L, 2) && k < n; lua_pop(L, 1)) {
        rt_tensor **slot = lb_newslot(L);
        rt_status st = rt_contiguous(lb_testtensor(L, -2), slot);
        if (st != RT_OK) return lb_raise(L, st, 0);
        lua_rawseti(L, 3, (lua_Integer)k + 1);
        items[k].name = lua_tostring(L, -2);   /* the key stays in the table */
        items[k++].t = *slot;
    }
    qsort(items, k, sizeof *items, by_name);   /* a stable member order */
    char err[LB_IO_ERRLEN];
    return npz_write(path, k, items, err) ? luaL_error(L, "%s", err) : 0;
}

static int l_load_state(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    zip_reader *z = lua_newuserdatauv(L, sizeof *z, 0);   /* 2 */
    memset(z, 0, sizeof *z);
    luaL_setmetatable(L, ZIP_MT);
    char err[LB_IO_ERRLEN];
    if (zip_open(z, path, err)) return luaL_error(L, "%s", err);
    lua_createtable(L, 0, (int)(z->n < 1024 ? z->n : 1024));   /* 3 */
    for (uint64_t k = 0; k < z->n; k++) {
        const char *name = z->e[k].name;
        size_t len = strlen(name);
        if (len > 0 && name[len - 1] == '/') continue;   /* a directory entry */
        if (len < 5 || strcmp(name + len - 4, ".npy") != 0)
            return luaL_error(L, "%s: member '%s' is not a .npy array", path, name);
        lua_pushlstring(L, name, len - 4);
        if (lua_rawget(L, 3) != LUA_TNIL)
            return luaL_error(L, "%s: member '%s' appears twice", path, name);
        lua_pop(L, 1);
        lua_pushlstring(L, name, len - 4);
        rt_tensor **slot = lb_newslot(L);
        if (zip_member(z, k, slot, err)) return luaL_error(L, "%s", err);
        lua_rawset(L, 3);
    }
    zip_close(z);
    return 1;
}

/* ---- bindings: helpers of the data module ----------------------------------------------- */
static int l_read_idx(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    rt_dtype dt = lb_optdtype(L, 2, RT_F32);
    lua_Integer rows = luaL_optinteger(L, 3, -1);
    rt_tensor **slot = lb_newslot(L);
    char err[LB_IO_ERRLEN];
    return lb_idx_read(path, dt, rows < 0 ? -1 : rows, slot, err) ? luaL_error(L, "%s", err) : 1;
}

/* A permutation from its own generator (seed, offset), leaving nb's generator alone: offset
** k * ceil(n/4) gives the (k+1)-th permutation after nb.manual_seed(seed). */
static int l_randperm_seeded(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    rt_generator g = {(uint64_t)luaL_checkinteger(L, 2), (uint64_t)luaL_optinteger(L, 3, 0)};
    if (n < 0) luaL_argerror(L, 1, "n must be non-negative");
    rt_tensor **tmp = lb_newslot(L);
    rt_status st = rt_randperm(&g, n, tmp);
    if (st != RT_OK) return lb_raise(L, st, 1);
    rt_tensor **slot = lb_newslot(L);   /* 1-based like every index in Lua */
    return LB_RESULT(L, rt_binary_scalar(RT_ADD, *tmp, 1, 0, slot), 1);
}

static int l_take_rows(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1), *idx = lb_checktensor(L, 2);
    if (t->ndim == 0) luaL_argerror(L, 1, "a 0-d tensor has no rows");
    rt_tensor **zero = lb_newslot(L);
    rt_status st = rt_binary_scalar(RT_SUB, idx, 1, 0, zero);   /* 1-based -> 0-based */
    if (st != RT_OK) return lb_raise(L, st, 2);
    rt_tensor **slot = lb_newslot(L);
    st = rt_index_select(t, 0, *zero, slot);
    if (st == RT_OK) return 1;
    if (rt_last_operand() == 0) return lb_raise(L, st, 1);
    /* the runtime saw the converted index, so its numbers are 0-based */
    return luaL_argerror(L, 2, lua_pushfstring(L, "%s (0-based)", rt_last_error()));
}

static const lb_fn io_fns[] = {
    {"save", l_save, "nb.save(path, t) — write t to a NumPy .npy file (f32 '<f4', f64 '<f8', "
     "i64 '<i8')"},
    {"load", l_load, "nb.load(path) — read a NumPy .npy file (floats -> f32/f64, integers and "
     "bools -> i64; Fortran order too)"},
    {"save_state", l_save_state, "nb.save_state(path, {name = tensor, ...}) — write a NumPy .npz "
     "archive, one NAME.npy member per tensor"},
    {"load_state", l_load_state, "nb.load_state(path) — read a .npz archive (stored or "
     "deflated members) into a {name = tensor} table"},
    {"_read_idx", l_read_idx, "nb._read_idx(path, dtype?, rows?) — an IDX file (.gz or plain) "
     "as a tensor of its own shape; rows limits dim 1"},
    {"_randperm_seeded", l_randperm_seeded, "nb._randperm_seeded(n, seed, offset?) — randperm "
     "from its own generator, leaving nb's alone"},
    {"_take_rows", l_take_rows, "nb._take_rows(t, idx) — rows idx (1-based i64) of t along "
     "dim 1, copied"},
    {NULL, NULL, NULL}
};

void lb_open_io(lua_State *L)
{
    luaL_newmetatable(L, ZIP_MT);
    lua_pushcfunction(L, zip_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lb_register(L, -1, io_fns);
}
