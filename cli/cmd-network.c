/* network: `nook network create|ls|inspect|rm`, the bridge networks of netns/, kept below
 * --storage (STORAGE/networks: definitions outlive a reboot; leases of containers that are gone
 * are reclaimed).  Creating a network only writes its definition; its bridge and nft rules
 * appear with its first container.  rm acts on the network namespace nook runs in. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run-network.h"
#include "common/util.h"
#include "images/image.h"
#include "netns/netns.h"

static void usage(FILE *f)
{
  fputs("usage: nook [GLOBAL OPTIONS] network COMMAND [OPTIONS] [ARGS]\n"
        "\n"
        "Bridge networks for containers, kept below --storage.\n"
        "\n"
        "  create [--subnet A.B.C.D/P] [--gateway A.B.C.D] [--bridge NAME] NAME\n"
        "  ls [-q] [--format table|json]\n"
        "  inspect NAME...\n"
        "  rm NAME...\n",
        f);
}

/* getopt for a subcommand, stopping at the first argument; '?' after an error. */
static int next_opt(int argc, char **argv, const char *shortopts, const struct option *opts,
                    const char *verb)
{
  int c;

  opterr = 0;
  c = getopt_long(argc, argv, shortopts, opts, NULL);
  if (c == '?' || c == ':')
    {
      cli_nook_usage("network", "%s: %s `%s`", verb,
                     c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
      return '?';
    }
  return c;
}

static int net_create(const char *state, int argc, char **argv)
{
  static const struct option opts[] = {
    { "subnet", required_argument, NULL, 's' },
    { "gateway", required_argument, NULL, 'g' },
    { "bridge", required_argument, NULL, 'b' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_network_opts o = { NULL };
  struct nook_network *net = NULL;
  struct nook_error *err = NULL;
  int c;

  while ((c = next_opt(argc, argv, "+:", opts, "create")) != -1)
    switch (c)
      {
      case 's': o.subnet = optarg; break;
      case 'g': o.gateway = optarg; break;
      case 'b': o.bridge = optarg; break;
      default: return NOOK_EXIT_ERROR;
      }
  if (argc - optind != 1)
    return cli_nook_usage("network", "create: expected one NAME");
  o.name = argv[optind];
  if (network_config_create(state, &o, &net, &err) < 0)
    return cli_nook_fail(err);
  printf("%s\n", net->name);
  network_free(net);
  return 0;
}

static void print_table(struct nook_network **v, size_t n)
{
  char a[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4];
  int w = 8;

  for (size_t i = 0; i < n; i++)
    if ((int)strlen(v[i]->name) + 3 > w)
      w = (int)strlen(v[i]->name) + 3;
  printf("%-*s%-18s%-20s%s\n", w, "NAME", "BRIDGE", "SUBNET", "GATEWAY");
  for (size_t i = 0; i < n; i++)
    {
      inet_ntop(AF_INET, &v[i]->subnet, a, sizeof(a));
      snprintf(cidr, sizeof(cidr), "%s/%u", a, v[i]->prefix);
      printf("%-*s%-18s%-20s%s\n", w, v[i]->name, v[i]->bridge, cidr,
             inet_ntop(AF_INET, &v[i]->gateway, a, sizeof(a)));
    }
}

static int net_ls(const char *state, int argc, char **argv)
{
  static const struct option opts[] = {
    { "quiet", no_argument, NULL, 'q' },
    { "format", required_argument, NULL, 'f' },
    { NULL, 0, NULL, 0 },
  };
  struct nook_network **v = NULL;
  struct nook_error *err = NULL;
  bool quiet = false, json = false;
  size_t n = 0;
  int c;

  while ((c = next_opt(argc, argv, "+:q", opts, "ls")) != -1)
    switch (c)
      {
      case 'q': quiet = true; break;
      case 'f':
        if (!streq(optarg, "table") && !streq(optarg, "json"))
          return cli_nook_usage("network", "ls: --format must be `table` or `json`, not `%s`",
                                optarg);
        json = streq(optarg, "json");
        break;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind != argc)
    return cli_nook_usage("network", "ls: unexpected argument `%s`", argv[optind]);
  if (network_config_list(state, &v, &n, &err) < 0)
    return cli_nook_fail(err);
  if (json)
    {
      putchar('[');
      for (size_t i = 0; i < n; i++)
        {
          _cleanup_free_ char *text = network_config_to_json(v[i], false);
          printf("%s%s", i > 0 ? "," : "", text);
        }
      puts("]");
    }
  else if (quiet)
    for (size_t i = 0; i < n; i++)
      printf("%s\n", v[i]->name);
  else
    print_table(v, n);
  network_list_free(v, n);
  return 0;
}

/* The network and its containers as JSON, or NULL after printing the error. */
static char *inspect_one(const char *state, const char *name)
{
  _cleanup_network_ struct nook_network *net = NULL;
  struct nook_error *err = NULL;
  struct ipam_lease *leases = NULL;
  size_t n = 0;
  char *text;

  if (network_config_load(state, name, &net, &err) < 0
      || ipam_lease_list(state, name, &leases, &n, &err) < 0)
    {
      cli_nook_fail(err);
      return NULL;
    }
  text = network_inspect_json(net, leases, n, true);
  ipam_lease_list_free(leases, n);
  return text;
}

static int net_inspect(const char *state, int argc, char **argv)
{
  int status = 0, printed = 0;

  if (argc < 2)
    return cli_nook_usage("network", "inspect: expected at least one NAME");
  putchar('[');
  for (int i = 1; i < argc; i++)
    {
      _cleanup_free_ char *text = inspect_one(state, argv[i]);
      if (text == NULL)
        status = NOOK_EXIT_ERROR;
      else
        printf("%s%s", printed++ > 0 ? "," : "", text);
    }
  puts("]");
  return status;
}

/* A lease of a container that no longer exists (removed without its network's teardown) does
 * not hold the network: it is detached first (run_network_reap). */
static int net_rm(const struct nook_globals *g, int argc, char **argv)
{
  _cleanup_image_store_ struct image_store *s = NULL;
  int status = 0;

  if (argc < 2)
    return cli_nook_usage("network", "rm: expected at least one NAME");
  {
    struct nook_error *err = NULL;
    if (image_store_open(g->storage, &s, &err) < 0)
      return cli_nook_fail(err);
  }
  for (int i = 1; i < argc; i++)
    {
      struct nook_error *err = NULL;
      if (run_network_reap(g, s, argv[i], NULL, &err) < 0
          || network_config_remove(g->storage, argv[i], &err) < 0)
        status = cli_nook_fail(err);
      else
        printf("%s\n", argv[i]);
    }
  return status;
}

int cmd_network(const struct nook_globals *g, int argc, char **argv)
{
  const char *state = g->storage;

  if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help"))
    {
      usage(argc < 2 ? stderr : stdout);
      return argc < 2 ? NOOK_EXIT_ERROR : 0;
    }
  argc--;
  argv++;
  optind = 0;
  if (streq(argv[0], "create"))
    return net_create(state, argc, argv);
  if (streq(argv[0], "ls") || streq(argv[0], "list"))
    return net_ls(state, argc, argv);
  if (streq(argv[0], "inspect"))
    return net_inspect(state, argc, argv);
  if (streq(argv[0], "rm") || streq(argv[0], "remove"))
    return net_rm(g, argc, argv);
  return cli_nook_usage("network", "unknown command `%s`", argv[0]);
}
