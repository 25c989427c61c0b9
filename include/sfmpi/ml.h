/**
 * @file ml.h
 * Secure learning on vertically split data, built on the public sfmpi API: logistic
 * regression trained by mini-batch gradient descent inside an SPU (SecretFlow's SS-LR),
 * each party holding some feature columns of the same rows (aligned by sf_psi) and one
 * party the 0/1 label.
 *
 * What stays where. A party that is a member of the SPU keeps its features in the clear
 * (SF_PRIVATE): they are masked once, at the first epoch, and every later product moves
 * only the secret weights' and residuals' masked shares (bytes per epoch grow with rows
 * plus features, not their product; docs/architecture.md "Private operands"). A feature
 * party outside the SPU (semi2k's outside dealer, for one) secret-shares its columns
 * instead. The label is secret-shared once. Weights and bias stay secret-shared during
 * training; sf_ml_lr_save reveals each party's own slice to it alone (the bias to the
 * label holder), or the model keeps them secret for sf_ml_lr_predict. Predictions are
 * revealed to one party (the label holder for sf_ml_lr_evaluate: AUC and log-loss).
 *
 * Each step of a batch of B rows: z = sum_p X_p w_p + b, p = sigmoid(z) by the chosen
 * approximation, e = p - y, w_p -= lr (X_p^T e / B + l2 w_p), b -= lr mean(e). One SPU
 * kernel per epoch. sf_ml_lr_plain runs the same arithmetic in double precision (the
 * baseline the tests and the example compare with).
 */
#ifndef SFMPI_ML_H
#define SFMPI_ML_H

#include "sfmpi/sf.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most feature parties a model takes. */
#define SF_ML_MAX_PARTIES 16

/** Hyper-parameters and choices; {0} gives the defaults. */
typedef struct sf_ml_lr_options {
    double learning_rate;        /**< step size (0: 0.1) */
    int epochs;                  /**< passes over the rows (0: 10) */
    int64_t batch_size;          /**< rows per step (0: 64; larger than the rows: full batch) */
    double l2;                   /**< L2 penalty lambda (0: none) */
    sf_spu_sigmoid_kind sigmoid; /**< the approximation (0: SF_SIGMOID_EXP, within 1e-5 of the true
                                      sigmoid; SEGMENTED and LINEAR are cheaper, and their 0 and 1
                                      far out make the log-loss of a confident mistake huge) */
    uint64_t seed;               /**< 0: batches in row order; else every epoch visits them in
                                      an order drawn from (seed, epoch) (public) */
    int raw_features;            /**< 0: each party scales its own columns to mean 0 and
                                      variance 1 (training statistics, kept at that party and
                                      applied again by predict); 1: use them as given */
    int share_features;          /**< 1: secret-share every party's features, even a member's
                                      (the costly baseline: X moves every epoch) */
    int mask_bits;               /**< the ring a member's private features are masked in: 0 or 64,
                                      or 32 (SF_PRIVATE32: half the bytes of their one-time
                                      transfer; semi2k only; needs a bounded sigmoid, SEGMENTED
                                      or EXP, every scaled feature within +-16, and every logit
                                      within +-2^(30 - fxp_bits), 4096 by default) */
    int quiet;                   /**< 1: no line per epoch on the label holder's log */
    /** called on every party after each epoch (0-based) has run (NULL: none) */
    void (*on_epoch)(sf_ctx *sf, int epoch, void *arg);
    void *on_epoch_arg;          /**< its argument */
} sf_ml_lr_options;

/** A trained model (or one being trained): secret weights in the SPU, per-party scalers. */
typedef struct sf_ml_lr_model {
    sf_ctx *sf;                     /**< the context it was trained in */
    sf_device spu;                  /**< the SPU it was trained in (its weights live there) */
    int nparties;                   /**< feature parties */
    int party[SF_ML_MAX_PARTIES];   /**< their indices (sf_party_name_of) */
    int label_party;                /**< the label holder */
    sf_obj w[SF_ML_MAX_PARTIES];    /**< SPU objects: party p's weights (k_p x 1), secret */
    sf_obj bias;                    /**< SPU object (1 x 1), secret */
    sf_obj scaler[SF_ML_MAX_PARTIES]; /**< at party p: its columns' mean and std (2 x k_p) */
    sf_ml_lr_options opts;          /**< the options with defaults filled in */
} sf_ml_lr_model;

/** Train on the n parties' feature objects x[p] (float or integer, rows x k_p, each held
 * by its party; every party the same rows in the same order) and the label object y
 * (rows, or rows x 1, of 0/1, held by the label party) within `spu`. A call on every party.
 * Returns SF_OK or the first failure (sf_last_error names the party and the cause); the
 * model's objects are created either way and released by sf_ml_lr_release. */
SF_API int sf_ml_lr_fit(sf_device spu, const sf_obj *x, int n, sf_obj y, const sf_ml_lr_options *opts,
                        sf_ml_lr_model *model);
/** The probabilities sigmoid(x w + b) (by the model's approximation) for the parties'
 * feature objects x[p] of new rows, revealed to party `to` only (a float64 [rows] object
 * owned by `to`). */
SF_API sf_obj sf_ml_lr_predict(const sf_ml_lr_model *m, const sf_obj *x, int to);
/** AUC and log-loss of the model on x and labels y, revealed to the label holder: a
 * float64 [2] object {auc, logloss} owned by it (probabilities clipped to [1e-15, 1 - 1e-15]
 * for the log-loss). */
SF_API sf_obj sf_ml_lr_evaluate(const sf_ml_lr_model *m, const sf_obj *x, sf_obj y);
/** Write party p's weights (its slice, revealed to it alone) and its scaler to files[p]
 * at party p (datasets "weights", "mean", "std"; the label holder's file also "bias", at
 * files[n] when the label holder has no features), atomically. A call on every party;
 * returns SF_OK or the first failure. */
SF_API int sf_ml_lr_save(const sf_ml_lr_model *m, const char *const *files);
/** Release the model's objects (every party). */
SF_API void sf_ml_lr_release(sf_ml_lr_model *m);

/** The same training in double precision on plain arrays: x[p] row-major rows x k[p],
 * y[rows] 0/1; writes the weights (sum k, party after party) and the bias, with the
 * scaled columns' statistics applied as sf_ml_lr_fit does. The baseline of the tests. */
SF_API int sf_ml_lr_plain(const double *const *x, const int64_t *k, int n, const double *y, int64_t rows,
                          const sf_ml_lr_options *opts, double *w, double *bias, double *mean, double *std);
/** Probabilities of the plain model on x (same layout), into p[rows]. */
SF_API void sf_ml_lr_plain_predict(const double *const *x, const int64_t *k, int n, int64_t rows,
                                   const sf_ml_lr_options *opts, const double *w, double bias,
                                   const double *mean, const double *std, double *p);
/** Area under the ROC curve of scores against 0/1 labels (ties counted half). */
SF_API double sf_ml_auc(const double *score, const double *y, int64_t n);
/** Mean log-loss, probabilities clipped to [1e-15, 1 - 1e-15]. */
SF_API double sf_ml_logloss(const double *p, const double *y, int64_t n);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif
