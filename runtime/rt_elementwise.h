/* rt_elementwise.h — (being written) */
#ifndef RT_ELEMENTWISE_H
#define RT_ELEMENTWISE_H
#include "rt_core.h"
#endif
