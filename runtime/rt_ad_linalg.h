/* rt_ad_linalg.h — differentiable linalg ops (autograd versions of the kernels). */
#ifndef RT_AD_LINALG_H
#define RT_AD_LINALG_H
#include "rt_core.h"
#endif
