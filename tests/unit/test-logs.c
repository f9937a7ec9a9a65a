/* Unit tests for the k8s-file log reader (cli/logs-reader.c). */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/logs-reader.h"
#include "common/util.h"
#include "tests/unit/tap.h"

#define SEC 1000000000LL

/* What the reader passed on: "o:" / "e:" lines, "$" when without a newline. */
struct collected
{
  char out[8192];
  size_t n;
  int stop_after; /* > 0: return -EPIPE after this many lines */
  int lines;
};

static int collect(const struct logs_line *l, void *data)
{
  struct collected *c = data;
  int w = snprintf(c->out + c->n, sizeof c->out - c->n, "%c:%.*s%s\n",
                   l->stream == LOGS_STDOUT ? 'o' : 'e', (int)l->len, l->text,
                   l->newline ? "" : "$");

  if (w > 0 && (size_t)w < sizeof c->out - c->n)
    c->n += (size_t)w;
  c->lines++;
  return c->stop_after && c->lines >= c->stop_after ? -EPIPE : 0;
}

static void test_time(void)
{
  int64_t a = 0, b = 0;
  const char *s;

  s = "2024-01-02T03:04:05.123456789Z";
  tap_ok(logs_time_parse_rfc3339(s, strlen(s), &a) == 0 && a == 1704164645 * SEC + 123456789,
         "rfc3339 with nanoseconds and Z");
  s = "2024-01-02T05:04:05.123456789+02:00";
  tap_ok(logs_time_parse_rfc3339(s, strlen(s), &b) == 0 && a == b, "an offset is applied");
  s = "2024-01-01T22:04:05.5-05:00";
  tap_ok(logs_time_parse_rfc3339(s, strlen(s), &b) == 0 && b == 1704164645 * SEC + SEC / 2,
         "a negative offset and a short fraction");
  s = "2024-01-02T03:04:05Z";
  tap_ok(logs_time_parse_rfc3339(s, strlen(s), &b) == 0 && b == 1704164645 * SEC,
         "no fraction");
  tap_ok(logs_time_parse_rfc3339("2024-01-02T03:04:05", 19, &b) < 0, "a zone is required");
  tap_ok(logs_time_parse_rfc3339("2024-13-02T03:04:05Z", 20, &b) < 0, "month 13 refused");
  tap_ok(logs_time_parse_rfc3339("2024-01-02T03:04:05.Z", 21, &b) < 0, "an empty fraction refused");
  tap_ok(logs_time_parse_rfc3339("2024-01-02x03:04:05Z", 20, &b) < 0, "T is required");
}

static void test_time_arg(void)
{
  struct nook_error *err = NULL;
  int64_t now = 1704164645 * SEC, v = 0;

  tap_ok(logs_time_parse_arg("--since", "10s", now, &v, NULL) == 0 && v == now - 10 * SEC,
         "--since 10s");
  tap_ok(logs_time_parse_arg("--since", "1h30m", now, &v, NULL) == 0 && v == now - 5400 * SEC,
         "--since 1h30m");
  tap_ok(logs_time_parse_arg("--since", "250ms", now, &v, NULL) == 0 && v == now - SEC / 4,
         "--since 250ms");
  tap_ok(logs_time_parse_arg("--until", "1.5h", now, &v, NULL) == 0 && v == now - 5400 * SEC,
         "--until 1.5h");
  tap_ok(logs_time_parse_arg("--since", "2024-01-02T03:04:05Z", now, &v, NULL) == 0
             && v == 1704164645 * SEC,
         "--since RFC 3339");
  tap_ok(logs_time_parse_arg("--since", "1704164645", now, &v, NULL) == 0
             && v == 1704164645 * SEC,
         "--since seconds since the epoch");
  tap_ok(logs_time_parse_arg("--since", "1704164645.5", now, &v, NULL) == 0
             && v == 1704164645 * SEC + SEC / 2,
         "--since seconds with a fraction");
  tap_ok(logs_time_parse_arg("--since", "2024-01-02", now, &v, NULL) == 0, "--since a date");
  tap_ok(logs_time_parse_arg("--since", "yesterday", now, &v, &err) == -EINVAL && err
             && strstr(err->msg, "--since `yesterday`"),
         "a bad value names the option and the value");
  nook_error_freep(&err);
  tap_ok(logs_time_parse_arg("--until", "10x", now, &v, NULL) < 0, "an unknown unit is refused");
  tap_ok(logs_time_parse_arg("--until", "", now, &v, NULL) < 0, "empty is refused");
  tap_ok(logs_time_parse_arg("--until", "-5s", now, &v, NULL) < 0, "a negative duration is refused");
}

static void test_record(void)
{
  struct logs_record r;
  const char *s;

  s = "2024-01-02T03:04:05.000000001Z stdout F hello world";
  tap_ok(logs_record_parse(s, strlen(s), &r) == 0 && r.stream == LOGS_STDOUT && !r.partial
             && r.len == 11 && memcmp(r.text, "hello world", 11) == 0 && r.ts_len == 30,
         "an F record");
  s = "2024-01-02T03:04:05Z stderr P  two spaces";
  tap_ok(logs_record_parse(s, strlen(s), &r) == 0 && r.stream == LOGS_STDERR && r.partial
             && r.len == 11 && memcmp(r.text, " two spaces", 11) == 0,
         "a P record keeps leading spaces of the text");
  s = "2024-01-02T03:04:05Z stdout F ";
  tap_ok(logs_record_parse(s, strlen(s), &r) == 0 && r.len == 0, "an empty line");
  s = "2024-01-02T03:04:05Z stdout F";
  tap_ok(logs_record_parse(s, strlen(s), &r) == 0 && r.len == 0, "an empty line without the space");
  s = "2024-01-02T03:04:05Z stdout F:x:y text";
  tap_ok(logs_record_parse(s, strlen(s), &r) == 0 && r.len == 4, "tag fields after `:`");
  s = "2024-01-02T03:04:05Z stdin F x";
  tap_ok(logs_record_parse(s, strlen(s), &r) < 0, "an unknown stream is refused");
  s = "2024-01-02T03:04:05Z stdout X x";
  tap_ok(logs_record_parse(s, strlen(s), &r) < 0, "an unknown tag is refused");
  s = "2024-01-02T03:04:05Z stdout FF x";
  tap_ok(logs_record_parse(s, strlen(s), &r) < 0, "a long tag is refused");
  s = "garbage stdout F x";
  tap_ok(logs_record_parse(s, strlen(s), &r) < 0, "a bad timestamp is refused");
  tap_ok(logs_record_parse("", 0, &r) < 0, "an empty line is not a record");
}

#define TS "2024-01-02T03:04:05Z "

static void test_reader(void)
{
  const char *log = TS "stdout P par" "\n" TS "stderr F err one\n" TS "stdout P t o" "\n" TS
                    "stdout F f line\n" "not a record\n" TS "stderr P tail\n";
  struct collected c = { 0 };
  struct logs_reader *r = logs_reader_new(collect, &c);

  int fails = 0;

  /* Byte by byte: every split point of every record. */
  for (size_t i = 0; i < strlen(log); i++)
    fails += logs_reader_feed(r, log + i, 1) != 0;
  tap_is_int(fails, 0, "fed byte by byte");
  tap_is_str(c.out, "e:err one\no:part of line\n", "P records reassembled per stream");
  tap_is_int(logs_reader_bad_lines(r), 1, "the bad line is counted");
  tap_ok(logs_reader_finish(r) == 0, "finish");
  tap_is_str(c.out, "e:err one\no:part of line\ne:tail$\n", "finish passes on the open line");
  logs_reader_free(r);
}

static void test_reader_files(void)
{
  struct collected c = { 0 };
  struct logs_reader *r = logs_reader_new(collect, &c);
  const char *a = TS "stdout P x" "\n" TS "stdout F incompl";

  logs_reader_feed(r, a, strlen(a));
  logs_reader_file_end(r);
  tap_is_int(logs_reader_bad_lines(r), 1, "an incomplete record at a file's end is dropped");
  a = TS "stdout F y\n";
  logs_reader_feed(r, a, strlen(a));
  tap_is_str(c.out, "o:xy\n", "a partial line continues into the next file");
  logs_reader_free(r);

  memset(&c, 0, sizeof c);
  c.stop_after = 1;
  r = logs_reader_new(collect, &c);
  a = TS "stdout F 1\n" TS "stdout F 2\n";
  tap_is_int(logs_reader_feed(r, a, strlen(a)), -EPIPE, "the callback's error stops the reader");
  tap_is_str(c.out, "o:1\n", "nothing after it");
  logs_reader_free(r);
}

static void put(int dirfd, const char *name, const char *text, bool append)
{
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);

  if (fd < 0 || nook_write_all(fd, text, strlen(text)) < 0)
    abort();
  close(fd);
}

/* What a rotation does: ctr.log.(K) -> ctr.log.(K+1) from the top, ctr.log -> ctr.log.1. */
static void rotate(int dirfd, unsigned have)
{
  char from[32], to[32];

  for (unsigned k = have; k >= 1; k--)
    {
      snprintf(from, sizeof from, "ctr.log.%u", k);
      snprintf(to, sizeof to, "ctr.log.%u", k + 1);
      if (renameat(dirfd, from, dirfd, to) < 0)
        abort();
    }
  if (renameat(dirfd, "ctr.log", dirfd, "ctr.log.1") < 0)
    abort();
}

static void test_cursor(void)
{
  char tmpl[] = "/tmp/nook-test-logs.XXXXXX";
  struct collected c = { 0 };
  struct logs_reader *r = logs_reader_new(collect, &c);
  struct logs_cursor cur;
  struct nook_error *err = NULL;
  int dirfd;

  if (!mkdtemp(tmpl) || (dirfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    abort();
  tap_ok(logs_cursor_open(dirfd, r, &cur, &err) == 0 && cur.fd < 0 && c.n == 0,
         "no log yet: nothing, no error");
  put(dirfd, "ctr.log.2", TS "stdout F one\n", false);
  put(dirfd, "ctr.log.1", TS "stdout P tw\n", false);
  put(dirfd, "ctr.log", TS "stdout F o\n" TS "stderr F three\n", false);
  tap_ok(logs_cursor_advance(&cur, r, &err) == 0, "advance finds the new ctr.log");
  tap_is_str(c.out, "o:one\no:two\ne:three\n", "all new: the rotated files first");
  logs_cursor_close(&cur);

  memset(&c, 0, sizeof c);
  tap_ok(logs_cursor_open(dirfd, r, &cur, &err) == 0 && cur.fd >= 0, "open");
  tap_is_str(c.out, "o:one\no:two\ne:three\n", "oldest file first, P across files");

  put(dirfd, "ctr.log", TS "stdout F four\n", true);
  tap_ok(logs_cursor_advance(&cur, r, &err) == 0, "advance");
  tap_is_str(c.out, "o:one\no:two\ne:three\no:four\n", "appended data");

  /* Written to the old file before it was rotated, then two rotations before we look. */
  put(dirfd, "ctr.log", TS "stdout F five\n", true);
  rotate(dirfd, 2);
  put(dirfd, "ctr.log", TS "stdout F six\n", false);
  rotate(dirfd, 3);
  put(dirfd, "ctr.log", TS "stdout F seven\n", false);
  tap_ok(logs_cursor_advance(&cur, r, &err) == 0, "advance over two rotations");
  tap_is_str(c.out, "o:one\no:two\ne:three\no:four\no:five\no:six\no:seven\n",
             "the old file's rest, the file between, the new file");
  tap_ok(logs_cursor_advance(&cur, r, &err) == 0, "advance without news");
  tap_is_int(c.lines, 7, "nothing twice");
  logs_cursor_close(&cur);

  /* Opened between a rotation's rename and the new file. */
  memset(&c, 0, sizeof c);
  rotate(dirfd, 4);
  tap_ok(logs_cursor_open(dirfd, r, &cur, &err) == 0 && cur.fd < 0, "open without ctr.log");
  tap_is_int(c.lines, 7, "the rotated files were read");
  put(dirfd, "ctr.log", TS "stdout F eight\n", false);
  tap_ok(logs_cursor_advance(&cur, r, &err) == 0, "advance");
  tap_is_int(c.lines, 8, "then only the new file");
  logs_cursor_close(&cur);
  logs_reader_free(r);
  nook_rm_rf_at(AT_FDCWD, tmpl, NULL);
  close(dirfd);
}

int main(void)
{
  test_time();
  test_time_arg();
  test_record();
  test_reader();
  test_reader_files();
  test_cursor();
  return tap_done();
}
