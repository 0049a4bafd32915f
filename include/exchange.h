// exchange: how the ranks' gradients become one update; the only code that knows it. Every rank
// has accumulated the gradient of its rows of the mini-batch (each term already scaled by
// 1/B_global, model.h), so the sum over ranks is the gradient of the batch mean. One call per step
// sums it with one in-place MPI_Allreduce (Open MPI picks the algorithm for the topology), with
// every rank's flags (a stop request, a non-finite loss) in two spare slots of the buffer, and,
// unless a loss was not finite, applies the same Adam update on every rank.
#ifndef CFGAN_EXCHANGE_H
#define CFGAN_EXCHANGE_H

#include "nn.h"

enum { EXCHANGE_STOP = 1, EXCHANGE_BAD = 2 }; // flags a rank brings to a step

// One optimizer step of net: gradients summed over ranks, flags OR-ed over ranks, then, unless
// some rank brought EXCHANGE_BAD, Adam with h. Returns the OR of every rank's flags. Collective.
// Leaves the gradient buffer at zero after an update.
int exchange_step(Mlp *net, const AdamHyper *h, int flags);

#endif
