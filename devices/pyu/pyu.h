/* PYU handles for library code above the runtime (io/): the device of party `party`. */
#ifndef SF_DEVICES_PYU_H
#define SF_DEVICES_PYU_H

#include "sfmpi/sf.h"

sf_device sf__pyu_of(sf_ctx *sf, int party);

#endif
