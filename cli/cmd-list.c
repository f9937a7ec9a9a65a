/* list: runc's table (ID PID STATUS BUNDLE CREATED OWNER), -q, or --format json. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "runtime/container.h"

static void print_json(const struct nook_container_info *list, size_t n)
{
  yajl_gen g = nook_json_gen_new(false);
  _cleanup_free_ char *text = NULL;

  yajl_gen_array_open(g);
  for (size_t i = 0; i < n; i++)
    {
      const struct nook_state *st = list[i].state;
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "ociVersion", "1.2.0");
      nook_json_kv_str(g, "id", st->id);
      nook_json_kv_int(g, "pid", list[i].status == NOOK_STATUS_STOPPED ? 0 : st->pid);
      nook_json_kv_str(g, "status", nook_status_to_string(list[i].status));
      nook_json_kv_str(g, "bundle", st->bundle);
      nook_json_kv_str(g, "rootfs", st->rootfs);
      nook_json_kv_str(g, "created", st->created);
      nook_json_kv_str(g, "owner", list[i].owner);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  text = nook_json_gen_finish(g, NULL);
  printf("%s\n", text);
}

/* runc's tabwriter: columns at least 12 wide, 3 spaces of padding. */
static void print_table(const struct nook_container_info *list, size_t n)
{
  int w[5] = { 12, 12, 12, 12, 12 };
  static const char *const head[] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED" };

  for (size_t i = 0; i < n; i++)
    {
      char pid[16];
      const char *col[5] = { list[i].state->id, pid, nook_status_to_string(list[i].status),
                             list[i].state->bundle, list[i].state->created };
      snprintf(pid, sizeof(pid), "%d", list[i].status == NOOK_STATUS_STOPPED ? 0 : list[i].state->pid);
      for (int c = 0; c < 5; c++)
        if ((int)strlen(col[c]) + 3 > w[c])
          w[c] = (int)strlen(col[c]) + 3;
    }
  for (int c = 0; c < 5; c++)
    printf("%-*s", w[c], head[c]);
  printf("OWNER\n");
  for (size_t i = 0; i < n; i++)
    {
      const struct nook_state *st = list[i].state;
      printf("%-*s%-*d%-*s%-*s%-*s%s\n", w[0], st->id, w[1],
             list[i].status == NOOK_STATUS_STOPPED ? 0 : st->pid, w[2],
             nook_status_to_string(list[i].status), w[3], st->bundle, w[4], st->created,
             list[i].owner);
    }
}

int cmd_list(const struct oci_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "quiet", no_argument, NULL, 'q' },
    { "q", no_argument, NULL, 'q' },
    { "format", required_argument, NULL, 'f' },
    { "f", required_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { "h", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_container_info *list = NULL;
  struct nook_error *err = NULL;
  const char *format = "table";
  bool quiet = false;
  size_t n = 0;
  int c;

  while ((c = cli_getopt(argc, argv, opts, "list")) != -1)
    switch (c)
      {
      case 'q': quiet = true; break;
      case 'f':
        if (!streq(optarg, "table") && !streq(optarg, "json"))
          return cli_usage_error("list", "--format must be `table` or `json`, not `%s`", optarg);
        format = optarg;
        break;
      case 'h':
        printf("usage: nook oci list [-q] [--format table|json]\n\nLists the containers.\n");
        return 0;
      default: return OCI_EXIT_ERROR;
      }
  if (cli_want_args(argc, argv, 0, "list", "nothing") != 0)
    return OCI_EXIT_ERROR;
  if (nook_container_list(g->root, &list, &n, &err) < 0)
    return cli_fail(err);
  if (quiet)
    for (size_t i = 0; i < n; i++)
      printf("%s\n", list[i].state->id);
  else if (streq(format, "json"))
    print_json(list, n);
  else
    print_table(list, n);
  nook_container_list_free(list, n);
  return 0;
}
