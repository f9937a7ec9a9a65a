/* `nook ps`: the containers of `nook run`, as podman ps lists them. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/verbs.h"
#include "common/json.h"
#include "common/util.h"
#include "images/image.h"

struct ps_opts
{
  bool all, quiet, no_trunc;
  const char *format; /* NULL: the table */
};

static void ps_usage(void)
{
  fputs("usage: nook ps [OPTIONS]\n\n"
        "List the running containers (with -a all of them), newest first.\n\n"
        "  -a, --all            every container, also created and exited ones\n"
        "  -q, --quiet          only the ids\n"
        "      --no-trunc       full ids and commands\n"
        "      --format FORMAT  json, table, or a template: '{{.Names}}', '{{.ID}} {{.Status}}';\n"
        "                       fields: ID Image Command CreatedHuman CreatedAt Status State\n"
        "                       Ports Names Pid ExitCode Restarts\n",
        stdout);
}

/* One container as --format json prints it (podman's keys). */
static void ps_json(yajl_gen g, const struct ctr *c, const struct ctr_status *st, const char *status,
                    const char *created_human)
{
  _cleanup_free_ struct verbs_port *ports = NULL;
  size_t nports = verbs_ports_parse(c->ports, &ports);
  bool running = verbs_state_running(st->state);

  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "AutoRemove", c->rm);
  nook_json_kv_strv(g, "Command", c->command);
  nook_json_kv_int(g, "Created", verbs_time_ns(c->created) / 1000000000);
  nook_json_kv_str(g, "CreatedAt", created_human);
  nook_json_kv_bool(g, "Exited", st->state == CTR_EXITED);
  nook_json_kv_int(g, "ExitedAt", st->sup.finished_ns / 1000000000);
  nook_json_kv_int(g, "ExitCode", st->sup.exit_code);
  nook_json_kv_str(g, "Id", c->id);
  nook_json_kv_str(g, "Image", c->image);
  nook_json_kv_str(g, "ImageID", c->image_id);
  nook_json_kv_strv(g, "Names", (char *const[]){ c->name, NULL });
  nook_json_kv_str(g, "Network", c->network);
  nook_json_kv_int(g, "Pid", running ? st->sup.pid : 0);
  nook_json_str(g, "Ports");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < nports; i++)
    {
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "host_ip", ports[i].host_ip);
      nook_json_kv_int(g, "container_port", ports[i].ctr_port);
      nook_json_kv_int(g, "host_port", ports[i].host_port);
      nook_json_kv_int(g, "range", 1);
      nook_json_kv_str(g, "protocol", ports[i].proto);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  nook_json_kv_int(g, "Restarts", st->sup.restart_count);
  nook_json_kv_int(g, "StartedAt", st->sup.started_ns / 1000000000);
  nook_json_kv_str(g, "State", ctr_state_to_string(st->state));
  nook_json_kv_str(g, "Status", status);
  nook_json_kv_bool(g, "Supervised", st->supervisor_alive);
  yajl_gen_map_close(g);
}

/* The command as the COMMAND column shows it: joined, cut at 17 characters unless no_trunc. */
static char *command_text(char *const *cmd, bool no_trunc)
{
  char *s = xstrdup("");

  for (size_t i = 0; cmd && cmd[i]; i++)
    {
      char *next = xasprintf("%s%s%s", s, i ? " " : "", cmd[i]);
      free(s);
      s = next;
    }
  if (!no_trunc && strlen(s) > 17)
    {
      char *cut = xasprintf("%.17s...", s);
      free(s);
      s = cut;
    }
  return s;
}

/* The object that templates see: the columns, as podman's template fields. */
static yajl_gen ps_template_object(const struct ps_opts *o, const struct ctr *c,
                                   const struct ctr_status *st, const char *status,
                                   const char *created_human)
{
  _cleanup_free_ char *cmd = command_text(c->command, o->no_trunc), *ports = NULL;
  yajl_gen g = nook_json_gen_new(false);
  char id[65];

  snprintf(id, sizeof id, "%.*s", o->no_trunc ? 64 : 12, c->id);
  ports = verbs_ports_text(c->ports);
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "ID", id);
  nook_json_kv_str(g, "Image", c->image);
  nook_json_kv_str(g, "Command", cmd);
  nook_json_kv_str(g, "CreatedHuman", created_human);
  nook_json_kv_str(g, "CreatedAt", c->created);
  nook_json_kv_str(g, "Status", status);
  nook_json_kv_str(g, "State", ctr_state_to_string(st->state));
  nook_json_kv_str(g, "Ports", ports);
  nook_json_kv_str(g, "Names", c->name);
  nook_json_kv_int(g, "Pid", verbs_state_running(st->state) ? st->sup.pid : 0);
  nook_json_kv_int(g, "ExitCode", st->sup.exit_code);
  nook_json_kv_int(g, "Restarts", st->sup.restart_count);
  yajl_gen_map_close(g);
  return g;
}

static int parse_ps(int argc, char **argv, struct ps_opts *o)
{
  enum
  {
    OPT_NO_TRUNC = 1000,
    OPT_FORMAT,
  };
  static const struct option opts[] = {
    { "all", no_argument, NULL, 'a' },
    { "quiet", no_argument, NULL, 'q' },
    { "no-trunc", no_argument, NULL, OPT_NO_TRUNC },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = verbs_getopt(argc, argv, "aqh", opts, "ps")) != -1)
    switch (c)
      {
      case 'a': o->all = true; break;
      case 'q': o->quiet = true; break;
      case OPT_NO_TRUNC: o->no_trunc = true; break;
      case OPT_FORMAT: o->format = optarg; break;
      case 'h': ps_usage(); return 1;
      default: return -1;
      }
  if (optind < argc)
    return cli_nook_usage("ps", "unexpected argument `%s`", argv[optind]), -1;
  if (o->format && streq(o->format, "table"))
    o->format = NULL;
  return 0;
}

/* Prints the containers of list (already filtered) as o says. */
static int ps_print(const struct ps_opts *o, struct ctr **list, struct ctr_status *sts, size_t n)
{
  _cleanup_free_ char *header = NULL;
  struct verbs_table t = { .ncols = 7 };
  const char *body = o->format;
  int64_t now = verbs_now_ns();
  yajl_gen g = NULL;

  if (o->format && streq(o->format, "json"))
    {
      g = nook_json_gen_new(true);
      yajl_gen_array_open(g);
    }
  else if (o->format && nook_has_prefix(o->format, "table"))
    {
      header = verbs_template_header(o->format, &body);
      printf("%s\n", header);
    }
  else if (!o->format && !o->quiet)
    verbs_table_add(&t, "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES");
  for (size_t i = 0; i < n; i++)
    {
      const struct ctr *c = list[i];
      char status[128], created[96], d[64];
      _cleanup_free_ char *cmd = NULL, *ports = NULL;

      verbs_status_text(&sts[i], now, status, sizeof status);
      snprintf(created, sizeof created, "%s ago",
               verbs_human_duration(now - verbs_time_ns(c->created), d, sizeof d));
      if (g)
        ps_json(g, c, &sts[i], status, created);
      else if (o->quiet)
        printf("%.*s\n", o->no_trunc ? 64 : 12, c->id);
      else if (body)
        {
          struct nook_error *err = NULL;
          if (verbs_template_gen(body, ps_template_object(o, c, &sts[i], status, created), stdout,
                                 &err)
              < 0)
            return cli_nook_fail(err);
        }
      else
        {
          char id[65];
          snprintf(id, sizeof id, "%.*s", o->no_trunc ? 64 : 12, c->id);
          cmd = command_text(c->command, o->no_trunc);
          ports = verbs_ports_text(c->ports);
          verbs_table_add(&t, id, c->image, cmd, created, status, ports, c->name);
        }
    }
  verbs_output_finish(g, &t, stdout);
  return 0;
}

int cmd_nook_ps(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_free_ struct ctr_status *sts = NULL;
  struct nook_error *err = NULL;
  struct ps_opts o = { 0 };
  struct ctr **list = NULL, **shown = NULL;
  size_t n = 0, nshown = 0;
  int r;

  if ((r = parse_ps(argc, argv, &o)) != 0)
    return r > 0 ? 0 : NOOK_EXIT_ERROR;
  if (image_store_open(g->storage, &s, &err) < 0 || ctr_list(s, &list, &n, &err) < 0)
    return cli_nook_fail(err);
  sts = xcalloc(n + 1, sizeof *sts);
  shown = xcalloc(n + 1, sizeof *shown);
  /* Newest first, as podman. */
  for (size_t i = n; i-- > 0;)
    {
      struct ctr_status st;
      if (ctr_status_get(g, s, list[i]->id, &st, &err) < 0)
        {
          /* Removed meanwhile, or unreadable: the others still count. */
          if (nook_error_code(err) != -ENOENT)
            cli_fail(err);
          else
            nook_error_free(err);
          err = NULL;
          continue;
        }
      if (!o.all && !verbs_state_running(st.state) && st.state != CTR_RESTARTING)
        continue;
      sts[nshown] = st;
      shown[nshown++] = list[i];
    }
  r = ps_print(&o, shown, sts, nshown);
  free(shown);
  ctr_list_free(list, n);
  return r;
}
