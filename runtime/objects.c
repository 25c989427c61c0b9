/*
 * The object table of one party: id -> entry, plus creation order (for scopes).
 * Chained hash table that doubles when the load passes 1 and never shrinks below its
 * initial size; ids are call numbers, so the mixing spreads consecutive ids.
 * Holder sets are a 64-bit mask, or a bitmap when there are more than 64 parties.
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

static void entry_free(sf_ctx *sf, sf_entry *e) {
    sf_value_unref(&e->val);
    sf_value_unref(&e->err);
    free(e->holdv);
    if (e->kind == SF__ENT_ACTOR && e->state_ptr) {
        if (e->cls->fini) e->cls->fini(e->state_ptr);
        free(e->state_ptr);
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
    memset(t, 0, sizeof *t);
}

sf_entry *sf__obj_find(sf_ctx *sf, uint64_t id) {
    sf_objtab *t = &sf->objs;
    for (sf_entry *e = t->buckets[slot_of(id, t->nbuckets)]; e; e = e->hnext)
        if (e->id == id) return e;
    return NULL;
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
    sf_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    int np = sf__nparties(sf);
    if (np > 64) {
        e->holdv = calloc(((size_t)np + 63) / 64, sizeof(uint64_t));
        if (!e->holdv) {
            free(e);
            return NULL;
        }
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
    if (!e->holdv) return (int)((e->hold >> p) & 1);
    return (int)((e->holdv[p / 64] >> (p % 64)) & 1);
}

void sf__obj_set_holder(sf_ctx *sf, sf_entry *e, int p) {
    if (!e->holdv) e->hold |= (uint64_t)1 << p;
    else e->holdv[p / 64] |= (uint64_t)1 << (p % 64);
}

void sf__obj_set_all_holders(sf_ctx *sf, sf_entry *e) {
    int np = sf__nparties(sf);
    if (!e->holdv) e->hold = np == 64 ? ~(uint64_t)0 : (((uint64_t)1 << np) - 1);
    else
        for (int p = 0; p < np; p++) sf__obj_set_holder(sf, e, p);
}
