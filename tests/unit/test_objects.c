/*
 * The object table of one party (runtime/objects.c): ids to entries and holder sets.
 *
 *  - holder sets with 10 parties (a bitmask) and with 100 (the first two holders in the
 *    entry, then a list): every party that was added holds, no other does, at every
 *    count from 1 to 40 holders; copying a set into another entry (a union), also
 *    "everyone" (after sf_get);
 *  - the table: 20,000 entries (it doubles its buckets), each found by id; half dropped
 *    in creation order and in reverse, the rest still found, the dropped ones gone;
 *    creation order kept through the drops.
 * Exits 1 with a message on any failure.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "tests/check.h"

static sf_site site = {__FILE__, __LINE__, "test"};

static void make_ctx(sf_ctx *sf, sf_run_state *run, int np) {
    memset(run, 0, sizeof *run);
    memset(sf, 0, sizeof *sf);
    run->nparties = np;
    sf->run = run;
    if (!ASSERT_OK(sf__objtab_init(&sf->objs))) exit(1);
}

static void holders_case(int np) {
    test_context("holders, %d parties", np);
    sf_run_state run;
    sf_ctx sf;
    make_ctx(&sf, &run, np);
    int maxh = np < 40 ? np : 40;
    for (int nh = 1; nh <= maxh; nh++) {
        /* holders: the owner (party 3 % np) then parties 7 k % np, distinct */
        sf_entry *e = sf__obj_new(&sf, (uint64_t)nh, 3 % np, site);
        if (!ASSERT_NOT_NULL(e)) return;
        char want[128] = {0};
        want[3 % np] = 1;
        int added = 1;
        for (int k = 1; added < nh; k++) {
            int p = (7 * k) % np;
            sf__obj_set_holder(&sf, e, p);
            sf__obj_set_holder(&sf, e, p); /* twice: no duplicate */
            if (!want[p]) added++;
            want[p] = 1;
        }
        for (int p = 0; p < np; p++)
            ASSERT_EQ_MSG(sf__obj_holds(&sf, e, p), want[p], "party %d, %d holders", p, nh);
        if (np > 64) ASSERT_EQ(e->nhold, nh);
        sf_entry *c = sf__obj_new(&sf, 1000 + (uint64_t)nh, 5 % np, site);
        sf__obj_copy_holders(&sf, c, e);
        want[5 % np] = 1;
        for (int p = 0; p < np; p++)
            ASSERT_EQ_MSG(sf__obj_holds(&sf, c, p), want[p], "copy: party %d, %d holders", p, nh);
        sf__obj_set_all_holders(&sf, e);
        for (int p = 0; p < np; p++) ASSERT_EQ_MSG(sf__obj_holds(&sf, e, p), 1, "all: party %d", p);
        sf__obj_copy_holders(&sf, c, e);
        for (int p = 0; p < np; p++) ASSERT_EQ_MSG(sf__obj_holds(&sf, c, p), 1, "copy of all: party %d", p);
        sf__obj_drop(&sf, c);
        sf__obj_drop(&sf, e);
    }
    ASSERT_EQ(sf.objs.count, 0);
    sf__objtab_free(&sf);
}

static void table_case(void) {
    test_context("table");
    sf_run_state run;
    sf_ctx sf;
    make_ctx(&sf, &run, 100);
    enum { N = 20000 };
    for (uint64_t i = 1; i <= N; i++) {
        sf_entry *e = sf__obj_new(&sf, i << 16 | 1, (int)(i % 100), site);
        if (!ASSERT_NOT_NULL(e)) return;
        sf__obj_set_holder(&sf, e, (int)((i + 1) % 100));
        sf__obj_set_holder(&sf, e, (int)((i + 2) % 100)); /* spills to a list */
    }
    ASSERT_EQ(sf.objs.count, N);
    ASSERT_GE(sf.objs.nbuckets, (size_t)N);
    for (uint64_t i = 1; i <= N; i++) {
        sf_entry *e = sf__obj_find(&sf, i << 16 | 1);
        if (ASSERT_NOT_NULL_MSG(e, "id %llu", (unsigned long long)i)) ASSERT_EQ(e->owner, (int)(i % 100));
    }
    /* drop the odd ones, from the front, and the multiples of 4, from the back */
    for (uint64_t i = 1; i <= N; i += 2) sf__obj_drop(&sf, sf__obj_find(&sf, i << 16 | 1));
    for (uint64_t i = N; i >= 4; i -= 4) sf__obj_drop(&sf, sf__obj_find(&sf, i << 16 | 1));
    ASSERT_EQ(sf.objs.count, N / 4);
    uint64_t last = 0;
    size_t seen = 0;
    for (sf_entry *e = sf.objs.head; e; e = e->next, seen++) {
        uint64_t i = e->id >> 16;
        ASSERT_EQ_MSG(i % 4, 2u, "id %llu should be gone", (unsigned long long)i);
        ASSERT_GT(i, last); /* creation order */
        last = i;
    }
    ASSERT_EQ(seen, (size_t)N / 4);
    for (uint64_t i = 1; i <= N; i++) {
        sf_entry *e = sf__obj_find(&sf, i << 16 | 1);
        if (i % 4 == 2) ASSERT_NOT_NULL_MSG(e, "id %llu", (unsigned long long)i);
        else ASSERT_NULL_MSG(e, "id %llu", (unsigned long long)i);
    }
    sf__objtab_free(&sf);
}

int main(void) {
    holders_case(10);
    holders_case(64);
    holders_case(100);
    table_case();
    TEST_DONE();
}
