/* pool2x2.c — the 2x2, stride-2 max pool without padding or dilation (the CNN default), on
** one plane with unit-stride rows, forward and backward.  The generic kernels in ops_pool.c
** walk window tables; these loops are branch-free so the compiler vectorizes them (the
** stride-2 pairs become shuffles), and the backward writes every input element once, so gx
** needs no zeroing pass and no scatter.  Same scan order and NaN rule as the generic kernel
** (`v > m || v != v`: the first of equal maxima, the last NaN), so the same values and
** indices. */
#include <string.h>
#include "internal.h"

/* x: plane with row stride sh (elements)  o, ix: (Ho,Wo) contiguous; ix may be NULL.
** Indices are row-major in the (H,W) input plane. */
void rti_maxpool2x2_f32(const float *x, int64_t sh, int64_t W, int64_t Ho, int64_t Wo,
                        float *o, int64_t *ix)
{
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *restrict r0 = x + 2 * oh * sh, *restrict r1 = r0 + sh;
        float *restrict orow = o + oh * Wo;
        int64_t *restrict irow = ix ? ix + oh * Wo : NULL, base = 2 * oh * W;
        if (irow) {
            for (int64_t ow = 0; ow < Wo; ow++) {
                float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
                float m = a;
                int64_t k = 0;
                int t = (b > m) | (b != b);
                m = t ? b : m;
                k = t ? 1 : k;
                t = (c > m) | (c != c);
                m = t ? c : m;
                k = t ? W : k;
                t = (d > m) | (d != d);
                m = t ? d : m;
                k = t ? W + 1 : k;
                orow[ow] = m;
                irow[ow] = base + 2 * ow + k;
            }
        } else {
            for (int64_t ow = 0; ow < Wo; ow++) {
                float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
                float m = a;
                m = ((b > m) | (b != b)) ? b : m;
                m = ((c > m) | (c != c)) ? c : m;
                m = ((d > m) | (d != d)) ? d : m;
                orow[ow] = m;
            }
        }
    }
}

/* One row of outputs: the two input rows r0, r1 of their blocks.  Separate restrict
** parameters let the compiler vectorize (restrict locals in the caller did not). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int backward_row(const float *restrict g, const int64_t *restrict ix, int64_t base,
                        int64_t W, int64_t Wo, float *restrict r0, float *restrict r1)
{
    int bad = 0;
    for (int64_t ow = 0; ow < Wo; ow++) {
        int64_t k = ix[ow] - base - 2 * ow;
        float v = g[ow];
        r0[2 * ow] = k == 0 ? v : 0.0f;
        r0[2 * ow + 1] = k == 1 ? v : 0.0f;
        r1[2 * ow] = k == W ? v : 0.0f;
        r1[2 * ow + 1] = k == W + 1 ? v : 0.0f;
        bad |= (k != 0) & (k != 1) & (k != W) & (k != W + 1);
    }
    return bad;
}

/* g: (Ho,Wo) with row stride gs  ix: (Ho,Wo) with row stride is  gx: (H,W) contiguous,
** H >= 2*Ho and W >= 2*Wo.  Each output's gradient goes to its index, which must lie in the
** output's own 2x2 block; the other three block elements, and the rows and columns no block
** covers, get zeros.  Returns 0, or 1 when some index lies outside its block (gx is then
** partly written; the caller redoes the plane with the generic scatter). */
int rti_maxpool2x2_backward_f32(const float *g, int64_t gs, const int64_t *ix, int64_t is,
                                int64_t H, int64_t W, int64_t Ho, int64_t Wo, float *gx)
{
    int bad = 0;
    for (int64_t oh = 0; oh < Ho; oh++) {
        float *r0 = gx + 2 * oh * W, *r1 = r0 + W;
        bad |= backward_row(g + oh * gs, ix + oh * is, 2 * oh * W, W, Wo, r0, r1);
        if (W > 2 * Wo) {                                   /* columns no block covers */
            memset(r0 + 2 * Wo, 0, (size_t)(W - 2 * Wo) * sizeof *gx);
            memset(r1 + 2 * Wo, 0, (size_t)(W - 2 * Wo) * sizeof *gx);
        }
    }
    if (H > 2 * Ho) memset(gx + 2 * Ho * W, 0, (size_t)((H - 2 * Ho) * W) * sizeof *gx);
    return bad;
}
