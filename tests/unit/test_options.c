/* Unit tests of option parsing: precedence, defaults, and errors that name the option. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "tests/check.h"

static int parse(sf_opts *o, sf_config *cfg, char *err) {
    err[0] = 0;
    return sf__opts_parse(o, cfg, err, 512);
}

int main(void) {
    char err[512];
    sf_opts o;
    unsetenv("SF_MODE");
    unsetenv("SF_PARTIES");
    unsetenv("OMPI_COMM_WORLD_SIZE");

    /* defaults: debug, 256 KiB stacks, arg checks on; program args kept in order */
    char *a1[] = {"prog", "in.h5", "--sf-parties=alice,bob", "-v", NULL};
    sf_config c1 = {.argc = 4, .argv = a1};
    ASSERT_OK(parse(&o, &c1, err));
    if (ASSERT_EQ(o.mode, SF_MODE_DEBUG) &&
        ASSERT_EQ(o.nparties, 2))
        ASSERT_STR_EQ(o.parties[1], "bob");
    if (ASSERT_EQ(o.stack_size, 256 * 1024) &&
        ASSERT_EQ(o.check_args, 1))
        ASSERT_EQ(o.wait_timeout, 2.0);
    if (ASSERT_EQ(o.argc, 3) &&
        ASSERT_STR_EQ(o.argv[1], "in.h5") &&
        ASSERT_STR_EQ(o.argv[2], "-v"))
        ASSERT(!o.argv[3]);
    if (ASSERT_EQ(o.turn, 1)) ASSERT_EQ(o.on_error_continue, 0);
    {
        sf_run_state run = {.nparties = o.nparties, .parties = o.parties};
        int dup = 0;
        ASSERT_OK(sf__name_index_build(&run.party_ix, run.parties, run.nparties, &dup));
        ASSERT_EQ(dup, -1);
        sf_ctx ctx = {.run = &run};
        if (ASSERT_EQ(sf__party_lookup(&ctx, "bob"), 1)) ASSERT_EQ(sf__party_lookup(&ctx, "carol"), -1);
        ASSERT_EQ(sf__party_lookup(&ctx, "alice"), 0);
        sf__name_index_free(&run.party_ix);
    }
    {
        /* the name index: 20,000 names all found at their index, unknown ones not, a
         * duplicate reported with its index */
        enum { N = 20000 };
        char **names = calloc(N + 1, sizeof *names);
        for (int i = 0; names && i <= N; i++) {
            names[i] = malloc(16);
            if (names[i]) snprintf(names[i], 16, "p%d", i);
        }
        sf_name_index ix;
        int dup = 0, bad = 0;
        ASSERT_OK(sf__name_index_build(&ix, names, N, &dup));
        for (int i = 0; i < N; i++) bad += sf__name_index_find(&ix, names, names[i]) != i;
        ASSERT_EQ(bad, 0);
        ASSERT_EQ(sf__name_index_find(&ix, names, "p20000"), -1);
        ASSERT_EQ(sf__name_index_find(&ix, names, ""), -1);
        ASSERT_EQ(sf__name_index_find(&ix, names, NULL), -1);
        sf__name_index_free(&ix);
        snprintf(names[N], 16, "p%d", 123);
        ASSERT_EQ(sf__name_index_build(&ix, names, N + 1, &dup), SF_EUSAGE);
        ASSERT_EQ(dup, N);
        ASSERT(ix.slot == NULL);
        for (int i = 0; names && i <= N; i++) free(names[i]);
        free(names);
    }
    {
        char *a[] = {"prog", "--sf-turn=8", "--sf-on-error=continue", NULL};
        sf_opts o3 = {0};
        sf_config c = {.argc = 3, .argv = a, .parties = (const char *const[]){"a"}, .nparties = 1};
        ASSERT_OK(parse(&o3, &c, err));
        if (ASSERT_EQ(o3.turn, 8)) ASSERT_EQ(o3.on_error_continue, 1);
        sf__opts_free(&o3);
    }
    sf__opts_free(&o);

    /* precedence: command line > environment > config */
    const char *cp[] = {"x", "y"};
    char *a2[] = {"prog", "--sf-mode", "sim", NULL};
    sf_config c2 = {.argc = 3, .argv = a2, .mode = SF_MODE_DEBUG, .parties = cp, .nparties = 2};
    setenv("SF_PARTIES", "p,q,r", 1);
    setenv("SF_MODE", "prod", 1);
    ASSERT_OK(parse(&o, &c2, err));
    if (ASSERT_EQ(o.mode, SF_MODE_SIMULATION) &&
        ASSERT_EQ(o.nparties, 3))
        ASSERT_STR_EQ(o.parties[2], "r");
    sf__opts_free(&o);
    unsetenv("SF_MODE");
    unsetenv("SF_PARTIES");
    sf_config c3 = {.mode = SF_MODE_SIMULATION, .parties = cp, .nparties = 2};
    if (ASSERT_OK(parse(&o, &c3, err)) &&
        ASSERT_EQ(o.mode, SF_MODE_SIMULATION))
        ASSERT_EQ(o.nparties, 2);
    sf__opts_free(&o);

    /* errors name the option and the bad value */
    char *a4[] = {"prog", "--sf-mode=fast", NULL};
    sf_config c4 = {.argc = 2, .argv = a4, .parties = cp, .nparties = 2};
    if (ASSERT_STATUS(parse(&o, &c4, err), SF_EUSAGE) &&
        ASSERT_STR_CONTAINS(err, "--sf-mode=fast"))
        ASSERT_STR_CONTAINS(err, "'fast'");
    sf__opts_free(&o);
    char *a5[] = {"prog", "--sf-bogus=1", NULL};
    sf_config c5 = {.argc = 2, .argv = a5, .parties = cp, .nparties = 2};
    if (ASSERT_STATUS(parse(&o, &c5, err), SF_EUSAGE))
        ASSERT_STR_CONTAINS(err, "unknown option --sf-bogus");
    sf__opts_free(&o);
    char *a6[] = {"prog", "--sf-parties=alice,bob,alice", NULL};
    sf_config c6 = {.argc = 2, .argv = a6};
    if (ASSERT_STATUS(parse(&o, &c6, err), SF_EUSAGE))
        ASSERT_STR_CONTAINS(err, "'alice' is listed twice");
    sf__opts_free(&o);
    char *a7[] = {"prog", "--sf-parties=alice,,bob", NULL};
    sf_config c7 = {.argc = 2, .argv = a7};
    if (ASSERT_STATUS(parse(&o, &c7, err), SF_EUSAGE))
        ASSERT_STR_CONTAINS(err, "party name '' is invalid");
    sf__opts_free(&o);
    sf_config c8 = {0};
    if (ASSERT_STATUS(parse(&o, &c8, err), SF_EUSAGE)) ASSERT_STR_CONTAINS(err, "no parties");
    sf__opts_free(&o);
    char *a9[] = {"prog", "--sf-stack-size=12", NULL};
    sf_config c9 = {.argc = 2, .argv = a9, .parties = cp, .nparties = 2};
    if (ASSERT_STATUS(parse(&o, &c9, err), SF_EUSAGE)) ASSERT_STR_CONTAINS(err, "stack-size");
    sf__opts_free(&o);
    char *a10[] = {"prog", "--sf-stack-size=1m", "--sf-check-args=0", "--sf-wait-timeout=0.5",
                   "--", "--sf-mode=x", NULL};
    sf_config c10 = {.argc = 6, .argv = a10, .parties = cp, .nparties = 2};
    ASSERT_OK(parse(&o, &c10, err));
    ASSERT_EQ(o.stack_size, 1 << 20);
    ASSERT_EQ(o.check_args, -1);
    ASSERT_EQ(o.wait_timeout, 0.5);
    if (ASSERT_EQ(o.argc, 2)) ASSERT_STR_EQ(o.argv[1], "--sf-mode=x"); /* after --: the program's */
    sf__opts_free(&o);

    /* under an MPI launcher with no mode: an error, not a silent debug run */
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    sf_config c11 = {.parties = cp, .nparties = 2};
    if (ASSERT_STATUS(parse(&o, &c11, err), SF_EUSAGE)) ASSERT_STR_CONTAINS(err, "--sf-mode=sim");
    sf__opts_free(&o);
    unsetenv("OMPI_COMM_WORLD_SIZE");

    /* mode names and the programmatic default */
    if (ASSERT_STR_EQ(sf_mode_name(SF_MODE_DEBUG), "debug"))
        ASSERT_STR_EQ(sf_mode_name(SF_MODE_SIMULATION), "sim");
    ASSERT_STATUS(sf_set_distribution_mode((sf_mode)9), SF_EINVAL);
    ASSERT_OK(sf_set_distribution_mode(SF_MODE_SIMULATION));
    sf_config c12 = {.parties = cp, .nparties = 2};
    if (ASSERT_OK(parse(&o, &c12, err))) ASSERT_EQ(o.mode, SF_MODE_SIMULATION);
    sf__opts_free(&o);
    ASSERT_OK(sf_set_distribution_mode(SF_MODE_UNSET));

    /* status names */
    if (ASSERT_STR_EQ(sf_err_name(SF_EDIVERGE), "SF_EDIVERGE"))
        ASSERT_STR_EQ(sf_strerror(0), "success");
    ASSERT_STR_EQ(sf_strerror(12345), "unknown status");
    TEST_DONE();
}
