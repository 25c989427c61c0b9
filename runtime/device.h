/*
 * The device seam: what a device does for the runtime, one table per device class, each
 * class in devices/ (PYU: devices/pyu/pyu.c; SPU: devices/spu/spu_device.c over the protocol core
 * in devices/spu/). The runtime names no device and calls none: the function that makes a
 * handle (sf_pyu, sf_spu) registers its class in the context (sf__device_register), and
 * the runtime finds a handle's or an entry's class there by kind. A new device (a
 * homomorphic-encryption unit, a TEE) is a folder with its own handle maker.
 *
 * Every operation is made by every party at the same point of the same program, like any
 * runtime call, and keeps the object table identical on every party (ids, owners, holder
 * sets); only values differ. Where an object lives is its entry's device (dev_kind,
 * dev_idx; 0 = held in the clear by its owner party).
 *
 *   call      SF_REMOTE on a handle of this class. Numbers the call (sf__call_begin),
 *             brings in the arguments the way the device needs them, creates the result
 *             entries everywhere and runs the work where it runs. The arguments reach the
 *             device as the caller wrote them: the runtime moves nothing for a device, so
 *             a device decides per argument how it comes in (the SPU secret-shares it by
 *             its owner; a private-times-shared product would keep the owner's matrix in
 *             the clear at the owner, the other participants knowing only its shape).
 *   share_in  sf_to(obj, dev), numbered already: a new object of this device holding obj
 *             (a PYU moves it, revealing it first if another device holds it; an SPU
 *             shares it in).
 *   reveal    the plaintext of entry e (held by this device) for party `to`, or for every
 *             party (to = -1): on the receivers the value (or, with *failed, the failure
 *             chain), NULL elsewhere. Used by sf_get and by sf_to(obj, pyu).
 *   owner     the party that runs this device's tasks and holds its results in the clear
 *             (actors live there), or -1 (a device of shares holds nothing in the clear).
 *   free      the class's state in a context, at its end (sf->dev_state[kind]).
 */
#ifndef SF_RUNTIME_DEVICE_H
#define SF_RUNTIME_DEVICE_H

#include "runtime/internal.h"

struct sf_device_ops {
    const char *name;
    sf_obj (*call)(sf_ctx *sf, sf_device dev, sf_task_fn fn, sf_site site, int nret, sf_obj *outs,
                   const sf_argv_item *args, int nargs);
    sf_obj (*share_in)(sf_ctx *sf, sf_entry *e, sf_device dev, sf_site site);
    sf_value *(*reveal)(sf_ctx *sf, sf_entry *e, int to, int *failed);
    int (*owner)(sf_ctx *sf, sf_device dev);
    void (*free)(sf_ctx *sf);
};

/* A device class's handle maker registers it for its kinds (idempotent). */
void sf__device_register(sf_ctx *sf, int kind, const struct sf_device_ops *ops);
/* The class registered for handles of this kind, or NULL. */
static inline const struct sf_device_ops *sf__device_class(const sf_ctx *sf, int kind) {
    return kind > 0 && kind < SF__DEV_KINDS ? sf->dev_ops[kind] : NULL;
}

/* ---- what the runtime offers devices (runtime/call.c) */

/* A task call executed by party `exec` (with all its ranks when `coll`): the object
 * arguments move there, the results are owned there. `salt` tells calls apart in the
 * trace. The PYU's call, and actors' methods. */
sf_obj sf__call_task(sf_ctx *sf, int exec, int coll, sf_task_fn fn, sf_site site, int nret,
                     sf_obj *outs, const sf_argv_item *args, int nargs, uint64_t salt);
/* Make party `dst` hold plain entry e: its owner sends, dst receives, all mark it. */
void sf__obj_move(sf_ctx *sf, sf_entry *e, int dst);
/* Entry `id`, or a fatal report naming `use` and the call site. */
sf_entry *sf__obj_lookup(sf_ctx *sf, uint64_t id, const char *use);
/* Run a device kernel on this party (its context `kctx`, read back with sf__task_kernel);
 * returns its failure message (free) or NULL. */
char *sf__run_device_kernel(sf_ctx *sf, sf_task_fn fn, sf_site site, void *kctx);
void *sf__task_kernel(sf_task *t);

#endif
