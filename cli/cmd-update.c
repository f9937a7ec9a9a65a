/* update: runc's flags, or --resources FILE|- holding a linux.resources object. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/util.h"
#include "runtime/container.h"
#include "runtime/spec.h"

enum
{
  OPT_RESOURCES = 1000,
  OPT_BLKIO_WEIGHT,
  OPT_CPU_PERIOD,
  OPT_CPU_QUOTA,
  OPT_CPU_SHARE,
  OPT_CPU_RT_PERIOD,
  OPT_CPU_RT_RUNTIME,
  OPT_CPUSET_CPUS,
  OPT_CPUSET_MEMS,
  OPT_KERNEL_MEMORY,
  OPT_KERNEL_MEMORY_TCP,
  OPT_MEMORY,
  OPT_MEMORY_RESERVATION,
  OPT_MEMORY_SWAP,
  OPT_PIDS_LIMIT,
  OPT_L3_CACHE,
  OPT_MEM_BW,
  OPT_HELP,
};

static const struct option opts[] = {
  { "resources", required_argument, NULL, OPT_RESOURCES },
  { "r", required_argument, NULL, OPT_RESOURCES },
  { "blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT },
  { "cpu-period", required_argument, NULL, OPT_CPU_PERIOD },
  { "cpu-quota", required_argument, NULL, OPT_CPU_QUOTA },
  { "cpu-share", required_argument, NULL, OPT_CPU_SHARE },
  { "cpu-shares", required_argument, NULL, OPT_CPU_SHARE },
  { "cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD },
  { "cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME },
  { "cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS },
  { "cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS },
  { "kernel-memory", required_argument, NULL, OPT_KERNEL_MEMORY },
  { "kernel-memory-tcp", required_argument, NULL, OPT_KERNEL_MEMORY_TCP },
  { "memory", required_argument, NULL, OPT_MEMORY },
  { "memory-reservation", required_argument, NULL, OPT_MEMORY_RESERVATION },
  { "memory-swap", required_argument, NULL, OPT_MEMORY_SWAP },
  { "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT },
  { "l3-cache-schema", required_argument, NULL, OPT_L3_CACHE },
  { "mem-bw-schema", required_argument, NULL, OPT_MEM_BW },
  { "help", no_argument, NULL, OPT_HELP },
  { "h", no_argument, NULL, OPT_HELP },
  { NULL, 0, NULL, 0 },
};

/* "64m", "1g", "1024", "-1": sizes as runc's units.RAMInBytes (binary multiples). */
static int parse_bytes(const char *s, int64_t *ret)
{
  _cleanup_free_ char *num = xstrdup(s);
  size_t len = strlen(num);
  int64_t mult = 1, v;

  if (len > 1 && (num[len - 1] == 'b' || num[len - 1] == 'B'))
    num[--len] = '\0';
  if (len > 1)
    switch (num[len - 1])
      {
      case 'k': case 'K': mult = 1LL << 10; break;
      case 'm': case 'M': mult = 1LL << 20; break;
      case 'g': case 'G': mult = 1LL << 30; break;
      case 't': case 'T': mult = 1LL << 40; break;
      default: break;
      }
  if (mult != 1)
    num[--len] = '\0';
  if (nook_parse_i64(num, &v) < 0 || (v < 0 && v != -1) || (v > 0 && v > INT64_MAX / mult))
    return -EINVAL;
  *ret = v < 0 ? v : v * mult;
  return 0;
}

/* Reads the --resources file and parses it as linux.resources, so that every field and every
 * error is exactly the config's. */
static int load_resources(const char *path, struct nook_spec **ret, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL;
  _cleanup_free_ char *doc = NULL;
  int r;

  if (streq(path, "-"))
    r = nook_read_fd(STDIN_FILENO, 16 << 20, &text, NULL, err);
  else
    r = nook_read_file_at(AT_FDCWD, path, 16 << 20, &text, NULL, err);
  if (r < 0)
    return nook_error_prefix(err, "--resources");
  doc = xasprintf("{\"ociVersion\":\"1.2.0\",\"linux\":{\"resources\":%s\n}}", text);
  if (nook_spec_parse(doc, strlen(doc), ret, err) < 0)
    {
      /* Make the message name the file, not the wrapper document. */
      const char *m = (*err)->msg;
      const char *p = strstr(m, "linux.resources");
      char *msg = p ? xasprintf("--resources: %s", p) : xasprintf("--resources: %s", m);
      free((*err)->msg);
      (*err)->msg = msg;
      return -1;
    }
  if ((*ret)->linux == NULL || (*ret)->linux->resources == NULL)
    return nook_error_setx(err, EINVAL, "--resources: expected a linux.resources object");
  return 0;
}

#define SET(field, val) ((field).set = true, (field).value = (val))

static int apply_flag(struct nook_resources *r, int opt, const char *arg)
{
  int64_t v = 0;
  uint64_t u = 0;
  bool bytes = opt == OPT_MEMORY || opt == OPT_MEMORY_RESERVATION || opt == OPT_MEMORY_SWAP
               || opt == OPT_KERNEL_MEMORY || opt == OPT_KERNEL_MEMORY_TCP;

  if (opt == OPT_CPUSET_CPUS || opt == OPT_CPUSET_MEMS)
    {
      char **dst = opt == OPT_CPUSET_CPUS ? &r->cpu.cpus : &r->cpu.mems;
      free(*dst);
      *dst = xstrdup(arg);
      return 0;
    }
  if (opt == OPT_L3_CACHE || opt == OPT_MEM_BW)
    return -ENOTSUP;
  if (bytes ? parse_bytes(arg, &v) < 0 : nook_parse_i64(arg, &v) < 0)
    return -EINVAL;
  u = (uint64_t)v;
  switch (opt)
    {
    case OPT_BLKIO_WEIGHT: SET(r->block_io.weight, u); break;
    case OPT_CPU_PERIOD: SET(r->cpu.period, u); break;
    case OPT_CPU_QUOTA: SET(r->cpu.quota, v); break;
    case OPT_CPU_SHARE: SET(r->cpu.shares, u); break;
    case OPT_CPU_RT_PERIOD: SET(r->cpu.realtime_period, u); break;
    case OPT_CPU_RT_RUNTIME: SET(r->cpu.realtime_runtime, v); break;
    case OPT_KERNEL_MEMORY: SET(r->memory.kernel, v); break;
    case OPT_KERNEL_MEMORY_TCP: SET(r->memory.kernel_tcp, v); break;
    case OPT_MEMORY: SET(r->memory.limit, v); break;
    case OPT_MEMORY_RESERVATION: SET(r->memory.reservation, v); break;
    case OPT_MEMORY_SWAP: SET(r->memory.swap, v); break;
    case OPT_PIDS_LIMIT: SET(r->pids.limit, v); break;
    default: return -EINVAL;
    }
  if (v < 0 && opt != OPT_CPU_QUOTA && opt != OPT_PIDS_LIMIT && !bytes)
    return -EINVAL;
  return 0;
}

static void usage(void)
{
  printf("usage: nook oci update [OPTIONS] ID\n\n"
         "Changes the resource limits of a running container.\n\n"
         "  -r, --resources FILE|-    a linux.resources JSON object\n"
         "  --memory BYTES            (k, m, g suffixes; -1 for no limit)\n"
         "  --memory-reservation BYTES, --memory-swap BYTES\n"
         "  --cpu-shares N, --cpu-quota N, --cpu-period N, --cpuset-cpus LIST, --cpuset-mems LIST\n"
         "  --cpu-rt-period N, --cpu-rt-runtime N, --blkio-weight N, --pids-limit N\n");
}

int cmd_update(const struct oci_globals *g, int argc, char **argv)
{
  _cleanup_spec_ struct nook_spec *from_file = NULL;
  struct nook_resources flags = { 0 };
  struct nook_resources *res = &flags;
  struct nook_error *err = NULL;
  const char *file = NULL;
  int c, r = 0;
  struct
  {
    int opt;
    const char *arg;
  } given[32];
  size_t n_given = 0;

  while ((c = cli_getopt(argc, argv, opts, "update")) != -1)
    {
      if (c == OPT_HELP)
        {
          usage();
          return 0;
        }
      if (c == '?')
        return OCI_EXIT_ERROR;
      if (c == OPT_RESOURCES)
        file = optarg;
      else if (n_given < ARRAY_SIZE(given))
        given[n_given++] = (typeof(given[0])){ c, optarg };
    }
  if (cli_want_args(argc, argv, 1, "update", "container id") != 0)
    return OCI_EXIT_ERROR;
  if (file)
    {
      if (load_resources(file, &from_file, &err) < 0)
        return cli_fail(err);
      res = from_file->linux->resources;
    }
  /* Flags win over the file, as in runc. */
  for (size_t i = 0; i < n_given && r == 0; i++)
    {
      r = apply_flag(res, given[i].opt, given[i].arg);
      if (r < 0)
        {
          const char *name = "?";
          for (size_t k = 0; opts[k].name; k++)
            if (opts[k].val == given[i].opt)
              name = opts[k].name;
          r = r == -ENOTSUP ? cli_usage_error("update", "--%s: Intel RDT is not supported", name)
                            : cli_usage_error("update", "--%s: invalid value `%s`", name, given[i].arg);
        }
    }
  if (r == 0 && nook_container_update(g->root, cli_oci_id(g, argv[optind]), res, &err) < 0)
    r = cli_fail(err);
  free(flags.cpu.cpus);
  free(flags.cpu.mems);
  return r;
}
