/* version.c - release and ABI version queries. */
#include "internal.h"

unsigned qlow_version_number(void) { return QLOW_VERSION_NUMBER; }
const char *qlow_version_string(void) { return QLOW_VERSION_STRING; }
unsigned qlow_abi_version(void) { return QLOW_ABI_VERSION; }

qlow_status qlow_abi_check(unsigned header_abi_version, size_t view_size)
{
    if (header_abi_version != QLOW_ABI_VERSION || view_size != sizeof(qlow_view))
        return QLOW_E_VERSION_MISMATCH;
    return QLOW_OK;
}
