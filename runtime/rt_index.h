/* rt_index.h — (being written) */
#ifndef RT_INDEX_H
#define RT_INDEX_H
#include "rt_core.h"
#endif
