// exchange: the ranks' gradients summed with one in-place MPI_Allreduce per step, then Adam.
#include "exchange.h"

#include "par.h"
#include "timer.h"

int exchange_step(Mlp *net, const AdamHyper *h, int flags) {
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
    adam_update(net, h);
    timer_stop(T_OPTIM);
    return flags;
}
