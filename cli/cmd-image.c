/* `nook image`: import, pull, ls, inspect, rm, prune, export.
 *
 * Output for scripts is stable: `ls --format json` and `inspect` print JSON with fixed keys,
 * `ls -q` image ids, `import` the names it gave.  Progress goes to stderr, and only on a TTY. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "images/image.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Parses options (GNU getopt: options may follow arguments); -1 at the end, '?' after
 * printing a usage error for VERB. */
static int image_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                        const char *verb)
{
  _cleanup_free_ char *spec = xasprintf(":%s", shortopts);
  _cleanup_free_ char *v = xasprintf("image %s", verb);
  int c;

  opterr = 0;
  c = getopt_long(argc, argv, spec, opts, NULL);
  if (c == ':')
    cli_nook_usage(v, "option `%s` needs a value", argv[optind - 1]);
  else if (c == '?')
    cli_nook_usage(v, "unknown option `%s`", argv[optind - 1]);
  return c == ':' ? '?' : c;
}

static int want_args(int argc, char **argv, int min, int max, const char *verb, const char *what)
{
  _cleanup_free_ char *v = xasprintf("image %s", verb);

  if (argc - optind < min)
    return cli_nook_usage(v, "missing %s", what);
  if (max >= 0 && argc - optind > max)
    return cli_nook_usage(v, "unexpected argument `%s`", argv[optind + max]);
  return 0;
}

static int open_store(const struct nook_globals *g, struct image_store **ret);

/* The start of a command whose only option is --help: prints HELP for it, checks that MIN to
 * MAX arguments (WHAT) follow, opens the store.  False when the command is over, with its
 * exit code in *ret_rc. */
static bool simple_start(const struct nook_globals *g, int argc, char **argv, const char *verb,
                         const char *help, int min, int max, const char *what,
                         struct image_store **ret, int *ret_rc)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c = image_getopt(argc, argv, "h", opts, verb);

  *ret_rc = NOOK_EXIT_ERROR;
  if (c == 'h')
    {
      fputs(help, stdout);
      *ret_rc = 0;
      return false;
    }
  if (c != -1 || want_args(argc, argv, min, max, verb, what) != 0 || open_store(g, ret) != 0)
    return false;
  return true;
}

static int open_store(const struct nook_globals *g, struct image_store **ret)
{
  struct nook_error *err = NULL;

  if (image_store_open(g->storage, ret, &err) < 0)
    return cli_nook_fail(err);
  return 0;
}

/* "4.52 MB": three significant digits, decimal units, as podman prints sizes. */
static const char *human_size(uint64_t n, char *buf, size_t size)
{
  static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
  double v = (double)n;
  size_t u = 0;

  while (v >= 1000 && u + 1 < ARRAY_SIZE(units))
    {
      v /= 1000;
      u++;
    }
  snprintf(buf, size, u == 0 ? "%.0f %s" : "%.3g %s", v, units[u]);
  return buf;
}

/* ---- progress on a terminal ------------------------------------------------------------- */

struct progress_line
{
  char *item;
  uint64_t done, total;
  double start, drawn;
  bool finished;
};

struct tty_progress
{
  struct progress_line *lines;
  size_t n;
};

static double now_secs(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Redraws line I in place: the cursor rests below the last line. */
static void progress_draw(struct tty_progress *p, size_t i)
{
  struct progress_line *l = &p->lines[i];
  size_t up = p->n - i;
  double secs = now_secs() - l->start;
  char done[16], total[16], rate[16];

  human_size(l->done, done, sizeof done);
  human_size(l->total, total, sizeof total);
  human_size(secs > 0.05 ? (uint64_t)((double)l->done / secs) : 0, rate, sizeof rate);
  fprintf(stderr, "\033[%zuA\r%-20s ", up, l->item);
  if (l->finished)
    fprintf(stderr, "%s done", done);
  else if (l->total)
    fprintf(stderr, "%s / %s  %s/s", done, total, rate);
  else
    fprintf(stderr, "%s  %s/s", done, rate);
  fprintf(stderr, "\033[K\033[%zuB\r", up);
  fflush(stderr);
  l->drawn = now_secs();
}

static struct progress_line *progress_line(struct tty_progress *p, const char *item)
{
  for (size_t i = p->n; i-- > 0;)
    if (!p->lines[i].finished && streq(p->lines[i].item, item))
      return &p->lines[i];
  p->lines = xrealloc(p->lines, (p->n + 1) * sizeof *p->lines);
  memset(&p->lines[p->n], 0, sizeof *p->lines);
  p->lines[p->n].item = xstrdup(item);
  p->lines[p->n].start = now_secs();
  fputc('\n', stderr);
  return &p->lines[p->n++];
}

static void progress_update(void *data, const char *item, uint64_t done, uint64_t total)
{
  struct tty_progress *p = data;
  struct progress_line *l = progress_line(p, item);
  bool fresh = l->drawn == 0;

  l->done = done;
  l->total = total;
  if (fresh || now_secs() - l->drawn >= 0.1)
    progress_draw(p, (size_t)(l - p->lines));
}

static void progress_done(void *data, const char *item)
{
  struct tty_progress *p = data;
  struct progress_line *l = progress_line(p, item);

  l->finished = true;
  progress_draw(p, (size_t)(l - p->lines));
}

static void progress_free(struct tty_progress *p)
{
  for (size_t i = 0; i < p->n; i++)
    free(p->lines[i].item);
  free(p->lines);
}

/* ---- import ----------------------------------------------------------------------------- */

static int image_import_cmd(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "name", required_argument, NULL, 'n' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  struct tty_progress tty = { NULL, 0 };
  struct image_progress progress = { progress_update, progress_done, &tty };
  struct nook_error *err = NULL;
  _cleanup_strv_ char **names = NULL;
  const char *name = NULL;
  bool quiet = false;
  int c, r;

  while ((c = image_getopt(argc, argv, "n:qh", opts, "import")) != -1)
    switch (c)
      {
      case 'n': name = optarg; break;
      case 'q': quiet = true; break;
      case 'h':
        printf("usage: nook image import [--name REF] [--quiet] FILE|DIR\n\n"
               "Imports an OCI image layout directory, an oci-archive, a docker-archive or a\n"
               "root filesystem tarball (gzip or zstd compressed or not), and prints the names\n"
               "it gave.\n");
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (want_args(argc, argv, 1, 1, "import", "FILE or DIR") != 0 || open_store(g, &s) != 0)
    return NOOK_EXIT_ERROR;
  r = image_import(s, argv[optind], name, !quiet && isatty(STDERR_FILENO) ? &progress : NULL,
                   &names, &err);
  progress_free(&tty);
  if (r < 0)
    return cli_nook_fail(err);
  for (size_t i = 0; names && names[i]; i++)
    printf("%s\n", names[i]);
  return 0;
}

/* ---- pull ------------------------------------------------------------------------------- */

static int image_pull_cmd(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "insecure", no_argument, NULL, 'k' },
    { "tls-verify", required_argument, NULL, 't' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  struct tty_progress tty = { NULL, 0 };
  struct image_progress progress = { progress_update, progress_done, &tty };
  struct image_pull_opts po = { 0 };
  struct nook_error *err = NULL;
  _cleanup_free_ char *name = NULL;
  bool quiet = false;
  int c, r;

  while ((c = image_getopt(argc, argv, "qh", opts, "pull")) != -1)
    switch (c)
      {
      case 'k': po.insecure = true; break;
      case 't':
        /* podman's spelling of --insecure */
        if (!streq(optarg, "true") && !streq(optarg, "false"))
          return cli_nook_usage("image pull", "--tls-verify takes true or false, not `%s`", optarg);
        po.insecure = streq(optarg, "false");
        break;
      case 'q': quiet = true; break;
      case 'h':
        printf("usage: nook image pull [--insecure] [--quiet] REF\n\n"
               "Pulls an image from a registry (OCI distribution API, https) and prints the\n"
               "name it gave.  --insecure (or --tls-verify=false) allows plain http and does\n"
               "not verify TLS certificates.\n");
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (want_args(argc, argv, 1, 1, "pull", "REF") != 0 || open_store(g, &s) != 0)
    return NOOK_EXIT_ERROR;
  po.progress = !quiet && isatty(STDERR_FILENO) ? &progress : NULL;
  r = image_pull(s, argv[optind], &po, &name, &err);
  progress_free(&tty);
  if (r < 0)
    return cli_nook_fail(err);
  printf("%s\n", name);
  return 0;
}

/* ---- ls --------------------------------------------------------------------------------- */

/* Seconds since the epoch of an RFC 3339 time, or -1. */
static time_t parse_time(const char *s)
{
  struct tm tm = { 0 };
  const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  time_t t;
  int hh = 0, mm = 0;

  if (!p)
    return -1;
  t = timegm(&tm);
  if (*p == '.')
    p += 1 + strspn(p + 1, "0123456789");
  if ((*p == '+' || *p == '-') && sscanf(p + 1, "%d:%d", &hh, &mm) == 2)
    t += (*p == '+' ? -1 : 1) * (hh * 3600 + mm * 60);
  return t;
}

/* "3 days ago", as podman's CREATED column. */
static void human_age(const char *created, char *buf, size_t size)
{
  static const struct
  {
    long secs, limit;
    const char *unit;
  } steps[] = {
    { 1, 60, "second" },  { 60, 3600, "minute" }, { 3600, 172800, "hour" },
    { 86400, 1209600, "day" }, { 604800, 5184000, "week" }, { 2592000, 63072000, "month" },
    { 31536000, 0, "year" },
  };
  time_t t = parse_time(created);
  long age = t < 0 ? -1 : (long)(time(NULL) - t);

  if (age < 0)
    {
      snprintf(buf, size, "%s", t < 0 ? "unknown" : "just now");
      return;
    }
  for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
    if (!steps[i].limit || age < steps[i].limit)
      {
        long n = age / steps[i].secs;
        snprintf(buf, size, "%ld %s%s ago", n, steps[i].unit, n == 1 ? "" : "s");
        return;
      }
}

/* "reg/repo:tag" -> "reg/repo" and "tag" ("<none>" for a digest-only name). */
static void split_name(const char *name, char **ret_repo, const char **ret_tag)
{
  const char *at = strchr(name, '@'), *slash = strrchr(name, '/');
  const char *colon = strrchr(name, ':');

  if (at)
    {
      *ret_repo = xstrndup(name, (size_t)(at - name));
      *ret_tag = "<none>";
      colon = strrchr(*ret_repo, ':');
      if (colon && colon > strrchr(*ret_repo, '/'))
        {
          *ret_tag = name + (colon - *ret_repo) + 1;
          (*ret_repo)[colon - *ret_repo] = '\0';
        }
      return;
    }
  if (colon && (!slash || colon > slash))
    {
      *ret_repo = xstrndup(name, (size_t)(colon - name));
      *ret_tag = colon + 1;
      return;
    }
  *ret_repo = xstrdup(name);
  *ret_tag = "<none>";
}

static const char *short_id(const struct image_entry *e)
{
  static char buf[13];

  snprintf(buf, sizeof buf, "%.12s", e->config_digest ? e->config_digest + 7 : "<unknown>");
  return buf;
}

static void ls_json(const struct image_entry *list, size_t n)
{
  yajl_gen g = nook_json_gen_new(true);
  _cleanup_free_ char *text = NULL;

  yajl_gen_array_open(g);
  for (size_t i = 0; i < n; i++)
    {
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "name", list[i].name);
      nook_json_kv_str(g, "id", list[i].config_digest ? list[i].config_digest + 7 : "");
      nook_json_kv_str(g, "digest", list[i].manifest_digest);
      nook_json_kv_int(g, "size", (long long)list[i].size);
      nook_json_kv_str(g, "created", list[i].created);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  text = nook_json_gen_finish(g, NULL);
  printf("%s\n", text);
}

static void ls_table(const struct image_entry *list, size_t n)
{
  int w = (int)strlen("REPOSITORY"), wt = (int)strlen("TAG");

  for (size_t i = 0; i < n; i++)
    {
      _cleanup_free_ char *repo = NULL;
      const char *tag;
      split_name(list[i].name, &repo, &tag);
      w = (int)strlen(repo) > w ? (int)strlen(repo) : w;
      wt = (int)strlen(tag) > wt ? (int)strlen(tag) : wt;
    }
  printf("%-*s  %-*s  %-12s  %-16s  %s\n", w, "REPOSITORY", wt, "TAG", "IMAGE ID", "CREATED",
         "SIZE");
  for (size_t i = 0; i < n; i++)
    {
      _cleanup_free_ char *repo = NULL;
      const char *tag;
      char age[32], size[16];
      split_name(list[i].name, &repo, &tag);
      human_age(list[i].created, age, sizeof age);
      printf("%-*s  %-*s  %-12s  %-16s  %s\n", w, repo, wt, tag, short_id(&list[i]), age,
             human_size(list[i].size, size, sizeof size));
    }
}

static int image_ls_cmd(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "format", required_argument, NULL, 'f' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  struct image_entry *list = NULL;
  const char *format = "table";
  bool quiet = false;
  size_t n = 0;
  int c;

  while ((c = image_getopt(argc, argv, "f:qh", opts, "ls")) != -1)
    switch (c)
      {
      case 'f':
        if (!streq(optarg, "table") && !streq(optarg, "json"))
          return cli_nook_usage("image ls", "--format must be `table` or `json`, not `%s`", optarg);
        format = optarg;
        break;
      case 'q': quiet = true; break;
      case 'h':
        printf("usage: nook image ls [--format table|json] [-q]\n\n"
               "Lists the images: a table, JSON (name, id, digest, size, created), or with -q\n"
               "the image ids.\n");
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (want_args(argc, argv, 0, 0, "ls", "nothing") != 0 || open_store(g, &s) != 0)
    return NOOK_EXIT_ERROR;
  if (image_store_list(s, &list, &n, &err) < 0)
    return cli_nook_fail(err);
  if (quiet)
    {
      _cleanup_strv_ char **seen = NULL;
      for (size_t i = 0; i < n; i++)
        if (!nook_strv_contains(seen, short_id(&list[i])))
          {
            nook_strv_push(&seen, short_id(&list[i]));
            printf("%s\n", short_id(&list[i]));
          }
    }
  else if (streq(format, "json"))
    ls_json(list, n);
  else
    ls_table(list, n);
  image_entries_free(list, n);
  return 0;
}

/* ---- inspect ---------------------------------------------------------------------------- */

static void gen_tree(yajl_gen g, yajl_val v)
{
  if (YAJL_IS_STRING(v))
    nook_json_str(g, YAJL_GET_STRING(v));
  else if (YAJL_IS_NUMBER(v))
    yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
  else if (YAJL_IS_OBJECT(v))
    {
      yajl_gen_map_open(g);
      for (size_t i = 0; i < v->u.object.len; i++)
        {
          nook_json_str(g, v->u.object.keys[i]);
          gen_tree(g, v->u.object.values[i]);
        }
      yajl_gen_map_close(g);
    }
  else if (YAJL_IS_ARRAY(v))
    {
      yajl_gen_array_open(g);
      for (size_t i = 0; i < v->u.array.len; i++)
        gen_tree(g, v->u.array.values[i]);
      yajl_gen_array_close(g);
    }
  else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
    yajl_gen_bool(g, YAJL_IS_TRUE(v));
  else
    yajl_gen_null(g);
}

/* KEY: the blob DIGEST as JSON (it was verified and parsed when it was stored). */
static int gen_blob(yajl_gen g, struct image_store *s, const char *key, const char *digest,
                    struct nook_error **err)
{
  _cleanup_free_ char *json = NULL;
  _cleanup_json_ yajl_val tree = NULL;
  size_t len = 0;
  int r;

  r = image_blob_read(s, digest, IMAGE_JSON_MAX, &json, &len, err);
  if (r >= 0)
    r = nook_json_parse_untrusted(json, len, IMAGE_JSON_MAX, digest, &tree, err);
  if (r < 0)
    return r;
  nook_json_str(g, key);
  gen_tree(g, tree);
  return 0;
}

static int inspect_json(struct image_store *s, const struct image_entry *e, char **ret,
                        struct nook_error **err)
{
  struct image_manifest *m = NULL;
  struct image_config *c = NULL;
  struct image_entry *list = NULL;
  yajl_gen g;
  size_t n = 0;
  int r;

  r = image_manifest_load(s, e->manifest_digest, &m, &c, err);
  if (r >= 0)
    r = image_store_list(s, &list, &n, err);
  if (r < 0)
    goto out;
  g = nook_json_gen_new(true);
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "name", e->name);
  nook_json_str(g, "names");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < n; i++)
    if (streq(list[i].manifest_digest, e->manifest_digest))
      nook_json_str(g, list[i].name);
  yajl_gen_array_close(g);
  nook_json_kv_str(g, "id", m->config.digest + 7);
  nook_json_kv_str(g, "digest", e->manifest_digest);
  nook_json_kv_str(g, "created", c->created);
  nook_json_kv_int(g, "size", (long long)e->size);
  nook_json_str(g, "layers");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < m->n_layers; i++)
    {
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "digest", m->layers[i].digest);
      nook_json_kv_str(g, "diff_id", i < c->n_diff_ids ? c->diff_ids[i] : NULL);
      nook_json_kv_str(g, "media_type", m->layers[i].media_type);
      nook_json_kv_int(g, "size", m->layers[i].size);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  if ((r = gen_blob(g, s, "manifest", e->manifest_digest, err)) >= 0
      && (r = gen_blob(g, s, "config", m->config.digest, err)) >= 0)
    yajl_gen_map_close(g);
  if (r >= 0)
    *ret = nook_json_gen_finish(g, NULL);
  else
    yajl_gen_free(g);
out:
  image_entries_free(list, n);
  image_manifest_free(m);
  image_config_free(c);
  return r;
}

static int image_inspect_cmd(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  struct image_entry e = { 0 };
  _cleanup_free_ char *json = NULL;
  int r;

  if (!simple_start(g, argc, argv, "inspect",
                    "usage: nook image inspect REF\n\n"
                    "Prints an image as JSON: name, names, id, digest, created, size, layers, and\n"
                    "its manifest and config as stored.\n",
                    1, 1, "REF", &s, &r))
    return r;
  r = image_store_resolve(s, argv[optind], &e, &err);
  if (r >= 0)
    r = inspect_json(s, &e, &json, &err);
  image_entry_clear(&e);
  if (r < 0)
    return cli_nook_fail(err);
  printf("%s\n", json);
  return 0;
}

/* ---- rm, prune, export ------------------------------------------------------------------ */

static int image_rm_cmd(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "force", no_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  bool force = false;
  int c, rc = 0;

  while ((c = image_getopt(argc, argv, "fh", opts, "rm")) != -1)
    switch (c)
      {
      case 'f': force = true; break;
      case 'h':
        printf("usage: nook image rm [-f] REF...\n\n"
               "Removes names (or, for an image id, every name of the image).  An image a\n"
               "container uses keeps its last name unless -f.  `nook image prune` frees the space.\n");
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (want_args(argc, argv, 1, -1, "rm", "REF") != 0 || open_store(g, &s) != 0)
    return NOOK_EXIT_ERROR;
  for (int i = optind; i < argc; i++)
    {
      struct nook_error *err = NULL;
      if (image_remove(s, argv[i], force, &err) < 0)
        rc = cli_nook_fail(err);
      else
        printf("%s\n", argv[i]);
    }
  return rc;
}

static int image_prune_cmd(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  uint64_t count = 0, bytes = 0;
  char size[16];
  int r;

  if (!simple_start(g, argc, argv, "prune",
                    "usage: nook image prune\n\n"
                    "Removes the blobs and layers that no name and no container uses, and what\n"
                    "interrupted imports left behind.\n",
                    0, 0, "nothing", &s, &r))
    return r;
  if (image_prune(s, &count, &bytes, &err) < 0)
    return cli_nook_fail(err);
  printf("removed %llu blobs and layers, %s freed\n", (unsigned long long)count,
         human_size(bytes, size, sizeof size));
  return 0;
}

static int image_export_cmd(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  struct nook_error *err = NULL;
  int r;

  if (!simple_start(g, argc, argv, "export",
                    "usage: nook image export REF FILE\n\n"
                    "Writes the image as an oci-archive to FILE.\n",
                    2, 2, "REF and FILE", &s, &r))
    return r;
  if (image_export(s, argv[optind], argv[optind + 1], &err) < 0)
    return cli_nook_fail(err);
  return 0;
}

/* ---- the verb --------------------------------------------------------------------------- */

static const struct nook_command image_commands[] = {
  { "import", image_import_cmd, "import an image layout, oci/docker-archive or rootfs tarball" },
  { "pull", image_pull_cmd, "pull an image from a registry" },
  { "ls", image_ls_cmd, "list the images" },
  { "inspect", image_inspect_cmd, "print an image as JSON" },
  { "rm", image_rm_cmd, "remove image names" },
  { "prune", image_prune_cmd, "remove unused blobs and layers" },
  { "export", image_export_cmd, "write an image as an oci-archive" },
  { "list", image_ls_cmd, NULL }, /* podman's spelling of ls */
};

int cmd_image(const struct nook_globals *g, int argc, char **argv)
{
  return cli_nook_subcommand(g, "image", image_commands, ARRAY_SIZE(image_commands), argc, argv);
}
