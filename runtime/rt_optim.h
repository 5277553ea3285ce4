/* rt_optim.h — fused optimizer steps over whole contiguous parameter tensors (SGD with
** momentum, Adam/AdamW): one pass over memory, no temporaries.  Not autograd ops: they write
** the parameter and its state buffers in place (bumping versions); call them under no_grad. */
#ifndef RT_OPTIM_H
#define RT_OPTIM_H

#include "rt_core.h"

typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov, maximize;
    int first;   /* the momentum buffer is new: it becomes the gradient itself */
} rt_sgd_opts;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    double bias_correction1, bias_correction2;   /* 1 - beta1^t, 1 - beta2^t */
    int decoupled;                               /* AdamW: p *= 1 - lr*wd, no wd in g */
    int maximize;
} rt_adam_opts;

/* p, g, buf (and m, v, vmax when given) contiguous, p's dtype (f32/f64) and numel.
** Statuses: RT_EDTYPE, RT_ESHAPE, RT_EARG (a bad hyperparameter). */
rt_status rt_optim_sgd(rt_tensor *p, const rt_tensor *g, rt_tensor *buf, const rt_sgd_opts *o);
rt_status rt_optim_adam(rt_tensor *p, const rt_tensor *g, rt_tensor *m, rt_tensor *v,
                        rt_tensor *vmax, const rt_adam_opts *o);

#endif
