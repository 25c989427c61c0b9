/* Status codes: one X-macro (include/sfmpi/sf.h), names and messages from it. */
#include "sfmpi/sf.h"

const char *sf_strerror(int status) {
    switch (status) {
#define SF__STATUS_STR(name, code, text) \
    case code: return text;
        SF_STATUS_MAP(SF__STATUS_STR)
#undef SF__STATUS_STR
    }
    return "unknown status";
}

const char *sf_err_name(int status) {
    switch (status) {
#define SF__STATUS_NAME(name, code, text) \
    case code: return "SF_" #name;
        SF_STATUS_MAP(SF__STATUS_NAME)
#undef SF__STATUS_NAME
    }
    return "SF_UNKNOWN";
}

const char *sf_version(void) { return SF_VERSION_STRING; }
