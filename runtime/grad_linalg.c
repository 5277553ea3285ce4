/* grad_linalg.c — autograd for matrix products (matmul, mm, dot, outer) and linear systems
** (solve, inv, det, slogdet).  Forwards are the rt_linalg.h kernels; every backward is written
** with differentiable ops, so create_graph gives second derivatives.  The factorisations
** (cholesky, eigh, svd, qr) and pinv/lstsq live in grad_decomp.c. */
#include <math.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_linalg.h"
#include "rt_elementwise.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"
#include "rt_ad_linalg.h"
#include "grad_linalg_internal.h"

/* ---- scratch helpers (grad_linalg_internal.h) ------------------------------------------- */
rt_tensor *rti_gl_mm(rti_scratch *s, const rt_tensor *a, const rt_tensor *b)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a || !b) return NULL;
    rt_status st = rt_ad_matmul(a, b, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_gl_mT(rti_scratch *s, const rt_tensor *a)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_transpose(a, a->ndim - 2, a->ndim - 1, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_gl_unsq(rti_scratch *s, const rt_tensor *a, int dim)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_unsqueeze(a, dim < 0 ? a->ndim + 1 + dim : dim, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_gl_sq(rti_scratch *s, const rt_tensor *a, int dim)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_squeeze(a, dim < 0 ? a->ndim + dim : dim, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_gl_narrow(rti_scratch *s, const rt_tensor *a, int dim, int64_t start, int64_t len)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_narrow(a, dim < 0 ? a->ndim + dim : dim, start, len, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_gl_solve(rti_scratch *s, const rt_tensor *A, const rt_tensor *B)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !A || !B) return NULL;
    rt_status st = rt_ad_solve(A, B, &o);
    return rti_s_keep(s, st, o);
}

/* X B^-1 = (B^-T X^T)^T */
rt_tensor *rti_gl_rsolve(rti_scratch *s, const rt_tensor *X, const rt_tensor *B)
{
    return rti_gl_mT(s, rti_gl_solve(s, rti_gl_mT(s, B), rti_gl_mT(s, X)));
}

rt_tensor *rti_gl_as_mat(rti_scratch *s, const rt_tensor *g)
{
    return rti_gl_unsq(s, rti_gl_unsq(s, g, -1), -1);
}

rt_tensor *rti_gl_const(rti_scratch *s, rt_status st, rt_tensor *t)
{
    if (s->st != RT_OK) {
        if (st == RT_OK) rt_tensor_release(t);
        return NULL;
    }
    return rti_s_keep(s, st, t);
}

rt_tensor *rti_gl_carry(rti_scratch *to, rti_scratch *from, rt_tensor *t)
{
    rt_tensor *o = NULL;
    rt_status st = rti_s_done(from, t, &o);
    if (st == RT_OK && !o) return NULL;   /* only when to has already failed */
    return rti_gl_const(to, st, o);
}

/* A detached alias of a forward output, saved on n for a backward without create_graph. */
static rt_status save_output(rt_node *n, rt_tensor *o)
{
    rt_tensor *d;
    rt_status st = rt_detach(o, &d);
    if (st != RT_OK) return st;
    st = rt_node_save(n, d);
    rt_tensor_release(d);
    return st;
}

rt_status rti_gl_record(const rt_opdef *op, int nin, rt_tensor *const *in, int nout,
                        rt_tensor *const *outs, const int64_t *iarg, int narg, double farg)
{
    rt_node *n;
    if (!rt_any_requires_grad(nin, in)) return RT_OK;
    rt_status st = rt_record(op, nin, in, nout, outs, &n);
    for (int k = 0; k < nout && st == RT_OK; k++) st = save_output(n, outs[k]);
    if (st == RT_OK) {
        for (int i = 0; i < narg; i++) n->iarg[i] = iarg[i];
        n->farg[0] = farg;
    }
    return st;
}

rt_status rti_gl_hand_out(rt_status st, int nout, rt_tensor **outs, rt_tensor **const *slots)
{
    for (int k = 0; k < nout; k++) {
        if (st == RT_OK && slots[k]) *slots[k] = outs[k];
        else rt_tensor_release(outs[k]);
    }
    return st;
}

rt_tensor *rti_gl_output(rti_scratch *s, rt_node *n, int k, rti_gl_recompute_fn recompute)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK) return NULL;
    if (!rt_grad_enabled()) {   /* a backward without create_graph: constants will do */
        rt_tensor_retain(n->saved[k]);
        return rti_s_keep(s, RT_OK, n->saved[k]);
    }
    rt_status st = recompute(n, k, &o);
    return rti_s_keep(s, st, o);
}

void rti_gl_give(rt_tensor *t, rt_tensor **slot)
{
    if (t) rt_tensor_retain(*slot = t);
}

rt_status rti_gl_finish(rti_scratch *s, int nin, rt_tensor **gin)
{
    rt_status st = rti_s_done(s, NULL, NULL);
    for (int i = 0; st != RT_OK && i < nin; i++) {
        rt_tensor_release(gin[i]);
        gin[i] = NULL;
    }
    return st;
}

static rt_tensor *s_reshape(rti_scratch *s, const rt_tensor *a, int ndim, const int64_t *shape)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_reshape(a, ndim, shape, &o);
    return rti_s_keep(s, st, o);
}

static rt_tensor *s_inv(rti_scratch *s, const rt_tensor *A)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !A) return NULL;
    rt_status st = rt_ad_inv(A, &o);
    return rti_s_keep(s, st, o);
}

/* ---- matmul: PyTorch semantics, 1-D operands promoted and demoted again ------------------
** a (...,M,K) or (K), b (...,K,N) or (K).  With a2, b2 the promoted matrices and g2 the output
** gradient as (...,M,N):  ga = sum_to(g2 b2^T),  gb = sum_to(a2^T g2). */
static rt_status matmul_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *a = n->in[0], *b = n->in[1];
    int a1 = a->ndim == 1, b1 = b->ndim == 1;
    rt_tensor *g = gout[0];
    if (a1) g = rti_gl_unsq(&s, g, b1 ? -1 : -2);   /* (...,1,N) */
    if (b1) g = rti_gl_unsq(&s, g, -1);             /* (...,M,1) */
    if (rt_node_needs(n, 0)) {
        rt_tensor *b2 = b1 ? rti_gl_unsq(&s, b, 1) : (rt_tensor *)b;
        rt_tensor *ga = rti_gl_mm(&s, g, rti_gl_mT(&s, b2));   /* (...,M,K) */
        if (a1) ga = rti_gl_sq(&s, ga, -2);
        rti_gl_give(rti_s_sum_to(&s, ga, a->ndim, a->shape), &gin[0]);
    }
    if (rt_node_needs(n, 1) && b->ndim == 2 && a->ndim >= 3) {
        /* a batch against one matrix (x W in a network): fold the batch into the rows, one
        ** GEMM instead of a batch of products summed afterwards */
        int64_t ka[2] = { -1, a->shape[a->ndim - 1] }, kg[2] = { -1, b->shape[1] };
        rt_tensor *af = s_reshape(&s, a, 2, ka), *gf = s_reshape(&s, g, 2, kg);
        rti_gl_give(rti_gl_mm(&s, rti_gl_mT(&s, af), gf), &gin[1]);
    } else if (rt_node_needs(n, 1)) {
        rt_tensor *a2 = a1 ? rti_gl_unsq(&s, a, 0) : (rt_tensor *)a;
        rt_tensor *gb = rti_gl_mm(&s, rti_gl_mT(&s, a2), g);   /* (...,K,N) */
        if (b1) gb = rti_gl_sq(&s, gb, -1);
        rti_gl_give(rti_s_sum_to(&s, gb, b->ndim, b->shape), &gin[1]);
    }
    return rti_gl_finish(&s, 2, gin);
}
static const rt_opdef op_matmul = { "matmul", matmul_backward, 3 };

rt_status rt_ad_matmul(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_matmul(a, b, &o);
    rt_tensor *in[2] = { (rt_tensor *)a, (rt_tensor *)b };
    return st != RT_OK ? st : rti_finish(&op_matmul, 2, in, o, NULL, 0, out);
}

/* ---- mm: (M,K) @ (K,N) ------------------------------------------------------------------- */
static rt_status mm_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0))
        st = rti_s_done(&s, rti_gl_mm(&s, gout[0], rti_gl_mT(&s, n->in[1])), &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1))
        st = rti_s_done(&s, rti_gl_mm(&s, rti_gl_mT(&s, n->in[0]), gout[0]), &gin[1]);
    return st;
}
static const rt_opdef op_mm = { "mm", mm_backward, 3 };

rt_status rt_ad_mm(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_mm(a, b, &o);
    rt_tensor *in[2] = { (rt_tensor *)a, (rt_tensor *)b };
    return st != RT_OK ? st : rti_finish(&op_mm, 2, in, o, NULL, 0, out);
}

/* ---- dot: (K).(K) -> 0-d;  ga = g b, gb = g a ---------------------------------------------- */
static rt_status dot_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rt_ad_mul(gout[0], n->in[1], &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1)) st = rt_ad_mul(gout[0], n->in[0], &gin[1]);
    return st;
}
static const rt_opdef op_dot = { "dot", dot_backward, 3 };

rt_status rt_ad_dot(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_dot(a, b, &o);
    rt_tensor *in[2] = { (rt_tensor *)a, (rt_tensor *)b };
    return st != RT_OK ? st : rti_finish(&op_dot, 2, in, o, NULL, 0, out);
}

/* ---- outer: (M) x (N) -> (M,N);  ga = g b, gb = g^T a --------------------------------------- */
static rt_status outer_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rt_ad_matmul(gout[0], n->in[1], &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1))
        st = rti_s_done(&s, rti_gl_mm(&s, n->in[0], gout[0]), &gin[1]);
    return st;
}
static const rt_opdef op_outer = { "outer", outer_backward, 3 };

rt_status rt_ad_outer(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_outer(a, b, &o);
    rt_tensor *in[2] = { (rt_tensor *)a, (rt_tensor *)b };
    return st != RT_OK ? st : rti_finish(&op_outer, 2, in, o, NULL, 0, out);
}

/* ---- solve: X = A^-1 B ----------------------------------------------------------------------
** gB = solve(A^T, gX) has X's form (the kernel's vector rule picks the same reading for gX and
** A^T as it did for B and A); gA = -gB X^T, an outer product per batch for vector right-hand
** sides.  Both are summed back over broadcast batch dimensions. */
static rt_status solve_recompute(rt_node *n, int k, rt_tensor **out)
{
    (void)k;
    return rt_ad_solve(n->in[0], n->in[1], out);
}

static rt_status solve_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *A = n->in[0], *B = n->in[1];
    int vec = gout[0]->ndim == A->ndim - 1;            /* X is a batch of vectors */
    rt_tensor *gB = rti_gl_solve(&s, rti_gl_mT(&s, A), gout[0]);
    rt_tensor *gA = NULL;
    if (rt_node_needs(n, 0)) {
        rt_tensor *X = rti_gl_output(&s, n, 0, solve_recompute);
        rt_tensor *G = vec ? rti_gl_unsq(&s, gB, -1) : gB;
        rt_tensor *Xt = vec ? rti_gl_unsq(&s, X, -2) : rti_gl_mT(&s, X);
        gA = rti_s_sum_to(&s, rti_s_un(&s, RT_NEG, rti_gl_mm(&s, G, Xt)), A->ndim, A->shape);
        rti_gl_give(gA, &gin[0]);
    }
    if (rt_node_needs(n, 1)) rti_gl_give(rti_s_sum_to(&s, gB, B->ndim, B->shape), &gin[1]);
    return rti_gl_finish(&s, 2, gin);
}
static const rt_opdef op_solve = { "solve", solve_backward, 3 };

rt_status rt_ad_solve(const rt_tensor *A, const rt_tensor *B, rt_tensor **X)
{
    rt_tensor *o;
    rt_status st = rt_linalg_solve(A, B, &o);
    if (st != RT_OK) return st;
    rt_tensor *in[2] = { (rt_tensor *)A, (rt_tensor *)B }, **slots[1] = { X };
    return rti_gl_hand_out(rti_gl_record(&op_solve, 2, in, 1, &o, NULL, 0, 0), 1, &o, slots);
}

/* ---- inv: gA = -inv^T g inv^T ------------------------------------------------------------- */
static rt_status inv_recompute(rt_node *n, int k, rt_tensor **out)
{
    (void)k;
    return rt_ad_inv(n->in[0], out);
}

static rt_status inv_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *It = rti_gl_mT(&s, rti_gl_output(&s, n, 0, inv_recompute));
    rt_tensor *g = rti_gl_mm(&s, rti_gl_mm(&s, It, gout[0]), It);
    return rti_s_done(&s, rti_s_un(&s, RT_NEG, g), &gin[0]);
}
static const rt_opdef op_inv = { "inv", inv_backward, 1 };

/* The common forward of inv and det: one input, one output that backward reads. */
static rt_status finish_saving(const rt_opdef *op, const rt_tensor *A, rt_tensor *o,
                               rt_tensor **out)
{
    rt_tensor *in = (rt_tensor *)A, **slots[1] = { out };
    return rti_gl_hand_out(rti_gl_record(op, 1, &in, 1, &o, NULL, 0, 0), 1, &o, slots);
}

rt_status rt_ad_inv(const rt_tensor *A, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_linalg_inv(A, &o);
    return st != RT_OK ? st : finish_saving(&op_inv, A, o, out);
}

/* ---- det: gA = g det A^-T, or g adj(A)^T at a singular A ------------------------------------ */

/* Element i of a new contiguous float tensor. */
static double elem(const rt_tensor *t, int64_t i)
{
    return t->dtype == RT_F32 ? ((const float *)rt_tensor_data(t))[i]
                              : ((const double *)rt_tensor_data(t))[i];
}

/* adj(A)^T of a batch A (...,n,n) from its SVD: adj(A)^T = det(U) det(Vh) U diag(p) Vh with
** p_i = prod_{j != i} s_j, which is defined for singular matrices too (zero when the rank is
** below n - 1).  Plain kernels: this path computes a first derivative only. */
static rt_status adjugate_t(const rt_tensor *A, rt_tensor **out)
{
    rt_tensor *U = NULL, *S = NULL, *Vh = NULL, *du = NULL, *dv = NULL, *P = NULL, *PV = NULL;
    rt_status st = rt_linalg_svd(A, 1, &U, &S, &Vh);
    if (st == RT_OK) st = rt_linalg_det(U, &du);
    if (st == RT_OK) st = rt_linalg_det(Vh, &dv);
    if (st == RT_OK) st = rt_zeros(RT_F64, S->ndim, S->shape, &P);
    if (st == RT_OK) {
        int64_t k = S->shape[S->ndim - 1], nb = rt_tensor_numel(du);
        double *p = rt_tensor_data(P);
        for (int64_t b = 0; b < nb; b++) {
            double sg = elem(du, b) * elem(dv, b);
            for (int64_t i = 0; i < k; i++) {
                double prod = sg;
                for (int64_t j = 0; j < k; j++)
                    if (j != i) prod *= elem(S, b * k + j);
                p[b * k + i] = prod;
            }
        }
    }
    rt_tensor *Pd = NULL, *Pu = NULL;
    if (st == RT_OK) st = rt_to_dtype(P, A->dtype, &Pd);
    if (st == RT_OK) st = rt_view_unsqueeze(Pd, Pd->ndim, &Pu);
    if (st == RT_OK) st = rt_binary(RT_MUL, Pu, Vh, &PV);
    if (st == RT_OK) st = rt_matmul(U, PV, out);
    rt_tensor *all[] = { U, S, Vh, du, dv, P, PV, Pd, Pu };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rt_tensor_release(all[i]);
    return st;
}

static rt_status det_recompute(rt_node *n, int k, rt_tensor **out)
{
    (void)k;
    return rt_ad_det(n->in[0], out);
}

static rt_status det_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *A = n->in[0];
    rt_tensor *inv = NULL;
    rt_status st = rt_ad_inv(A, &inv);
    if (st == RT_ELINALG) {            /* exactly singular (a zero pivot in the LU) */
        if (rt_grad_enabled())
            return rt_fail(RT_ELINALG, 0, "backward of det: the matrix is singular; the first "
                           "derivative (the adjugate) exists but a second derivative at a "
                           "singular matrix is not supported");
        rt_tensor *adj = NULL;
        st = adjugate_t(A, &adj);
        adj = rti_gl_const(&s, st, adj);
        return rti_s_done(&s, rti_s_bin(&s, RT_MUL, rti_gl_as_mat(&s, gout[0]), adj), &gin[0]);
    }
    rti_s_keep(&s, st, inv);
    rt_tensor *gd = rti_s_bin(&s, RT_MUL, gout[0], rti_gl_output(&s, n, 0, det_recompute));
    rt_tensor *g = rti_s_bin(&s, RT_MUL, rti_gl_as_mat(&s, gd), rti_gl_mT(&s, inv));
    return rti_s_done(&s, g, &gin[0]);
}
static const rt_opdef op_det = { "det", det_backward, 1 };

rt_status rt_ad_det(const rt_tensor *A, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_linalg_det(A, &o);
    return st != RT_OK ? st : finish_saving(&op_det, A, o, out);
}

/* ---- slogdet: only logabsdet is differentiable, d log|det A| = A^-T ------------------------- */
static rt_status slogdet_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *inv = s_inv(&s, n->in[0]);
    if (s.st == RT_ELINALG)
        return rt_fail(RT_ELINALG, 0, "backward of slogdet: the matrix is singular "
                       "(log|det| = -inf), so log|det| has no derivative there");
    rt_tensor *g = rti_s_bin(&s, RT_MUL, rti_gl_as_mat(&s, gout[0]), rti_gl_mT(&s, inv));
    return rti_s_done(&s, g, &gin[0]);
}
static const rt_opdef op_slogdet = { "slogdet", slogdet_backward, 1 };

rt_status rt_ad_slogdet(const rt_tensor *A, rt_tensor **sign, rt_tensor **logabsdet)
{
    rt_tensor *sg, *la;
    rt_status st = rt_linalg_slogdet(A, &sg, &la);
    if (st != RT_OK) return st;
    rt_tensor *in = (rt_tensor *)A;
    if (rt_any_requires_grad(1, &in) && (st = rt_record(&op_slogdet, 1, &in, 1, &la, NULL))
        != RT_OK) {
        rt_tensor_release(sg);
        rt_tensor_release(la);
        return st;
    }
    *sign = sg;
    *logabsdet = la;
    return RT_OK;
}
