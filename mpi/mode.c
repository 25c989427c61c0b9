/* The mode backends' registry (mpi/mode.h). */
#include "mpi/mode.h"

const struct sf_mode_ops *sf__mode_ops(sf_mode mode) {
    switch (mode) {
    case SF_MODE_DEBUG: return &sf__mode_debug;
    case SF_MODE_SIMULATION: return &sf__mode_sim;
    case SF_MODE_PRODUCTION: return &sf__mode_prod;
    default: return NULL;
    }
}
