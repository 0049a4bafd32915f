// timer: per-phase wall-clock accumulators named by enum handles.
#include "timer.h"

#include <string.h>

#include "util.h"

const char *const TIMER_NAMES[T_COUNT] = {"sampling", "G forward", "G backward", "D forward", "D backward",
                                          "allreduce", "optimizer", "evaluation", "checkpoint", "total"};

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

double timer_seconds(TimerId t) { return g_total[t]; }
double timer_flop_count(TimerId t) { return g_flops[t]; }

void timer_reset(void) {
    memset(g_total, 0, sizeof g_total);
    memset(g_started, 0, sizeof g_started);
    memset(g_flops, 0, sizeof g_flops);
    g_depth = 0;
}
