/*
 * PYU: a party's plain device (runtime/device.h). Its tasks run on the party's leader
 * (sf_pyu) or, as collective kernels, on every rank of the party (sf_pyu_all); their
 * arguments move there and their results are held there in the clear. Resolving a name is
 * the same on every party, so an unknown party stops the run on all of them, at the call
 * site that named it.
 */
#include <string.h>

#include "devices/pyu/pyu.h"
#include "runtime/device.h"

static const struct sf_device_ops pyu_ops;

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
    return sf__pyu_of(sf, p);
}

sf_device sf__pyu_at(sf_ctx *sf, int index, const char *file, int line) {
    if (index < 0 || index >= sf__nparties(sf))
        sf__fatal(sf, SF_EXIT_USAGE, "sf_pyu_at at %s:%d: no party number %d (the run has %d: 0 to %d)",
                  sf__basename(file), line, index, sf__nparties(sf), sf__nparties(sf) - 1);
    return sf__pyu_of(sf, index);
}

sf_device sf__pyu_all_at(sf_ctx *sf, int index, const char *file, int line) {
    sf_device d = sf__pyu_at(sf, index, file, line);
    d.kind = SF_DEV_PYU_ALL;
    return d;
}

sf_device sf__pyu_of(sf_ctx *sf, int party) {
    if (!sf->dev_ops[SF_DEV_PYU]) {
        sf__device_register(sf, SF_DEV_PYU, &pyu_ops);
        sf__device_register(sf, SF_DEV_PYU_ALL, &pyu_ops);
    }
    return (sf_device){sf, SF_DEV_PYU, party};
}

static int pyu_owner(sf_ctx *sf, sf_device dev) {
    return dev.party >= 0 && dev.party < sf__nparties(sf) ? dev.party : -1;
}

static int party_of(sf_ctx *sf, sf_device dev, sf_site site) {
    int p = pyu_owner(sf, dev);
    if (p < 0)
        sf__fatal(sf, SF_EXIT_FAILURE, "%s at %s:%d: not a valid PYU device", site.what,
                  sf__basename(site.file), site.line);
    return p;
}

static sf_obj pyu_call(sf_ctx *sf, sf_device dev, sf_task_fn fn, sf_site site, int nret, sf_obj *outs,
                       const sf_argv_item *args, int nargs) {
    return sf__call_task(sf, party_of(sf, dev, site), dev.kind == SF_DEV_PYU_ALL, fn, site, nret, outs,
                         args, nargs, (uint64_t)dev.kind << 32);
}

/* sf_to(obj, pyu): a new object at the party: a device's object is revealed to it, a
 * plain one moves (if the party lacks it) and the new object shares its value. */
static sf_obj pyu_share_in(sf_ctx *sf, sf_entry *e, sf_device dev, sf_site site) {
    int dst = party_of(sf, dev, site);
    if (e->dev_kind) {
        int failed = 0;
        sf_value *v = sf__device_class(sf, e->dev_kind)->reveal(sf, e, dst, &failed);
        sf_entry *n = sf__obj_new(sf, SF__OBJ_ID(sf->call_seq, 0), dst, site);
        if (!n) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory creating an object");
        if (sf->party == dst) {
            n->state = failed ? SF__ST_FAILED : SF__ST_READY;
            if (failed) n->err = v;
            else n->val = v;
        }
        return (sf_obj){sf, n->id};
    }
    sf__obj_move(sf, e, dst);
    sf_entry *n = sf__obj_new(sf, SF__OBJ_ID(sf->call_seq, 0), dst, site);
    if (!n) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory creating an object");
    sf__obj_copy_holders(sf, n, e);
    n->state = e->state;
    n->val = sf_value_ref(e->val);
    n->err = sf_value_ref(e->err);
    return (sf_obj){sf, n->id};
}

/* A PYU holds its objects in the clear: nothing to reveal (sf_get moves them). */
static sf_value *pyu_reveal(sf_ctx *sf, sf_entry *e, int to, int *failed) {
    (void)to;
    *failed = 0;
    sf__fatal(sf, SF_EXIT_FAILURE, "internal: object #%llu is not held by a device",
              (unsigned long long)SF__OBJ_SEQ(e->id));
}

static void pyu_free(sf_ctx *sf) { (void)sf; }

static const struct sf_device_ops pyu_ops = {
    .name = "PYU",
    .call = pyu_call,
    .share_in = pyu_share_in,
    .reveal = pyu_reveal,
    .owner = pyu_owner,
    .free = pyu_free,
};
