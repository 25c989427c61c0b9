/*
 * The object table of one party: id -> entry, plus creation order (for scopes).
 * Chained hash table that doubles when the load passes 1 and never shrinks below its
 * initial size; ids are call numbers, so the mixing spreads consecutive ids.
 * Holder sets are a 64-bit mask; with more than 64 parties, a short list of holders (the
 * first two in the entry itself, in the mask's place: no allocation for the usual owner
 * plus one) or an "everyone" flag (after sf_get), so an object costs O(1) memory even
 * with 100,000 parties.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

#define INIT_BUCKETS 16

static inline size_t slot_of(uint64_t id, size_t nb) {
    return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 20) & (nb - 1);
}

int sf__objtab_init(sf_objtab *t) {
    memset(t, 0, sizeof *t);
    t->buckets = calloc(INIT_BUCKETS, sizeof *t->buckets);
    if (!t->buckets) return SF_ENOMEM;
    t->nbuckets = INIT_BUCKETS;
    return SF_OK;
}

#define MAX_SPARE 1024

static void entry_free(sf_ctx *sf, sf_entry *e) {
    sf_value_unref(&e->val);
    sf_value_unref(&e->err);
    sf_value_unref(&e->revealed);
    free(e->holdv);
    if (e->kind == SF__ENT_ACTOR && e->state_ptr) {
        if (e->cls->fini) e->cls->fini(e->state_ptr);
        free(e->state_ptr);
    }
    if (sf->objs.nspare < MAX_SPARE && sf->objs.buckets) { /* keep it for the next call */
        e->hnext = sf->objs.spare;
        sf->objs.spare = e;
        sf->objs.nspare++;
        return;
    }
    free(e);
}

void sf__objtab_free(sf_ctx *sf) {
    sf_objtab *t = &sf->objs;
    sf_entry *e = t->head;
    while (e) {
        sf_entry *n = e->next;
        entry_free(sf, e);
        e = n;
    }
    free(t->buckets);
    t->buckets = NULL;
    while (t->spare) {
        sf_entry *n = t->spare->hnext;
        free(t->spare);
        t->spare = n;
    }
    memset(t, 0, sizeof *t);
}

sf_entry *sf__obj_find(sf_ctx *sf, uint64_t id) {
    sf_objtab *t = &sf->objs;
    for (sf_entry *e = t->buckets[slot_of(id, t->nbuckets)]; e; e = e->hnext)
        if (e->id == id) return e;
    return NULL;
}

int sf_obj_party(sf_obj obj) {
    if (!obj.sf) return -1;
    sf_entry *e = sf__obj_find(obj.sf, obj.id);
    return e && e->kind == SF__ENT_OBJ && !e->dev_kind ? e->owner : -1;
}

static void grow(sf_objtab *t) {
    size_t nb = t->nbuckets * 2;
    sf_entry **b = calloc(nb, sizeof *b);
    if (!b) return; /* keep the longer chains */
    for (size_t i = 0; i < t->nbuckets; i++) {
        sf_entry *e = t->buckets[i];
        while (e) {
            sf_entry *n = e->hnext;
            size_t s = slot_of(e->id, nb);
            e->hnext = b[s];
            b[s] = e;
            e = n;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

sf_entry *sf__obj_new(sf_ctx *sf, uint64_t id, int owner, sf_site site) {
    sf_objtab *t = &sf->objs;
    sf_entry *e = t->spare;
    if (e) {
        t->spare = e->hnext;
        t->nspare--;
        memset(e, 0, sizeof *e);
    } else if (!(e = calloc(1, sizeof *e))) {
        return NULL;
    }
    e->id = id;
    e->call_seq = SF__OBJ_SEQ(id);
    e->owner = owner;
    e->site = site;
    if (t->count >= t->nbuckets) grow(t);
    size_t s = slot_of(id, t->nbuckets);
    e->hnext = t->buckets[s];
    t->buckets[s] = e;
    e->prev = t->tail;
    if (t->tail) t->tail->next = e;
    else t->head = e;
    t->tail = e;
    t->count++;
    if (owner >= 0) sf__obj_set_holder(sf, e, owner);
    return e;
}

void sf__obj_drop(sf_ctx *sf, sf_entry *e) {
    sf_objtab *t = &sf->objs;
    sf_entry **pp = &t->buckets[slot_of(e->id, t->nbuckets)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev) e->prev->next = e->next;
    else t->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else t->tail = e->prev;
    t->count--;
    entry_free(sf, e);
}

int sf__obj_holds(const sf_ctx *sf, const sf_entry *e, int p) {
    if (sf__nparties(sf) <= 64) return (int)((e->hold >> p) & 1);
    if (e->hold_all) return 1;
    const int32_t *l = e->holdv ? e->holdv : e->hold_in;
    for (int i = 0; i < e->nhold; i++)
        if (l[i] == p) return 1;
    return 0;
}

void sf__obj_set_holder(sf_ctx *sf, sf_entry *e, int p) {
    if (sf__nparties(sf) <= 64) {
        e->hold |= (uint64_t)1 << p;
        return;
    }
    if (sf__obj_holds(sf, e, p)) return;
    if (!e->holdv && e->nhold < 2) {
        e->hold_in[e->nhold++] = p;
        return;
    }
    if (e->nhold == e->caphold || !e->holdv) {
        int cap = e->holdv ? e->caphold * 2 : 4;
        int32_t *v = realloc(e->holdv, sizeof *v * (size_t)cap);
        if (!v) sf__fatal(sf, SF_EXIT_FAILURE, "out of memory (holder list)");
        if (!e->holdv) memcpy(v, e->hold_in, sizeof e->hold_in);
        e->holdv = v;
        e->caphold = cap;
    }
    e->holdv[e->nhold++] = p;
}

void sf__obj_set_all_holders(sf_ctx *sf, sf_entry *e) {
    int np = sf__nparties(sf);
    if (np <= 64) {
        e->hold = np == 64 ? ~(uint64_t)0 : (((uint64_t)1 << np) - 1);
        return;
    }
    e->hold_all = 1;
    free(e->holdv);
    e->holdv = NULL;
    e->nhold = e->caphold = 0;
}

/* dst's holders become its own plus src's. */
void sf__obj_copy_holders(sf_ctx *sf, sf_entry *dst, const sf_entry *src) {
    if (sf__nparties(sf) <= 64) {
        dst->hold |= src->hold;
        return;
    }
    if (src->hold_all) {
        sf__obj_set_all_holders(sf, dst);
        return;
    }
    const int32_t *l = src->holdv ? src->holdv : src->hold_in;
    for (int i = 0; i < src->nhold; i++) sf__obj_set_holder(sf, dst, l[i]);
}
