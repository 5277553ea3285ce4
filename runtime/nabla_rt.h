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
#endif
