/* events: runc's `events [--stats] [--interval D] ID`: one {"type":"stats",...} object per
 * interval and {"type":"oom",...} when the OOM killer acts, until the container stops. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "runtime/container.h"

/* Go-style durations as runc takes them: "5s", "250ms", "1m", "1h"; a bare number is seconds. */
static int parse_interval(const char *s, int *ret_ms)
{
  static const struct
  {
    const char *unit;
    int64_t ms;
  } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "", 1000 } };
  char *end = NULL;
  long long v;

  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno || end == s || v <= 0)
    return -EINVAL;
  for (size_t i = 0; i < ARRAY_SIZE(units); i++)
    if (streq(end, units[i].unit))
      {
        if (v > INT32_MAX / units[i].ms)
          return -ERANGE;
        *ret_ms = (int)(v * units[i].ms);
        return 0;
      }
  return -EINVAL;
}

struct field
{
  const char *key;
  uint64_t value;
};

/* "key": { "k1": v1, ... } */
static void object(yajl_gen g, const char *key, const struct field *f, size_t n)
{
  nook_json_str(g, key);
  yajl_gen_map_open(g);
  for (size_t i = 0; i < n; i++)
    nook_json_kv_int(g, f[i].key, (long long)f[i].value);
  yajl_gen_map_close(g);
}

#define OBJECT(g, key, ...)                                                                        \
  do                                                                                               \
    {                                                                                              \
      const struct field _f[] = { __VA_ARGS__ };                                                   \
      object(g, key, _f, ARRAY_SIZE(_f));                                                          \
    }                                                                                              \
  while (0)

/* The "data" of a stats event, in runc's shape (types.Stats). */
static void stats_json(yajl_gen g, const struct nook_cgroup_stats *s)
{
  nook_json_str(g, "cpu");
  yajl_gen_map_open(g);
  OBJECT(g, "usage", { "total", s->cpu_usage_total }, { "kernel", s->cpu_usage_kernel },
         { "user", s->cpu_usage_user });
  OBJECT(g, "throttling", { "periods", s->cpu_periods },
         { "throttledPeriods", s->cpu_throttled_periods },
         { "throttledTime", s->cpu_throttled_time });
  yajl_gen_map_close(g);

  nook_json_str(g, "memory");
  yajl_gen_map_open(g);
  nook_json_kv_int(g, "cache", (long long)s->memory_cache);
  OBJECT(g, "usage", { "limit", s->memory_limit }, { "usage", s->memory_usage },
         { "max", s->memory_max_usage }, { "failcnt", s->memory_failcnt });
  OBJECT(g, "swap", { "limit", s->swap_limit }, { "usage", s->swap_usage });
  nook_json_kv_int(g, "oomKill", (long long)s->oom_kill);
  yajl_gen_map_close(g);

  OBJECT(g, "pids", { "current", s->pids_current }, { "limit", s->pids_limit });

  nook_json_str(g, "blkio");
  yajl_gen_map_open(g);
  nook_json_str(g, "ioServiceBytesRecursive");
  yajl_gen_array_open(g);
  for (int i = 0; i < 2; i++)
    {
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "op", i == 0 ? "Read" : "Write");
      nook_json_kv_int(g, "value", (long long)(i == 0 ? s->io_read_bytes : s->io_write_bytes));
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);

  nook_json_str(g, "hugetlb");
  yajl_gen_map_open(g);
  OBJECT(g, "total", { "usage", s->hugetlb_usage });
  yajl_gen_map_close(g);
}

static void print_event(const char *type, const char *id, const struct nook_cgroup_stats *s)
{
  yajl_gen g = nook_json_gen_new(false);
  _cleanup_free_ char *text = NULL;

  yajl_gen_map_open(g);
  nook_json_kv_str(g, "type", type);
  nook_json_kv_str(g, "id", id);
  if (s)
    {
      nook_json_str(g, "data");
      yajl_gen_map_open(g);
      stats_json(g, s);
      yajl_gen_map_close(g);
    }
  yajl_gen_map_close(g);
  text = nook_json_gen_finish(g, NULL);
  printf("%s\n", text);
  fflush(stdout);
}

static bool still_running(const char *root, const char *id)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  return nook_container_cgroup(root, id, &cg, NULL) == 0;
}

static int watch(const char *root, const char *id, struct nook_cgroup *cg, int interval_ms)
{
  struct nook_error *err = NULL;
  struct nook_cgroup_stats st;
  _cleanup_close_ int oomfd = -1;
  uint64_t ooms = 0;

  if (nook_cgroup_oom_fd(cg, &oomfd, &err) < 0)
    {
      nook_error_freep(&err);
      oomfd = -1;
    }
  if (nook_cgroup_stats(cg, &st, NULL) == 0)
    ooms = st.oom_kill;
  for (;;)
    {
      struct pollfd pfd = { .fd = oomfd, .events = POLLIN };
      int r = poll(&pfd, 1, interval_ms);
      if (r < 0 && errno != EINTR)
        return 0;
      if (nook_cgroup_stats(cg, &st, &err) < 0)
        {
          nook_error_freep(&err);
          return 0;
        }
      if (r > 0)
        {
          char buf[4096];
          if (read(oomfd, buf, sizeof(buf)) < 0 && errno != EAGAIN)
            oomfd = -1;
        }
      if (st.oom_kill > ooms)
        {
          ooms = st.oom_kill;
          print_event("oom", id, NULL);
        }
      if (!still_running(root, id))
        return 0;
      if (r == 0)
        print_event("stats", id, &st);
    }
}

int cmd_events(const struct oci_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "stats", no_argument, NULL, 's' },
    { "interval", required_argument, NULL, 'i' },
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  struct nook_error *err = NULL;
  struct nook_cgroup_stats st;
  bool once = false;
  int interval_ms = 5000;
  const char *id;
  int c;

  while ((c = cli_getopt(argc, argv, opts, "events")) != -1)
    switch (c)
      {
      case 's': once = true; break;
      case 'i':
        if (parse_interval(optarg, &interval_ms) < 0)
          return cli_usage_error("events", "--interval: invalid duration `%s`", optarg);
        break;
      case 'h':
        printf("usage: nook oci events [--stats] [--interval 5s] ID\n\n"
               "Prints resource statistics every interval and OOM events as JSON lines until the\n"
               "container stops; --stats prints the statistics once.\n");
        return 0;
      default: return OCI_EXIT_ERROR;
      }
  if (cli_want_args(argc, argv, 1, "events", "container id") != 0)
    return OCI_EXIT_ERROR;
  id = cli_oci_id(g, argv[optind]);
  if (nook_container_cgroup(g->root, id, &cg, &err) < 0)
    return cli_fail(err);
  if (!once)
    return watch(g->root, id, cg, interval_ms);
  if (nook_cgroup_stats(cg, &st, &err) < 0)
    return cli_fail(err);
  print_event("stats", id, &st);
  return 0;
}
