/* autograd_engine.c — rt_backward and rt_grad: discover the graph from the roots, run each
** node's backward in decreasing creation order, route gradients to producer nodes or leaves,
** run hooks, and free the graph unless retain_graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_elementwise.h"

typedef struct {
    rt_node **nodes;
    size_t n, cap;
    rt_tensor **leaf;     /* distinct leaves reached, with their summed gradients */
    rt_tensor **lgrad;
    size_t nleaf, leafcap;
    int create_graph;
} run_t;

static rt_status push_node(run_t *r, rt_node *n)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        rt_node **p = realloc(r->nodes, cap * sizeof *p);
        if (!p) return rt_fail(RT_ENOMEM, -1, "backward: out of memory");
        r->nodes = p;
        r->cap = cap;
    }
    r->nodes[r->n++] = n;
    n->refcount++;   /* keeps n alive while inputs are dropped during cleanup */
    return RT_OK;
}

/* Marks n as part of this run: engine scratch plus a place in r->nodes.  On failure nothing is
** left half-set (a stale n->need would make a later backward skip the node). */
static rt_status visit(run_t *r, rt_node *n)
{
    n->need = rti_calloc((size_t)n->nin, 1);
    n->gbuf = rti_calloc((size_t)n->nout, sizeof *n->gbuf);
    if (n->need && n->gbuf && push_node(r, n) == RT_OK) return RT_OK;
    rti_free(n->need);
    rti_free(n->gbuf);
    n->need = NULL;
    n->gbuf = NULL;
    return rt_fail(RT_ENOMEM, -1, "backward: out of memory");
}

/* Collects every node reachable from the roots (n->need marks "visited"). */
static rt_status discover(run_t *r, int nroots, rt_tensor *const *roots)
{
    size_t scan = 0;
    for (int k = 0; k < nroots; k++) {
        rt_node *n = roots[k]->node;
        if (n && !n->need && visit(r, n) != RT_OK) return RT_ENOMEM;
    }
    while (scan < r->n) {
        rt_node *n = r->nodes[scan++];
        if (n->freed)
            return rt_fail(RT_EARG, -1, "backward: trying to go backward through the graph a "
                           "second time (the saved inputs of %s were freed by the first "
                           "backward); pass retain_graph=true the first time", n->op->name);
        for (int i = 0; i < n->nin; i++) {
            rt_tensor *t = n->in[i];
            n->need[i] = t && t->requires_grad;
            rt_node *m = t ? t->node : NULL;
            if (m && !m->need && visit(r, m) != RT_OK) return RT_ENOMEM;
        }
    }
    return RT_OK;
}

static int by_seq_desc(const void *a, const void *b)
{
    uint64_t x = (*(rt_node *const *)a)->seq, y = (*(rt_node *const *)b)->seq;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* *acc += g (stealing g).  Differentiable when create_graph; in place otherwise when safe. */
static rt_status accumulate(rt_tensor **acc, rt_tensor *g, int create_graph)
{
    if (!*acc) {
        *acc = g;
        return RT_OK;
    }
    rt_tensor *sum = NULL;
    rt_status st = create_graph ? rt_ad_add(*acc, g, &sum) : rt_binary(RT_ADD, *acc, g, &sum);
    rt_tensor_release(g);
    if (st != RT_OK) return st;
    rt_tensor_release(*acc);
    *acc = sum;
    return RT_OK;
}

static rt_status run_hooks(rt_hook *h, rt_tensor **g)
{
    for (; h; h = h->next) {
        rt_tensor *rep = NULL;
        rt_status st = h->fn(h->ctx, *g, &rep);
        if (st != RT_OK) return st;
        if (rep) {
            char s1[96], s2[96];
            if (!rt_same_shape(rep, *g)) {
                rt_status e = rt_fail(RT_ESHAPE, -1, "hook: returned a gradient of shape %s for "
                                      "a tensor of shape %s", rt_shape_str(rep->ndim, rep->shape,
                                      s1, sizeof s1), rt_shape_str((*g)->ndim, (*g)->shape, s2,
                                      sizeof s2));
                rt_tensor_release(rep);
                return e;
            }
            rt_tensor_release(*g);
            *g = rep;
        }
    }
    return RT_OK;
}

static rt_status leaf_add(run_t *r, rt_tensor *leaf, rt_tensor *g)
{
    for (size_t i = 0; i < r->nleaf; i++)
        if (r->leaf[i] == leaf) return accumulate(&r->lgrad[i], g, r->create_graph);
    if (r->nleaf == r->leafcap) {
        size_t cap = r->leafcap ? 2 * r->leafcap : 16;
        rt_tensor **a = realloc(r->leaf, cap * sizeof *a), **b;
        if (a) r->leaf = a;
        b = a ? realloc(r->lgrad, cap * sizeof *b) : NULL;
        if (!a || !b) {
            rt_tensor_release(g);
            return rt_fail(RT_ENOMEM, -1, "backward: out of memory");
        }
        r->lgrad = b;
        r->leafcap = cap;
    }
    r->leaf[r->nleaf] = leaf;
    r->lgrad[r->nleaf++] = g;
    return RT_OK;
}

static rt_status check_versions(const rt_node *n)
{
    for (int i = 0; i < n->nin; i++) {
        const rt_tensor *t = n->in[i];
        if (t && (n->op->saves_inputs >> i & 1u) && t->storage->version != n->in_version[i])
            return rt_fail(RT_EARG, i, "backward of %s: input %d was modified in place after it "
                           "was used (version %u, saved at %u); use clone() before the "
                           "in-place op", n->op->name, i + 1, t->storage->version,
                           n->in_version[i]);
    }
    for (int i = 0; i < n->nsaved; i++)
        if (n->saved[i]->storage->version != n->saved_version[i])
            return rt_fail(RT_EARG, -1, "backward of %s: a tensor it saved was modified in "
                           "place", n->op->name);
    return RT_OK;
}

/* Runs one node and routes its input gradients. */
static rt_status run_node(run_t *r, rt_node *n)
{
    int any = 0;
    for (int k = 0; k < n->nout; k++) any |= n->gbuf[k] != NULL;
    if (!any) return RT_OK;
    rt_status st = check_versions(n);
    if (st != RT_OK) return st;
    rt_tensor *gin_small[8] = {0}, **gin = n->nin <= 8 ? gin_small
                                                        : rti_calloc((size_t)n->nin, sizeof *gin);
    if (!gin) return rt_fail(RT_ENOMEM, -1, "backward: out of memory");
    st = n->op->backward(n, n->gbuf, gin);
    if (st != RT_OK && st != RT_EINTERRUPT) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", rt_last_error());
        if (strncmp(msg, "backward of", 11) != 0)
            rt_fail(st, -1, "backward of %s failed: %s", n->op->name, msg);
    }
    for (int i = 0; i < n->nin; i++) {
        rt_tensor *g = gin[i];
        if (!g) continue;
        rt_tensor *t = n->in[i];
        if (st == RT_OK && (!rt_node_needs(n, i) || !rt_same_shape(g, t))) {
            char s1[96], s2[96];
            st = rt_fail(RT_EINTERNAL, i, "backward of %s: gradient %d has shape %s, input has %s",
                         n->op->name, i + 1, rt_shape_str(g->ndim, g->shape, s1, sizeof s1),
                         rt_shape_str(t->ndim, t->shape, s2, sizeof s2));
        }
        if (st != RT_OK) {
            rt_tensor_release(g);
            continue;
        }
        if (t->node) st = accumulate(&t->node->gbuf[t->output_nr], g, r->create_graph);
        else st = leaf_add(r, t, g);
    }
    if (gin != gin_small) rti_free(gin);
    return st;
}

static void run_cleanup(run_t *r, int retain)
{
    for (size_t i = 0; i < r->n; i++) {
        rt_node *n = r->nodes[i];
        for (int k = 0; n->gbuf && k < n->nout; k++) rt_tensor_release(n->gbuf[k]);
        rti_free(n->gbuf);
        rti_free(n->need);
        n->gbuf = NULL;
        n->need = NULL;
        if (!retain) {
            for (int j = 0; j < n->nin; j++) {
                rt_tensor_release(n->in[j]);
                n->in[j] = NULL;
            }
            for (int j = 0; j < n->nsaved; j++) {
                rt_tensor_release(n->saved[j]);
                n->saved[j] = NULL;
            }
            n->nsaved = 0;
            n->freed = 1;
        }
    }
    /* only now: dropping inputs above may have released the last other reference */
    for (size_t i = 0; i < r->n; i++) rt_node_release(r->nodes[i]);
    for (size_t i = 0; i < r->nleaf; i++) rt_tensor_release(r->lgrad[i]);
    free(r->nodes);
    free(r->leaf);
    free(r->lgrad);
}

static rt_status seed(run_t *r, int nroots, rt_tensor *const *roots, rt_tensor *const *grads)
{
    char s1[96], s2[96];
    for (int k = 0; k < nroots; k++) {
        rt_tensor *t = roots[k], *g = NULL;
        if (!t->requires_grad)
            return rt_fail(RT_EARG, k, "backward: output %d does not require grad (no input of "
                           "its computation requires grad, or it was computed under no_grad)",
                           k + 1);
        rt_status st;
        if (grads && grads[k]) {
            if (!rt_same_shape(grads[k], t))
                return rt_fail(RT_ESHAPE, k, "backward: grad_output of shape %s for an output "
                               "of shape %s", rt_shape_str(grads[k]->ndim, grads[k]->shape, s1,
                               sizeof s1), rt_shape_str(t->ndim, t->shape, s2, sizeof s2));
            g = (rt_tensor *)grads[k];
            rt_tensor_retain(g);
            st = RT_OK;
        } else {
            if (rt_tensor_numel(t) != 1)
                return rt_fail(RT_ESHAPE, k, "backward: a gradient can only be implied for an "
                               "output with one element; this one has shape %s (pass "
                               "grad_output)", rt_shape_str(t->ndim, t->shape, s1, sizeof s1));
            st = rt_ones(t->dtype, t->ndim, t->shape, &g);
        }
        if (st != RT_OK) return st;
        if (t->node) st = accumulate(&t->node->gbuf[t->output_nr], g, r->create_graph);
        else st = leaf_add(r, t, g);
        if (st != RT_OK) return st;
    }
    return RT_OK;
}

/* Gives leaves their summed gradients: into .grad, or into results for rt_grad. */
static rt_status finish_leaves(run_t *r, int ninputs, rt_tensor *const *inputs,
                               rt_tensor **results)
{
    for (size_t i = 0; i < r->nleaf; i++) {
        rt_tensor *leaf = r->leaf[i];
        rt_status st = run_hooks(leaf->hooks, &r->lgrad[i]);
        if (st != RT_OK) return st;
        if (inputs) {
            for (int j = 0; j < ninputs; j++)
                if (inputs[j] == leaf && !results[j]) {
                    results[j] = r->lgrad[i];
                    rt_tensor_retain(results[j]);
                }
            continue;
        }
        rt_tensor *g = r->lgrad[i];
        if (!leaf->grad) {
            leaf->grad = g;
            rt_tensor_retain(g);
        } else if (!r->create_graph && leaf->grad->refcount == 1 &&
                   leaf->grad->storage->refcount == 1 && !leaf->grad->requires_grad &&
                   rt_same_shape(leaf->grad, g) && rt_tensor_is_contiguous(leaf->grad)) {
            /* in place saves an allocation per step; only when nothing else can see the
            ** memory (a grad_output the caller passed, or a view of it, may have become
            ** .grad) */
            st = rt_binary_(RT_ADD, leaf->grad, g);
        } else {
            rt_tensor *sum = NULL;
            st = r->create_graph ? rt_ad_add(leaf->grad, g, &sum) : rt_binary(RT_ADD, leaf->grad, g, &sum);
            if (st == RT_OK) {
                rt_tensor_release(leaf->grad);
                leaf->grad = sum;
            }
        }
        if (st != RT_OK) return st;
    }
    return RT_OK;
}

static rt_status engine(int nroots, rt_tensor *const *roots, rt_tensor *const *grads,
                        int ninputs, rt_tensor *const *inputs, const rt_backward_opts *o,
                        rt_tensor **results)
{
    rt_backward_opts def = {0};
    if (!o) o = &def;
    run_t r = { .create_graph = o->create_graph };
    int prev = rt_set_grad_enabled(o->create_graph);
    rt_status st = discover(&r, nroots, roots);
    if (st == RT_OK) st = seed(&r, nroots, roots, grads);
    if (st == RT_OK) qsort(r.nodes, r.n, sizeof *r.nodes, by_seq_desc);
    for (size_t i = 0; st == RT_OK && i < r.n; i++) {
        rt_node *n = r.nodes[i];
        for (int k = 0; k < n->nout && st == RT_OK; k++)
            if (n->gbuf[k]) st = run_hooks(n->out_hooks[k], &n->gbuf[k]);
        for (int j = 0; j < ninputs && st == RT_OK; j++)
            if (inputs[j]->node == n && n->gbuf[inputs[j]->output_nr] && !results[j]) {
                results[j] = n->gbuf[inputs[j]->output_nr];
                rt_tensor_retain(results[j]);
            }
        if (st == RT_OK) st = run_node(&r, n);
        if (st == RT_OK && rt_interrupted()) st = rt_fail(RT_EINTERRUPT, -1, "interrupted");
    }
    if (st == RT_OK) st = finish_leaves(&r, ninputs, inputs, results);
    /* a failed backward frees nothing the user could retry with, so keep the graph */
    run_cleanup(&r, o->retain_graph || st != RT_OK);
    rt_set_grad_enabled(prev);
    return st;
}

rt_status rt_backward(int nroots, rt_tensor *const *roots, rt_tensor *const *grads,
                      const rt_backward_opts *o)
{
    return engine(nroots, roots, grads, 0, NULL, o, NULL);
}

rt_status rt_grad(int nroots, rt_tensor *const *roots, rt_tensor *const *grads, int ninputs,
                  rt_tensor *const *inputs, const rt_backward_opts *o, rt_tensor **results)
{
    for (int j = 0; j < ninputs; j++) {
        results[j] = NULL;
        if (!inputs[j]->requires_grad)
            return rt_fail(RT_EARG, j, "grad: input %d does not require grad", j + 1);
    }
    rt_status st = engine(nroots, roots, grads, ninputs, inputs, o, results);
    for (int j = 0; j < ninputs && st == RT_OK; j++)
        if (!results[j] && !(o && o->allow_unused))
            st = rt_fail(RT_EARG, j, "grad: input %d was not used to compute the outputs "
                         "(pass allow_unused=true to get nil)", j + 1);
    if (st != RT_OK)
        for (int j = 0; j < ninputs; j++) {
            rt_tensor_release(results[j]);
            results[j] = NULL;
        }
    return st;
}
