/* tools/cliopt.h: "--name=value" / "--name value" options for the data tools' mains. */
#ifndef SF_TOOLS_CLIOPT_H
#define SF_TOOLS_CLIOPT_H

#include <stddef.h>
#include <string.h>

/* The option's name (before any '=', cut to optlen - 1 bytes) into opt; returns the value
 * written after '=', or NULL. */
static inline const char *cli_split(const char *a, char *opt, size_t optlen) {
    const char *eq = strchr(a, '=');
    size_t ol = eq ? (size_t)(eq - a) : strlen(a);
    if (ol >= optlen) ol = optlen - 1;
    memcpy(opt, a, ol);
    opt[ol] = 0;
    return eq ? eq + 1 : NULL;
}

/* The option's value: `eqval` (from cli_split), else the next argument (*i advances to it),
 * else NULL. */
static inline const char *cli_value(int argc, char **argv, int *i, const char *eqval) {
    if (eqval) return eqval;
    return *i + 1 < argc ? argv[++*i] : NULL;
}

#endif
