/* nabla_rt.h — the whole public runtime API in one include. */
#ifndef NABLA_RT_H
#define NABLA_RT_H
#include "rt_core.h"
#include "rt_pool.h"
#include "rt_random.h"
#include "rt_elementwise.h"
#include "rt_reduce.h"
#include "rt_linalg.h"
#include "rt_conv.h"
#include "rt_spatial.h"
#include "rt_index.h"
#include "rt_optim.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"
#include "rt_ad_reduce.h"
#include "rt_ad_linalg.h"
#include "rt_ad_nn.h"
#include "rt_ad_index.h"
#endif
