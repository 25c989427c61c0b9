/*
 * bench/bench_parties.h: helpers of the benchmarks that run as sfmpi programs over three
 * parties (bench_spu_rt, bench_spu_math, bench_sslr): a barrier and a task that echoes the
 * executing party's own inline value (to gather per-party figures).
 */
#ifndef SF_BENCH_PARTIES_H
#define SF_BENCH_PARTIES_H

#include "sfmpi/sf.h"

static inline int bench_tick(sf_task *t) { return sf_return(t, 0, sf_value_i64(0)); }
/* the inline argument is the executing party's own value: this gathers per-party figures */
static inline int bench_echo(sf_task *t) { return sf_return(t, 0, sf_value_ref((sf_value *)sf_arg(t, 0))); }

/* All three parties wait for each other: dev[0]'s party needs the others' ticks, everyone
 * then needs its tick. Kept outside every timed region. */
static inline int bench_barrier3(sf_ctx *sf, sf_device dev[3]) {
    sf_obj b = SF_REMOTE(dev[1], bench_tick), c = SF_REMOTE(dev[2], bench_tick);
    sf_obj j = SF_REMOTE(dev[0], bench_tick, SF_OBJ(b), SF_OBJ(c));
    sf_value *v;
    int rc = sf_get(sf, j, &v);
    sf_release(b);
    sf_release(c);
    sf_release(j);
    return rc;
}

#endif
