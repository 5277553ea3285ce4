/* rt_linalg.h — (being written) */
#ifndef RT_LINALG_H
#define RT_LINALG_H
#include "rt_core.h"
#endif
