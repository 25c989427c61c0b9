// An outside C++17 program built against an installed sfmpi (tests/install/run.sh): the
// same calls as app.c through the header's C++ forms (no compound literals, no _Generic),
// with kernels in an anonymous namespace (not exported, found by the party's other ranks).
#include <sfmpi/sf.h>

#include <array>
#include <string>

namespace {

int rank_sum(sf_task *t) {
    sf_comm *c = sf_task_comm(t);
    sf_value *mine = sf_value_i64(sf_comm_rank(c) + 1), *sum = nullptr;
    const int rc = sf_comm_allreduce(c, mine, SF_OP_SUM, &sum);
    sf_value_unref(&mine);
    if (rc != 0) return sf_fail(t, "allreduce: %s", sf_strerror(rc));
    const auto total = sf_value_as_i64(sum, 0) * sf_comm_size(c) + static_cast<int64_t>(sf_arg_f64(t, 0));
    sf_value_unref(&sum);
    return sf_return(t, 0, sf_value_i64(total));
}

int seven(sf_task *t) { return sf_return(t, 0, sf_value_f64(7.0)); }
int twice(sf_task *t) { return sf_return(t, 0, sf_value_f64(2 * sf_arg_f64(t, 0))); }
int spu_add(sf_spu_task *t) { return sf_spu_return(t, sf_spu_add(t, sf_spu_arg(t, 0), sf_spu_arg(t, 1))); }

struct Counter {
    double n;
    static int init(sf_task *t) {
        static_cast<Counter *>(sf_state(t))->n = 1;
        return 0;
    }
    static int bump(sf_task *t) {
        auto *self = static_cast<Counter *>(sf_state(t));
        return sf_return(t, 0, sf_value_f64(++self->n));
    }
};
const sf_method counter_methods[] = {{"bump", Counter::bump}, {nullptr, nullptr}};
const sf_actor_class counter_class = {"Counter", sizeof(Counter), Counter::init, nullptr, counter_methods};

double reveal(sf_ctx *sf, sf_obj o, int *rc) {
    sf_value *v = nullptr;
    *rc = sf_get(sf, o, &v);
    return *rc == 0 ? sf_value_as_f64(v, 0) : 0.0;
}

int program(sf_ctx *sf, void *) {
    const sf_device alice = sf_pyu(sf, "alice");
    const sf_obj k = SF_REMOTE(sf_pyu_all(sf, "bob"), rank_sum, SF_F64(1000));
    const sf_obj a = SF_REMOTE(alice, seven);
    const sf_obj b = SF_REMOTE(sf_pyu(sf, "bob"), twice, SF_OBJ(a));
    const sf_actor ctr = SF_ACTOR(alice, &counter_class);
    const sf_obj c1 = SF_REMOTE(ctr, Counter::bump), c = sf_actor_call(ctr, "bump");
    sf_spu_options opts{};
    const std::array<const char *, 2> members{{"alice", "bob"}};
    const sf_device spu = sf_spu(sf, members.data(), 2, &opts);
    const sf_obj s = sf_to(SF_REMOTE(spu, spu_add, SF_OBJ(a), SF_OBJ(b)), alice);
    const std::array<sf_obj, 3> ab{{a, b, c1}};
    SF_TRY(sf_wait(sf, ab.data(), 3));
    int rc = 0;
    const double kv = reveal(sf, k, &rc);
    SF_TRY(rc);
    sf_print(sf, "kernel %.0f on %d ranks\n", kv, sf_party_ranks(sf));
    for (const auto &[label, obj] : {std::pair<const char *, sf_obj>{"twice", b}, {"actor", c}, {"spu", s}}) {
        const double x = reveal(sf, obj, &rc);
        SF_TRY(rc);
        sf_print(sf, "%s %g\n", label, x);
    }
    sf_print(sf, "version %s %s\n", sf_version(), SF_VERSION_STRING);
    sf_print(sf, "%s\n", (std::string("c++ ") + sf_mode_name(sf_get_distribution_mode(sf))).c_str());
    return 0;
}

}  // namespace

int main(int argc, char **argv) { return sf_main(argc, argv, program, nullptr); }
