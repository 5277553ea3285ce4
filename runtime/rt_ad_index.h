/* rt_ad_index.h — differentiable index ops (autograd versions of the kernels). */
#ifndef RT_AD_INDEX_H
#define RT_AD_INDEX_H
#include "rt_core.h"
#endif
