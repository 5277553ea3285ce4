/* reduce_internal.h — private to the reduction family (ops_reduce.c, ops_softmax.c,
** ops_sort.c, reduce_kernels.c): the geometry of work along one dimension, block conversion
** between dtypes and double, and the accumulation kernels.  Not public API. */
#ifndef RT_REDUCE_INTERNAL_H
#define RT_REDUCE_INTERNAL_H

#include <stdint.h>
#include "internal.h"

#define RG_MAXOP 3
#define RG_BLOCK 1024      /* elements converted to double per step: 8 KiB of worker stack */
/* Columns per tile of the row path: each row read is 4-8 KiB, long enough for the hardware
** prefetcher to stream strided rows (512-byte reads ran at half the speed); the tile's states
** take ~60 KiB of worker stack. */
#define RG_TILE 1024
#define RG_SMALL_N 16      /* slices this short are combined as rows too (strided columns) */
#define RG_GRAIN 32768     /* elements of work per pool chunk; fixed, for determinism */

/* ---- geometry ------------------------------------------------------------------------
** Work along dims [d0, d1] of operand 0 (which must coalesce into one strided run of n
** elements) for every index of the other ("kept") dims.  Kept dims are coalesced where every
** operand allows, and enumerated row-major: lane o is the o-th kept index, which is also the
** flat index of a contiguous reduction output.  Operands may differ in size along [d0, d1]
** (a reduction output has 1 there, topk has k) but share the kept sizes. */
typedef struct {
    int nop, nk;
    int64_t n;                             /* size of the worked dim(s) in operand 0 */
    int64_t nout;                          /* lanes: product of the kept sizes */
    int64_t kshape[RT_MAXDIM];
    int64_t kstride[RG_MAXOP][RT_MAXDIM];  /* elements */
    int64_t dstride[RG_MAXOP];             /* elements, along the worked dim(s) */
    char *base[RG_MAXOP];
    int64_t esize[RG_MAXOP];
} rti_rgeom;

void rti_rg_init(rti_rgeom *g, int nop, const rt_tensor *const *ops, int d0, int d1);
/* Address of element 0 (along the worked dim) of lane o in operand op. */
char *rti_rg_ptr(const rti_rgeom *g, int op, int64_t o);
/* Whether to combine whole rows (out[j] op= x[k, j], j along the innermost kept dim, k along
** the worked dim) rather than reduce one lane at a time: when the innermost kept dim has stride
** 1 in every operand and the worked dim does not (loops then run along memory), or when the
** worked dim is so short (<= RG_SMALL_N) that per-lane overhead would dominate. */
int rti_rg_rowable(const rti_rgeom *g);
/* Size of that innermost kept dim (the row length m), and its stride in operand op. */
int64_t rti_rg_rowlen(const rti_rgeom *g);
int64_t rti_rg_colstride(const rti_rgeom *g, int op);
/* Tile width for rows of m columns in `outer` groups: RG_TILE, halved (down to 512) until
** there are enough tiles to share among threads.  Depends on the shape only; the row path's
** results do not depend on it anyway (every column is combined in row order). */
int64_t rti_rg_tile_width(int64_t outer, int64_t m);

/* A 0-d tensor seen as shape [1] (a struct copy sharing storage; never released). */
void rti_rg_as_vector(const rt_tensor *x, rt_tensor *v);

/* len elements of dtype dt at p (element stride) as doubles: p itself when it already is a
** contiguous f64 run, else converted into buf (len <= RG_BLOCK). */
const double *rti_rg_load(const char *p, rt_dtype dt, int64_t stride, int64_t len, double *buf);
/* Stores len doubles into f64 or f32 elements (f32 rounds); not for i64. */
void rti_rg_store(char *p, rt_dtype dt, int64_t stride, const double *v, int64_t len);

/* ---- accumulation kernels --------------------------------------------------------------
** A kind is one pass over the data; ops combine one or two passes (var = SUM then SQDEV).
** Float data is accumulated in double (v); i64 data in iv (SUM/PROD wrap); i is a position. */
typedef enum {
    RK_SUM, RK_PROD, RK_MAX, RK_MIN, RK_ARGMAX, RK_ARGMIN,    /* every dtype */
    RK_SQDEV, RK_ABS, RK_SQ, RK_POW, RK_MAXABS, RK_EXP        /* floats only; take a param */
} rti_rkind;

typedef struct {
    double v;
    int64_t iv, i;
} rti_rstate;

/* One tile of row-path states, column c for each of w <= RG_TILE columns. */
typedef struct {
    double v[RG_TILE];
    int64_t iv[RG_TILE], i[RG_TILE];
} rti_rrow;

void rti_rk_init(rti_rkind k, rti_rstate *s);
/* Feeds n elements (dtype dt, element stride) whose positions are base, base+1, ...
** param: the mean for SQDEV, p for POW, the maximum for EXP. */
void rti_rk_feed(rti_rkind k, double param, rti_rstate *s, const char *p, rt_dtype dt,
                 int64_t n, int64_t stride, int64_t base);
/* Combines b (which covers later positions) into a. */
void rti_rk_merge(rti_rkind k, rti_rstate *a, const rti_rstate *b);

void rti_rk_row_init(rti_rkind k, rti_rrow *r, int64_t w);
/* Feeds one row of w elements (element stride cs) at position pos; param: one value per
** column (NULL for kinds without one). */
void rti_rk_row_feed(rti_rkind k, const double *param, rti_rrow *r, const char *p,
                     rt_dtype dt, int64_t w, int64_t cs, int64_t pos);

#endif
