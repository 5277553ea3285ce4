/* rt_random.h — (being written) */
#ifndef RT_RANDOM_H
#define RT_RANDOM_H
#include "rt_core.h"
#endif
