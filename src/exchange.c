// exchange: the strategy chosen at start, and the mpi strategy (one in-place MPI_Allreduce per step).
#include "exchange.h"

#include "par.h"
#include "timer.h"
#include "util.h"

const char *exchange_name(ExchangeKind kind) { return kind == EXCHANGE_SHM ? "shm" : "mpi"; }

void exchange_init(Exchange *self, ExchangeKind want, Mlp *d, Mlp *g) {
    *self = (Exchange){.kind = EXCHANGE_MPI, .nets = {d, g}};
    const int one_node = par_all_on_one_node(); // collective: every rank asks
    if (want == EXCHANGE_SHM && !one_node)
        info("run.exchange = shm needs several ranks on one node (%d rank%s here%s): using mpi", par_size(),
             par_size() > 1 ? "s" : "", par_size() > 1 ? ", on several nodes" : "");
    if ((want == EXCHANGE_SHM || want == EXCHANGE_AUTO) && one_node) self->kind = EXCHANGE_SHM;
    if (self->kind == EXCHANGE_SHM) shm_init(self);
    info("gradient exchange: %s (%d rank%s)", exchange_name(self->kind), par_size(), par_size() > 1 ? "s" : "");
}

int exchange_step(Exchange *self, Mlp *net, const AdamHyper *h, int flags) {
    if (self->kind == EXCHANGE_SHM) return shm_step(self, net, h, flags);
    // the flags ride in the gradient's two spare slots: one collective per step
    float *g = net->grads;
    g[net->n_params] = (float)(flags & EXCHANGE_STOP);
    g[net->n_params + 1] = (float)(flags & EXCHANGE_BAD);
    timer_start(T_EXCHANGE);
    par_sum_float(g, net->n_params + 2);
    timer_stop(T_EXCHANGE);
    flags = (g[net->n_params] > 0 ? EXCHANGE_STOP : 0) | (g[net->n_params + 1] > 0 ? EXCHANGE_BAD : 0);
    g[net->n_params] = g[net->n_params + 1] = 0;
    if (flags & EXCHANGE_BAD) return flags; // the caller stops every rank; the parameters stay as they were
    timer_start(T_OPTIM);
    adam_update(net, 0, net->n_params, &g, 1, h);
    timer_stop(T_OPTIM);
    return flags;
}

void exchange_gather_moments(Exchange *self, Mlp *net) {
    if (self->kind == EXCHANGE_SHM) shm_gather_moments(self, net); // mpi: every rank has them all
}

void exchange_free(Exchange *self) {
    if (self->kind == EXCHANGE_SHM) shm_free(self);
}
