/* rt_spatial.h — (being written) */
#ifndef RT_SPATIAL_H
#define RT_SPATIAL_H
#include "rt_core.h"
#endif
