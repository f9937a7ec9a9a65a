/* The k8s-file log reader: records, reassembly of partial lines, rotated files (see
 * cli/logs-reader.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/logs-reader.h"
#include "common/util.h"

#define NS_PER_SEC 1000000000LL

/* ==== records ============================================================================= */

static int digits(const char *s, size_t n, int *ret)
{
  int v = 0;

  for (size_t i = 0; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return -EINVAL;
      v = v * 10 + (s[i] - '0');
    }
  *ret = v;
  return 0;
}

/* "YYYY-MM-DD" then, when time is true, "THH:MM:SS" and an optional fraction: into tm and
 * *ret_frac_ns; *ret_used is how much of s that took. */
static int parse_date_time(const char *s, size_t len, bool time, struct tm *tm, int64_t *ret_frac_ns,
                           size_t *ret_used)
{
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int64_t frac = 0, scale = NS_PER_SEC / 10;
  size_t i = 10;

  if (len < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) < 0 || digits(s + 5, 2, &mo) < 0
      || digits(s + 8, 2, &d) < 0)
    return -EINVAL;
  if (time)
    {
      if (len < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':'
          || digits(s + 11, 2, &h) < 0 || digits(s + 14, 2, &mi) < 0 || digits(s + 17, 2, &sec) < 0)
        return -EINVAL;
      i = 19;
      if (i < len && s[i] == '.')
        {
          size_t start = ++i;
          for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (scale > 0)
              {
                frac += (s[i] - '0') * scale;
                scale /= 10;
              }
          if (i == start)
            return -EINVAL;
        }
    }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return -EINVAL;
  *tm = (struct tm){ .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = sec, .tm_isdst = -1 };
  *ret_frac_ns = frac;
  *ret_used = i;
  return 0;
}

int logs_time_parse_rfc3339(const char *s, size_t len, int64_t *ret_ns)
{
  struct tm tm;
  int64_t frac, offset = 0;
  size_t i;
  time_t t;

  if (parse_date_time(s, len, true, &tm, &frac, &i) < 0 || i >= len)
    return -EINVAL;
  if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
    ;
  else if ((s[i] == '+' || s[i] == '-') && i + 6 == len && s[i + 3] == ':')
    {
      int oh, om;
      if (digits(s + i + 1, 2, &oh) < 0 || digits(s + i + 4, 2, &om) < 0 || oh > 23 || om > 59)
        return -EINVAL;
      offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    }
  else
    return -EINVAL;
  tm.tm_isdst = 0;
  t = timegm(&tm);
  *ret_ns = ((int64_t)t - offset) * NS_PER_SEC + frac;
  return 0;
}

int logs_record_parse(const char *line, size_t len, struct logs_record *ret)
{
  const char *end = line + len, *p, *sp;
  struct logs_record rec = { 0 };

  sp = memchr(line, ' ', len);
  if (!sp || logs_time_parse_rfc3339(line, (size_t)(sp - line), &rec.ts_ns) < 0)
    return -EINVAL;
  rec.ts = line;
  rec.ts_len = (size_t)(sp - line);
  p = sp + 1;
  if (end - p >= 7 && memcmp(p, "stdout ", 7) == 0)
    rec.stream = LOGS_STDOUT;
  else if (end - p >= 7 && memcmp(p, "stderr ", 7) == 0)
    rec.stream = LOGS_STDERR;
  else
    return -EINVAL;
  p += 7;
  /* The tag: F or P, possibly followed by more ":"-separated fields (Kubernetes reserves
   * them); then one space and the text, which may be empty (and the space missing). */
  if (p >= end || (*p != 'F' && *p != 'P'))
    return -EINVAL;
  rec.partial = *p == 'P';
  sp = memchr(p, ' ', (size_t)(end - p));
  if (!sp)
    sp = end;
  if (sp - p > 1 && p[1] != ':')
    return -EINVAL;
  rec.text = sp < end ? sp + 1 : end;
  rec.len = (size_t)(end - rec.text);
  *ret = rec;
  return 0;
}

/* ==== the reader ========================================================================== */

struct buf
{
  char *p;
  size_t len, cap;
};

static void buf_append(struct buf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      b->cap = (b->len + n + 1) * 2;
      b->p = xrealloc(b->p, b->cap);
    }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* A line being reassembled from P records. */
struct pending
{
  struct buf text;
  bool open;
  int64_t ts_ns;
  char ts[64];
};

struct logs_reader
{
  logs_line_fn fn;
  void *data;
  struct buf raw;          /* an incomplete record from the previous feed */
  struct pending pend[2];  /* stdout, stderr */
  size_t bad;
};

struct logs_reader *logs_reader_new(logs_line_fn fn, void *data)
{
  struct logs_reader *r = xcalloc(1, sizeof *r);

  r->fn = fn;
  r->data = data;
  return r;
}

void logs_reader_free(struct logs_reader *r)
{
  if (!r)
    return;
  free(r->raw.p);
  free(r->pend[0].text.p);
  free(r->pend[1].text.p);
  free(r);
}

size_t logs_reader_bad_lines(const struct logs_reader *r)
{
  return r->bad;
}

static void copy_ts(char *dst, size_t size, const char *ts, size_t len)
{
  if (len >= size)
    len = size - 1;
  memcpy(dst, ts, len);
  dst[len] = '\0';
}

static int emit_pending(struct logs_reader *r, struct pending *pd, enum logs_stream stream,
                        bool newline)
{
  struct logs_line l = { .ts_ns = pd->ts_ns, .ts = pd->ts, .stream = stream,
                         .text = pd->text.p ? pd->text.p : "", .len = pd->text.len,
                         .newline = newline };

  pd->open = false;
  pd->text.len = 0;
  return r->fn(&l, r->data);
}

static int process_line(struct logs_reader *r, const char *line, size_t len)
{
  struct logs_record rec;
  struct pending *pd;
  char ts[64];

  if (len == 0)
    return 0;
  if (logs_record_parse(line, len, &rec) < 0)
    {
      r->bad++;
      return 0;
    }
  pd = &r->pend[rec.stream - 1];
  if (!pd->open && !rec.partial)
    {
      struct logs_line l = { .ts_ns = rec.ts_ns, .ts = ts, .stream = rec.stream,
                             .text = rec.text, .len = rec.len, .newline = true };
      copy_ts(ts, sizeof ts, rec.ts, rec.ts_len);
      return r->fn(&l, r->data);
    }
  if (!pd->open)
    {
      pd->open = true;
      pd->ts_ns = rec.ts_ns;
      copy_ts(pd->ts, sizeof pd->ts, rec.ts, rec.ts_len);
    }
  buf_append(&pd->text, rec.text, rec.len);
  return rec.partial ? 0 : emit_pending(r, pd, rec.stream, true);
}

int logs_reader_feed(struct logs_reader *r, const char *buf, size_t len)
{
  const char *p = buf, *end = buf + len, *nl;
  int ret;

  if (r->raw.len > 0)
    {
      nl = memchr(p, '\n', len);
      buf_append(&r->raw, p, nl ? (size_t)(nl - p) : len);
      if (!nl)
        return 0;
      size_t n = r->raw.len;
      r->raw.len = 0; /* process_line reads it before anything appends again */
      if ((ret = process_line(r, r->raw.p, n)) < 0)
        return ret;
      p = nl + 1;
    }
  while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))))
    {
      if ((ret = process_line(r, p, (size_t)(nl - p))) < 0)
        return ret;
      p = nl + 1;
    }
  if (p < end)
    buf_append(&r->raw, p, (size_t)(end - p));
  return 0;
}

void logs_reader_file_end(struct logs_reader *r)
{
  if (r->raw.len > 0)
    r->bad++;
  r->raw.len = 0;
}

int logs_reader_finish(struct logs_reader *r)
{
  struct pending *out = &r->pend[0], *err = &r->pend[1];
  int ret;

  logs_reader_file_end(r);
  /* The older one first. */
  if (out->open && err->open && err->ts_ns < out->ts_ns
      && (ret = emit_pending(r, err, LOGS_STDERR, false)) < 0)
    return ret;
  if (out->open && (ret = emit_pending(r, out, LOGS_STDOUT, false)) < 0)
    return ret;
  if (err->open && (ret = emit_pending(r, err, LOGS_STDERR, false)) < 0)
    return ret;
  return 0;
}

/* ==== --since / --until =================================================================== */

/* Go's durations: a sequence of numbers (a fraction allowed) with units ns us ms s m h. */
static int parse_duration(const char *s, int64_t *ret_ns)
{
  static const struct
  {
    const char *unit;
    int64_t ns;
  } units[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", NS_PER_SEC },
                { "m", 60 * NS_PER_SEC }, { "h", 3600 * NS_PER_SEC } };
  double total = 0;

  if (!*s)
    return -EINVAL;
  while (*s)
    {
      char *end = NULL;
      size_t ulen = 0, best = ARRAY_SIZE(units);
      double v;

      if ((*s < '0' || *s > '9') && *s != '.')
        return -EINVAL;
      errno = 0;
      v = strtod(s, &end);
      if (errno || end == s)
        return -EINVAL;
      for (size_t i = 0; i < ARRAY_SIZE(units); i++)
        {
          size_t n = strlen(units[i].unit);
          if (strncmp(end, units[i].unit, n) == 0 && n > ulen)
            {
              ulen = n;
              best = i;
            }
        }
      if (best == ARRAY_SIZE(units))
        return -EINVAL;
      total += v * (double)units[best].ns;
      s = end + ulen;
    }
  if (total > 9e18)
    return -ERANGE;
  *ret_ns = (int64_t)total;
  return 0;
}

/* Local time, for the forms without a zone. */
static int parse_local(const char *s, int64_t *ret_ns)
{
  size_t len = strlen(s), used;
  struct tm tm;
  int64_t frac;
  time_t t;

  if (parse_date_time(s, len, len > 10, &tm, &frac, &used) < 0 || used != len)
    return -EINVAL;
  t = mktime(&tm);
  if (t == (time_t)-1)
    return -EINVAL;
  *ret_ns = (int64_t)t * NS_PER_SEC + frac;
  return 0;
}

static int parse_epoch(const char *s, int64_t *ret_ns)
{
  size_t n = strspn(s, "0123456789");
  int64_t sec;
  double frac = 0;

  if (n == 0 || n > 12 || (s[n] && s[n] != '.'))
    return -EINVAL;
  if (s[n] == '.')
    {
      char *end = NULL;
      if (!s[n + 1] || strspn(s + n + 1, "0123456789") != strlen(s + n + 1))
        return -EINVAL;
      frac = strtod(s + n, &end);
    }
  _cleanup_free_ char *whole = xstrndup(s, n);
  if (nook_parse_i64(whole, &sec) < 0)
    return -EINVAL;
  *ret_ns = sec * NS_PER_SEC + (int64_t)(frac * (double)NS_PER_SEC);
  return 0;
}

int logs_time_parse_arg(const char *opt, const char *s, int64_t now_ns, int64_t *ret_ns,
                        struct nook_error **err)
{
  int64_t v;

  if (logs_time_parse_rfc3339(s, strlen(s), &v) == 0 || parse_local(s, &v) == 0
      || parse_epoch(s, &v) == 0)
    ;
  else if (parse_duration(s, &v) == 0)
    v = now_ns - v;
  else
    return nook_error_setx(err, EINVAL,
                           "%s `%s`: use a time (RFC 3339, a date, seconds since the epoch) or a "
                           "duration (10s, 5m, 1h)",
                           opt, s);
  *ret_ns = v;
  return 0;
}

/* ==== the files =========================================================================== */

static int read_to_end(int fd, struct logs_reader *r, const char *name, struct nook_error **err)
{
  char buf[65536];

  for (;;)
    {
      ssize_t n = read(fd, buf, sizeof buf);
      int ret;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return nook_error_set(err, errno, "read `%s`", name);
      if (n == 0)
        return 0;
      if ((ret = logs_reader_feed(r, buf, (size_t)n)) < 0)
        return ret; /* the line function's own, without an error */
    }
}

/* Reads ctr.log.N (a rotated file) whole; a file that is not there is fine. */
static int read_rotated(int dirfd, unsigned n, struct logs_reader *r, struct nook_error **err)
{
  char name[32];
  _cleanup_close_ int fd = -1;
  int ret;

  snprintf(name, sizeof name, LOGS_FILE ".%u", n);
  fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", name);
  ret = read_to_end(fd, r, name, err);
  logs_reader_file_end(r);
  return ret;
}

/* The highest N for which ctr.log.N exists (0: none); with ino, the N whose file is that
 * inode (0: none). */
static unsigned rotated_find(int dirfd, bool by_inode, dev_t dev, ino_t ino)
{
  unsigned last = 0;

  for (unsigned n = 1; n <= LOGS_MAX_FILES; n++)
    {
      char name[32];
      struct stat st;
      snprintf(name, sizeof name, LOGS_FILE ".%u", n);
      if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        break;
      if (by_inode && st.st_dev == dev && st.st_ino == ino)
        return n;
      last = n;
    }
  return by_inode ? 0 : last;
}

void logs_cursor_close(struct logs_cursor *c)
{
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
}

static int cursor_open_current(struct logs_cursor *c, struct nook_error **err)
{
  struct stat st;

  c->fd = openat(c->dirfd, LOGS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (c->fd < 0 && errno == ENOENT)
    return 0;
  if (c->fd < 0)
    return nook_error_set(err, errno, "open `%s`", LOGS_FILE);
  if (fstat(c->fd, &st) < 0)
    return nook_error_set(err, errno, "stat `%s`", LOGS_FILE);
  c->dev = st.st_dev;
  c->ino = st.st_ino;
  return 0;
}

int logs_cursor_open(int dirfd, struct logs_reader *r, struct logs_cursor *c,
                     struct nook_error **err)
{
  int ret;

  unsigned last = rotated_find(dirfd, false, 0, 0);
  struct stat st;

  *c = (struct logs_cursor){ .dirfd = dirfd, .fd = -1 };
  for (unsigned n = last; n >= 1; n--)
    if ((ret = read_rotated(dirfd, n, r, err)) < 0)
      return ret;
  if ((ret = cursor_open_current(c, err)) < 0)
    return ret;
  if (c->fd >= 0)
    return read_to_end(c->fd, r, LOGS_FILE, err);
  /* Between a rotation's rename and the new file: ctr.log.1 is where we are. */
  if (last > 0 && fstatat(dirfd, LOGS_FILE ".1", &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      c->dev = st.st_dev;
      c->ino = st.st_ino;
    }
  return 0;
}

int logs_cursor_advance(struct logs_cursor *c, struct logs_reader *r, struct nook_error **err)
{
  struct stat st;
  unsigned n;
  int ret;

  if (c->fd >= 0 && (ret = read_to_end(c->fd, r, LOGS_FILE, err)) < 0)
    return ret;
  if (fstatat(c->dirfd, LOGS_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0; /* between the rename and the new file: the next event brings it */
  if (c->fd >= 0 && st.st_dev == c->dev && st.st_ino == c->ino)
    return 0;
  /* Rotated: our file is ctr.log.K now, and ctr.log.K-1 .. ctr.log.1 came after it (when the
   * rotation removed it already, what was in between is lost).  Without a file before, every
   * rotated file is new. */
  if (c->fd >= 0 || c->ino != 0)
    {
      logs_reader_file_end(r);
      n = rotated_find(c->dirfd, true, c->dev, c->ino);
    }
  else
    n = rotated_find(c->dirfd, false, 0, 0) + 1;
  while (n > 1)
    if ((ret = read_rotated(c->dirfd, --n, r, err)) < 0)
      return ret;
  logs_cursor_close(c);
  if ((ret = cursor_open_current(c, err)) < 0)
    return ret;
  return c->fd >= 0 ? read_to_end(c->fd, r, LOGS_FILE, err) : 0;
}

