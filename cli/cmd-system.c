/* `nook system check [--repair] [--format text|json]`: the store checker (images/check.c).
 *
 * Text: one line per problem, "PATH: WHAT", with what --repair did in parentheses; nothing
 * when the store is consistent.  JSON: one object with fixed keys (consistent, problems,
 * checked, unreferenced, resumable).  Exit 0 when nothing is wrong (or everything found was
 * repaired), 1 when a problem remains, 125 when the store cannot be checked. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "images/image.h"

#define CHECK_EXIT_PROBLEMS 1

static bool fixed(const struct image_check_problem *p)
{
  return p->repair && !nook_has_prefix(p->repair, "not ");
}

static void print_json(const struct image_check_report *rep, bool consistent)
{
  yajl_gen g = nook_json_gen_new(true);
  _cleanup_free_ char *text = NULL;

  yajl_gen_map_open(g);
  nook_json_kv_bool(g, "consistent", consistent);
  nook_json_str(g, "problems");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < rep->n_problems; i++)
    {
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "path", rep->problems[i].path);
      nook_json_kv_str(g, "problem", rep->problems[i].message);
      nook_json_str(g, "repair");
      if (rep->problems[i].repair)
        nook_json_str(g, rep->problems[i].repair);
      else
        yajl_gen_null(g);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
  nook_json_str(g, "checked");
  yajl_gen_map_open(g);
  nook_json_kv_int(g, "blobs", (long long)rep->n_blobs);
  nook_json_kv_int(g, "layers", (long long)rep->n_layers);
  nook_json_kv_int(g, "images", (long long)rep->n_images);
  nook_json_kv_int(g, "containers", (long long)rep->n_containers);
  yajl_gen_map_close(g);
  nook_json_kv_int(g, "unreferenced", (long long)rep->n_unreferenced);
  nook_json_kv_int(g, "resumable", (long long)rep->n_resumable);
  yajl_gen_map_close(g);
  text = nook_json_gen_finish(g, NULL);
  printf("%s\n", text);
}

static int system_check(const struct nook_globals *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "repair", no_argument, NULL, 'r' },
    { "format", required_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  struct image_check_report *rep = NULL;
  struct nook_error *err = NULL;
  bool repair = false, json = false, consistent = true;
  int c;

  opterr = 0;
  while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1)
    switch (c)
      {
      case 'r': repair = true; break;
      case 'f':
        if (!streq(optarg, "text") && !streq(optarg, "json"))
          return cli_nook_usage("system check", "--format must be `text` or `json`, not `%s`", optarg);
        json = streq(optarg, "json");
        break;
      case 'h':
        printf("usage: nook system check [--repair] [--format text|json]\n\n"
               "Checks the image store: every blob against its digest, every name's manifest,\n"
               "config and layers, the unpacked layers and the containers' records, and tmp/.\n"
               "Prints one line per problem, naming the path.  --repair removes what is\n"
               "corrupt or left over, unpacks missing layers again and removes the names of\n"
               "images that stay damaged.  Exit 0: consistent; 1: problems remain.\n");
        return 0;
      case ':': return cli_nook_usage("system check", "option `%s` needs a value", argv[optind - 1]);
      default: return cli_nook_usage("system check", "unknown option `%s`", argv[optind - 1]);
      }
  if (optind < argc)
    return cli_nook_usage("system check", "unexpected argument `%s`", argv[optind]);
  if (image_store_open(g->storage, &s, &err) < 0 || image_store_check(s, repair, &rep, &err) < 0)
    return cli_nook_fail(err);
  for (size_t i = 0; i < rep->n_problems; i++)
    consistent = consistent && fixed(&rep->problems[i]);
  if (json)
    print_json(rep, consistent);
  else
    for (size_t i = 0; i < rep->n_problems; i++)
      {
        const struct image_check_problem *p = &rep->problems[i];
        if (p->repair)
          printf("%s: %s (%s)\n", p->path, p->message, p->repair);
        else
          printf("%s: %s\n", p->path, p->message);
      }
  image_check_report_free(rep);
  return consistent ? 0 : CHECK_EXIT_PROBLEMS;
}

static const struct nook_command system_commands[] = {
  { "check", system_check, "check the image store, and repair it" },
};

int cmd_system(const struct nook_globals *g, int argc, char **argv)
{
  return cli_nook_subcommand(g, "system", system_commands, ARRAY_SIZE(system_commands), argc, argv);
}
