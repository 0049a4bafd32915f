// timer: per-phase wall-clock accumulators named by enum handles.
#include "timer.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

const char *const TIMER_NAMES[T_COUNT] = {"sampling", "G forward", "G backward", "D forward", "D backward",
                                          "exchange", "optimizer", "scoring", "evaluation", "checkpoint", "total"};

static double g_total[T_COUNT], g_started[T_COUNT], g_flops[T_COUNT];
static TimerId g_stack[8];
static int g_depth;

#ifndef NTIMING
// Phases are exclusive: a timer started inside another pauses it until it stops, so phase times
// add up to the total (T_TOTAL, kept off the stack, runs throughout).
void timer_start(TimerId t) {
    const double now = wall_seconds();
    if (t != T_TOTAL && g_depth > 0) g_total[g_stack[g_depth - 1]] += now - g_started[g_stack[g_depth - 1]];
    g_started[t] = now;
    if (t != T_TOTAL && g_depth < 8) g_stack[g_depth++] = t;
}
void timer_stop(TimerId t) {
    const double now = wall_seconds();
    g_total[t] += now - g_started[t];
    if (t != T_TOTAL && g_depth > 0 && g_stack[g_depth - 1] == t && --g_depth > 0) g_started[g_stack[g_depth - 1]] = now;
}
void timer_flops(double f) {
    if (g_depth > 0) g_flops[g_stack[g_depth - 1]] += f;
}
#endif

// Uneven batches give many shapes (a rank's row count varies per batch): a hash table, so the
// lookup stays O(1) per call, and calls past its capacity are counted, never silently lost.
#define MAX_SHAPES 4096
static GemmShape g_shapes[MAX_SHAPES];
static int g_slot[2 * MAX_SHAPES]; // open addressing: index + 1 into g_shapes, 0 = empty
static int g_n_shapes;
static long long g_lost_calls;

#ifndef NTIMING
void timer_gemm(int m, int n, int k, int ta, int tb) {
    timer_flops(2.0 * m * n * k);
    int phase = g_depth > 0 ? (int)g_stack[g_depth - 1] : (int)T_TOTAL;
    uint64_t key = ((((uint64_t)phase * 2 + (uint64_t)ta) * 2 + (uint64_t)tb) << 48) ^ ((uint64_t)m << 32) ^
                   ((uint64_t)n << 16) ^ (uint64_t)k;
    for (size_t h = (size_t)(key * 0x9E3779B97F4A7C15ULL >> 40) % (2 * MAX_SHAPES);; h = (h + 1) % (2 * MAX_SHAPES)) {
        if (!g_slot[h]) {
            if (g_n_shapes == MAX_SHAPES) {
                g_lost_calls++;
                return;
            }
            g_shapes[g_n_shapes++] = (GemmShape){phase, m, n, k, ta, tb, 1};
            g_slot[h] = g_n_shapes;
            return;
        }
        GemmShape *s = &g_shapes[g_slot[h] - 1];
        if (s->phase == phase && s->m == m && s->n == n && s->k == k && s->ta == ta && s->tb == tb) {
            s->calls++;
            return;
        }
    }
}
#endif

long long timer_gemm_lost_calls(void) { return g_lost_calls; }

int timer_gemm_shapes(const GemmShape **out) {
    *out = g_shapes;
    return g_n_shapes;
}

double timer_seconds(TimerId t) { return g_total[t]; }
double timer_flop_count(TimerId t) { return g_flops[t]; }

void timer_reset(void) {
    memset(g_total, 0, sizeof g_total);
    memset(g_started, 0, sizeof g_started);
    memset(g_flops, 0, sizeof g_flops);
    g_depth = 0;
    g_n_shapes = 0;
    memset(g_slot, 0, sizeof g_slot);
    g_lost_calls = 0;
}
