/* status.c - status strings, generated from the same X-macro list as the codes. */
#include "internal.h"

const char *qlow_status_string(qlow_status status)
{
#ifdef QLOW_STRIP_ERROR_STRINGS
#define QLOW_STATUS_CASE_(name, value, text)                                                           \
    case value: return #name;
#else
#define QLOW_STATUS_CASE_(name, value, text)                                                           \
    case value: return text;
#endif
    switch (status) {
        QLOW_STATUS_LIST(QLOW_STATUS_CASE_)
    default: return "unknown status";
    }
#undef QLOW_STATUS_CASE_
}
