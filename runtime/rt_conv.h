/* rt_conv.h — (being written) */
#ifndef RT_CONV_H
#define RT_CONV_H
#include "rt_core.h"
#endif
