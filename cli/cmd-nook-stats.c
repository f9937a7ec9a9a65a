/* `nook stats`: CPU, memory, network, block I/O and pids of running containers, from their
 * cgroups (the numbers of `nook oci events --stats`) and the init's /proc/PID/net/dev.  The
 * CPU share is the cgroup's CPU time over wall time between two samples: 100% is one CPU. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/json.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/container.h"

struct sample
{
  char id[65];
  char *name;
  uint64_t mono_ns; /* when it was taken */
  struct nook_cgroup_stats st;
  uint64_t net_rx, net_tx;
};

struct stats_opts
{
  bool no_stream;
  const char *format; /* NULL: the table */
  char **names;       /* NULL: every running container */
};

static uint64_t mono_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void samples_free(struct sample *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i].name);
  free(v);
}

/* The bytes the init's network namespace moved, all interfaces but lo (0 without one). */
static void net_io(pid_t pid, uint64_t *rx, uint64_t *tx)
{
  _cleanup_free_ char *path = xasprintf("/proc/%d/net/dev", (int)pid), *text = NULL;
  char *save = NULL;

  *rx = *tx = 0;
  if (pid <= 0 || nook_read_file_at(AT_FDCWD, path, 1u << 20, &text, NULL, NULL) < 0)
    return;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    {
      char ifname[64];
      unsigned long long r, t, skip;
      if (sscanf(l, " %63[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu", ifname, &r, &skip,
                 &skip, &skip, &skip, &skip, &skip, &skip, &t)
              == 10
          && !streq(ifname, "lo"))
        {
          *rx += r;
          *tx += t;
        }
    }
}

/* One sample of container what (running), appended to *v. */
static int sample_one(const struct nook_globals *g, struct image_store *s, const char *what,
                      bool must_run, struct sample **v, size_t *n, struct nook_error **err)
{
  _cleanup_ctr_ struct ctr *c = NULL;
  _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
  struct ctr_status st;
  struct sample smp = { 0 };
  int r;

  if ((r = verbs_ctr_find(s, what, &c, err)) < 0 || (r = ctr_status_get(g, s, c->id, &st, err)) < 0)
    return r;
  if (!verbs_state_running(st.state) || nook_container_cgroup(g->root, c->id, &cg, NULL) < 0
      || nook_cgroup_stats(cg, &smp.st, NULL) < 0)
    return must_run ? nook_error_setx(err, EINVAL, "container `%s` is not running", what) : 0;
  memcpy(smp.id, c->id, sizeof smp.id);
  smp.name = TAKE_PTR(c->name);
  smp.mono_ns = mono_ns();
  net_io(st.sup.pid, &smp.net_rx, &smp.net_tx);
  *v = xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = smp;
  return 0;
}

static int collect(const struct nook_globals *g, struct image_store *s, const struct stats_opts *o,
                   bool must_run, struct sample **ret, size_t *ret_n, struct nook_error **err)
{
  struct sample *v = NULL;
  struct ctr **list = NULL;
  size_t n = 0, nlist = 0;
  int r = 0;

  if (o->names)
    for (size_t i = 0; o->names[i] && r == 0; i++)
      r = sample_one(g, s, o->names[i], must_run, &v, &n, err);
  else if ((r = ctr_list(s, &list, &nlist, err)) == 0)
    for (size_t i = 0; i < nlist; i++)
      sample_one(g, s, list[i]->id, false, &v, &n, NULL);
  ctr_list_free(list, nlist);
  if (r < 0)
    {
      samples_free(v, n);
      return r;
    }
  *ret = v;
  *ret_n = n;
  return 0;
}

/* The host's memory: the limit of a container without one. */
static uint64_t mem_total(void)
{
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

  return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

struct row
{
  char cpu[16], mem[48], mem_perc[16], net[48], block[48], pids[16];
};

static void make_row(const struct sample *cur, const struct sample *prev, struct row *r)
{
  uint64_t limit = cur->st.memory_limit, total = mem_total();
  double cpu = 0;
  char a[16], b[16];

  if (prev && cur->mono_ns > prev->mono_ns && cur->st.cpu_usage_total >= prev->st.cpu_usage_total)
    cpu = (double)(cur->st.cpu_usage_total - prev->st.cpu_usage_total)
          / (double)(cur->mono_ns - prev->mono_ns) * 100.0;
  if (limit == 0 || (total && limit > total))
    limit = total;
  snprintf(r->cpu, sizeof r->cpu, "%.2f%%", cpu);
  snprintf(r->mem, sizeof r->mem, "%s / %s", verbs_human_size((double)cur->st.memory_usage, a, sizeof a),
           verbs_human_size((double)limit, b, sizeof b));
  snprintf(r->mem_perc, sizeof r->mem_perc, "%.2f%%",
           limit ? (double)cur->st.memory_usage / (double)limit * 100.0 : 0.0);
  snprintf(r->net, sizeof r->net, "%s / %s", verbs_human_size((double)cur->net_rx, a, sizeof a),
           verbs_human_size((double)cur->net_tx, b, sizeof b));
  snprintf(r->block, sizeof r->block, "%s / %s",
           verbs_human_size((double)cur->st.io_read_bytes, a, sizeof a),
           verbs_human_size((double)cur->st.io_write_bytes, b, sizeof b));
  snprintf(r->pids, sizeof r->pids, "%" PRIu64, cur->st.pids_current);
}

static const struct sample *find(const struct sample *v, size_t n, const char *id)
{
  for (size_t i = 0; i < n; i++)
    if (streq(v[i].id, id))
      return &v[i];
  return NULL;
}

/* podman's JSON keys (--format json), or the template fields (.ID .Name .CPUPerc .MemUsage
 * .MemPerc .NetIO .BlockIO .PIDs). */
static void gen_sample(yajl_gen g, const struct sample *c, const struct row *r, bool tmpl)
{
  char id[13];

  snprintf(id, sizeof id, "%.12s", c->id);
  yajl_gen_map_open(g);
  nook_json_kv_str(g, tmpl ? "ID" : "id", tmpl ? id : c->id);
  nook_json_kv_str(g, tmpl ? "Name" : "name", c->name);
  nook_json_kv_str(g, tmpl ? "CPUPerc" : "cpu_percent", r->cpu);
  nook_json_kv_str(g, tmpl ? "MemUsage" : "mem_usage", r->mem);
  nook_json_kv_str(g, tmpl ? "MemPerc" : "mem_percent", r->mem_perc);
  nook_json_kv_str(g, tmpl ? "NetIO" : "net_io", r->net);
  nook_json_kv_str(g, tmpl ? "BlockIO" : "block_io", r->block);
  nook_json_kv_str(g, tmpl ? "PIDs" : "pids", r->pids);
  if (!tmpl)
    {
      nook_json_kv_int(g, "cpu_nano", (long long)c->st.cpu_usage_total);
      nook_json_kv_int(g, "mem_bytes", (long long)c->st.memory_usage);
      nook_json_kv_int(g, "pids_current", (long long)c->st.pids_current);
    }
  yajl_gen_map_close(g);
}

static int print_frame(const struct stats_opts *o, const struct sample *prev, size_t nprev,
                       const struct sample *cur, size_t ncur, struct nook_error **err)
{
  struct verbs_table t = { .ncols = 8 };
  bool json = o->format && streq(o->format, "json");
  yajl_gen g = json ? nook_json_gen_new(true) : NULL;
  int r = 0;

  if (g)
    yajl_gen_array_open(g);
  else if (!o->format)
    verbs_table_add(&t, "ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET IO", "BLOCK IO",
                    "PIDS");
  for (size_t i = 0; i < ncur && r == 0; i++)
    {
      struct row row;
      char id[13];
      make_row(&cur[i], find(prev, nprev, cur[i].id), &row);
      snprintf(id, sizeof id, "%.12s", cur[i].id);
      if (g)
        gen_sample(g, &cur[i], &row, false);
      else if (!o->format)
        verbs_table_add(&t, id, cur[i].name, row.cpu, row.mem, row.mem_perc, row.net, row.block,
                        row.pids);
      else
        {
          yajl_gen tg = nook_json_gen_new(false);
          gen_sample(tg, &cur[i], &row, true);
          r = verbs_template_gen(o->format, tg, stdout, err);
        }
    }
  verbs_output_finish(g, &t, stdout);
  fflush(stdout);
  return r;
}

static void sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static int stats_run(const struct nook_globals *g, const struct stats_opts *o, struct nook_error **err)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  struct sample *prev = NULL, *cur = NULL;
  size_t nprev = 0, ncur = 0;
  bool tty = isatty(STDOUT_FILENO);
  int r;

  if ((r = image_store_open(g->storage, &s, err)) < 0 || (r = collect(g, s, o, true, &prev, &nprev, err)) < 0)
    return r;
  sleep_ms(500);
  for (;;)
    {
      r = collect(g, s, o, o->no_stream, &cur, &ncur, err);
      if (r < 0)
        break;
      if (!o->no_stream && tty)
        fputs("\033[H\033[2J", stdout); /* redraw in place */
      r = print_frame(o, prev, nprev, cur, ncur, err);
      samples_free(prev, nprev);
      prev = cur;
      nprev = ncur;
      cur = NULL;
      ncur = 0;
      if (r < 0 || o->no_stream)
        break;
      sleep_ms(1000);
    }
  samples_free(prev, nprev);
  return r;
}

int cmd_nook_stats(const struct nook_globals *g, int argc, char **argv)
{
  enum
  {
    OPT_NO_STREAM = 1000,
    OPT_FORMAT,
  };
  static const struct option opts[] = {
    { "no-stream", no_argument, NULL, OPT_NO_STREAM },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct stats_opts o = { 0 };
  struct nook_error *err = NULL;
  int opt;

  while ((opt = verbs_getopt(argc, argv, "h", opts, "stats")) != -1)
    switch (opt)
      {
      case OPT_NO_STREAM: o.no_stream = true; break;
      case OPT_FORMAT: o.format = streq(optarg, "table") ? NULL : optarg; break;
      case 'h':
        fputs("usage: nook stats [--no-stream] [--format json|TEMPLATE] [CONTAINER...]\n\n"
              "Show the CPU (100% is one CPU), memory, network, block I/O and pids use of\n"
              "running containers (default: all), redrawn every second until interrupted.\n\n"
              "      --no-stream        print once (two samples half a second apart)\n"
              "      --format FORMAT    json, table, or a template over .ID .Name .CPUPerc\n"
              "                         .MemUsage .MemPerc .NetIO .BlockIO .PIDs\n",
              stdout);
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind < argc)
    o.names = argv + optind;
  return stats_run(g, &o, &err) < 0 ? cli_nook_fail(err) : 0;
}
