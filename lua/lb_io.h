/* lb_io.h — internals shared by the binding's file-format code: NumPy .npy (lb_npy.c), .npz
** zip archives (lb_io.c) and IDX files (lb_idx.c).  Everything declared here is plain C that
** never calls Lua: a failure is written into the caller's error buffer, so a binding can close
** its files and free its buffers before it raises.  Not for use outside lua/lb_{io,npy,idx}.c. */
#ifndef LB_IO_H
#define LB_IO_H

#include <stdio.h>
#include <stdint.h>
#include "nabla_rt.h"

#define LB_IO_ERRLEN 512   /* every err buffer below holds at least this many bytes */

/* Formats a message into err (always NUL-terminated) and returns -1. */
int lb_io_fail(char *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- element codec ------------------------------------------------------------------ */
/* One stored element type: kind 'f' (IEEE float), 'i' (signed), 'u' (unsigned), 'b' (bool);
** size in bytes; big = 1 for big-endian storage. */
typedef struct {
    char kind;
    int size;
    int big;
} lb_elem;

/* Converts n stored elements at raw into t's data from flat element `start` on.  t must be
** contiguous (rt_empty).  Floats stored into i64, or u8 values above INT64_MAX, are range
** errors that name the element (0-based flat index).  Returns 0 or -1 with err set. */
int lb_io_decode(const unsigned char *raw, int64_t n, lb_elem e, rt_tensor *t, int64_t start,
                 char *err);

/* ---- byte sources ----------------------------------------------------------------- */
/* A region [pos, end) read from f (when mem is NULL; f must be positioned at pos) or from mem.
** Offsets in messages are these positions: file offsets for a file, member offsets for a zip
** member.  name prefixes every message, e.g. "w.npy" or "model.npz: member 'fc.w.npy'". */
typedef struct {
    FILE *f;
    const unsigned char *mem;
    uint64_t pos, end;
    const char *name;
} lb_src;

/* Reads exactly n bytes; -1 with err naming the offset on a short read. */
int lb_src_read(lb_src *s, void *dst, uint64_t n, char *err);

/* ---- .npy (lb_npy.c) ----------------------------------------------------------------- */
/* Parses a whole .npy image from s (which must end exactly where the data ends) into a new
** tensor: floats f2/f4 -> f32, f8 -> f64, integers and bools -> i64; Fortran order is
** transposed into C order.  The header is checked before anything is allocated, and the data
** size is checked against s->end.  Returns 0 with *out set, or -1 with err set. */
int lb_npy_read(lb_src *s, rt_tensor **out, char *err);

/* The .npy prefix (magic, version 1.0, header dict padded to a multiple of 64 bytes) for a
** tensor of t's dtype and shape; buf must hold LB_NPY_HDRMAX bytes.  Returns its length. */
#define LB_NPY_HDRMAX 512
size_t lb_npy_header(const rt_tensor *t, char *buf);

/* ---- IDX (lb_idx.c) ------------------------------------------------------------------- */
/* Reads an IDX file, gzip-compressed or plain, into a new tensor of its own shape with values
** converted to dt.  max_rows >= 0 reads only the first max_rows entries along dimension 1
** (then trailing data is not checked); -1 reads all.  Returns 0 or -1 with err set. */
int lb_idx_read(const char *path, rt_dtype dt, int64_t max_rows, rt_tensor **out, char *err);

#endif
