/* SPDX-License-Identifier: ISC */
/*
 * Samples and percentiles: collect, sort, take the nearest rank.
 */
#include <math.h>
#include <stdlib.h>

#include "bench.h"

/* Start an empty sample set with room for cap values. */
void
stats_init(struct bstats *s, size_t cap)
{
	s->n = 0;
	s->cap = cap > 0 ? cap : 16;
	if ((s->v = calloc(s->cap, sizeof *s->v)) == NULL)
		bench_die("out of memory");
}

/* Add one sample. */
void
stats_add(struct bstats *s, double x)
{
	double *nv;

	if (s->n == s->cap) {
		if ((nv = realloc(s->v, 2 * s->cap * sizeof *s->v)) == NULL)
			bench_die("out of memory");
		s->v = nv;
		s->cap *= 2;
	}
	s->v[s->n++] = x;
}

/* Order two samples for qsort. */
static int
stats_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort the samples; percentiles read the sorted array. */
void
stats_sort(struct bstats *s)
{
	qsort(s->v, s->n, sizeof *s->v, stats_cmp);
}

/* The q-th percentile (0 < q <= 100) by nearest rank; NAN if empty. */
double
stats_pct(const struct bstats *s, double q)
{
	size_t rank;

	if (s->n == 0)
		return NAN;
	rank = (size_t)ceil(q / 100.0 * (double)s->n);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

/* Release the samples. */
void
stats_free(struct bstats *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
