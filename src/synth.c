// synth: a generative model a recommender can learn. Items belong to topics and have lognormal
// popularity; a user draws most items from a main and a second topic, the rest from global
// popularity. Every draw comes from a counter-based stream per user, so output is deterministic.
// Memory: O(users + items).
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

// Walker/Vose alias table over a subset of items: a uniform slot yields its item with probability
// prob, else the item of slot alias.
typedef struct {
    int32_t n;
    struct {
        int32_t item, alias;
        float prob;
    } *slot; // (n)
} Alias;

static void alias_build(Alias *a, const int32_t *items, const double *w, int32_t n) {
    a->n = n;
    a->slot = xmalloc((size_t)(n ? n : 1) * sizeof *a->slot);
    if (n == 0) return;
    double total = 0;
    for (int32_t k = 0; k < n; k++) total += w[items[k]];
    double *p = xmalloc((size_t)n * sizeof *p);
    int32_t *small = xmalloc((size_t)n * sizeof *small), *large = xmalloc((size_t)n * sizeof *large);
    int32_t ns = 0, nl = 0;
    for (int32_t k = 0; k < n; k++) {
        a->slot[k].item = items[k];
        a->slot[k].alias = k;
        p[k] = w[items[k]] * n / total;
        if (p[k] < 1) small[ns++] = k;
        else large[nl++] = k;
    }
    while (ns && nl) {
        int32_t s = small[--ns], l = large[nl - 1];
        a->slot[s].prob = (float)p[s];
        a->slot[s].alias = l;
        p[l] -= 1 - p[s];
        if (p[l] < 1) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl) a->slot[large[--nl]].prob = 1;
    while (ns) a->slot[small[--ns]].prob = 1;
    free(p);
    free(small);
    free(large);
}

static int32_t alias_draw(const Alias *a, Rng *rng) {
    int32_t k = (int32_t)rng_below(rng, (uint32_t)a->n);
    return (float)rng_uniform(rng) < a->slot[k].prob ? a->slot[k].item : a->slot[a->slot[k].alias].item;
}

const char *synth_check(const SynthSpec *s) {
    static char msg[160];
    if (s->users < 1 || s->items < 2 || s->interactions < 1) return "needs users >= 1, items >= 2, interactions >= 1";
    if (s->users > INT32_MAX || s->items > INT32_MAX) return "users and items must be below 2^31";
    if (s->interactions > s->users * (s->items / 2)) {
        snprintf(msg, sizeof msg, "%lld interactions exceed users x floor(items / 2) = %lld (too dense)",
                 (long long)s->interactions, (long long)(s->users * (s->items / 2)));
        return msg;
    }
    return NULL;
}

// Raw activity weight of a user (lognormal), the first draw of its stream.
static double user_weight(Rng *rng) { return exp(0.8 * rng_normal(rng)); }

void synth_generate_part(const SynthSpec *spec, int part, int n_parts, SynthEmit emit, void *ctx) {
    const int64_t U = spec->users, I = spec->items, K = spec->interactions;
    const int T = spec->topics;
    const char *problem = synth_check(spec);
    if (problem) die(EXIT_INPUT, "synthetic data: %s", problem);
    const int64_t cap = I / 2; // most items one user may have, so sampling without replacement stays fast

    // items: topic and popularity
    int32_t *topic = xmalloc((size_t)I * sizeof *topic);
    double *pop = xmalloc((size_t)I * sizeof *pop);
    for (int64_t j = 0; j < I; j++) {
        Rng rng;
        rng_init(&rng, spec->seed, RNG_SYNTH, 0, (uint32_t)j);
        topic[j] = (int32_t)rng_below(&rng, (uint32_t)T);
        pop[j] = exp(1.3 * rng_normal(&rng));
    }
    int32_t *all = xmalloc((size_t)I * sizeof *all);
    for (int64_t j = 0; j < I; j++) all[j] = (int32_t)j;
    Alias global;
    alias_build(&global, all, pop, (int32_t)I);
    // per-topic tables: items grouped by topic (counting sort)
    int64_t *start = xcalloc((size_t)T + 1, sizeof *start);
    for (int64_t j = 0; j < I; j++) start[topic[j] + 1]++;
    for (int t = 0; t < T; t++) start[t + 1] += start[t];
    int64_t *fill = xmalloc((size_t)T * sizeof *fill);
    memcpy(fill, start, (size_t)T * sizeof *fill);
    int32_t *by_topic = xmalloc((size_t)I * sizeof *by_topic);
    for (int64_t j = 0; j < I; j++) by_topic[fill[topic[j]]++] = (int32_t)j;
    Alias *tab = xmalloc((size_t)T * sizeof *tab);
    for (int t = 0; t < T; t++) alias_build(&tab[t], by_topic + start[t], pop, (int32_t)(start[t + 1] - start[t]));

    // pass 1: total activity weight, summed in the same order as pass 2 so the totals agree exactly
    double S = 0;
    for (int64_t u = 0; u < U; u++) {
        Rng rng;
        rng_init(&rng, spec->seed, RNG_SYNTH, 1, (uint32_t)u);
        S += user_weight(&rng);
    }
    // counts by cumulative rounding (exact total); users over the cap pass the excess on, wrapping
    // around until it is placed (K <= users x cap guarantees room)
    const int64_t base = K >= U ? 1 : 0, extra = K - base * U;
    int32_t *count = xmalloc((size_t)U * sizeof *count);
    double C = 0;
    int64_t prev = 0, carry = 0;
    for (int64_t u = 0; u < U; u++) {
        Rng rng;
        rng_init(&rng, spec->seed, RNG_SYNTH, 1, (uint32_t)u);
        C += user_weight(&rng);
        int64_t target = u == U - 1 ? extra : (int64_t)llround((double)extra * (C / S));
        int64_t n = base + target - prev + carry;
        prev = target;
        carry = n > cap ? n - cap : 0;
        count[u] = (int32_t)(n - carry);
    }
    for (int64_t u = 0; carry > 0; u = (u + 1) % U) {
        int64_t room = cap - count[u], put = room < carry ? room : carry;
        count[u] += (int32_t)put;
        carry -= put;
    }
    // distinct items per user, from the user's own stream
    size_t set_cap = 0;
    int64_t *set = NULL; // open-addressing set of this user's items (-1 = empty)
    for (int64_t u = part; u < U; u += n_parts) {
        const int64_t n = count[u];
        if (n == 0) continue;
        Rng rng;
        rng_init(&rng, spec->seed, RNG_SYNTH, 1, (uint32_t)u);
        (void)user_weight(&rng); // the weight draw comes first in the stream
        size_t need = 16;
        while (need < (size_t)(2 * n)) need *= 2;
        if (need > set_cap) {
            set_cap = need;
            set = xrealloc(set, set_cap * sizeof *set);
        }
        memset(set, 0xff, need * sizeof *set);
        int main_t = (int)rng_below(&rng, (uint32_t)T), second_t = (int)rng_below(&rng, (uint32_t)T);
        int64_t got = 0, tries = 0;
        while (got < n) {
            int32_t j;
            if (tries++ > 50 * n + 1000) {
                j = (int32_t)rng_below(&rng, (uint32_t)I); // fallback keeps dense users finite
            } else {
                double r = rng_uniform(&rng);
                const Alias *a = r < 0.6 ? &tab[main_t] : r < 0.8 ? &tab[second_t] : &global;
                if (a->n == 0) a = &global;
                j = alias_draw(a, &rng);
            }
            size_t h = (size_t)hash_mix((uint64_t)j) & (need - 1);
            while (set[h] >= 0 && set[h] != j) h = (h + 1) & (need - 1);
            if (set[h] == j) continue;
            set[h] = j;
            emit(ctx, u, j);
            got++;
        }
    }
    free(count);
    free(set);
    for (int t = 0; t < T; t++) free(tab[t].slot);
    free(tab);
    free(global.slot);
    free(by_topic);
    free(fill);
    free(start);
    free(all);
    free(pop);
    free(topic);
}

void synth_generate(const SynthSpec *spec, SynthEmit emit, void *ctx) { synth_generate_part(spec, 0, 1, emit, ctx); }
