// timer: per-phase wall-clock accumulators named by enum handles.
#include "timer.h"

#include <string.h>

#include "util.h"

const char *const TIMER_NAMES[T_COUNT] = {"sampling", "G forward", "G backward", "D forward", "D backward",
                                          "allreduce", "optimizer", "scoring", "evaluation", "checkpoint", "total"};

static double g_total[T_COUNT], g_started[T_COUNT], g_flops[T_COUNT];
static TimerId g_stack[8];
static int g_depth;

#ifndef NTIMING
void timer_start(TimerId t) {
    g_started[t] = wall_seconds();
    if (t != T_TOTAL && g_depth < 8) g_stack[g_depth++] = t;
}
void timer_stop(TimerId t) {
    g_total[t] += wall_seconds() - g_started[t];
    if (t != T_TOTAL && g_depth > 0 && g_stack[g_depth - 1] == t) g_depth--;
}
void timer_flops(double f) {
    if (g_depth > 0) g_flops[g_stack[g_depth - 1]] += f;
}
#endif

#define MAX_SHAPES 256
static GemmShape g_shapes[MAX_SHAPES];
static int g_n_shapes;

#ifndef NTIMING
void timer_gemm(int m, int n, int k, int ta, int tb) {
    timer_flops(2.0 * m * n * k);
    int phase = g_depth > 0 ? (int)g_stack[g_depth - 1] : (int)T_TOTAL;
    for (int i = 0; i < g_n_shapes; i++) {
        GemmShape *s = &g_shapes[i];
        if (s->phase == phase && s->m == m && s->n == n && s->k == k && s->ta == ta && s->tb == tb) {
            s->calls++;
            return;
        }
    }
    if (g_n_shapes < MAX_SHAPES) g_shapes[g_n_shapes++] = (GemmShape){phase, m, n, k, ta, tb, 1};
}
#endif

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
}
