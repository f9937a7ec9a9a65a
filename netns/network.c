/* Network definitions: STATE/networks/NAME/config.json, written atomically under flock(2) on
 * STATE/networks (creation, removal and the default network's first use take it, so two
 * nooks never create clashing networks); readers read without a lock.  Also the IPv4 and
 * name helpers the other files of netns/ share. */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "netns/netns-internal.h"

/* ---- shared helpers --------------------------------------------------------------------- */

int ipv4_parse(const char *s, struct in_addr *ret)
{
  struct in_addr a;

  if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
    return -EINVAL;
  *ret = a;
  return 0;
}

int ipv4_parse_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix)
{
  const char *slash = s ? strchr(s, '/') : NULL;
  char ip[INET_ADDRSTRLEN];
  struct in_addr a;
  uint64_t p;

  if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
    return -EINVAL;
  memcpy(ip, s, (size_t)(slash - s));
  ip[slash - s] = '\0';
  if (ipv4_parse(ip, &a) < 0 || nook_parse_u64(slash + 1, &p) < 0 || p > 32)
    return -EINVAL;
  *ret_addr = a;
  *ret_prefix = (unsigned)p;
  return 0;
}

const char *ipv4_format(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
  return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

bool ipv4_in_subnet(struct in_addr a, struct in_addr subnet, unsigned prefix)
{
  uint32_t m = ipv4_mask(prefix);
  return (ntohl(a.s_addr) & m) == (ntohl(subnet.s_addr) & m);
}

char *network_root_path(const char *state_dir)
{
  return xasprintf("%s/networks", state_dir);
}

char *network_dir_path(const char *state_dir, const char *name)
{
  return xasprintf("%s/networks/%s", state_dir, name);
}

static bool name_char_ok(char c, const char *extra)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || (c != '\0' && strchr(extra, c) != NULL);
}

int network_name_validate(const char *name, struct nook_error **err)
{
  size_t len = name ? strlen(name) : 0;

  if (len == 0 || len > 64)
    return nook_error_setx(err, EINVAL, "name: `%s`: must be 1 to 64 characters", name ? name : "");
  if (!name_char_ok(name[0], ""))
    return nook_error_setx(err, EINVAL, "name: `%s`: must start with a letter or a digit", name);
  for (const char *p = name; *p; p++)
    if (!name_char_ok(*p, "_.-"))
      return nook_error_setx(err, EINVAL, "name: `%s`: only [A-Za-z0-9_.-] are allowed", name);
  return 0;
}

int netns_id_validate(const char *id, struct nook_error **err)
{
  size_t len = id ? strlen(id) : 0;

  if (len == 0 || len > 100)
    return nook_error_setx(err, EINVAL, "container id `%.32s`: must be 1 to 100 characters",
                           id ? id : "");
  for (const char *p = id; *p; p++)
    if (!name_char_ok(*p, "_+.-"))
      return nook_error_setx(err, EINVAL, "container id `%s`: only [A-Za-z0-9_+.-] are allowed",
                             id);
  return 0;
}

int netns_lock_dir(const char *path, bool create, int *ret_fd, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;

  if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "create `%s`", path);
  fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", path);
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return nook_error_set(err, errno, "lock `%s`", path);
  *ret_fd = TAKE_FD(fd);
  return 0;
}

/* ---- validation ------------------------------------------------------------------------- */

static int bridge_name_validate(const char *b, struct nook_error **err)
{
  size_t len = strlen(b);

  if (len == 0 || len >= IFNAMSIZ)
    return nook_error_setx(err, EINVAL, "bridge: `%s`: must be 1 to %d characters", b,
                           IFNAMSIZ - 1);
  if (streq(b, ".") || streq(b, "..") || strpbrk(b, "/: \t\n\r\v\f") != NULL)
    return nook_error_setx(err, EINVAL,
                           "bridge: `%s`: not a link name (no `/`, `:` or white space)", b);
  return 0;
}

static int subnet_validate(const char *s, struct in_addr *ret, unsigned *ret_prefix,
                           struct nook_error **err)
{
  char buf[INET_ADDRSTRLEN];
  struct in_addr a, net;
  unsigned p;

  if (ipv4_parse_cidr(s, &a, &p) < 0)
    return nook_error_setx(err, EINVAL, "subnet: `%s`: not an IPv4 subnet like 10.89.0.0/24", s);
  if (p < 8 || p > 30)
    return nook_error_setx(err, EINVAL, "subnet: `%s`: prefix length must be 8 to 30", s);
  net.s_addr = htonl(ntohl(a.s_addr) & ipv4_mask(p));
  if (net.s_addr != a.s_addr)
    return nook_error_setx(err, EINVAL, "subnet: `%s` has host bits set (the subnet is `%s/%u`)", s,
                           ipv4_format(net, buf), p);
  *ret = net;
  *ret_prefix = p;
  return 0;
}

int network_config_validate(const struct nook_network_opts *o, struct nook_network **ret,
                            struct nook_error **err)
{
  _cleanup_network_ struct nook_network *net = xcalloc(1, sizeof(*net));

  if (network_name_validate(o->name, err) < 0)
    return -EINVAL;
  net->name = xstrdup(o->name);
  if (o->subnet && subnet_validate(o->subnet, &net->subnet, &net->prefix, err) < 0)
    return -EINVAL;
  if (o->gateway)
    {
      uint32_t g, n = ntohl(net->subnet.s_addr), bcast = n | ~ipv4_mask(net->prefix);

      if (o->subnet == NULL)
        return nook_error_setx(err, EINVAL, "gateway: `%s`: needs a subnet", o->gateway);
      if (ipv4_parse(o->gateway, &net->gateway) < 0)
        return nook_error_setx(err, EINVAL, "gateway: `%s`: not an IPv4 address", o->gateway);
      g = ntohl(net->gateway.s_addr);
      if (!ipv4_in_subnet(net->gateway, net->subnet, net->prefix) || g == n || g == bcast)
        return nook_error_setx(err, EINVAL, "gateway: `%s` is not a host address of `%s`",
                               o->gateway, o->subnet);
    }
  if (o->bridge)
    {
      if (bridge_name_validate(o->bridge, err) < 0)
        return -EINVAL;
      net->bridge = xstrdup(o->bridge);
    }
  if (ret)
    *ret = TAKE_PTR(net);
  return 0;
}

/* ---- reading and writing ---------------------------------------------------------------- */

void network_free(struct nook_network *net)
{
  if (net == NULL)
    return;
  free(net->name);
  free(net->bridge);
  free(net->created);
  free(net);
}

void network_list_free(struct nook_network **v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    network_free(v[i]);
  free(v);
}

static char *network_json(const struct nook_network *net, bool containers,
                          const struct ipam_lease *leases, size_t n_leases, bool pretty)
{
  yajl_gen g = nook_json_gen_new(pretty);
  char a[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4];

  snprintf(cidr, sizeof(cidr), "%s/%u", ipv4_format(net->subnet, a), net->prefix);
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "name", net->name);
  nook_json_kv_str(g, "driver", "bridge");
  nook_json_kv_str(g, "bridge", net->bridge);
  nook_json_kv_str(g, "subnet", cidr);
  nook_json_kv_str(g, "gateway", ipv4_format(net->gateway, a));
  nook_json_kv_str(g, "created", net->created);
  if (containers)
    {
      nook_json_str(g, "containers");
      yajl_gen_array_open(g);
      for (size_t i = 0; i < n_leases; i++)
        {
          yajl_gen_map_open(g);
          nook_json_kv_str(g, "id", leases[i].id);
          nook_json_kv_str(g, "name", leases[i].name ? leases[i].name : "");
          nook_json_kv_str(g, "address", ipv4_format(leases[i].addr, a));
          yajl_gen_map_close(g);
        }
      yajl_gen_array_close(g);
    }
  yajl_gen_map_close(g);
  return nook_json_gen_finish(g, NULL);
}

char *network_config_to_json(const struct nook_network *net, bool pretty)
{
  return network_json(net, false, NULL, 0, pretty);
}

char *network_inspect_json(const struct nook_network *net, const struct ipam_lease *leases,
                           size_t n_leases, bool pretty)
{
  return network_json(net, true, leases, n_leases, pretty);
}

static int config_parse(const char *path, const char *name, const char *text,
                        struct nook_network **ret, struct nook_error **err)
{
  _cleanup_json_ yajl_val root = NULL;
  _cleanup_network_ struct nook_network *net = NULL;
  struct nook_network_opts o;

  if (nook_json_parse(text, path, &root, err) < 0)
    return -EINVAL;
  o = (struct nook_network_opts){
    .name = nook_json_get_str(root, "name"),
    .subnet = nook_json_get_str(root, "subnet"),
    .gateway = nook_json_get_str(root, "gateway"),
    .bridge = nook_json_get_str(root, "bridge"),
  };
  if (o.name == NULL || o.subnet == NULL || o.gateway == NULL || o.bridge == NULL)
    return nook_error_setx(err, EINVAL, "`%s`: name, subnet, gateway and bridge are required",
                           path);
  if (!streq(o.name, name))
    return nook_error_setx(err, EINVAL, "`%s`: holds network `%s`, not `%s`", path, o.name,
                           name);
  if (network_config_validate(&o, &net, err) < 0)
    return nook_error_prefix(err, "`%s`", path);
  net->created = xstrdup(nook_json_get_str(root, "created") ?: "");
  *ret = TAKE_PTR(net);
  return 0;
}

static int config_read(const char *state_dir, const char *name, struct nook_network **ret,
                       struct nook_error **err)
{
  _cleanup_free_ char *path = xasprintf("%s/networks/%s/config.json", state_dir, name);
  _cleanup_free_ char *text = NULL;
  _cleanup_error_ struct nook_error *e = NULL;
  int r = nook_read_file_at(AT_FDCWD, path, 1 << 16, &text, NULL, &e);

  if (r == -ENOENT)
    return nook_error_setx(err, ENOENT, "network `%s` does not exist", name);
  if (r < 0)
    {
      if (err && *err == NULL)
        *err = TAKE_PTR(e);
      return r;
    }
  return config_parse(path, name, text, ret, err);
}

static int config_write(const char *state_dir, const struct nook_network *net,
                        struct nook_error **err)
{
  _cleanup_free_ char *dir = network_dir_path(state_dir, net->name);
  _cleanup_free_ char *json = network_config_to_json(net, true);
  _cleanup_close_ int dfd = -1;
  size_t len = strlen(json);

  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "create `%s`", dir);
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return nook_error_set(err, errno, "open `%s`", dir);
  json = xrealloc(json, len + 2);
  memcpy(json + len, "\n", 2);
  return nook_write_file_atomic_at(dfd, "config.json", json, len + 1, 0600, err);
}

/* With STATE/networks locked: the default network exists afterwards. */
static int default_ensure_locked(const char *state_dir, struct nook_error **err)
{
  struct nook_network_opts o = { .name = NETWORK_DEFAULT,
                                 .subnet = NETWORK_DEFAULT_SUBNET,
                                 .gateway = "10.88.0.1",
                                 .bridge = NETWORK_DEFAULT_BRIDGE };
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_free_ char *path = xasprintf("%s/networks/%s/config.json", state_dir, NETWORK_DEFAULT);

  if (access(path, F_OK) == 0)
    return 0;
  if (network_config_validate(&o, &net, err) < 0)
    return -EINVAL;
  net->created = nook_time_rfc3339();
  return config_write(state_dir, net, err);
}

/* Locks STATE/networks (made if missing) and makes sure the default network exists. */
static int root_lock(const char *state_dir, int *ret_fd, struct nook_error **err)
{
  _cleanup_free_ char *root = network_root_path(state_dir);
  _cleanup_close_ int fd = -1;

  if (nook_mkdir_p(root, 0700, err) < 0 || netns_lock_dir(root, false, &fd, err) < 0
      || default_ensure_locked(state_dir, err) < 0)
    return -1;
  *ret_fd = TAKE_FD(fd);
  return 0;
}

int network_config_load(const char *state_dir, const char *name, struct nook_network **ret,
                        struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  _cleanup_close_ int lock = -1;
  int r;

  if (network_name_validate(name, err) < 0)
    return -EINVAL;
  r = config_read(state_dir, name, ret, &e);
  if (r == -ENOENT && streq(name, NETWORK_DEFAULT))
    {
      if (root_lock(state_dir, &lock, err) < 0)
        return -1;
      return config_read(state_dir, name, ret, err);
    }
  if (r < 0 && err && *err == NULL)
    *err = TAKE_PTR(e);
  return r;
}

static int cmp_network(const void *a, const void *b)
{
  return strcmp((*(struct nook_network *const *)a)->name, (*(struct nook_network *const *)b)->name);
}

/* Every network, read with STATE/networks locked by the caller or not. */
static int list_read(const char *state_dir, struct nook_network ***ret, size_t *ret_n,
                     struct nook_error **err)
{
  _cleanup_free_ char *root = network_root_path(state_dir);
  _cleanup_closedir_ DIR *d = opendir(root);
  struct nook_network **v = NULL;
  size_t n = 0;
  struct dirent *de;

  if (d == NULL)
    return nook_error_set(err, errno, "open `%s`", root);
  while ((errno = 0, de = readdir(d)) != NULL)
    {
      struct nook_network *net = NULL;
      if (de->d_name[0] == '.')
        continue;
      if (config_read(state_dir, de->d_name, &net, err) < 0)
        {
          network_list_free(v, n);
          return -1;
        }
      v = xrealloc(v, (n + 1) * sizeof(*v));
      v[n++] = net;
    }
  if (errno != 0)
    {
      int e = errno;
      network_list_free(v, n);
      return nook_error_set(err, e, "read `%s`", root);
    }
  if (n > 1)
    qsort(v, n, sizeof(*v), cmp_network);
  *ret = v;
  *ret_n = n;
  return 0;
}

int network_config_list(const char *state_dir, struct nook_network ***ret, size_t *ret_n,
                        struct nook_error **err)
{
  _cleanup_close_ int lock = -1;
  _cleanup_free_ char *path = xasprintf("%s/networks/%s/config.json", state_dir, NETWORK_DEFAULT);

  if (access(path, F_OK) < 0 && root_lock(state_dir, &lock, err) < 0)
    return -1;
  return list_read(state_dir, ret, ret_n, err);
}

/* ---- create ----------------------------------------------------------------------------- */

static bool subnets_overlap(struct in_addr a, unsigned pa, struct in_addr b, unsigned pb)
{
  unsigned p = pa < pb ? pa : pb;
  return ipv4_in_subnet(a, b, p);
}

/* Fills what opts left out, from what the other networks use. */
static int fill_defaults(struct nook_network *net, struct nook_network **v, size_t n,
                         struct nook_error **err)
{
  if (net->prefix == 0)
    {
      unsigned i;
      for (i = 0; i < 256; i++)
        {
          struct in_addr cand = { htonl((10u << 24) | (89u << 16) | (i << 8)) };
          size_t j;
          for (j = 0; j < n && !subnets_overlap(cand, 24, v[j]->subnet, v[j]->prefix); j++)
            ;
          if (j == n)
            {
              net->subnet = cand;
              net->prefix = 24;
              break;
            }
        }
      if (i == 256)
        return nook_error_setx(err, ENOSPC, "subnet: every 10.89.N.0/24 is taken; give one");
    }
  if (net->gateway.s_addr == 0)
    net->gateway.s_addr = htonl(ntohl(net->subnet.s_addr) + 1);
  for (unsigned i = 1; net->bridge == NULL; i++)
    {
      _cleanup_free_ char *b = xasprintf("nook%u", i);
      size_t j;
      for (j = 0; j < n && !streq(v[j]->bridge, b); j++)
        ;
      if (j == n)
        net->bridge = TAKE_PTR(b);
    }
  return 0;
}

static int check_clashes(const struct nook_network *net, struct nook_network **v, size_t n,
                         struct nook_error **err)
{
  char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

  for (size_t i = 0; i < n; i++)
    {
      if (streq(v[i]->name, net->name))
        return nook_error_setx(err, EEXIST, "network `%s` already exists", net->name);
      if (subnets_overlap(net->subnet, net->prefix, v[i]->subnet, v[i]->prefix))
        return nook_error_setx(err, EEXIST, "subnet: `%s/%u` overlaps network `%s` (`%s/%u`)",
                               ipv4_format(net->subnet, a), net->prefix, v[i]->name,
                               ipv4_format(v[i]->subnet, b), v[i]->prefix);
      if (streq(v[i]->bridge, net->bridge))
        return nook_error_setx(err, EEXIST, "bridge: `%s` is the bridge of network `%s`",
                               net->bridge, v[i]->name);
    }
  return 0;
}

int network_config_create(const char *state_dir, const struct nook_network_opts *opts,
                          struct nook_network **ret, struct nook_error **err)
{
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_close_ int lock = -1;
  struct nook_network **v = NULL;
  size_t n = 0;
  int r;

  if (network_config_validate(opts, &net, err) < 0)
    return -EINVAL;
  if (root_lock(state_dir, &lock, err) < 0 || list_read(state_dir, &v, &n, err) < 0)
    return -1;
  r = fill_defaults(net, v, n, err);
  if (r == 0)
    r = check_clashes(net, v, n, err);
  network_list_free(v, n);
  if (r < 0)
    return r;
  net->created = nook_time_rfc3339();
  if (config_write(state_dir, net, err) < 0)
    return -1;
  if (ret)
    *ret = TAKE_PTR(net);
  return 0;
}

/* ---- remove ----------------------------------------------------------------------------- */

int network_config_remove(const char *state_dir, const char *name, struct nook_error **err)
{
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_nl_sock_ struct nl_sock *s = NULL;
  _cleanup_error_ struct nook_error *e = NULL;
  _cleanup_close_ int root_fd = -1, dir_fd = -1;
  _cleanup_free_ char *dir = network_dir_path(state_dir, name);
  struct ipam_lease *leases = NULL;
  size_t n = 0;
  int r;

  if (network_name_validate(name, err) < 0)
    return -EINVAL;
  if (streq(name, NETWORK_DEFAULT))
    return nook_error_setx(err, EPERM, "network `%s` is the default network and cannot be removed",
                           name);
  if (root_lock(state_dir, &root_fd, err) < 0)
    return -1;
  r = config_read(state_dir, name, &net, err);
  if (r < 0)
    return r;
  /* Held until the directory is gone: a container taking a lease meanwhile waits, then finds
   * the network removed (ipam_lease_allocate checks config.json under this lock). */
  if (netns_lock_dir(dir, false, &dir_fd, err) < 0
      || ipam_leases_read(dir_fd, name, &leases, &n, err) < 0)
    return -1;
  if (n > 0)
    {
      r = nook_error_setx(err, EBUSY, "network `%s` is in use by %zu container%s (`%s`%s)", name, n,
                          n == 1 ? "" : "s", leases[0].id, n > 1 ? ", ..." : "");
      ipam_lease_list_free(leases, n);
      return r;
    }
  if (nat_network_remove(name, err) < 0 || nl_sock_open(-1, &s, err) < 0)
    return nook_error_prefix(err, "remove network `%s`", name);
  r = nl_link_del(s, net->bridge, &e);
  if (r < 0 && r != -ENODEV)
    {
      nook_error_prefix(&e, "remove network `%s`", name);
      return netns_error_move(err, &e, r);
    }
  return nook_rm_rf_at(AT_FDCWD, dir, err);
}

/* ---- the bridge ------------------------------------------------------------------------- */

int network_bridge_ensure(struct nl_sock *s, const struct nook_network *net, bool *ret_created,
                          struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  _cleanup_free_ char *key = xasprintf("net/ipv4/conf/%s/route_localnet", net->bridge);
  struct nl_link l = { 0 };
  bool created = false;
  int r = nl_link_get(s, net->bridge, &l, &e);

  if (r == -ENODEV)
    {
      nook_error_freep(&e);
      r = nl_link_add_bridge(s, net->bridge, &e);
      created = r == 0;
      if (r == -EEXIST) /* another nook was quicker */
        {
          nook_error_freep(&e);
          r = nl_link_get(s, net->bridge, &l, &e);
        }
    }
  if (r < 0)
    {
      nook_error_prefix(&e, "network `%s`", net->name);
      return netns_error_move(err, &e, r);
    }
  if (!streq(l.kind, "bridge") && !created)
    return nook_error_setx(err, EEXIST, "network `%s`: link `%s` exists and is not a bridge (%s)",
                           net->name, net->bridge, l.kind[0] ? l.kind : "no kind");
  r = nl_addr_add(s, net->bridge, AF_INET, &net->gateway, net->prefix, &e);
  if (r < 0 && r != -EEXIST)
    {
      nook_error_prefix(&e, "network `%s`", net->name);
      return netns_error_move(err, &e, r);
    }
  if (!(l.flags & IFF_UP) && nl_link_set_up(s, net->bridge, true, err) < 0)
    return nook_error_prefix(err, "network `%s`", net->name);
  if (netns_sysctl_write(-1, key, "1", err) < 0)
    return nook_error_prefix(err, "network `%s`", net->name);
  if (ret_created)
    *ret_created = created;
  return 0;
}
