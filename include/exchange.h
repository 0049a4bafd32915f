// exchange: how the ranks' gradients become one update; the only code that knows it. Every rank
// has accumulated the gradient of its rows of the mini-batch (each term already scaled by
// 1/B_global, model.h), so the sum over ranks is the gradient of the batch mean. One call per step
// sums it, ORs every rank's flags (a stop request, a non-finite loss) and, unless a loss was not
// finite, applies the same Adam update on every rank. Strategies, chosen once at start:
//   mpi  MPI_Allreduce of the gradient in place (the flags ride in two spare slots), then Adam on
//        every parameter on every rank. Any number of nodes; Open MPI picks the algorithm.
//   shm  every rank on one node (exchange_shm.c): the gradients and one copy of the parameters
//        live in node-shared memory; each rank sums its 1/np slice of every rank's gradient inside
//        Adam and updates that slice in place, so nothing is copied between ranks.
#ifndef CFGAN_EXCHANGE_H
#define CFGAN_EXCHANGE_H

#include <stddef.h>

#include "nn.h"

typedef enum { EXCHANGE_AUTO, EXCHANGE_MPI, EXCHANGE_SHM } ExchangeKind; // run.exchange
enum { EXCHANGE_STOP = 1, EXCHANGE_BAD = 2 };                           // flags a rank brings to a step

typedef struct {
    ExchangeKind kind;   // the strategy in use (never EXCHANGE_AUTO)
    Mlp *nets[2];        // the networks it updates (D and G)
    // shm only
    float **parts[2];    // (np) this rank's slice of every rank's gradient, per network
    size_t lo[2], hi[2]; // this rank's slice [lo, hi) of each network's parameters
} Exchange;

// Set up `want` for networks d and g (auto: shm when there are several ranks, all on one node,
// else mpi). Collective.
void exchange_init(Exchange *self, ExchangeKind want, Mlp *d, Mlp *g);
// One optimizer step of net (one of the two): gradients summed over ranks, flags OR-ed over ranks,
// then, unless some rank brought EXCHANGE_BAD, Adam with h. Returns the OR of every rank's flags.
// Collective. Leaves the gradient buffers at zero.
int exchange_step(Exchange *self, Mlp *net, const AdamHyper *h, int flags);
// Make net's Adam moments complete on every rank (shm updates only this rank's slice), e.g. before
// a checkpoint. Collective.
void exchange_gather_moments(Exchange *self, Mlp *net);
// Back to private buffers (every rank keeps a copy of the parameters). Not collective.
void exchange_free(Exchange *self);
// "mpi" or "shm".
const char *exchange_name(ExchangeKind kind);

// The shm strategy (exchange_shm.c), called by exchange.c only.
void shm_init(Exchange *self);
int shm_step(Exchange *self, Mlp *net, const AdamHyper *h, int flags);
void shm_gather_moments(Exchange *self, Mlp *net);
void shm_free(Exchange *self);

#endif
