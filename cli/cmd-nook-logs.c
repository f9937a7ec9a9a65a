/* `nook logs`: a container's output from ctr.log (and its rotated files), as podman logs with
 * the k8s-file driver: stdout to stdout, stderr to stderr; -f follows until the container
 * exits. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>

#include "cli/cli.h"
#include "cli/logs-reader.h"
#include "cli/verbs.h"
#include "common/util.h"
#include "images/image.h"

struct logs_opts
{
  bool follow, timestamps;
  long long tail; /* < 0: every line */
  bool since_set, until_set;
  int64_t since, until;
  const char *name;
};

struct saved_line
{
  char *ts;
  enum logs_stream stream;
  char *text;
  size_t len;
  bool newline;
};

/* Where lines go: straight out, or while reading what is there for --tail, into a ring of the
 * last N. */
struct out
{
  const struct logs_opts *o;
  bool collecting;
  struct saved_line *ring;
  size_t ring_len, ring_next;
  enum logs_stream last;
};

static void logs_usage(void)
{
  fputs("usage: nook logs [OPTIONS] CONTAINER\n\n"
        "Print the container's output: stdout to stdout, stderr to stderr (with a terminal,\n"
        "everything is stdout).\n\n"
        "  -f, --follow        go on printing new output until the container exits\n"
        "  -n, --tail N        only the last N lines (-1, the default: all)\n"
        "      --since TIME    only output from TIME on\n"
        "      --until TIME    only output up to TIME\n"
        "  -t, --timestamps    begin each line with its time (RFC 3339)\n\n"
        "TIME is RFC 3339 (2024-01-02T03:04:05Z), a date, seconds since the epoch, or a\n"
        "duration before now (10s, 5m, 1h30m).\n",
        stdout);
}

static int write_line(struct out *o, enum logs_stream stream, const char *ts, const char *text,
                      size_t len, bool newline)
{
  FILE *f = stream == LOGS_STDERR ? stderr : stdout;

  /* Keep the order of stdout and stderr when both go to one place. */
  if (o->last && o->last != stream)
    fflush(o->last == LOGS_STDERR ? stderr : stdout);
  o->last = stream;
  if (o->o->timestamps)
    fprintf(f, "%s ", ts);
  fwrite(text, 1, len, f);
  if (newline)
    fputc('\n', f);
  return ferror(f) ? -EPIPE : 0;
}

static void saved_free(struct saved_line *l)
{
  free(l->ts);
  free(l->text);
  *l = (struct saved_line){ 0 };
}

static int on_line(const struct logs_line *l, void *data)
{
  struct out *o = data;
  struct saved_line *s;

  if ((o->o->since_set && l->ts_ns < o->o->since) || (o->o->until_set && l->ts_ns > o->o->until))
    return 0;
  if (!o->collecting)
    return write_line(o, l->stream, l->ts, l->text, l->len, l->newline);
  if (o->ring_len == 0)
    return 0;
  s = &o->ring[o->ring_next];
  saved_free(s);
  *s = (struct saved_line){ .ts = xstrdup(l->ts), .stream = l->stream,
                            .text = xstrndup(l->text, l->len), .len = l->len,
                            .newline = l->newline };
  o->ring_next = (o->ring_next + 1) % o->ring_len;
  return 0;
}

/* Prints the ring, oldest first, and lets later lines through. */
static int flush_ring(struct out *o)
{
  int r = 0;

  o->collecting = false;
  for (size_t i = 0; i < o->ring_len; i++)
    {
      struct saved_line *s = &o->ring[(o->ring_next + i) % o->ring_len];
      if (s->text && r == 0)
        r = write_line(o, s->stream, s->ts, s->text, s->len, s->newline);
      saved_free(s);
    }
  free(o->ring);
  o->ring = NULL;
  o->ring_len = 0;
  return r;
}

static int parse_logs(int argc, char **argv, struct logs_opts *o)
{
  enum
  {
    OPT_SINCE = 1000,
    OPT_UNTIL,
  };
  static const struct option opts[] = {
    { "follow", no_argument, NULL, 'f' },
    { "tail", required_argument, NULL, 'n' },
    { "since", required_argument, NULL, OPT_SINCE },
    { "until", required_argument, NULL, OPT_UNTIL },
    { "timestamps", no_argument, NULL, 't' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int64_t now = verbs_now_ns(), v;
  struct nook_error *err = NULL;
  int c;

  o->tail = -1;
  while ((c = verbs_getopt(argc, argv, "fn:th", opts, "logs")) != -1)
    switch (c)
      {
      case 'f': o->follow = true; break;
      case 't': o->timestamps = true; break;
      case 'n':
        if (nook_parse_i64(optarg, &v) < 0 || v < -1)
          return cli_nook_usage("logs", "--tail `%s`: use a number of lines (-1: all)", optarg);
        o->tail = v;
        break;
      case OPT_SINCE:
      case OPT_UNTIL:
        if (logs_time_parse_arg(c == OPT_SINCE ? "--since" : "--until", optarg, now,
                                c == OPT_SINCE ? &o->since : &o->until, &err) < 0)
          return verbs_usage_from("logs", err);
        if (c == OPT_SINCE)
          o->since_set = true;
        else
          o->until_set = true;
        break;
      case 'h': logs_usage(); return -1;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind + 1 != argc)
    return cli_nook_usage("logs", optind >= argc ? "missing CONTAINER" : "one CONTAINER only");
  o->name = argv[optind];
  return 0;
}

/* Reads the watch socket: 1 once the container exited for good (or the supervisor is gone). */
static int watch_read(int sock)
{
  char buf[NOOK_MSG_MAX];
  struct nook_msg_exit ex;
  ssize_t n = recv(sock, buf, sizeof buf, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n <= 0)
    return 1;
  if (buf[0] != NOOK_MSG_EXIT || (size_t)n < 1 + sizeof ex)
    return 0;
  memcpy(&ex, buf + 1, sizeof ex);
  return ex.restarting ? 0 : 1;
}

/* Whether a follower should wait for more: the container runs (or restarts) under a
 * supervisor, the only writer of its log. */
static bool more_to_come(const struct nook_globals *g, struct image_store *s, const char *id)
{
  struct ctr_status st;

  if (ctr_status_get(g, s, id, &st, NULL) < 0)
    return false;
  return st.supervisor_alive && st.state != CTR_EXITED;
}

/* -f: new data (inotify on the directory: writes, and a rotation's rename and new file)
 * until the supervisor reports the exit. */
static int follow(const struct nook_globals *g, struct image_store *s, const char *id, int dirfd,
                  struct logs_cursor *cur, struct logs_reader *r, struct nook_error **err)
{
  _cleanup_close_ int in = -1, sock = -1;
  char path[64];
  int ret;

  in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0)
    return nook_error_set(err, errno, "inotify");
  snprintf(path, sizeof path, "/proc/self/fd/%d", dirfd);
  if (inotify_add_watch(in, path, IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO) < 0)
    return nook_error_set(err, errno, "watch the container's directory");
  for (;;)
    {
      struct pollfd p[2] = { { .fd = in, .events = POLLIN }, { .fd = sock, .events = POLLIN } };
      bool done = false;

      /* (Re)connect: after a restart of ours or a race with the supervisor's start. */
      if (sock < 0 && verbs_watch_connect(s, id, &sock, NULL) < 0 && !more_to_come(g, s, id))
        done = true;
      p[1].fd = sock;
      if (!done && poll(p, 2, 1000) < 0 && errno != EINTR)
        return nook_error_set(err, errno, "poll");
      if (!done && (p[0].revents & POLLIN))
        {
          char buf[4096];
          while (read(in, buf, sizeof buf) > 0)
            ;
        }
      if (!done && sock >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && watch_read(sock))
        done = true;
      if ((ret = logs_cursor_advance(cur, r, err)) < 0)
        return ret;
      fflush(stdout);
      fflush(stderr);
      if (done)
        return 0;
    }
}

int cmd_nook_logs(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_ctr_ struct ctr *c = NULL;
  _cleanup_logs_reader_ struct logs_reader *r = NULL;
  _cleanup_close_ int dfd = -1;
  struct logs_opts o = { 0 };
  struct out out = { .o = &o };
  struct logs_cursor cur = { .fd = -1 };
  struct nook_error *err = NULL;
  int ret;

  if ((ret = parse_logs(argc, argv, &o)) != 0)
    return ret < 0 ? 0 : ret;
  if (image_store_open(g->storage, &s, &err) < 0 || verbs_ctr_find(s, o.name, &c, &err) < 0
      || ctr_dir_open(s, c->id, &dfd, &err) < 0)
    return cli_nook_fail(err);
  if (o.tail >= 0)
    {
      out.collecting = true;
      out.ring_len = (size_t)o.tail;
      out.ring = xcalloc(out.ring_len + 1, sizeof *out.ring);
    }
  r = logs_reader_new(on_line, &out);
  ret = logs_cursor_open(dfd, r, &cur, &err);
  if (ret >= 0 && !o.follow)
    ret = logs_reader_finish(r);
  if (ret >= 0 && out.collecting)
    ret = flush_ring(&out);
  if (ret >= 0 && o.follow)
    {
      fflush(stdout);
      ret = follow(g, s, c->id, dfd, &cur, r, &err);
      if (ret >= 0)
        ret = logs_reader_finish(r);
    }
  logs_cursor_close(&cur);
  free(out.ring);
  fflush(stdout);
  if (ret == -EPIPE && !err)
    return 0; /* the reader of our output went away */
  if (ret < 0 && !err)
    nook_error_set(&err, -ret, "container `%s`: logs", o.name);
  return ret < 0 ? cli_nook_fail(err) : 0;
}
