// timer: per-phase wall-clock accumulators named by enum handles (compiled out with -DNTIMING).
#ifndef CFGAN_TIMER_H
#define CFGAN_TIMER_H

typedef enum {
    T_SAMPLE,    // negative sampling (PM and ZR masks)
    T_G_FWD,     // generator forward
    T_G_BWD,     // generator backward
    T_D_FWD,     // discriminator forward
    T_D_BWD,     // discriminator backward (and into G's output in the G step)
    T_EXCHANGE,  // gradients summed across ranks (and the wait for the slowest rank)
    T_OPTIM,     // Adam updates
    T_SCORE,     // evaluation: G's scores for every row (a GEMM phase)
    T_EVAL,      // evaluation: top-K, its merge on rank 0 and the metrics
    T_CKPT,      // checkpoint writes
    T_TOTAL,     // the whole training run
    T_COUNT
} TimerId;

extern const char *const TIMER_NAMES[T_COUNT];

#ifdef NTIMING
static inline void timer_start(TimerId t) { (void)t; }
static inline void timer_stop(TimerId t) { (void)t; }
static inline void timer_flops(double f) { (void)f; }
#else
// A timer started while another runs pauses it until it stops (phases never overlap).
void timer_start(TimerId t);
void timer_stop(TimerId t);
// Credit floating-point operations to the innermost running timer (T_TOTAL excluded).
void timer_flops(double f);
#endif
// Operations credited to a timer.
double timer_flop_count(TimerId t);

// GEMM calls by shape, per phase (for comparing phases against sgemm at the same shapes).
typedef struct {
    int phase;              // TimerId
    int m, n, k, ta, tb;    // cblas_sgemm row-major shape and transposes
    long long calls;
} GemmShape;
#ifdef NTIMING
static inline void timer_gemm(int m, int n, int k, int ta, int tb) { (void)m, (void)n, (void)k, (void)ta, (void)tb; }
#else
// Record one sgemm call (and its 2·m·n·k operations) in the innermost running timer.
void timer_gemm(int m, int n, int k, int ta, int tb);
#endif
// Recorded shapes; returns the count.
int timer_gemm_shapes(const GemmShape **out);
// GEMM calls left out of the table (more distinct shapes than it holds; final.json reports it).
long long timer_gemm_lost_calls(void);
// Seconds accumulated by a timer on this rank.
double timer_seconds(TimerId t);
void timer_reset(void);

#endif
