// baselines: TopPop, ItemKNN (cosine) and EASE^R on the same split, candidates and evaluator as
// CFGAN. Users stay sharded over ranks; an item x item scoring matrix S lives in column blocks
// (rank r holds S[:, bounds[r]..bounds[r+1])) and the blocks travel around a ring of ranks, so
// every rank scores its own users against all of S and no rank ever holds the whole of S.
#ifndef CFGAN_BASELINES_H
#define CFGAN_BASELINES_H

#include <stdint.h>

#include "data.h"
#include "eval.h"

// This rank's column block of an n x n scoring matrix.
typedef struct {
    int32_t n;          // items
    int32_t *bounds;    // (np + 1) columns of rank r: [bounds[r], bounds[r+1])
    int32_t wmax;       // widest block
    double *block;      // (n, wmax) row-major: row i holds S[i, bounds[me] + c] at c
} ColumnBlocks;

// Columns split into np near-equal contiguous blocks; block zeroed.
void colblocks_init(ColumnBlocks *self, int32_t n);
void colblocks_free(ColumnBlocks *self);

// Where entry (i, j) of an n x n matrix lives when it is spread over a P x Q grid of ranks
// (rank = row * Q + col): owner row/col and local row/col of every item, local sizes per grid row
// and column, and whether local arrays are column-major (ScaLAPACK) or row-major.
typedef struct {
    int P, Q;
    int32_t *row_owner, *row_local; // (n)
    int32_t *col_owner, *col_local; // (n)
    int32_t *local_rows, *local_cols; // (P), (Q)
    int col_major;
} Layout;

// Block-cyclic layout with square blocks of nb over a P x Q grid (ScaLAPACK's, with zero offsets).
void layout_block_cyclic(Layout *self, int32_t n, int nb, int P, int Q);
// This rank's ColumnBlocks layout (a 1 x np grid, row-major).
void layout_columns(Layout *self, const ColumnBlocks *cb);
void layout_free(Layout *self);

// Co-occurrence counts G = XᵀX of the users' histories (hist: this rank's users x items), summed
// over ranks straight into each rank's part of `L`: out gets this rank's local array.
void gram_distribute(double *out, const Csr *hist, int32_t n_items, const Layout *L);

// Top-K of this rank's users (hist row u is user user_offset + u·user_stride) against S, excluding
// `excl`; lists are kept in `topk` (global users). The column blocks travel once around the ring.
void score_columns(TopK *topk, const Csr *hist, int32_t user_offset, int32_t user_stride, const Csr *excl,
                   ColumnBlocks *S);
// Top-K of this rank's users by item popularity (training pairs per item over all ranks' hist).
void score_toppop(TopK *topk, const Csr *hist, int32_t user_offset, int32_t user_stride, const Csr *excl,
                  int32_t n_items);
// ItemKNN: cosine similarity G[i,j] / (sqrt(deg i) sqrt(deg j) + shrink), self-similarity 0, the k
// largest kept in every column (ties to the lower index); into S.
void itemknn_fit(ColumnBlocks *S, const Csr *hist, int32_t n_items, int k, double shrink);

// EASE^R (ease.c, ScaLAPACK): the Gram matrix of hist on a block-cyclic grid, kept for a λ grid.
typedef struct EaseGram EaseGram;
EaseGram *ease_gram(const Csr *hist, int32_t n_items);
// B = I - P·diag(1/diag(P)), P = (G + λI)^-1, zero diagonal, into S's column blocks.
void ease_fit(ColumnBlocks *S, const EaseGram *g, double lambda);
void ease_gram_free(EaseGram *g);

#endif
