/* rt_ad_nn.h — differentiable nn ops (autograd versions of the kernels). */
#ifndef RT_AD_NN_H
#define RT_AD_NN_H
#include "rt_core.h"
#endif
