/* PYU: a party's plain device. Resolving a name is the same on every party, so an
 * unknown party stops the run on all of them, at the call site that named it. */
#include <string.h>

#include "runtime/internal.h"

sf_device sf__pyu_all(sf_ctx *sf, const char *name, const char *file, int line) {
    sf_device d = sf__pyu(sf, name, file, line);
    d.kind = SF_DEV_PYU_ALL;
    return d;
}

sf_device sf__pyu(sf_ctx *sf, const char *name, const char *file, int line) {
    int p = name ? sf__party_lookup(sf, name) : -1;
    if (p < 0) {
        char known[512] = "";
        size_t n = 0;
        for (int i = 0; i < sf__nparties(sf) && n + 70 < sizeof known; i++)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "",
                                  sf__party_name(sf, i));
        if (n + 70 >= sizeof known) snprintf(known + n, sizeof known - n, ", ...");
        sf__fatal(sf, SF_EXIT_USAGE, "sf_pyu at %s:%d: unknown party '%s' (the parties are: %s)",
                  sf__basename(file), line, name ? name : "(null)", known);
    }
    return (sf_device){sf, SF_DEV_PYU, p};
}
