/* autograd.c — the reverse-mode engine: node lifetime, recording, and the backward pass.
** Nodes are processed in decreasing creation order, which is a topological order because
** an op's inputs always exist before the op.  Gradients of leaves are summed first and then
** passed through the leaf's hooks once, like PyTorch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_elementwise.h"

static _Thread_local int grad_enabled = 1;
static uint64_t next_seq = 1;

int rt_grad_enabled(void) { return grad_enabled; }

int rt_set_grad_enabled(int on)
{
    int prev = grad_enabled;
    grad_enabled = on != 0;
    return prev;
}

int rt_any_requires_grad(int nin, rt_tensor *const *in)
{
    if (!grad_enabled) return 0;
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad) return 1;
    return 0;
}

/* ---- node lifetime --------------------------------------------------------------- */
static void hooks_free(rt_hook *h)
{
    while (h) {
        rt_hook *next = h->next;
        if (h->free_ctx) h->free_ctx(h->ctx);
        rti_free(h);
        h = next;
    }
}

static void node_drop_inputs(rt_node *n)
{
    for (int i = 0; i < n->nin; i++) {
        rt_tensor_release(n->in[i]);
        n->in[i] = NULL;
    }
    for (int i = 0; i < n->nsaved; i++) {
        rt_tensor_release(n->saved[i]);
        n->saved[i] = NULL;
    }
    n->nsaved = 0;
}

/* Releasing a long chain (a loop of 10^5 additions) recursively would overflow the C
** stack: nested releases are queued and the outermost call drains the queue. */
static _Thread_local rt_node **release_queue;
static _Thread_local size_t release_len, release_cap;
static _Thread_local int releasing;

static void node_destroy(rt_node *n)
{
    node_drop_inputs(n);
    if (n->ctx_free) n->ctx_free(n->ctx);
    for (int k = 0; n->out_hooks && k < n->nout; k++) hooks_free(n->out_hooks[k]);
    rti_free(n->out_hooks);
    rti_free(n->out_shape);
    rti_free(n->out_dtype);
    rti_free(n->in);
    rti_free(n->in_version);
    rti_free(n);
}

void rt_node_release(rt_node *n)
{
    if (!n || --n->refcount > 0) return;
    if (releasing) {
        if (release_len == release_cap) {
            size_t cap = release_cap ? 2 * release_cap : 64;
            rt_node **q = realloc(release_queue, cap * sizeof *q);
            if (!q) {   /* no room to defer: recurse, as a last resort */
                node_destroy(n);
                return;
            }
            release_queue = q;
            release_cap = cap;
        }
        release_queue[release_len++] = n;
        return;
    }
    releasing = 1;
    node_destroy(n);
    while (release_len > 0) node_destroy(release_queue[--release_len]);
    releasing = 0;
}

static void install_release_hooks(void)
{
    rti_node_release_hook = rt_node_release;
    rti_hooks_release_hook = hooks_free;
}

/* ---- recording ---------------------------------------------------------------------- */
rt_status rt_record(const rt_opdef *op, int nin, rt_tensor *const *in, int nout,
                    rt_tensor *const *outs, rt_node **node)
{
    install_release_hooks();
    rt_node *n = rti_calloc(1, sizeof *n);
    if (!n) return rt_fail(RT_ENOMEM, -1, "%s: out of memory recording the graph", op->name);
    n->in = rti_calloc((size_t)nin, sizeof *n->in);
    n->in_version = rti_calloc((size_t)nin, sizeof *n->in_version);
    n->out_hooks = rti_calloc((size_t)nout, sizeof *n->out_hooks);
    n->out_shape = rti_calloc((size_t)nout, sizeof *n->out_shape);
    n->out_dtype = rti_calloc((size_t)nout, sizeof *n->out_dtype);
    n->refcount = 0;
    n->op = op;
    if (!n->in || !n->in_version || !n->out_hooks || !n->out_shape || !n->out_dtype) {
        n->refcount = 1;
        rt_node_release(n);
        return rt_fail(RT_ENOMEM, -1, "%s: out of memory recording the graph", op->name);
    }
    n->nin = nin;
    n->nout = nout;
    n->seq = next_seq++;
    for (int i = 0; i < nin; i++) {
        n->in[i] = in[i];
        rt_tensor_retain(in[i]);
        n->in_version[i] = in[i] ? in[i]->storage->version : 0;
    }
    for (int k = 0; k < nout; k++) {
        rt_tensor *o = outs[k];
        n->out_shape[k][0] = o->ndim;
        for (int d = 0; d < o->ndim; d++) n->out_shape[k][d + 1] = o->shape[d];
        n->out_dtype[k] = o->dtype;
        rt_node_release(o->node);   /* views of an input never carry one, but be safe */
        o->node = n;
        o->output_nr = k;
        o->requires_grad = 1;
        n->refcount++;
    }
    if (node) *node = n;
    return RT_OK;
}

rt_status rt_node_save(rt_node *n, rt_tensor *t)
{
    if (n->nsaved >= RT_NODE_MAXSAVED)
        return rt_fail(RT_EINTERNAL, -1, "%s: too many saved tensors", n->op->name);
    rt_tensor_retain(t);
    n->saved[n->nsaved] = t;
    n->saved_version[n->nsaved++] = t->storage->version;
    return RT_OK;
}

int rt_node_needs(const rt_node *n, int i) { return n->need && n->need[i]; }

const char *rt_grad_fn_name(const rt_tensor *t, char *buf, size_t len)
{
    if (!t->node) return NULL;
    const char *s = t->node->op->name;
    size_t k = 0;
    int up = 1;
    for (; *s && k + 12 < len; s++) {
        if (*s == '_') {
            up = 1;
            continue;
        }
        buf[k++] = up && *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
        up = 0;
    }
    snprintf(buf + k, len - k, "Backward");
    return buf;
}

/* ---- leaves, hooks, detach ---------------------------------------------------------- */
rt_status rt_set_requires_grad(rt_tensor *t, int on)
{
    if (on && !rt_dtype_is_float(t->dtype))
        return rt_fail(RT_EDTYPE, 0, "requires_grad: only floating tensors can require "
                       "gradients, got %s", rt_dtype_name(t->dtype));
    if (!on && t->node)
        return rt_fail(RT_EARG, 0, "requires_grad: cannot turn off gradients of a non-leaf "
                       "tensor (made by %s); use detach()", t->node->op->name);
    t->requires_grad = on != 0;
    return RT_OK;
}

rt_status rt_register_hook(rt_tensor *t, rt_hook *hook)
{
    if (!t->requires_grad)
        return rt_fail(RT_EARG, 0, "register_hook: the tensor does not require grad, so no "
                       "gradient will ever reach the hook");
    install_release_hooks();
    rt_hook **head = t->node ? &t->node->out_hooks[t->output_nr] : &t->hooks;
    hook->next = NULL;
    while (*head) head = &(*head)->next;   /* hooks run in registration order */
    *head = hook;
    return RT_OK;
}

rt_status rt_detach(const rt_tensor *t, rt_tensor **out)
{
    return rt_view_alias(t, out);
}

rt_status rt_check_inplace(const char *op, const rt_tensor *t)
{
    if (grad_enabled && t->requires_grad)
        return rt_fail(RT_EARG, 0, "%s: cannot modify a tensor that requires grad in place "
                       "(%s); wrap the update in nb.no_grad or work on a clone",
                       op, t->node ? "it is part of a graph" : "it is a leaf");
    return RT_OK;
}

rt_status rti_finish(const rt_opdef *op, int nin, rt_tensor *const *in, rt_tensor *o,
                     const int64_t *iarg, int narg, rt_tensor **out)
{
    if (rt_any_requires_grad(nin, in)) {
        rt_node *n;
        rt_status st = rt_record(op, nin, in, 1, &o, &n);
        if (st != RT_OK) {
            rt_tensor_release(o);
            return st;
        }
        for (int i = 0; i < narg && i < RT_NODE_NARG; i++) n->iarg[i] = iarg[i];
    }
    *out = o;
    return RT_OK;
}
