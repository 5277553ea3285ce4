/* rt_ad_reduce.h — differentiable reduce ops (autograd versions of the kernels). */
#ifndef RT_AD_REDUCE_H
#define RT_AD_REDUCE_H
#include "rt_core.h"
#endif
