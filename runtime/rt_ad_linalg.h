/* rt_ad_linalg.h — differentiable matrix products and linear algebra (autograd versions of the
** kernels in rt_linalg.h).  Shapes, dtypes, batching, statuses and messages are the kernels';
** when grad mode is on and a float input requires grad, the results record a node.  Every
** backward is written with these same differentiable ops, so second derivatives (create_graph,
** gradgradcheck, Hessians) work wherever the function is twice differentiable.
**
** Outputs the backward needs (inv, det, the factors) are saved detached; when a backward runs
** with create_graph they are recomputed with the differentiable op instead, so the second
** derivative flows through them.  An in-place write to a saved output makes backward fail.
**
** Where a derivative does not exist the backward fails with RT_ELINALG or RT_EARG and says
** why; it never returns a silently wrong gradient (details at each op). */
#ifndef RT_AD_LINALG_H
#define RT_AD_LINALG_H

#include "rt_core.h"

/* ---- products -------------------------------------------------------------------------
** Gradients of broadcast batch dimensions are summed back to each operand's shape; 1-D
** operands get 1-D gradients (PyTorch's matmul semantics, see rt_matmul). */
rt_status rt_ad_matmul(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_mm(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_dot(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_outer(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);

/* ---- linear systems and determinants ---------------------------------------------------- */
/* X = A^-1 B:  gB = solve(A^T, gX),  gA = -gB X^T (batched; summed over broadcast batches). */
rt_status rt_ad_solve(const rt_tensor *A, const rt_tensor *B, rt_tensor **X);
/* gA = -inv^T gX inv^T. */
rt_status rt_ad_inv(const rt_tensor *A, rt_tensor **out);
/* g det(A) A^-T, i.e. g adj(A)^T.  At an exactly singular A (det 0 from the LU) the first
** derivative is still computed, as the adjugate from an SVD (adj(A)^T = det(U) det(Vh)
** U diag(prod_{j!=i} s_j) Vh); a second derivative there is refused with RT_ELINALG. */
rt_status rt_ad_det(const rt_tensor *A, rt_tensor **out);
/* sign is never differentiable (it records nothing); logabsdet has gradient g A^-T.  Its
** backward fails with RT_ELINALG at a singular A (log|det| = -inf). */
rt_status rt_ad_slogdet(const rt_tensor *A, rt_tensor **sign, rt_tensor **logabsdet);

/* ---- factorisations ----------------------------------------------------------------------
** Cholesky, eigh: the kernels read only the lower triangle of A.  The gradient returned is the
** symmetric one (as in PyTorch): exact for symmetric perturbations of A, which is what a
** symmetric input built by the caller (X + X^T, X X^T + cI) differentiates through. */
/* gA = L^-T Phi(L^T gL) L^-1, symmetrised (Murray 2016, PyTorch's cholesky_backward). */
rt_status rt_ad_cholesky(const rt_tensor *A, rt_tensor **L);
/* gA = V (diag(gw) + F o sym-part(V^T gV)) V^T with F_ij = 1 / (w_j - w_i) off the diagonal.
** eigenvectors may be NULL (values only; V is still computed when a node is recorded).
** Repeated eigenvalues make eigenvector gradients undefined: F divides by zero and the result
** holds inf/NaN.  Only losses invariant to each eigenvector's sign are meaningful. */
rt_status rt_ad_eigh(const rt_tensor *A, rt_tensor **eigenvalues, rt_tensor **eigenvectors);
/* S: gA = U diag(gS) Vh.  U and Vh: the standard formula (PyTorch's svd_backward), which needs
** distinct singular values and, when m != n, nonzero ones; the loss must not depend on each
** singular pair's sign.  full_matrices with m != n: the extra columns of U (rows of Vh) are not
** functions of A, so a gradient reaching them fails with RT_EARG; a gradient reaching only the
** first min(m,n) is fine.  U and Vh may be NULL (computed anyway when a node is recorded). */
rt_status rt_ad_svd(const rt_tensor *A, int full_matrices, rt_tensor **U, rt_tensor **S,
                    rt_tensor **Vh);
/* A = Q R (LAPACK's signs).  Differentiable for reduced QR and for complete QR with m <= n
** (PyTorch's linalg_qr_backward); needs R's leading min(m,n) block invertible.  Complete QR
** of a tall matrix records a node whose backward fails with RT_EARG (Q's extra columns are not
** unique).  Q may be NULL (computed anyway when a node is recorded). */
rt_status rt_ad_qr(const rt_tensor *A, int reduced, rt_tensor **Q, rt_tensor **R);

/* ---- least squares and pseudo-inverse ----------------------------------------------------- */
/* The derivative of A^+ for A of locally constant rank (Golub & Pereyra 1973, as in PyTorch's
** pinv_backward); singular values dropped by rcond must stay below it under perturbation. */
rt_status rt_ad_pinv(const rt_tensor *A, double rcond, rt_tensor **out);
/* X = A^+ B (the minimum-norm solution, gelsd): gB = A^+T gX, and gA through the derivative of
** A^+ above (so the same constant-rank condition). */
rt_status rt_ad_lstsq(const rt_tensor *A, const rt_tensor *B, rt_tensor **X);
/* matrix_rank is an integer and never differentiable: use rt_linalg_matrix_rank. */

#endif
