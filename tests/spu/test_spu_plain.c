/*
 * The plaintext functional simulation (protocol "plain", --sf-spu=plain) against the real
 * protocols, element by element on the same inputs (1,048,576 samples per operation):
 *   exact:           integer mul and matmul, add, relu, less, equal, select, sum;
 *   1 truncation:    fixed-point mul, mul by a public constant + trunc, matmul_fxp
 *                    (one truncation per output): |plain - protocol| <= 1 ulp, and the
 *                    protocol is never below the plain floor (it gives floor or floor+1);
 *   2 truncations:   (x*y)*z: within ceil(|z|) + 1 ulps (the first unit difference is
 *                    multiplied by z before the second truncation adds its own).
 * The counts of +1 differences are printed: about half the fixed-point products differ,
 * so a simulation that simply copied the protocol's rounding would not be what is tested.
 */
#include <math.h>

#include "tests/spu/spu_test.h"

#define NS ((size_t)1 << 20)
#define F 18
#define MM 48 /* matmul MM x MM x MM */

static u64 *X, *Y, *Z, *K, *C, *A, *B; /* fixed point x, y, z; integers k; cond c; matrices */
static u64 pubc; /* the public constant 0.3 in fixed point */

enum { R_MULF, R_MULI, R_MULP, R_CHAIN, R_RELU, R_LESS, R_EQ, R_SEL, R_SUM, R_MMF, R_MMI, R_N };
static const char *const RNAME[R_N] = {"mul_fxp", "mul (integer)", "mul_public+trunc",
                                       "(x*y)*z", "relu", "less", "equal", "select", "sum",
                                       "matmul_fxp", "matmul (integer)"};

/* Run every operation on instance p (member view; the caller shares the inputs) and
 * reveal each result to member 0 into out[r] (allocated by the caller, NS words). */
static int ops(sf_spu_proto *p, int party, int nm, u64 **out)
{
    int member = party < nm, rc = 0;
    sf_spu_share x = {0}, y = {0}, z = {0}, k = {0}, c = {0}, a = {0}, b = {0}, t = {0}, u = {0};
    int last = nm - 1;
#define IN(s, owner, src, n) OK(t_in(p, party, (owner), (src), (n), &(s)))
    IN(x, 0, X, NS);
    IN(y, last, Y, NS);
    IN(z, 0, Z, NS);
    IN(k, last, K, NS);
    IN(c, 0, C, NS);
    IN(a, 0, A, MM * MM);
    IN(b, last, B, MM * MM);
#define REVEAL(r, s) OK(sf_spu_proto_reveal_to(p, 0, &(s), member ? out[r] : NULL))
    OK(sf_spu_proto_mul_fxp(p, &x, &y, &t));
    REVEAL(R_MULF, t);
    OK(sf_spu_proto_mul_fxp(p, &t, &z, &u));
    REVEAL(R_CHAIN, u);
    OK(sf_spu_proto_mul(p, &k, &k, &t));
    REVEAL(R_MULI, t);
    OK(sf_spu_proto_mul_public(p, &x, &pubc, 1, &t));
    OK(sf_spu_proto_trunc(p, &t, F, &t));
    REVEAL(R_MULP, t);
    OK(sf_spu_proto_add(p, &x, &y, &t));
    OK(sf_spu_proto_relu(p, &t, &t));
    REVEAL(R_RELU, t);
    OK(sf_spu_proto_less(p, &x, &y, &t));
    REVEAL(R_LESS, t);
    OK(sf_spu_proto_equal(p, &k, &y, &t)); /* k holds some of y's values */
    REVEAL(R_EQ, t);
    OK(sf_spu_proto_select(p, &c, &x, &y, &t));
    REVEAL(R_SEL, t);
    OK(sf_spu_proto_sum(p, &x, &t));
    REVEAL(R_SUM, t);
    OK(sf_spu_proto_matmul_fxp(p, &a, &b, MM, MM, MM, &t));
    REVEAL(R_MMF, t);
    OK(sf_spu_proto_matmul(p, &a, &b, MM, MM, MM, &t));
    REVEAL(R_MMI, t);
    sf_spu_share *all[] = {&x, &y, &z, &k, &c, &a, &b, &t, &u};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sf_spu_proto_share_free(all[i]);
    return rc;
}

static size_t rlen(int r) { return r == R_SUM ? 1 : (r == R_MMF || r == R_MMI) ? MM * MM : NS; }

typedef struct res {
    u64 *v[R_N];
} res;

static int body(trun *r, int party, sf_spu_proto *p)
{
    res *o = r->user;
    return ops(p, party, r->cfg->nm, o->v);
}

static int no_send(void *c, int to, const void *b, size_t l) { (void)c, (void)to, (void)b, (void)l; return SF_EINVAL; }
static int no_recv(void *c, int f, void *b, size_t l) { (void)c, (void)f, (void)b, (void)l; return SF_EINVAL; }

static int alloc_res(res *o)
{
    for (int r = 0; r < R_N; r++)
        if (!(o->v[r] = calloc(rlen(r), 8))) return SF_ENOMEM;
    return 0;
}

int main(void)
{
    if (!(X = malloc(NS * 8)) || !(Y = malloc(NS * 8)) || !(Z = malloc(NS * 8)) ||
        !(K = malloc(NS * 8)) || !(C = malloc(NS * 8)) || !(A = malloc(MM * MM * 8)) ||
        !(B = malloc(MM * MM * 8)))
        return 2;
    pubc = sf_spu_proto_fxp_encode(0.3, F);
    u64 s = 4242;
    for (size_t i = 0; i < NS; i++) {
        double x = 2000 * t_unif(&s) - 1000, y = 2000 * t_unif(&s) - 1000, z = 40 * t_unif(&s) - 20;
        if (i % 8 == 0) y = -x; /* x + y = 0: relu at the boundary */
        if (i % 8 == 1) y = x;  /* less at equality */
        X[i] = sf_spu_proto_fxp_encode(x, F);
        Y[i] = sf_spu_proto_fxp_encode(y, F);
        if (i % 8 == 2) Y[i] = X[i] + 1; /* +1 ulp */
        if (i % 8 == 3) Y[i] = X[i] - 1; /* -1 ulp */
        Z[i] = sf_spu_proto_fxp_encode(z, F);
        K[i] = i % 3 ? (u64)(int64_t)(t_splitmix(&s) % 2000001) - 1000000 : Y[i];
        C[i] = t_splitmix(&s) & 1;
    }
    for (size_t i = 0; i < MM * MM; i++) {
        A[i] = sf_spu_proto_fxp_encode(8 * t_unif(&s) - 4, F);
        B[i] = sf_spu_proto_fxp_encode(8 * t_unif(&s) - 4, F);
    }

    /* the plaintext simulation, on its own: one member, no network */
    res pl;
    if (alloc_res(&pl)) return 2;
    sf_spu_params prm;
    memset(&prm, 0, sizeof prm);
    prm.protocol = SF_SPU_PLAIN;
    prm.fxp_bits = F;
    sf_spu_net net = {.self = 0, .n = 1, .send = no_send, .recv = no_recv};
    sf_spu_proto *pp = NULL;
    ASSERT_EQ_MSG(sf_spu_proto_create(&prm, &net, &pp), 0, "create plain");
    if (!pp) return 1;
    ASSERT_EQ_MSG(ops(pp, 0, 1, pl.v), 0, "plain ops");
    ASSERT_EQ_MSG(net.bytes_sent, 0, "plain sent %" PRIu64 " bytes", net.bytes_sent);
    sf_spu_proto_destroy(pp);
    /* plain "sharing" is the identity, and the plaintext is what it holds */
    sf_spu_share one[1];
    ASSERT_MSG(sf_spu_proto_make_shares(&prm, 1, X, 4, NULL, one) == 0 && one[0].w[3] == X[3],
               "plain make_shares");
    u64 back[4];
    ASSERT_MSG(sf_spu_proto_combine(&prm, 1, one, back) == 0 && back[2] == X[2], "plain combine");
    sf_spu_proto_share_free(&one[0]);

    const tcfg cfgs[] = {{SF_SPU_SEMI2K, 2, 2, "semi2k n=2 dealer=extra"},
                         {SF_SPU_SEMI2K, 3, 3, "semi2k n=3 dealer=extra"},
                         {SF_SPU_ABY3, 3, 0, "aby3"}};
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        const tcfg *cf = &cfgs[ci];
        res pr;
        if (alloc_res(&pr)) return 2;
        uint8_t seed[32] = {91, (uint8_t)ci};
        int f0 = test_failures();
        ASSERT_EQ_MSG(t_run(cf, seed, body, &pr), 0, "[%s] protocol run", cf->name);
        printf("%s vs plain:\n", cf->name);
        for (int r = 0; r < R_N; r++) {
            size_t n = rlen(r), plus = 0, worst = 0;
            for (size_t i = 0; i < n; i++) {
                int64_t d = (int64_t)(pr.v[r][i] - pl.v[r][i]);
                u64 tol = 0;
                int floor1 = 0; /* one truncation: protocol = plain floor or floor + 1 */
                if (r == R_MULF || r == R_MULP || r == R_MMF) tol = 1, floor1 = 1;
                if (r == R_CHAIN) tol = (u64)(llabs((int64_t)Z[i]) >> F) + 2;
                if ((u64)llabs(d) > worst) worst = (size_t)llabs(d);
                if (d > 0) plus++;
                ASSERT_MSG((u64)llabs(d) <= tol && (!floor1 || d >= 0),
                           "[%s] %s element %zu: protocol %" PRId64 ", plain %" PRId64 " (allowed %s%" PRIu64 ")",
                           cf->name, RNAME[r], i, (int64_t)pr.v[r][i], (int64_t)pl.v[r][i],
                           floor1 ? "+0..+" : "+-", tol);
            }
            printf("  %-18s %8zu elements, %8zu one ulp above plain, worst |diff| %zu ulp\n", RNAME[r],
                   n, plus, worst);
            if (r == R_MULF) ASSERT_MSG(plus > n / 4 && plus < 3 * n / 4, "[%s] mul_fxp: %zu of %zu round up: "
                                        "not a probabilistic truncation?", cf->name, plus, n);
        }
        printf("  %s\n", test_failures() == f0 ? "ok" : "FAILED");
        for (int r = 0; r < R_N; r++) free(pr.v[r]);
    }
    int f = test_failures();
    printf("%s (%d failures)\n", f ? "FAIL" : "PASS", f);
    for (int r = 0; r < R_N; r++) free(pl.v[r]);
    free(X), free(Y), free(Z), free(K), free(C), free(A), free(B);
    return f ? 1 : 0;
}
