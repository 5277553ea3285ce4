/* rt_reduce.h — (being written) */
#ifndef RT_REDUCE_H
#define RT_REDUCE_H
#include "rt_core.h"
#endif
