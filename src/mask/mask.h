/* mask.h - internal accessors of the activation-statistics accumulator. */
#ifndef QLOW_MASK_MASK_H
#define QLOW_MASK_MASK_H

#include "core/internal.h"

QLOW_HIDDEN int64_t qlow__actstats_cols(const qlow_actstats *stats);

#endif
