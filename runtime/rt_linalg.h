/* rt_linalg.h — matrix products (every one through OpenBLAS sgemm/dgemm) and dense linear
** algebra (LAPACK through LAPACKE): solve, inv, det, slogdet, qr, svd, eigh, cholesky, lstsq,
** pinv, matrix_rank.  No autograd here: these are the kernels the autograd ops call.
**
** Common contract.  Inputs are borrowed and may be any strided view (transposed, sliced,
** offset, expanded); they are never written.  Outputs are NEW contiguous tensors (release once);
** on failure they are untouched and nothing leaks.  dtypes: f32 and f64 only, both operands of
** one dtype (RT_EDTYPE otherwise; i64 is refused, convert first).  Every linalg function takes
** a batch of matrices in the leading dimensions, (..., m, n), and broadcasts the batch
** dimensions of two operands like NumPy.  Long batches poll rt_interrupted() between matrices
** (RT_EINTERRUPT).  Messages number matrix rows/columns and batch elements from 1, like the
** dimensions in the core's messages.  LAPACKE checks its inputs for NaN: a NaN reaching a
** LAPACK-based op gives RT_ELINALG "<op>: the input contains NaN" (products just propagate it).
** OpenBLAS runs single-threaded; products are split into panels of C that the pool computes
** in parallel (blas_gemm.c), and LAPACK runs on the calling thread.
**
** Determinism across thread counts: products are bitwise identical for any thread count,
** because a panel of C computed alone equals that part of the whole product bit for bit (with
** OpenBLAS 0.3.21, SkylakeX kernels: checked for the four transpose cases on 11 shapes, and by
** test_linalg.c on every run).  With OpenBLAS's own threading they were not: sgemm 600^3
** differed in ~75% of the elements between 1 and 2 threads, because its multi-threaded driver
** cuts K differently when K exceeds GEMM_Q (448 for sgemm here) and is not a multiple of 32;
** solve, inv, svd and eigh differed by 1e-18..1e-12.  LAPACK, now always on single-threaded
** BLAS, no longer depends on the thread count either (test_linalg_lapack.c checks bitwise). */
#ifndef RT_LINALG_H
#define RT_LINALG_H

#include "rt_core.h"

/* ---- products ------------------------------------------------------------------------ */

/* PyTorch matmul semantics:
**   (K) @ (K)             -> 0-d dot product
**   (M,K) @ (K,N)         -> (M,N)
**   (K) @ (...,K,N)       -> (...,N)      a is treated as (1,K), the 1 is dropped again
**   (...,M,K) @ (K)       -> (...,M)      b is treated as (K,1), the 1 is dropped again
**   (...,M,K) @ (...,K,N) -> (broadcast(...),M,N)
** K = 0 gives zeros; any other size-0 dimension gives an empty result.  A batch whose b is
** shared (every batch stride 0) and whose a is not broadcast runs as one (B*M,K) @ (K,N) GEMM;
** other batches run one GEMM per matrix.
** RT_ESHAPE: a 0-d operand, inner sizes differ ("matmul: [2,3] @ [4,5]: inner sizes 3 and 4
** differ"), batch dimensions that do not broadcast.  RT_EDTYPE: i64, or dtypes differ. */
rt_status rt_matmul(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);

/* (M,K) @ (K,N) -> (M,N); strictly 2-D operands (RT_ESHAPE otherwise). */
rt_status rt_mm(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);

/* In place: out = alpha * op(a) @ op(b) + beta * out, where op(x) is x or x^T (trans_x != 0).
** out is an existing 2-D tensor (M,N) with op(a): (M,K), op(b): (K,N), all one float dtype.
** Transposes are stride swaps: nothing is copied when each operand has a unit stride in one of
** its dimensions.  beta == 0 overwrites out (NaN/Inf already in out are ignored, as in BLAS).
** out may be a strided view; when it cannot be handed to BLAS (no unit stride, or it shares
** storage with a or b) the product goes through a scratch matrix.  Bumps out's version.
** RT_EARG: out is an expanded view (a stride 0 over a dimension of size > 1). */
rt_status rt_gemm_(int trans_a, int trans_b, double alpha, const rt_tensor *a, const rt_tensor *b,
                   double beta, rt_tensor *out);

/* (K) . (K) -> 0-d.  Strictly 1-D. */
rt_status rt_dot(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);

/* (M) x (N) -> (M,N), out[i,j] = a[i] * b[j].  Strictly 1-D. */
rt_status rt_outer(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);

/* The naive reference: same semantics, shapes, errors and result dtype as rt_matmul, computed
** by a plain triple loop over the strided operands that accumulates in double.  The reference
** for tests and a fallback for debugging BLAS issues; no op calls it (operands BLAS cannot read
** are packed and still go through gemm). */
rt_status rt_matmul_ref(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);

/* ---- linear systems and determinants --------------------------------------------------- */

/* Solves A X = B.  A: (...,n,n).  B: (...,n,k), or a batch of vectors (...,n) when B is 1-D or
** B's shape is A's shape without its last dimension (PyTorch's rule).  X has B's form with the
** broadcast batch shape.  RT_ESHAPE: A not square, rows of B != n, batches do not broadcast.
** RT_ELINALG: A singular, "solve: matrix is singular (U[3,3] = 0)" (plus the batch element). */
rt_status rt_linalg_solve(const rt_tensor *A, const rt_tensor *B, rt_tensor **X);

/* (...,n,n) -> (...,n,n).  RT_ELINALG when singular (same message as solve, op "inv"). */
rt_status rt_linalg_inv(const rt_tensor *A, rt_tensor **out);

/* (...,n,n) -> (...) determinant, from an LU factorisation (accumulated in double).  A singular
** matrix gives 0 (not an error); a 0x0 matrix gives 1. */
rt_status rt_linalg_det(const rt_tensor *A, rt_tensor **out);

/* (...,n,n) -> sign (...) in {-1, 0, 1} and log|det| (...), both of A's dtype.  Singular:
** sign 0 and logabsdet -inf. */
rt_status rt_linalg_slogdet(const rt_tensor *A, rt_tensor **sign, rt_tensor **logabsdet);

/* Lower Cholesky factor L of (...,n,n), A = L L^T; only the lower triangle of A is read, the
** strict upper triangle of L is zero.  RT_ELINALG "cholesky: the input is not positive
** definite (the leading minor of order 3 is not positive)". */
rt_status rt_linalg_cholesky(const rt_tensor *A, rt_tensor **L);

/* ---- factorisations --------------------------------------------------------------------- */

/* A = Q R for A: (...,m,n), k = min(m,n).  reduced != 0: Q (...,m,k), R (...,k,n); otherwise
** Q (...,m,m), R (...,m,n).  Householder QR (LAPACK geqrf + orgqr) with LAPACK's signs: the
** diagonal of R may be negative.  Q has orthonormal columns; R is upper triangular (exact zeros
** below the diagonal).  Q may be NULL to compute R only. */
rt_status rt_linalg_qr(const rt_tensor *A, int reduced, rt_tensor **Q, rt_tensor **R);

/* A = U diag(S) Vh for A: (...,m,n), k = min(m,n), S (...,k) descending and >= 0.
** full_matrices != 0: U (...,m,m), Vh (...,n,n); otherwise U (...,m,k), Vh (...,k,n).
** U and Vh may both be NULL to compute S only.  Signs are made deterministic: each column of U
** is multiplied by +-1 (with the matching row of Vh) so that its entry of largest magnitude
** (the first one on a tie) is positive; the extra columns of a full U and rows of a full Vh
** (beyond k, free for LAPACK to pick) get the same rule on their own.  LAPACK gesdd (divide and
** conquer); RT_ELINALG if it does not converge. */
rt_status rt_linalg_svd(const rt_tensor *A, int full_matrices, rt_tensor **U, rt_tensor **S,
                        rt_tensor **Vh);

/* Symmetric eigendecomposition of (...,n,n), only the lower triangle read:
** A = V diag(w) V^T, eigenvalues w (...,n) ascending, eigenvectors V (...,n,n) in columns.
** eigenvectors may be NULL (values only).  Each column of V is signed so that its entry of
** largest magnitude (the first one on a tie) is positive.  LAPACK syevd; RT_ELINALG if it does
** not converge. */
rt_status rt_linalg_eigh(const rt_tensor *A, rt_tensor **eigenvalues, rt_tensor **eigenvectors);

/* ---- least squares, pseudo-inverse, rank ------------------------------------------------ */

/* Minimum-norm least-squares solution of A X ~= B for A: (...,m,n), B: (...,m,k), or a batch of
** vectors (...,m) by solve's rule; X (...,n,k) or (...,n), batches broadcast.  Any m, n and
** rank (LAPACK gelsd; singular values <= max(m,n) * eps(dtype) * smax count as zero).
** RT_ESHAPE: rows of B != m; RT_ELINALG: no convergence. */
rt_status rt_linalg_lstsq(const rt_tensor *A, const rt_tensor *B, rt_tensor **X);

/* Moore–Penrose pseudo-inverse of A: (...,m,n) -> (...,n,m), from the SVD; singular values
** <= rcond * smax are dropped.  rcond < 0 means max(m,n) * eps(dtype). */
rt_status rt_linalg_pinv(const rt_tensor *A, double rcond, rt_tensor **out);

/* Number of singular values of A: (...,m,n) greater than tol, as an i64 tensor of shape (...)
** (0-d for one matrix).  tol < 0 means max(m,n) * eps(dtype) * smax. */
rt_status rt_linalg_matrix_rank(const rt_tensor *A, double tol, rt_tensor **out);

#endif
