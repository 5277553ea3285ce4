/* rt_random.h — random tensors from a counter-based generator (Philox4x32-10, Salmon et al.,
** "Parallel random numbers: as easy as 1, 2, 3", SC 2011).  Each element's value depends only
** on (seed, offset, element index), never on the thread count or on how the work is chunked.
** Pure C11: no Lua here. */
#ifndef RT_RANDOM_H
#define RT_RANDOM_H

#include <stdint.h>
#include "rt_core.h"

/* ---- generators -------------------------------------------------------------------------
** A generator is just (seed, offset): the Philox key is the 64-bit seed, and the counter of
** block b is (lo32(b), hi32(b), draw, 0) with b = offset + i/4 for flat element i (row-major
** over the output or the view being filled; lane i%4 of the block's four words).  `draw`
** numbers the extra blocks one element may need (53-bit doubles, rejection in randint).
** Every successful call advances offset by ceil(numel/4) (randperm: ceil(n/4)), so calls never
** reuse a counter; a failed call leaves the generator unchanged.  Fill the struct yourself
** (e.g. `rt_generator g = {42, 0};`); it owns nothing.  Functions below take `gen == NULL` to
** mean the default generator, which belongs to the thread that owns the runtime (not
** thread-safe, like every other runtime call). */
typedef struct {
    uint64_t seed, offset;
} rt_generator;

/* The default generator (borrowed pointer).  Before any rt_manual_seed it is (RT_DEFAULT_SEED, 0),
** so a fresh process draws the same numbers every time. */
#define RT_DEFAULT_SEED 67280421310721ull
rt_generator *rt_default_generator(void);
/* Resets the default generator to (seed, 0). */
void rt_manual_seed(uint64_t seed);

/* The Philox4x32-10 bijection itself: out = philox(ctr, key).  Exposed so tests can check it
** against the Random123 known-answer vectors and so other code can derive streams. */
void rt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* ---- new random tensors -----------------------------------------------------------------
** Each returns a new contiguous tensor of the given shape through *out (caller releases);
** *out is untouched on failure.  Shapes: ndim 0..RT_MAXDIM, sizes >= 0 (RT_EARG otherwise).
** RT_ENOMEM if the tensor cannot be allocated; RT_EINTERRUPT if interrupted. */

/* Uniform on [lo, hi): lo + (hi-lo)*u with u from 24 random bits (f32) or 53 bits (f64),
** rounded to dt and clamped below hi, so hi itself is never returned (lo == hi returns lo).
** dt: f32 or f64 (RT_EDTYPE otherwise).  RT_EARG: lo > hi, a bound not finite or outside the
** dtype's range, or hi - lo overflowing a double. */
rt_status rt_rand_uniform(rt_generator *gen, rt_dtype dt, int ndim, const int64_t *shape,
                          double lo, double hi, rt_tensor **out);

/* Normal(mean, std^2) by Box-Muller on the pairs of lanes (0,1) and (2,3) of a block.
** f32 uses 32-bit uniforms (so |z| <= 6.66, a tail cut of probability 3e-11); f64 uses
** 53-bit uniforms (|z| <= 8.57).  dt: f32 or f64 (RT_EDTYPE otherwise).
** RT_EARG: std < 0, or mean/std not finite. */
rt_status rt_rand_normal(rt_generator *gen, rt_dtype dt, int ndim, const int64_t *shape,
                         double mean, double std, rt_tensor **out);

/* Integers uniform on the inclusive range [lo, hi], exactly unbiased: a range of r <= 2^32
** values draws 32-bit words, a wider one 64-bit words, and words below 2^32 mod r (resp.
** 2^64 mod r) are rejected and redrawn from the next `draw` of the same block.  lo = INT64_MIN,
** hi = INT64_MAX (r = 2^64) takes raw 64-bit words.  dt: i64, or f32/f64 (values converted,
** so rounded beyond 2^24 / 2^53).  RT_EARG: lo > hi. */
rt_status rt_randint(rt_generator *gen, int64_t lo, int64_t hi, rt_dtype dt, int ndim,
                     const int64_t *shape, rt_tensor **out);

/* out[i] = 1 with probability p[i], else 0, where u < p[i] for a 53-bit uniform u (so p = 0
** never and p = 1 always gives 1).  p: any f32/f64 tensor (any strides, broadcast views
** included); out has p's shape and dtype.  RT_EDTYPE: p is i64.  RT_EARG: some p[i] outside
** [0, 1] or NaN (the message names the first such flat index and its value). */
rt_status rt_bernoulli(rt_generator *gen, const rt_tensor *p, rt_tensor **out);
/* The same with one p for every element.  dt: f32, f64 or i64.  RT_EARG: p outside [0, 1]. */
rt_status rt_bernoulli_scalar(rt_generator *gen, double p, rt_dtype dt, int ndim,
                              const int64_t *shape, rt_tensor **out);

/* A uniformly random permutation of 0..n-1 as an i64 tensor of shape (n): Fisher-Yates where
** the swap partner of step i is drawn (unbiased, as in randint) from block offset + i/4,
** lane i%4.  Serial, polls the interrupt flag.  RT_EARG: n < 0. */
rt_status rt_randperm(rt_generator *gen, int64_t n, rt_tensor **out);

/* ---- in-place fills (nn.init) --------------------------------------------------------------
** Overwrite every element of t, which may be any strided view (transposed, sliced, offset);
** elements are numbered in t's row-major order, so filling a view gives the same values as
** drawing a new tensor of its shape from the same generator state.  Bumps t's version.
** RT_EDTYPE: t is not f32/f64.  RT_EARG: as for the functions above, or t is an expanded view
** (a stride-0 dimension of size > 1 would be written from several threads). */
rt_status rt_uniform_(rt_generator *gen, rt_tensor *t, double lo, double hi);
rt_status rt_normal_(rt_generator *gen, rt_tensor *t, double mean, double std);

#endif
