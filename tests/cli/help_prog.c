/*
 * A program that asks the runtime to answer --help/-h too (sf_config.help = 1), for the
 * command-line tests: it prints its own arguments, one per line, and returns 0.
 */
#include <stdio.h>

#include "sfmpi/sf.h"

static int program(sf_ctx *sf, void *arg) {
    (void)arg;
    if (sf_party_index(sf) == 0)
        for (int i = 1; i < sf_argc(sf); i++) printf("arg %d: %s\n", i, sf_argv(sf)[i]);
    return 0;
}

int main(int argc, char **argv) {
    sf_config cfg = {.argc = argc, .argv = argv, .help = 1};
    return sf_run(&cfg, program, NULL);
}
