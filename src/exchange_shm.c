// exchange_shm: the node-shared strategy. Each rank's gradient buffer is a node-shared window and
// the parameters are one node-shared copy, so a step is: a barrier that also ORs the flags (every
// gradient is complete), Adam on this rank's slice with the gradient summed from every rank's
// window in rank order, a barrier (every slice is updated before anyone reads the parameters).
// Nothing is copied between ranks; Adam's moments stay private and current on the own slice only.
#include <stdlib.h>
#include <string.h>

#include "exchange.h"
#include "par.h"
#include "timer.h"
#include "util.h"

void shm_init(Exchange *self) {
    const int np = par_size(), me = par_rank();
    float **params = xmalloc((size_t)np * sizeof *params);
    for (int k = 0; k < 2; k++) {
        Mlp *net = self->nets[k];
        float **grads = xmalloc((size_t)np * sizeof *grads);
        par_node_shared(net->n_alloc, grads);                                    // one gradient per rank
        par_node_shared(me == 0 ? net->n_alloc : 0, params);                     // one parameter copy
        if (me == 0) memcpy(params[0], net->params, net->n_alloc * sizeof(float)); // all ranks start equal
        par_node_sync();
        free(net->params), free(net->grads);
        net->params = params[0], net->grads = grads[me];
        const size_t slice = (net->n_params + (size_t)np - 1) / (size_t)np;
        self->lo[k] = (size_t)me * slice < net->n_params ? (size_t)me * slice : net->n_params;
        self->hi[k] = self->lo[k] + slice < net->n_params ? self->lo[k] + slice : net->n_params;
        for (int r = 0; r < np; r++) grads[r] += self->lo[k]; // only this slice of each is read here
        self->parts[k] = grads;
    }
    free(params);
}

int shm_step(Exchange *self, Mlp *net, const AdamHyper *h, int flags) {
    const int k = net == self->nets[1];
    timer_start(T_EXCHANGE);
    flags = par_or_bits_sync(flags); // every rank's gradient is complete and visible
    timer_stop(T_EXCHANGE);
    if (flags & EXCHANGE_BAD) return flags;
    timer_start(T_OPTIM);
    adam_update(net, self->lo[k], self->hi[k], self->parts[k], par_size(), h);
    timer_stop(T_OPTIM);
    timer_start(T_EXCHANGE);
    par_node_sync(); // every slice is updated (and every gradient read and cleared)
    timer_stop(T_EXCHANGE);
    return flags;
}

// Each rank clears what it does not own, then the moments are summed: x + 0 = x, exactly.
void shm_gather_moments(Exchange *self, Mlp *net) {
    const int k = net == self->nets[1];
    float *bufs[2] = {net->m, net->v};
    for (int q = 0; q < 2; q++) {
        memset(bufs[q], 0, self->lo[k] * sizeof(float));
        memset(bufs[q] + self->hi[k], 0, (net->n_params - self->hi[k]) * sizeof(float));
        par_sum_float(bufs[q], net->n_params);
    }
}

// Private copies again (once); the windows themselves live until par_finalize.
void shm_free(Exchange *self) {
    if (!self->parts[0]) return;
    for (int k = 0; k < 2; k++) {
        Mlp *net = self->nets[k];
        float *params = xmalloc(net->n_alloc * sizeof(float));
        memcpy(params, net->params, net->n_alloc * sizeof(float));
        net->params = params, net->grads = xcalloc(net->n_alloc, sizeof(float));
        free(self->parts[k]);
        self->parts[k] = NULL;
    }
}
