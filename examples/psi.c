/*
 * Private set intersection over party-local HDF5 files: every party (two or more, named by
 * --sf-parties or the cluster file) holds its customer IDs in DIR/<party>.h5, dataset
 * "ids" (int64 [n], or uint8 [n, L] byte strings), in its own order, and optionally a
 * feature table "features" with one row per ID. sf_psi finds the IDs common to all parties
 * without revealing the others; each party then writes, atomically, to OUT/<party>.h5:
 *   "index"     int64 [c]: its rows in the intersection, row k the same ID at every party;
 *   "features"  its feature rows in that order (if it has features): the aligned table a
 *               vertical model trains on.
 * No party reads another's file or learns an ID outside the intersection. With two parties
 * the IDs are streamed from the file in batches of --batch=N rows (default 131072), so a
 * party's memory does not grow with its set (spill files go to $TMPDIR).
 *
 *   sfmpi gen-data --psi ...                  (ID sets with a known overlap)
 *   ./psi DIR OUT [--features] [--batch=N] --sf-mode=debug --sf-parties=alice,bob [--sf-ranks-per-party=2]
 *   mpirun -np 4 ./psi DIR OUT --sf-mode=sim --sf-parties=alice,bob --sf-ranks-per-party=2
 *   sfmpi run --mode=prod --parties alice,bob ./psi DIR OUT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sfmpi/psi.h"

#define MAXP SF_PSI_MAX_PARTIES

typedef struct paths {
    const char *in, *out;
    int features;
    long long batch;
} paths;

/* DIR OUT [--features] [--batch=N] from the program's own arguments (every party has the same) */
static int parse(sf_ctx *sf, paths *p) {
    *p = (paths){NULL, NULL, 0, 0};
    for (int i = 1; i < sf_argc(sf); i++) {
        const char *a = sf_argv(sf)[i];
        if (!strcmp(a, "--features")) p->features = 1;
        else if (!strncmp(a, "--batch=", 8)) p->batch = atoll(a + 8);
        else if (!p->in) p->in = a;
        else if (!p->out) p->out = a;
        else return -1;
    }
    return p->in && p->out ? 0 : -1;
}

static int program(sf_ctx *sf, void *arg) {
    paths pp, *p = &pp;
    (void)arg;
    if (parse(sf, p)) {
        sf_log(sf, "usage: psi DIR OUT [--features] [--batch=N] (DIR/<party>.h5 holds the party's \"ids\")");
        return 2;
    }
    int n = sf_nparties(sf);
    if (n > MAXP) n = MAXP;
    if (mkdir(p->out, 0755) != 0 && errno != EEXIST) { /* (each party's own OUT) */
        sf_log(sf, "psi: cannot create %s: %s", p->out, strerror(errno));
        return 2;
    }
    sf_device dev[MAXP];
    sf_psi_h5_party files[MAXP];
    char in[MAXP][512], out[MAXP][512];
    for (int i = 0; i < n; i++) {
        const char *name = sf_party_name_of(sf, i);
        dev[i] = sf_pyu_all(sf, name); /* every rank of the party hashes its share */
        snprintf(in[i], sizeof in[i], "%s/%s.h5", p->in, name);
        snprintf(out[i], sizeof out[i], "%s/%s.h5", p->out, name);
        files[i] = (sf_psi_h5_party){in[i], "ids", out[i], "index"};
    }
    int64_t size;
    sf_psi_options opts = {.batch_rows = p->batch};
    SF_TRY(sf_psi_h5(sf, dev, files, n, &opts, &size)); /* writes OUT/<party>.h5 "index" */
    sf_print(sf, "intersection of %d parties: %lld IDs\n", n, (long long)size);
    for (int i = 0; i < n; i++) {
        if (p->features) { /* the aligned feature table, into a second file */
            char aligned[640];
            snprintf(aligned, sizeof aligned, "%s/%s_features.h5", p->out, sf_party_name_of(sf, i));
            sf_obj table = sf_h5_read(dev[i], in[i], "features"), index = sf_h5_read(dev[i], out[i], "index");
            sf_obj written = sf_h5_write(sf_psi_take(dev[i], table, index), aligned, "features");
            SF_TRY(sf_wait(sf, &written, 1));
        }
        sf_print(sf, "%s: wrote %s%s\n", sf_party_name_of(sf, i), out[i],
                 p->features ? " and its aligned features" : "");
    }
    return 0;
}

int main(int argc, char **argv) { return sf_main(argc, argv, program, NULL); }
