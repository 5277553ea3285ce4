/* grad_linalg_internal.h — helpers shared by grad_linalg.c and grad_decomp.c (the linalg
** backward passes).  Each rti_gl_* step runs one differentiable op and keeps its result in an
** rti_scratch (internal.h), doing nothing once the scratch has failed, so backward functions
** read like the formulas they implement.  Not part of the public API. */
#ifndef GRAD_LINALG_INTERNAL_H
#define GRAD_LINALG_INTERNAL_H

#include "internal.h"
#include "rt_autograd.h"

/* Differentiable steps; dims may be negative (counted from the end). */
rt_tensor *rti_gl_mm(rti_scratch *s, const rt_tensor *a, const rt_tensor *b);   /* matmul */
rt_tensor *rti_gl_mT(rti_scratch *s, const rt_tensor *a);   /* swap the last two dims (view) */
rt_tensor *rti_gl_unsq(rti_scratch *s, const rt_tensor *a, int dim);
rt_tensor *rti_gl_sq(rti_scratch *s, const rt_tensor *a, int dim);
rt_tensor *rti_gl_narrow(rti_scratch *s, const rt_tensor *a, int dim, int64_t start,
                         int64_t len);
rt_tensor *rti_gl_solve(rti_scratch *s, const rt_tensor *A, const rt_tensor *B);   /* A^-1 B */
rt_tensor *rti_gl_rsolve(rti_scratch *s, const rt_tensor *X, const rt_tensor *B);  /* X B^-1 */
/* g (...) -> (..., 1, 1), to scale a batch of matrices. */
rt_tensor *rti_gl_as_mat(rti_scratch *s, const rt_tensor *g);
/* Keeps the result of a plain (constant) computation that returned st and t. */
rt_tensor *rti_gl_const(rti_scratch *s, rt_status st, rt_tensor *t);
/* Ends scratch `from` keeping only t, which moves to `to` (RTI_SCRATCH is small). */
rt_tensor *rti_gl_carry(rti_scratch *to, rti_scratch *from, rt_tensor *t);

/* ---- forward outputs the backward needs ------------------------------------------------
** rti_gl_record records op over in[0..nin) as the grad_fn of the fresh outputs outs[0..nout)
** when grad mode is on and an input requires grad (else does nothing), saves a detached alias
** of each output (saved[k] = output k) and stores iarg[0..narg) and farg (farg[0]).  In a
** backward without create_graph rti_gl_output returns saved[k]; with create_graph it calls
** recompute(n, k, &out), which reruns the differentiable op on n->in so that the second
** derivative flows through the output.  rti_gl_hand_out then gives each output to its slot
** (a NULL slot: not wanted) and releases the rest, or all of them when st is a failure. */
typedef rt_status (*rti_gl_recompute_fn)(rt_node *n, int k, rt_tensor **out);
rt_status rti_gl_record(const struct rt_opdef *op, int nin, rt_tensor *const *in, int nout,
                        rt_tensor *const *outs, const int64_t *iarg, int narg, double farg);
rt_tensor *rti_gl_output(rti_scratch *s, rt_node *n, int k, rti_gl_recompute_fn recompute);
rt_status rti_gl_hand_out(rt_status st, int nout, rt_tensor **outs, rt_tensor **const *slots);

/* ---- gradient slots -------------------------------------------------------------------------- */
/* Hands t (kept in s; may be NULL after a failure) to a gradient slot. */
void rti_gl_give(rt_tensor *t, rt_tensor **slot);
/* Ends a backward that filled slots with rti_gl_give; on failure they are emptied again. */
rt_status rti_gl_finish(rti_scratch *s, int nin, rt_tensor **gin);

#endif
