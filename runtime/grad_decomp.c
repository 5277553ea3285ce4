/* grad_decomp.c — autograd for the factorisations (cholesky, eigh, svd, qr) and for pinv and
** lstsq.  Forwards are the rt_linalg.h kernels; each backward is the standard formula (the
** ones PyTorch uses) written with differentiable ops, with the factors recomputed under
** create_graph so that second derivatives flow through them (grad_linalg_internal.h). */
#include <string.h>
#include "grad_linalg_internal.h"
#include "rt_linalg.h"
#include "rt_elementwise.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"
#include "rt_ad_linalg.h"

/* ---- constants ----------------------------------------------------------------------------- */

/* The (r,c) matrix with ones where lo <= j - i <= hi (i row, j column) and zeros elsewhere:
** tril is (-r, 0), the strict lower part (-r, -1), triu (0, c), the identity (0, 0). */
static rt_tensor *s_band(rti_scratch *s, rt_dtype dt, int64_t r, int64_t c, int64_t lo,
                         int64_t hi)
{
    rt_tensor *m = NULL;
    if (s->st != RT_OK) return NULL;
    int64_t shape[2] = { r, c };
    rt_status st = rt_zeros(dt, 2, shape, &m);
    if (st == RT_OK) {
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < c; j++) {
                int64_t idx[2] = { i, j };
                if (j - i >= lo && j - i <= hi) rt_tensor_set(m, idx, 1);
            }
    }
    return rti_gl_const(s, st, m);
}

static rt_tensor *s_eye(rti_scratch *s, rt_dtype dt, int64_t n)
{
    return s_band(s, dt, n, n, 0, 0);
}

/* x * band (masking a batch of matrices). */
static rt_tensor *s_mask(rti_scratch *s, const rt_tensor *x, int64_t lo, int64_t hi)
{
    if (s->st != RT_OK || !x) return NULL;
    int64_t r = x->shape[x->ndim - 2], c = x->shape[x->ndim - 1];
    return rti_s_bin(s, RT_MUL, x, s_band(s, x->dtype, r, c, lo, hi));
}

/* a + b where either may be NULL (a zero gradient). */
static rt_tensor *s_add0(rti_scratch *s, rt_tensor *a, rt_tensor *b)
{
    if (!a) return b;
    if (!b) return a;
    return rti_s_bin(s, RT_ADD, a, b);
}

/* Records op over the one input A (see rti_gl_record). */
static rt_status record_saving(const rt_opdef *op, const rt_tensor *A, int nout,
                               rt_tensor *const *outs, const int64_t *iarg, int narg,
                               double farg)
{
    rt_tensor *in = (rt_tensor *)A;
    return rti_gl_record(op, 1, &in, nout, outs, iarg, narg, farg);
}

/* ---- cholesky --------------------------------------------------------------------------------
** A = L L^T:  P = tril(L^T gL),  gA = L^-T sym(P) L^-1 with sym(P) = (P + P^T) / 2 whose diagonal
** is P's halved (Murray 2016, arXiv:1602.07527; PyTorch's cholesky_backward). */
static rt_status cholesky_recompute(rt_node *n, int k, rt_tensor **out)
{
    (void)k;
    return rt_ad_cholesky(n->in[0], out);
}

static rt_status cholesky_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *L = rti_gl_output(&s, n, 0, cholesky_recompute);
    rt_tensor *Lt = rti_gl_mT(&s, L);
    rt_tensor *P = s_mask(&s, rti_gl_mm(&s, Lt, gout[0]), -INT64_MAX, 0);
    rt_tensor *sym = rti_s_bin(&s, RT_ADD, P, rti_gl_mT(&s, s_mask(&s, P, -INT64_MAX, -1)));
    rt_tensor *Y = rti_gl_solve(&s, Lt, rti_s_scal(&s, RT_MUL, sym, 0.5, 0));   /* L^-T sym */
    return rti_s_done(&s, rti_gl_rsolve(&s, Y, L), &gin[0]);                      /* Y L^-1 */
}
static const rt_opdef op_cholesky = { "cholesky", cholesky_backward, 1 };

rt_status rt_ad_cholesky(const rt_tensor *A, rt_tensor **L)
{
    rt_tensor *o;
    rt_status st = rt_linalg_cholesky(A, &o);
    if (st != RT_OK) return st;
    rt_tensor **slots[1] = { L };
    return rti_gl_hand_out(record_saving(&op_cholesky, A, 1, &o, NULL, 0, 0), 1, &o, slots);
}

/* ---- eigh ------------------------------------------------------------------------------------
** A = V diag(w) V^T:  gA = V (diag(gw) + (skew(V^T gV) / 2) / E) V^T, E_ij = w_j - w_i off the
** diagonal and 1 on it (the skew part's diagonal is 0).  Outputs: w (0), V (1). */
static rt_status eigh_recompute(rt_node *n, int k, rt_tensor **out)
{
    rt_tensor *w = NULL, *V = NULL;
    rt_status st = rt_ad_eigh(n->in[0], &w, &V);
    if (st != RT_OK) return st;
    *out = k == 0 ? w : V;
    rt_tensor_release(k == 0 ? V : w);
    return RT_OK;
}

static rt_status eigh_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0}, t = {0};
    rt_tensor *gw = gout[0], *gV = gout[1], *M = NULL;
    rt_tensor *V = rti_gl_output(&s, n, 1, eigh_recompute);
    int64_t nn = n->in[0]->shape[n->in[0]->ndim - 1];
    rt_dtype dt = n->in[0]->dtype;
    if (gV) {
        rt_tensor *w = rti_gl_output(&t, n, 0, eigh_recompute);
        rt_tensor *E = rti_s_bin(&t, RT_SUB, rti_gl_unsq(&t, w, -2), rti_gl_unsq(&t, w, -1));
        rt_tensor *VtgV = rti_gl_mm(&t, rti_gl_mT(&t, V), gV);
        rt_tensor *K = rti_s_bin(&t, RT_SUB, VtgV, rti_gl_mT(&t, VtgV));
        rt_tensor *D = rti_s_bin(&t, RT_ADD, E, s_eye(&t, dt, nn));
        M = rti_gl_carry(&s, &t, rti_s_scal(&t, RT_MUL, rti_s_bin(&t, RT_DIV, K, D), 0.5, 0));
    }
    if (gw) M = s_add0(&s, M, rti_s_bin(&s, RT_MUL, rti_gl_unsq(&s, gw, -1), s_eye(&s, dt, nn)));
    return rti_s_done(&s, rti_gl_mm(&s, rti_gl_mm(&s, V, M), rti_gl_mT(&s, V)), &gin[0]);
}
static const rt_opdef op_eigh = { "eigh", eigh_backward, 1 };

rt_status rt_ad_eigh(const rt_tensor *A, rt_tensor **eigenvalues, rt_tensor **eigenvectors)
{
    rt_tensor *in = (rt_tensor *)A, *o[2] = { NULL, NULL };
    int rec = rt_any_requires_grad(1, &in);
    rt_status st = rt_linalg_eigh(A, &o[0], eigenvectors || rec ? &o[1] : NULL);
    if (st != RT_OK) return st;
    rt_tensor **slots[2] = { eigenvalues, eigenvectors };
    return rti_gl_hand_out(record_saving(&op_eigh, A, 2, o, NULL, 0, 0), 2, o, slots);
}

/* ---- svd -------------------------------------------------------------------------------------
** A = U diag(S) Vh, k = min(m,n), on the reduced factors (PyTorch's svd_backward):
**   inner = (skew(U^T gU) S_row + S_col skew(Vh gVh^T)) / E + diag(gS),  E_ij = s_j^2 - s_i^2
**   m > n:  gA = (U inner + (I - U U^T) gU S^-1) Vh
**   m < n:  gA = U (inner Vh + S^-1 gVh (I - Vh^T Vh))
**   else:   gA = U inner Vh
** Outputs U (0), S (1), Vh (2); iarg[0] = full_matrices. */
static rt_status svd_recompute(rt_node *n, int k, rt_tensor **out)
{
    rt_tensor *o[3] = { NULL, NULL, NULL };
    rt_status st = rt_ad_svd(n->in[0], (int)n->iarg[0], &o[0], &o[1], &o[2]);
    if (st != RT_OK) return st;
    for (int i = 0; i < 3; i++) {
        if (i == k) *out = o[i];
        else rt_tensor_release(o[i]);
    }
    return RT_OK;
}

/* 1 if every element of t is zero, 0 if not, -1 on failure. */
static int all_zero(const rt_tensor *t)
{
    rt_tensor *c = NULL;
    if (rt_contiguous(t, &c) != RT_OK) return -1;
    int64_t n = rt_tensor_numel(c);
    int z = 1;
    for (int64_t i = 0; i < n && z; i++)
        z = (c->dtype == RT_F32 ? ((const float *)rt_tensor_data(c))[i]
                                : ((const double *)rt_tensor_data(c))[i]) == 0;
    rt_tensor_release(c);
    return z;
}

/* A full U (or Vh^T) has columns beyond k that are not functions of A: a gradient may not
** reach them.  g is gU (..., m, m) or gVh^T; returns g narrowed to (..., m, k). */
static rt_tensor *s_first_k(rti_scratch *s, rt_tensor *g, int64_t k, const char *name)
{
    rt_tensor *extra = NULL;
    if (s->st != RT_OK || !g) return g;
    int64_t m = g->shape[g->ndim - 1];
    rt_status st = rt_view_narrow(g, g->ndim - 1, k, m - k, &extra);
    int z = st == RT_OK ? all_zero(extra) : -1;
    rt_tensor_release(extra);
    if (z < 0) return rti_gl_const(s, st == RT_OK ? RT_ENOMEM : st, NULL);
    if (!z) {
        s->st = rt_fail(RT_EARG, 0, "backward of svd: the loss depends on the extra %s of %s "
                        "from full_matrices=true, which are not unique functions of A; use "
                        "full_matrices=false", name[0] == 'U' ? "columns" : "rows", name);
        return NULL;
    }
    return rti_gl_narrow(s, g, -1, 0, k);
}

/* inner (..., k, k) from the reduced factors; gU, gVh may be NULL. */
static rt_tensor *svd_inner(rti_scratch *s, rt_tensor *U, rt_tensor *S, rt_tensor *Vh,
                            rt_tensor *gU, rt_tensor *gS, rt_tensor *gVh)
{
    rti_scratch t = {0}, u = {0};
    rt_tensor *inner = NULL, *num = NULL;
    int64_t k = S->shape[S->ndim - 1];
    if (gU) {
        rt_tensor *UtgU = rti_gl_mm(&t, rti_gl_mT(&t, U), gU);
        rt_tensor *sk = rti_s_bin(&t, RT_SUB, UtgU, rti_gl_mT(&t, UtgU));
        num = rti_s_bin(&t, RT_MUL, sk, rti_gl_unsq(&t, S, -2));
    }
    if (gVh) {
        rt_tensor *VtgV = rti_gl_mm(&t, Vh, rti_gl_mT(&t, gVh));
        rt_tensor *sk = rti_s_bin(&t, RT_SUB, VtgV, rti_gl_mT(&t, VtgV));
        num = s_add0(&t, num, rti_s_bin(&t, RT_MUL, rti_gl_unsq(&t, S, -1), sk));
    }
    if (gU || gVh) {
        num = rti_gl_carry(&u, &t, num);
        rt_tensor *S2 = rti_s_bin(&u, RT_MUL, S, S);
        rt_tensor *E = rti_s_bin(&u, RT_SUB, rti_gl_unsq(&u, S2, -2), rti_gl_unsq(&u, S2, -1));
        E = rti_s_bin(&u, RT_ADD, E, s_eye(&u, S->dtype, k));
        inner = rti_gl_carry(s, &u, rti_s_bin(&u, RT_DIV, num, E));
    }
    if (gS) inner = s_add0(s, inner, rti_s_bin(s, RT_MUL, rti_gl_unsq(s, gS, -1),
                                               s_eye(s, S->dtype, k)));
    return inner;
}

static rt_status svd_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0}, t = {0};
    const rt_tensor *A = n->in[0];
    int64_t m = A->shape[A->ndim - 2], nc = A->shape[A->ndim - 1], k = m < nc ? m : nc;
    rt_tensor *U = rti_gl_output(&s, n, 0, svd_recompute);
    rt_tensor *S = rti_gl_output(&s, n, 1, svd_recompute);
    rt_tensor *Vh = rti_gl_output(&s, n, 2, svd_recompute);
    rt_tensor *gU = gout[0], *gS = gout[1], *gVh = gout[2];
    if (n->iarg[0] && m != nc) {   /* full matrices: keep the first k singular vectors */
        gU = s_first_k(&s, gU, k, "U");
        gVh = gVh ? rti_gl_mT(&s, s_first_k(&s, rti_gl_mT(&s, gVh), k, "Vh")) : NULL;
        U = rti_gl_narrow(&s, U, -1, 0, k);
        Vh = rti_gl_narrow(&s, Vh, -2, 0, k);
    }
    if (s.st != RT_OK) return rti_s_done(&s, NULL, NULL);
    rt_tensor *inner = svd_inner(&s, U, S, Vh, gU, gS, gVh), *gA;
    if (m > nc && gU) {
        rt_tensor *Ut = rti_gl_mT(&t, U);
        rt_tensor *gUS = rti_s_bin(&t, RT_DIV, gU, rti_gl_unsq(&t, S, -2));
        rt_tensor *proj = rti_s_bin(&t, RT_SUB, gUS, rti_gl_mm(&t, U, rti_gl_mm(&t, Ut, gUS)));
        gA = rti_gl_mm(&t, rti_s_bin(&t, RT_ADD, rti_gl_mm(&t, U, inner), proj), Vh);
    } else if (m < nc && gVh) {
        rt_tensor *SgV = rti_s_bin(&t, RT_DIV, gVh, rti_gl_unsq(&t, S, -1));
        rt_tensor *proj = rti_s_bin(&t, RT_SUB, SgV,
                                    rti_gl_mm(&t, rti_gl_mm(&t, SgV, rti_gl_mT(&t, Vh)), Vh));
        gA = rti_gl_mm(&t, U, rti_s_bin(&t, RT_ADD, rti_gl_mm(&t, inner, Vh), proj));
    } else {
        gA = rti_gl_mm(&t, rti_gl_mm(&t, U, inner), Vh);
    }
    if (s.st != RT_OK) t.st = s.st;
    rti_s_done(&s, NULL, NULL);
    return rti_s_done(&t, gA, &gin[0]);
}
static const rt_opdef op_svd = { "svd", svd_backward, 1 };

rt_status rt_ad_svd(const rt_tensor *A, int full_matrices, rt_tensor **U, rt_tensor **S,
                    rt_tensor **Vh)
{
    rt_tensor *in = (rt_tensor *)A, *o[3] = { NULL, NULL, NULL };
    int vecs = U || Vh || rt_any_requires_grad(1, &in);
    rt_status st = rt_linalg_svd(A, full_matrices, vecs ? &o[0] : NULL, &o[1],
                                 vecs ? &o[2] : NULL);
    if (st != RT_OK) return st;
    int64_t full = full_matrices != 0;
    rt_tensor **slots[3] = { U, S, Vh };
    return rti_gl_hand_out(record_saving(&op_svd, A, 3, o, &full, 1, 0), 3, o, slots);
}

/* ---- qr ----------------------------------------------------------------------------------------
** A = Q R, with X = gR R^T - Q^T gQ (PyTorch's linalg_qr_backward):
**   m >= n:  gA = (gQ + Q copyu(X)) R^-T, copyu(X) the symmetric matrix with X's upper triangle
**   m < n:   gA = [Q tril(X^T - X) R1^-T, 0] + Q gR, R1 = R's first m columns
** Outputs Q (0), R (1); iarg[0] = reduced. */
static rt_status qr_recompute(rt_node *n, int k, rt_tensor **out)
{
    rt_tensor *Q = NULL, *R = NULL;
    rt_status st = rt_ad_qr(n->in[0], (int)n->iarg[0], &Q, &R);
    if (st != RT_OK) return st;
    *out = k == 0 ? Q : R;
    rt_tensor_release(k == 0 ? R : Q);
    return RT_OK;
}

static rt_status qr_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *A = n->in[0];
    int64_t m = A->shape[A->ndim - 2], nc = A->shape[A->ndim - 1];
    rt_tensor *gQ = gout[0], *gR = gout[1];
    if (!n->iarg[0] && m > nc)
        return rt_fail(RT_EARG, 0, "backward of qr: mode 'complete' with more rows than "
                       "columns (%lld > %lld) is not differentiable (Q's extra columns are not "
                       "unique); use mode 'reduced'", (long long)m, (long long)nc);
    rti_scratch t = {0}, u = {0};
    rt_tensor *Q = rti_gl_output(&s, n, 0, qr_recompute);
    rt_tensor *R = rti_gl_output(&s, n, 1, qr_recompute);
    rt_tensor *X = gR ? rti_gl_mm(&t, gR, rti_gl_mT(&t, R)) : NULL;
    if (gQ) {
        rt_tensor *QtgQ = rti_gl_mm(&t, rti_gl_mT(&t, Q), gQ);
        X = X ? rti_s_bin(&t, RT_SUB, X, QtgQ) : rti_s_un(&t, RT_NEG, QtgQ);
    }
    X = rti_gl_carry(&u, &t, X);
    rt_tensor *gA;
    if (m >= nc) {
        rt_tensor *up = s_mask(&u, X, 0, INT64_MAX);
        rt_tensor *sym = rti_s_bin(&u, RT_ADD, up, rti_gl_mT(&u, s_mask(&u, X, 1, INT64_MAX)));
        gA = s_add0(&u, rti_gl_mm(&u, Q, sym), gQ);
        gA = rti_gl_rsolve(&u, gA, rti_gl_mT(&u, R));
    } else {
        rt_tensor *sk = s_mask(&u, rti_s_bin(&u, RT_SUB, rti_gl_mT(&u, X), X), -INT64_MAX, 0);
        rt_tensor *R1 = rti_gl_narrow(&u, R, -1, 0, m);
        rt_tensor *G1 = rti_gl_rsolve(&u, rti_gl_mm(&u, Q, sk), rti_gl_mT(&u, R1));
        rt_tensor *pad = NULL;
        if (G1) {
            int64_t shape[RT_MAXDIM];
            memcpy(shape, G1->shape, sizeof shape);
            shape[G1->ndim - 1] = nc;
            rt_status st = rt_ad_slice_backward(G1, G1->ndim, shape, G1->ndim - 1, 0, m, 1, 0,
                                                &pad);
            pad = rti_s_keep(&u, st, pad);
        }
        gA = s_add0(&u, pad, gR ? rti_gl_mm(&u, Q, gR) : NULL);
    }
    if (s.st != RT_OK) u.st = s.st;
    rti_s_done(&s, NULL, NULL);
    return rti_s_done(&u, gA, &gin[0]);
}
static const rt_opdef op_qr = { "qr", qr_backward, 1 };

rt_status rt_ad_qr(const rt_tensor *A, int reduced, rt_tensor **Q, rt_tensor **R)
{
    rt_tensor *in = (rt_tensor *)A, *o[2] = { NULL, NULL };
    int wantq = Q || rt_any_requires_grad(1, &in);
    rt_status st = rt_linalg_qr(A, reduced, wantq ? &o[0] : NULL, &o[1]);
    if (st != RT_OK) return st;
    int64_t red = reduced != 0;
    rt_tensor **slots[2] = { Q, R };
    return rti_gl_hand_out(record_saving(&op_qr, A, 2, o, &red, 1, 0), 2, o, slots);
}

/* ---- pinv --------------------------------------------------------------------------------------
** The derivative of P = A^+ for A (m,n) of locally constant rank, as a vector-Jacobian product
** with G = dL/dP (n,m) (Golub & Pereyra 1973; PyTorch's pinv_backward, which keeps every
** intermediate at the smaller size):
**   m <= n:  K = G^T P,  gA = -(P K)^T + K P^T - A P K P^T + P^T P (G^T - K A)
**   m > n:   K = P G^T,  gA = -(K P)^T + P^T K - P^T K P A + (G^T - A K) P P^T */
static rt_tensor *pinv_grad(rti_scratch *s, const rt_tensor *A, rt_tensor *P, rt_tensor *G)
{
    rti_scratch t = {0};
    if (s->st != RT_OK || !P || !G) return NULL;
    int64_t m = A->shape[A->ndim - 2], n = A->shape[A->ndim - 1];
    rt_tensor *Pt = rti_gl_mT(&t, P), *Gt = rti_gl_mT(&t, G), *r1, *r2;
    if (m <= n) {
        rt_tensor *K = rti_gl_mm(&t, Gt, P);
        rt_tensor *KPt = rti_gl_mm(&t, K, Pt);
        r1 = rti_s_bin(&t, RT_SUB, KPt, rti_gl_mT(&t, rti_gl_mm(&t, P, K)));
        r1 = rti_s_bin(&t, RT_SUB, r1, rti_gl_mm(&t, rti_gl_mm(&t, A, P), KPt));
        r2 = rti_gl_mm(&t, rti_gl_mm(&t, Pt, P), rti_s_bin(&t, RT_SUB, Gt, rti_gl_mm(&t, K, A)));
    } else {
        rt_tensor *K = rti_gl_mm(&t, P, Gt);
        rt_tensor *PtK = rti_gl_mm(&t, Pt, K);
        r1 = rti_s_bin(&t, RT_SUB, PtK, rti_gl_mT(&t, rti_gl_mm(&t, K, P)));
        r1 = rti_s_bin(&t, RT_SUB, r1, rti_gl_mm(&t, PtK, rti_gl_mm(&t, P, A)));
        r2 = rti_gl_mm(&t, rti_s_bin(&t, RT_SUB, Gt, rti_gl_mm(&t, A, K)), rti_gl_mm(&t, P, Pt));
    }
    return rti_gl_carry(s, &t, rti_s_bin(&t, RT_ADD, r1, r2));
}

static rt_status pinv_recompute(rt_node *n, int k, rt_tensor **out)
{
    (void)k;
    return rt_ad_pinv(n->in[0], n->farg[0], out);
}

static rt_status pinv_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *A = n->in[0];
    rt_tensor *g = pinv_grad(&s, A, rti_gl_output(&s, n, 0, pinv_recompute), gout[0]);
    return rti_s_done(&s, rti_s_sum_to(&s, g, A->ndim, A->shape), &gin[0]);
}
static const rt_opdef op_pinv = { "pinv", pinv_backward, 1 };

rt_status rt_ad_pinv(const rt_tensor *A, double rcond, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_linalg_pinv(A, rcond, &o);
    if (st != RT_OK) return st;
    rt_tensor **slots[1] = { out };
    return rti_gl_hand_out(record_saving(&op_pinv, A, 1, &o, NULL, 0, rcond), 1, &o, slots);
}

/* ---- lstsq: X = A^+ B ------------------------------------------------------------------------
** gB = P^T gX and gA = pinv_grad(A, P, gX B^T), with P = A^+ recomputed (differentiably under
** create_graph); vector right-hand sides (X of ndim A->ndim - 1) become one-column matrices. */
static rt_status lstsq_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *A = n->in[0], *B = n->in[1];
    int vec = gout[0]->ndim == A->ndim - 1;
    rt_tensor *P = NULL;
    rt_status st = rt_ad_pinv(A, -1, &P);
    P = rti_gl_const(&s, st, P);
    rt_tensor *G = vec ? rti_gl_unsq(&s, gout[0], -1) : gout[0];
    if (rt_node_needs(n, 0)) {
        rt_tensor *Bm = vec ? rti_gl_unsq(&s, B, -1) : (rt_tensor *)B;
        rt_tensor *gA = pinv_grad(&s, A, P, rti_gl_mm(&s, G, rti_gl_mT(&s, Bm)));
        rti_gl_give(rti_s_sum_to(&s, gA, A->ndim, A->shape), &gin[0]);
    }
    if (rt_node_needs(n, 1)) {
        rt_tensor *gB = rti_gl_mm(&s, rti_gl_mT(&s, P), G);
        if (vec) gB = rti_gl_sq(&s, gB, -1);
        rti_gl_give(rti_s_sum_to(&s, gB, B->ndim, B->shape), &gin[1]);
    }
    return rti_gl_finish(&s, 2, gin);
}
static const rt_opdef op_lstsq = { "lstsq", lstsq_backward, 3 };

rt_status rt_ad_lstsq(const rt_tensor *A, const rt_tensor *B, rt_tensor **X)
{
    rt_tensor *o;
    rt_status st = rt_linalg_lstsq(A, B, &o);
    rt_tensor *in[2] = { (rt_tensor *)A, (rt_tensor *)B };
    return st != RT_OK ? st : rti_finish(&op_lstsq, 2, in, o, NULL, 0, X);
}
