/*
 * The SPU device's internals shared by spu_device.c (creation, calls, moving values in
 * and out) and spu_kernel.c (the operations a kernel calls). Not part of the API.
 */
#ifndef SF_SPU_DEV_H
#define SF_SPU_DEV_H

#include "core/progress.h"
#include "devices/spu/core/spu_proto.h"
#include "runtime/device.h"

typedef struct sf_spu_dev sf_spu_dev;

/* The class's state in a context (sf->dev_state[SF_DEV_SPU]): the SPUs in creation order,
 * the same on every party. */
typedef struct spu_state {
    sf_spu_dev **spus;
    int n;
} spu_state;

/* A matrix an SPU keeps private to its owner (SF_PRIVATE), cached per object: the
 * protocol's handle (its mask, made at the first use) lives as long as the object. */
typedef struct spu_priv_ent {
    uint64_t id;      /* the object */
    sf_spu_priv *pr;  /* the protocol's handle (participants) */
    uint64_t *X;      /* the ring values, on the member that computes with them, else NULL */
    int owner;        /* member index in the protocol (under --sf-spu=plain: 0) */
    int fxp;
    int64_t m, k;     /* X is m x k (a vector of m: m x 1) */
    int fresh;        /* described in this call, to be masked once every argument is in */
    int aux;          /* the argument's aux: 0 the 64-bit ring, 1 + block rows the 32-bit one */
} spu_priv_ent;

struct sf_spu_dev {
    int idx;
    int n;        /* members */
    int ndecl;    /* members as declared (n is 1 under --sf-spu=plain) */
    int decl_aby3; /* declared aby3 (params.protocol is plain under --sf-spu=plain) */
    spu_priv_ent *priv; /* private matrices in use, by object */
    int npriv, cappriv;
    int *members; /* party indices */
    int dealer;   /* party index of an extra dealer, or -1 */
    int role;     /* member index, n (extra dealer), or -1 (not involved) */
    sf_spu_params params;
    int nwords;
    sf_spu_proto *proto;
    sf_spu_net net;
    sf_ctx *sf;
    uint64_t msg_id; /* tags the protocol messages of the current call */
    sf_progress *prog; /* the running kernel's progress line (core/progress.h), or NULL */
    uint64_t prog_bytes0; /* net.bytes_sent when it began */
};

/* A value of a running kernel. Secret: s holds this participant's share. Public (an
 * inline argument, known to every participant): pub holds its ring values (fixed point for
 * floats) and pubv the value as passed, and s a trivial sharing of it, so that a public
 * value can stand wherever a secret one can. */
typedef struct spu_slot {
    sf_spu_share s;
    sf_value *held; /* an argument's share value that s.w points into (read only), or NULL */
    int fxp; /* 1: fixed point, 0: integer */
    int ndim;
    int64_t shape[SF_MAX_DIMS];
    uint64_t *pub;  /* public: s.n ring values; NULL for a secret */
    sf_value *pubv; /* public argument: the value as passed (else NULL) */
    int priv;       /* private (SF_PRIVATE): 1 + its index in d->priv, else 0; the view is
                       rows pr0 .. pr0+prows of the matrix, transposed if ptrans */
    size_t pr0, prows;
    int ptrans;
    int dead;       /* released by sf_spu_release: any use is an error */
} spu_slot;

typedef struct spu_kctx {
    sf_spu_dev *d;
    spu_slot *slots;
    int nslots, cap;
    int nargs, nret;
    int *ret; /* slot of each result, -1 unset */
} spu_kctx;

/* A kernel's progress: operations done, protocol bytes sent (spu_device.c). */
void sf__spu_kernel_progress(sf_spu_dev *d, int op_done);
/* Release what a slot holds. */
void sf__spu_slot_free(spu_slot *sl);

#endif
