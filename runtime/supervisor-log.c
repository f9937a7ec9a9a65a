/* ctr.log: the container's output in the k8s-file format (what podman's k8s-file driver and the
 * kubelet's CRI logs use):
 *
 *   2026-11-22T10:00:00.123456789Z stdout F a whole line
 *   2026-11-22T10:00:00.123456790Z stderr P the start of a line, continued
 *   2026-11-22T10:00:00.200000000Z stderr F by this record
 *
 * Each read of a stream is one chunk; its complete lines are F records and a tail without a
 * newline is a P record, as conmon writes them: a line longer than the read buffer, or output
 * that paused (or ended) without a newline, is never held back.  One writev per chunk, from
 * fixed arrays: nothing is allocated. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/supervisor-internal.h"

#define LOG_IOV 192 /* iovecs gathered before a writev; 3 per record at most */
#define HEADER_LEN (SUP_TIMESTAMP_LEN + sizeof(" stdout F ") - 1)

struct batch
{
  struct iovec iov[LOG_IOV];
  int n;
  size_t bytes;
};

/* Days since 1970-01-01 to a civil date (Howard Hinnant's days_from_civil, inverted). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  int64_t era, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

void sup_log_timestamp(const struct timespec *ts, char buf[SUP_TIMESTAMP_LEN + 1])
{
  int64_t secs = ts->tv_sec, days = secs / 86400, rem = secs % 86400, y;
  char full[96];
  unsigned m, d;

  if (rem < 0)
    {
      rem += 86400;
      days--;
    }
  civil_from_days(days, &y, &m, &d);
  /* formatted at full width, then cut: years beyond 9999 do not fit RFC 3339 anyway */
  snprintf(full, sizeof(full), "%04d-%02u-%02uT%02d:%02d:%02d.%09ldZ", (int)(y % 10000), m, d,
           (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long)ts->tv_nsec);
  memcpy(buf, full, SUP_TIMESTAMP_LEN);
  buf[SUP_TIMESTAMP_LEN] = '\0';
}

int sup_log_open(struct sup_log *l, int dirfd, uint64_t max_size, unsigned max_files,
                 struct nook_error **err)
{
  struct stat sb;

  *l = (struct sup_log){
    .dirfd = dirfd, .fd = -1, .max_size = max_size, .max_files = max_files ? max_files : 1
  };
  l->fd = openat(dirfd, SUP_LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (l->fd < 0)
    return nook_error_set(err, errno, "open `%s`", SUP_LOG_NAME);
  if (fstat(l->fd, &sb) < 0)
    {
      int e = errno;
      sup_log_close(l);
      return nook_error_set(err, e, "stat `%s`", SUP_LOG_NAME);
    }
  l->size = (uint64_t)sb.st_size;
  return 0;
}

void sup_log_close(struct sup_log *l)
{
  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
}

static void log_failed(struct sup_log *l, int e)
{
  if (l->error == 0)
    l->error = e;
}

/* ctr.log.N-1 -> ctr.log.N, ..., ctr.log -> ctr.log.1, and a new ctr.log. */
static void log_rotate(struct sup_log *l)
{
  char from[32], to[32];

  for (unsigned i = l->max_files; i >= 1; i--)
    {
      if (i == 1)
        snprintf(from, sizeof(from), "%s", SUP_LOG_NAME);
      else
        snprintf(from, sizeof(from), "%s.%u", SUP_LOG_NAME, i - 1);
      snprintf(to, sizeof(to), "%s.%u", SUP_LOG_NAME, i);
      if (renameat(l->dirfd, from, l->dirfd, to) < 0 && errno != ENOENT)
        log_failed(l, errno);
    }
  sup_log_close(l);
  l->fd = openat(l->dirfd, SUP_LOG_NAME,
                 O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (l->fd < 0)
    log_failed(l, errno);
  l->size = 0;
}

static void batch_flush(struct sup_log *l, struct batch *b)
{
  struct iovec *iov = b->iov;
  int n = b->n;

  while (n > 0 && l->fd >= 0)
    {
      ssize_t w = writev(l->fd, iov, n > IOV_MAX ? IOV_MAX : n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          log_failed(l, w < 0 ? errno : EIO);
          break;
        }
      l->size += (uint64_t)w;
      /* a short write: skip what went, go on with the rest */
      while (n > 0 && (size_t)w >= iov->iov_len)
        {
          w -= (ssize_t)iov->iov_len;
          iov++;
          n--;
        }
      if (n > 0)
        {
          iov->iov_base = (char *)iov->iov_base + w;
          iov->iov_len -= (size_t)w;
        }
    }
  b->n = 0;
  b->bytes = 0;
}

static void batch_add(struct batch *b, const void *p, size_t len)
{
  b->iov[b->n].iov_base = (void *)p;
  b->iov[b->n].iov_len = len;
  b->n++;
  b->bytes += len;
}

static void record_add(struct sup_log *l, struct batch *b, const char *header, const char *text,
                       size_t len, bool partial)
{
  size_t rec = HEADER_LEN + len + (partial ? 1 : 0);

  if (l->max_size && l->size + b->bytes + rec > l->max_size && l->size + b->bytes > 0)
    {
      batch_flush(l, b);
      log_rotate(l);
    }
  if (b->n + 3 > LOG_IOV)
    batch_flush(l, b);
  batch_add(b, header, HEADER_LEN);
  batch_add(b, text, len);
  if (partial)
    batch_add(b, "\n", 1);
}

void sup_log_write(struct sup_log *l, const struct timespec *ts, bool is_stderr, const char *data,
                   size_t len)
{
  char full[HEADER_LEN + 1], part[HEADER_LEN + 1];
  const char *p = data, *end = data + len;
  struct batch b;

  if (l->fd < 0 || len == 0)
    return;
  sup_log_timestamp(ts, full);
  snprintf(full + SUP_TIMESTAMP_LEN, sizeof(full) - SUP_TIMESTAMP_LEN, " %s F ",
           is_stderr ? "stderr" : "stdout");
  memcpy(part, full, sizeof(part));
  part[HEADER_LEN - 2] = 'P';
  b.n = 0;
  b.bytes = 0;
  while (p < end)
    {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      if (nl)
        {
          record_add(l, &b, full, p, (size_t)(nl - p) + 1, false);
          p = nl + 1;
        }
      else
        {
          record_add(l, &b, part, p, (size_t)(end - p), true);
          p = end;
        }
    }
  batch_flush(l, &b);
}
