/* Timing helpers shared by the C benchmarks: a monotonic clock in microseconds and a markdown
 * row with the median and mean of a sample. */
#ifndef NOOK_BENCH_H
#define NOOK_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int bench_cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Prints "| what | median | mean |" and sorts v. */
static inline void bench_report(const char *what, double *v, int n)
{
  double sum = 0;
  for (int i = 0; i < n; i++)
    sum += v[i];
  qsort(v, (size_t)n, sizeof(double), bench_cmp);
  printf("| %s | %.0f us | %.0f us |\n", what, v[n / 2], sum / n);
}

#endif
