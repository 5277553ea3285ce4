/* rt_autograd.h — the reverse-mode engine: nodes, recording, backward, hooks, grad mode.
** Differentiable ops (rt_ad.h) record a node when grad mode is on and an input requires grad.
** A backward function is written with the differentiable ops themselves, so running it in
** grad mode (create_graph) records the backward pass too: higher derivatives come for free. */
#ifndef RT_AUTOGRAD_H
#define RT_AUTOGRAD_H

#include "rt_core.h"

struct rt_node;

/* ---- op definitions ------------------------------------------------------------ */
/* backward: gout[k] is the gradient of output k (NULL when none reached it: treat as zero).
** For each input i with rt_node_needs(n, i), set gin[i] to a NEW tensor of in[i]'s shape (or
** leave NULL for "zero").  Inputs are read through n->in, extra data through n->saved. */
typedef rt_status (*rt_backward_fn)(struct rt_node *n, rt_tensor *const *gout, rt_tensor **gin);

typedef struct rt_opdef {
    const char *name;             /* "mul"; grad_fn shows "MulBackward"-style names from it */
    rt_backward_fn backward;
    unsigned saves_inputs;        /* bit i: backward reads in[i]'s values (version-checked) */
} rt_opdef;

#define RT_NODE_MAXSAVED 4
#define RT_NODE_NARG 24

typedef struct rt_hook {
    /* Called with the gradient of a tensor; may set *replace to a new tensor (owned). */
    rt_status (*fn)(void *ctx, rt_tensor *grad, rt_tensor **replace);
    void *ctx;
    void (*free_ctx)(void *ctx);
    struct rt_hook *next;
} rt_hook;

typedef struct rt_node {
    int refcount;
    const rt_opdef *op;
    int nin, nout;
    rt_tensor **in;                       /* retained inputs; NULL after the graph is freed */
    uint32_t *in_version;
    rt_tensor *saved[RT_NODE_MAXSAVED];   /* non-differentiable data (indices, masks) */
    uint32_t saved_version[RT_NODE_MAXSAVED];
    int nsaved;
    int64_t iarg[RT_NODE_NARG];           /* op parameters (dims, strides, shapes, flags) */
    double farg[4];
    void *ctx;                            /* op-specific; freed with ctx_free */
    void (*ctx_free)(void *ctx);
    rt_hook **out_hooks;                  /* per output (non-leaf tensor hooks) */
    int64_t (*out_shape)[RT_MAXDIM + 1];  /* per output: ndim then sizes (for zero grads) */
    rt_dtype *out_dtype;
    uint64_t seq;                         /* creation order */
    int freed;                            /* inputs released by a backward without retain */
    /* engine scratch, valid during one backward */
    rt_tensor **gbuf;
    int deps;
    unsigned char *need;
} rt_node;

/* ---- grad mode ------------------------------------------------------------------- */
int rt_grad_enabled(void);
int rt_set_grad_enabled(int on);   /* returns the previous mode */

/* ---- recording (used by differentiable ops) --------------------------------------- */
/* 1 if grad mode is on and some input requires grad. */
int rt_any_requires_grad(int nin, rt_tensor *const *in);
/* Creates a node over the inputs and makes it the grad_fn of each output (which must be
** fresh tensors owned by the caller).  *node (optional) borrows it for saving extras.
** RT_ENOMEM leaves the outputs untouched. */
rt_status rt_record(const rt_opdef *op, int nin, rt_tensor *const *in, int nout,
                    rt_tensor *const *outs, rt_node **node);
/* Saves a non-differentiable tensor (index, mask); an in-place write to it later makes
** backward fail. */
rt_status rt_node_save(rt_node *n, rt_tensor *t);
int rt_node_needs(const rt_node *n, int i);   /* during backward: does in[i] want a gradient */
void rt_node_release(rt_node *n);
/* "MulBackward0"-style name of a tensor's grad_fn, or NULL for leaves. */
const char *rt_grad_fn_name(const rt_tensor *t, char *buf, size_t len);

/* ---- leaves, hooks, detach ---------------------------------------------------------- */
/* Marks a leaf as requiring grad (float dtypes only; RT_EDTYPE otherwise; RT_EARG for a
** non-leaf when on == 0). */
rt_status rt_set_requires_grad(rt_tensor *t, int on);
/* Adds a hook (ownership of ctx passes to the tensor/node).  Leaves keep hooks on the tensor,
** other tensors on their node's output slot. */
rt_status rt_register_hook(rt_tensor *t, rt_hook *hook);
/* A view of t's data with no history. */
rt_status rt_detach(const rt_tensor *t, rt_tensor **out);
/* Refuses an in-place write to t when autograd would be corrupted: t requires grad while
** grad mode is on.  Call at the start of every in-place op.  op names the operation. */
rt_status rt_check_inplace(const char *op, const rt_tensor *t);

/* ---- backward ------------------------------------------------------------------------ */
typedef struct {
    int retain_graph;
    int create_graph;
    int allow_unused;   /* for rt_grad: unused inputs give NULL instead of an error */
} rt_backward_opts;

/* Accumulates d(sum_k <roots[k], grads[k]>)/d(leaf) into leaf->grad for every leaf that
** requires grad.  grads[k] NULL means ones (roots[k] must then have one element). */
rt_status rt_backward(int nroots, rt_tensor *const *roots, rt_tensor *const *grads,
                      const rt_backward_opts *o);
/* Like rt_backward but returns the gradients w.r.t. inputs in results[] (new references;
** NULL for an unused input when allow_unused) and touches no .grad. */
rt_status rt_grad(int nroots, rt_tensor *const *roots, rt_tensor *const *grads, int ninputs,
                  rt_tensor *const *inputs, const rt_backward_opts *o, rt_tensor **results);

#endif
