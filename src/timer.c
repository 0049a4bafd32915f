// timer: per-phase wall-clock accumulators named by enum handles.
#include "timer.h"

#include <string.h>

#include "util.h"

const char *const TIMER_NAMES[T_COUNT] = {"sampling", "G forward", "G backward", "D forward", "D backward",
                                          "allreduce", "optimizer", "evaluation", "checkpoint", "total"};

static double g_total[T_COUNT], g_started[T_COUNT];

#ifndef NTIMING
void timer_start(TimerId t) { g_started[t] = wall_seconds(); }
void timer_stop(TimerId t) { g_total[t] += wall_seconds() - g_started[t]; }
#endif

double timer_seconds(TimerId t) { return g_total[t]; }

void timer_reset(void) {
    memset(g_total, 0, sizeof g_total);
    memset(g_started, 0, sizeof g_started);
}
