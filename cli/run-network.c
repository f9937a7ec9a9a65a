/* The network of a container of `nook run`: see cli/run-network.h. */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/run-network.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/util.h"
#include "images/image.h"
#include "netns/netns.h"
#include "runtime/state.h"

/* ROOT/@netns/ID: '@' is never part of a container id (runtime/state.c), so the directory
 * cannot clash with a container's state directory, as ROOT/@names does not. */
#define NETNS_DIR "@netns"
#define CONTAINER_PREFIX "container:"
/* The line above which a container's /etc/hosts is its own, and below which setup and
 * teardown of its peers rewrite it. */
#define HOSTS_MARKER "# nook: the other containers of network "
/* Where the name of a container without a network of its own resolves: lo is 127.0.0.0/8, and
 * 127.0.0.1 stays localhost's alone (Debian does the same for the machine's name). */
#define SELF_LOOPBACK "127.0.1.1"

enum mode
{
  MODE_BRIDGE,
  MODE_NONE,
  MODE_HOST,
  MODE_CONTAINER,
};

const char *run_network_default(void)
{
  return geteuid() == 0 ? NETWORK_DEFAULT : "none";
}

/* The mode of network; *ret_arg: the network's name (bridge) or the container's id. */
static enum mode mode_of(const char *network, const char **ret_arg)
{
  if (network == NULL)
    network = run_network_default();
  *ret_arg = network;
  if (streq(network, "none"))
    return MODE_NONE;
  if (streq(network, "host"))
    return MODE_HOST;
  if (nook_has_prefix(network, CONTAINER_PREFIX))
    {
      *ret_arg = network + strlen(CONTAINER_PREFIX);
      return MODE_CONTAINER;
    }
  if (streq(network, "bridge"))
    *ret_arg = NETWORK_DEFAULT;
  return MODE_BRIDGE;
}

void run_network_done(struct run_network *n)
{
  free(n->netns_path);
  free(n->hostname);
  nook_strv_free(n->file_sources);
  nook_strv_free(n->file_destinations);
  *n = (struct run_network){ .host = false };
}

/* ---- checks --------------------------------------------------------------------------- */

/* A host name as /etc/hosts and the kernel take it (RFC 1123 letters, digits, `-`, `.`). */
static int hostname_check(const char *what, const char *h, struct nook_error **err)
{
  size_t len = strlen(h);

  if (len == 0 || len > 63
      || strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789.-")
             != len
      || h[0] == '-' || h[0] == '.')
    return nook_error_setx(
        err, EINVAL, "%s `%s`: use letters, digits, `-` and `.` (at most 63 characters)", what, h);
  return 0;
}

static bool ip_valid(const char *s)
{
  struct in6_addr a;
  return inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1;
}

/* --add-host NAME:IP (the IP may be IPv6, so the first `:` splits). */
static int add_host_check(const char *spec, struct nook_error **err)
{
  const char *colon = strchr(spec, ':');
  _cleanup_free_ char *name = colon ? xstrndup(spec, (size_t)(colon - spec)) : NULL;

  if (colon == NULL || !ip_valid(colon + 1))
    return nook_error_setx(err, EINVAL, "--add-host `%s`: expected NAME:IP", spec);
  return hostname_check("--add-host: name", name, err);
}

static int parse_ports(char *const *specs, struct nat_port **ret, size_t *ret_n,
                       struct nook_error **err)
{
  size_t n = nook_strv_length(specs);
  _cleanup_free_ struct nat_port *v = n ? xcalloc(n, sizeof(*v)) : NULL;

  for (size_t i = 0; i < n; i++)
    {
      if (nat_port_parse(specs[i], &v[i], err) < 0)
        return -EINVAL;
      for (size_t j = 0; j < i; j++)
        if (v[j].host_port == v[i].host_port && v[j].proto == v[i].proto
            && (v[j].host_ip.s_addr == v[i].host_ip.s_addr || v[j].host_ip.s_addr == INADDR_ANY
                || v[i].host_ip.s_addr == INADDR_ANY))
          return nook_error_setx(err, EINVAL, "publish `%s`: host port %u/%s is published twice",
                                 specs[i], v[i].host_port,
                                 v[i].proto == IPPROTO_UDP ? "udp" : "tcp");
    }
  if (ret)
    *ret = TAKE_PTR(v);
  if (ret_n)
    *ret_n = n;
  return 0;
}

/* The network namespace of the running container id (container:ID): its netns file when it
 * has one, else its init's. */
static int joined_netns(const struct nook_globals *g, const char *id, char **ret,
                        struct nook_error **err)
{
  _cleanup_free_ char *file = xasprintf("%s/" NETNS_DIR "/%s", g->root, id);
  _cleanup_state_ struct nook_state *st = NULL;
  _cleanup_close_ int dfd = -1;
  enum nook_status status;

  if (nook_state_dir_open(g->root, id, false, &dfd, NULL) < 0
      || nook_state_read(dfd, id, &st, NULL) < 0)
    return nook_error_setx(err, ENOENT, "--net container:%.12s: the container is not running", id);
  status = nook_state_status(dfd, st);
  if (status != NOOK_STATUS_RUNNING && status != NOOK_STATUS_PAUSED)
    return nook_error_setx(err, ESRCH, "--net container:%.12s: the container is %s, not running",
                           id, nook_status_to_string(status));
  *ret = access(file, F_OK) == 0 ? TAKE_PTR(file) : xasprintf("/proc/%d/ns/net", (int)st->pid);
  return 0;
}

/* What a mode refuses, named by its flag. */
static int mode_flags_check(enum mode m, const struct run_network_config *cfg,
                            struct nook_error **err)
{
  static const char *const names[] = { "", "none", "host", "container:" };
  const char *refused = NULL;

  if (m != MODE_BRIDGE && cfg->ports && cfg->ports[0])
    refused = "-p/--publish";
  else if ((m == MODE_NONE || m == MODE_CONTAINER) && cfg->dns && cfg->dns[0])
    refused = "--dns";
  else if (m == MODE_CONTAINER && cfg->add_hosts && cfg->add_hosts[0])
    refused = "--add-host";
  else if (m == MODE_CONTAINER && cfg->hostname)
    refused = "--hostname";
  if (refused)
    return nook_error_setx(err, EINVAL, "%s cannot be used with --net %s", refused, names[m]);
  return 0;
}

int run_network_check(const struct nook_globals *g, struct image_store *s,
                      const struct run_network_config *cfg, struct nook_error **err)
{
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_free_ char *path = NULL;
  const char *arg;
  enum mode m = mode_of(cfg->network, &arg);

  if (mode_flags_check(m, cfg, err) < 0)
    return -EINVAL;
  if (cfg->hostname && hostname_check("--hostname", cfg->hostname, err) < 0)
    return -EINVAL;
  for (size_t i = 0; cfg->add_hosts && cfg->add_hosts[i]; i++)
    if (add_host_check(cfg->add_hosts[i], err) < 0)
      return -EINVAL;
  for (size_t i = 0; cfg->dns && cfg->dns[i]; i++)
    if (!ip_valid(cfg->dns[i]))
      return nook_error_setx(err, EINVAL, "--dns `%s`: not an IP address", cfg->dns[i]);
  if (m == MODE_CONTAINER)
    {
      if (!*arg)
        return nook_error_setx(err, EINVAL, "--net container:NAME: the name is missing");
      return joined_netns(g, arg, &path, err);
    }
  if (m != MODE_BRIDGE)
    return 0;
  if (parse_ports(cfg->ports, NULL, NULL, err) < 0)
    return -EINVAL;
  if (network_config_load(s->path, arg, &net, err) < 0)
    return nook_error_prefix(err, "--net `%s`", cfg->network ? cfg->network : arg);
  return 0;
}

/* ---- files ---------------------------------------------------------------------------- */

/* Writes text over the file fd in place (the bind mount of a running container shows this
 * inode; a rename would leave it the old file), old_len bytes long before.  No truncation to
 * zero (ext4 flushes a file rewritten that way on close: auto_da_alloc), and none at all when
 * the file does not shrink (on ext4 a truncate waits on the journal, a write does not). */
static int write_in_place(int fd, const char *name, const char *text, size_t old_len,
                          struct nook_error **err)
{
  size_t len = strlen(text);

  if (pwrite(fd, text, len, 0) != (ssize_t)len || (len < old_len && ftruncate(fd, (off_t)len) < 0))
    return nook_error_set(err, errno, "write `%s`", name);
  return 0;
}

static int write_file(int dirfd, const char *name, const char *text, struct nook_error **err)
{
  _cleanup_close_ int fd =
      openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);

  struct stat st;

  if (fd < 0 || fstat(fd, &st) < 0 || ((st.st_mode & 07777) != 0644 && fchmod(fd, 0644) < 0))
    return nook_error_set(err, errno, "create `%s`", name);
  return write_in_place(fd, name, text, (size_t)st.st_size, err);
}

/* "HOSTNAME NAME", or HOSTNAME alone when the name is the same or there is none. */
static char *self_names(const char *hostname, const char *name)
{
  if (name == NULL || streq(name, hostname))
    return xstrdup(hostname);
  return xasprintf("%s %s", hostname, name);
}

static void add_hosts_print(FILE *f, char *const *add_hosts)
{
  for (size_t i = 0; add_hosts && add_hosts[i]; i++)
    {
      const char *colon = strchr(add_hosts[i], ':');
      fprintf(f, "%s\t%.*s\n", colon + 1, (int)(colon - add_hosts[i]), add_hosts[i]);
    }
}

/* The lines for the peers of `self` on a network: every other lease with a name. */
static void peers_print(FILE *f, const struct ipam_lease *v, size_t n, const char *self)
{
  char a[INET_ADDRSTRLEN];

  for (size_t i = 0; i < n; i++)
    if (v[i].name && !streq(v[i].id, self))
      fprintf(f, "%s\t%s\n", inet_ntop(AF_INET, &v[i].addr, a, sizeof(a)), v[i].name);
}

/* A hosts pass (under the network's lease lock): the container's own hosts file when self_id
 * is set, and the part below the marker of every peer's. */
struct hosts_pass
{
  int containers_fd; /* STORAGE/containers */
  const char *network;
  const char *self_id; /* NULL: only the peers (teardown) */
  const char *names;   /* self's "HOSTNAME NAME" */
  char *const *add_hosts;
};

static int hosts_self(const struct hosts_pass *p, const struct ipam_lease *v, size_t n,
                      struct in_addr addr, struct nook_error **err)
{
  _cleanup_free_ char *head = netns_hosts_format(p->names, addr, p->self_id, NULL, 0);
  _cleanup_free_ char *text = NULL, *file = xasprintf("%s/hosts", p->self_id);
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  if (f == NULL)
    return nook_error_set(err, errno, "open_memstream");
  fputs(head, f);
  add_hosts_print(f, p->add_hosts);
  fprintf(f, HOSTS_MARKER "`%s`\n", p->network);
  peers_print(f, v, n, p->self_id);
  if (fclose(f) != 0)
    return nook_error_set(err, errno, "hosts");
  return write_file(p->containers_fd, file, text, err);
}

/* Rewrites what is below the marker of id's hosts file; a file that is gone or has no marker
 * (the container's own business) is left alone. */
static int hosts_peer(const struct hosts_pass *p, const struct ipam_lease *v, size_t n,
                      const char *id, struct nook_error **err)
{
  _cleanup_free_ char *file = xasprintf("%s/hosts", id), *old = NULL, *text = NULL;
  _cleanup_close_ int fd = openat(p->containers_fd, file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  size_t len = 0, old_len = 0;
  char *mark;
  FILE *f;

  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0 || nook_read_fd(fd, 1 << 20, &old, &old_len, err) < 0)
    return nook_error_set(err, errno, "open `%s`", file);
  mark = strstr(old, "\n" HOSTS_MARKER);
  if (mark == NULL || (mark = strchr(mark + 1, '\n')) == NULL)
    return 0;
  f = open_memstream(&text, &len);
  if (f == NULL)
    return nook_error_set(err, errno, "open_memstream");
  fwrite(old, 1, (size_t)(mark + 1 - old), f);
  peers_print(f, v, n, id);
  if (fclose(f) != 0)
    return nook_error_set(err, errno, "hosts");
  if (streq(text, old)) /* a peer without a name came or went */
    return 0;
  return write_in_place(fd, file, text, old_len, err);
}

static int hosts_pass_run(const struct ipam_lease *v, size_t n, void *data, struct nook_error **err)
{
  const struct hosts_pass *p = data;
  bool self_done = p->self_id == NULL;

  for (size_t i = 0; i < n; i++)
    {
      _cleanup_error_ struct nook_error *e = NULL;
      if (streq(v[i].id, p->self_id))
        {
          if (hosts_self(p, v, n, v[i].addr, err) < 0)
            return -1;
          self_done = true;
        }
      else if (hosts_peer(p, v, n, v[i].id, &e) < 0) /* theirs: not worth failing for */
        nook_warn("/etc/hosts of container %.12s: %s", v[i].id, e->msg);
    }
  if (!self_done)
    return nook_error_setx(err, ENOENT, "network `%s`: container %.12s holds no lease", p->network,
                           p->self_id);
  return 0;
}

static int hosts_pass(struct image_store *s, const char *network, const char *self_id,
                      const char *names, char *const *add_hosts, struct nook_error **err)
{
  _cleanup_close_ int cfd = openat(s->dirfd, "containers", O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct hosts_pass p = { cfd, network, self_id, names, add_hosts };

  if (cfd < 0)
    return nook_error_set(err, errno, "open `%s/containers`", s->path);
  return ipam_lease_locked(s->path, network, hosts_pass_run, &p, err);
}

/* resolv.conf: text without its nameserver lines (and nook's comment about them), then one
 * per --dns. */
static char *resolv_with_dns(const char *text, char *const *dns)
{
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);

  if (f == NULL)
    abort(); /* only for lack of memory */
  for (const char *line = text; line && *line;)
    {
      const char *end = strchrnul(line, '\n');
      const char *p = line + strspn(line, " \t");
      if (!nook_has_prefix(p, "nameserver") && !nook_has_prefix(p, "# nook:")
          && !nook_has_prefix(p, "# and IPv6"))
        fprintf(f, "%.*s\n", (int)(end - line), line);
      line = *end ? end + 1 : end;
    }
  for (size_t i = 0; dns && dns[i]; i++)
    fprintf(f, "nameserver %s\n", dns[i]);
  if (fclose(f) != 0)
    abort();
  return out;
}

static int resolv_conf_text(enum mode m, char *const *dns, char **ret, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  _cleanup_free_ char *text = NULL;
  int r;

  if (m == MODE_BRIDGE)
    r = netns_resolv_conf_render(NULL, &text, &e);
  else /* the host's network: its resolvers, loopback ones included, are reachable as they are */
    r = nook_read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &text, NULL, &e);
  if (r == -ENOENT)
    text = xstrdup("");
  else if (r < 0)
    {
      if (err && *err == NULL)
        *err = TAKE_PTR(e);
      return r;
    }
  *ret = dns && dns[0] ? resolv_with_dns(text, dns) : TAKE_PTR(text);
  return 0;
}

/* ---- the network namespace file ------------------------------------------------------- */

static char *netns_file(const struct nook_globals *g, const char *id)
{
  return xasprintf("%s/" NETNS_DIR "/%s", g->root, id);
}

/* A new network namespace, bound on ROOT/@netns/ID: the calling thread unshare(2)s into it,
 * bind-mounts its own /proc/thread-self/ns/net there and setns(2)es back (two system calls
 * where a helper process would cost a fork; as in netns/, if the way back fails the process
 * aborts rather than go on in the wrong network).  The mount lives in nook's mount namespace
 * and, like any mount, propagates as its parent does. */
static int netns_file_create(const struct nook_globals *g, const char *id, char **ret,
                             struct nook_error **err)
{
  _cleanup_free_ char *dir = xasprintf("%s/" NETNS_DIR, g->root), *path = netns_file(g, id);
  _cleanup_close_ int self = -1, fd = -1;
  int r, e;

  /* a teardown may remove the (empty) directory between the mkdir and the create */
  for (int i = 0; fd < 0 && i < 5; i++)
    {
      if (nook_mkdir_p(dir, 0700, err) < 0)
        return -1;
      fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
      if (fd < 0 && errno != ENOENT)
        return nook_error_set(err, errno, "create `%s`", path);
    }
  if (fd < 0)
    return nook_error_set(err, ENOENT, "create `%s`", path);
  self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0 || unshare(CLONE_NEWNET) < 0)
    {
      e = errno;
      unlink(path);
      return nook_error_set(err, e, "new network namespace");
    }
  r = mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL);
  e = errno;
  if (setns(self, CLONE_NEWNET) < 0)
    abort();
  if (r < 0)
    {
      unlink(path);
      return nook_error_set(err, e, "bind-mount the network namespace on `%s`", path);
    }
  *ret = TAKE_PTR(path);
  return 0;
}

/* Unmounts (every mount stacked on it, should a crash have left two) and removes the file;
 * removes ROOT/@netns too when it is empty. */
static int netns_file_remove(const struct nook_globals *g, const char *id, struct nook_error **err)
{
  _cleanup_free_ char *path = netns_file(g, id), *dir = xasprintf("%s/" NETNS_DIR, g->root);

  for (int i = 0; i < 8 && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
    ;
  if (errno != EINVAL && errno != ENOENT)
    return nook_error_set(err, errno, "unmount `%s`", path);
  if (unlink(path) < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "remove `%s`", path);
  rmdir(dir); /* ENOTEMPTY while other containers have one */
  return 0;
}

/* ---- setup ------------------------------------------------------------------------------ */

static bool container_alive(const char *id, void *data)
{
  struct image_store *s = data;
  _cleanup_free_ char *dir = xasprintf("containers/%s", id);

  return faccessat(s->dirfd, dir, F_OK, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

static void file_add(struct run_network *n, struct image_store *s, const char *id, const char *name,
                     const char *dest)
{
  _cleanup_free_ char *src = xasprintf("%s/containers/%s/%s", s->path, id, name);

  nook_strv_push(&n->file_sources, src);
  nook_strv_push(&n->file_destinations, dest);
}

static char *host_hostname(void)
{
  char h[256] = "";

  if (gethostname(h, sizeof(h) - 1) < 0 || !*h)
    return xstrdup("localhost");
  return xstrdup(h);
}

/* A network namespace of its own on a bridge network: the file, attach, the hosts files. */
static int setup_bridge(const struct nook_globals *g, struct image_store *s,
                        const struct run_network_config *cfg, const char *network,
                        struct run_network *n, struct nook_error **err)
{
  _cleanup_free_ char *names = self_names(n->hostname, cfg->name);
  _cleanup_free_ struct nat_port *ports = NULL;
  _cleanup_close_ int nsfd = -1;
  struct netns_attachment a;
  size_t n_ports = 0;

  if (parse_ports(cfg->ports, &ports, &n_ports, err) < 0)
    return -1;
  if (netns_file_create(g, cfg->id, &n->netns_path, err) < 0)
    return -1;
  nsfd = open(n->netns_path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0)
    return nook_error_set(err, errno, "open `%s`", n->netns_path);
  struct netns_attach_config ac = {
    .state_dir = s->path,
    .id = cfg->id,
    .name = cfg->name,
    .network = network,
    .netns_fd = nsfd,
    .ports = ports,
    .n_ports = n_ports,
    .alive = container_alive,
    .alive_data = s,
  };
  if (netns_container_attach(&ac, &a, err) < 0)
    return -1;
  return hosts_pass(s, network, cfg->id, names, cfg->add_hosts, err);
}

/* /etc/hosts of a container without a network of its own (none, host): localhost, or the
 * host's file, then its names at 127.0.1.1 and --add-host. */
static int hosts_local(int dfd, enum mode m, const char *names, char *const *add_hosts,
                       struct nook_error **err)
{
  _cleanup_free_ char *base = NULL, *text = NULL;
  struct in_addr self;
  size_t len = 0;
  FILE *f;

  inet_pton(AF_INET, SELF_LOOPBACK, &self);
  if (m == MODE_HOST && nook_read_file_at(AT_FDCWD, "/etc/hosts", 1 << 20, &base, NULL, NULL) == 0)
    {
      f = open_memstream(&text, &len);
      if (f == NULL)
        return nook_error_set(err, errno, "open_memstream");
      fprintf(f, "%s%s" SELF_LOOPBACK "\t%s\n", base,
              *base && base[strlen(base) - 1] != '\n' ? "\n" : "", names);
    }
  else
    {
      _cleanup_free_ char *head = netns_hosts_format(names, self, "", NULL, 0);
      f = open_memstream(&text, &len);
      if (f == NULL)
        return nook_error_set(err, errno, "open_memstream");
      fputs(head, f);
    }
  add_hosts_print(f, add_hosts);
  if (fclose(f) != 0)
    return nook_error_set(err, errno, "hosts");
  return write_file(dfd, "hosts", text, err);
}

/* container:ID: its network namespace, and its hosts, hostname and resolv.conf. */
static int setup_joined(const struct nook_globals *g, struct image_store *s, const char *id,
                        struct run_network *n, struct nook_error **err)
{
  static const char *const files[][2] = { { "hosts", "/etc/hosts" },
                                          { "hostname", "/etc/hostname" },
                                          { "resolv.conf", "/etc/resolv.conf" } };
  _cleanup_free_ char *hostname = NULL, *file = xasprintf("containers/%s/hostname", id);

  if (joined_netns(g, id, &n->netns_path, err) < 0)
    return -1;
  if (nook_read_file_at(s->dirfd, file, 4096, &hostname, NULL, NULL) == 0)
    hostname[strcspn(hostname, "\n")] = '\0';
  n->hostname = hostname && *hostname ? TAKE_PTR(hostname) : xstrndup(id, 12);
  for (size_t i = 0; i < ARRAY_SIZE(files); i++)
    {
      _cleanup_free_ char *rel = xasprintf("containers/%s/%s", id, files[i][0]);
      if (faccessat(s->dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        file_add(n, s, id, files[i][0], files[i][1]);
    }
  return 0;
}

/* A network of its own (bridge, none, host): the files in the container's directory. */
static int setup_own(const struct nook_globals *g, struct image_store *s,
                     const struct run_network_config *cfg, enum mode m, const char *network,
                     struct run_network *n, struct nook_error **err)
{
  _cleanup_free_ char *dir = xasprintf("containers/%s", cfg->id), *names = NULL;
  _cleanup_free_ char *hostname = NULL, *resolv = NULL;
  _cleanup_close_ int dfd = openat(s->dirfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

  if (dfd < 0)
    return nook_error_set(err, errno, "open `%s/%s`", s->path, dir);
  n->host = m == MODE_HOST;
  n->hostname = cfg->hostname    ? xstrdup(cfg->hostname)
                : m == MODE_HOST ? host_hostname()
                                 : xstrndup(cfg->id, 12);
  names = self_names(n->hostname, cfg->name);
  hostname = xasprintf("%s\n", n->hostname);
  if ((m == MODE_BRIDGE ? setup_bridge(g, s, cfg, network, n, err)
                        : hosts_local(dfd, m, names, cfg->add_hosts, err))
          < 0
      || write_file(dfd, "hostname", hostname, err) < 0)
    return -1;
  file_add(n, s, cfg->id, "hosts", "/etc/hosts");
  file_add(n, s, cfg->id, "hostname", "/etc/hostname");
  if (m == MODE_NONE)
    return 0;
  if (resolv_conf_text(m, cfg->dns, &resolv, err) < 0
      || write_file(dfd, "resolv.conf", resolv, err) < 0)
    return -1;
  file_add(n, s, cfg->id, "resolv.conf", "/etc/resolv.conf");
  return 0;
}

int run_network_setup(const struct nook_globals *g, struct image_store *s,
                      const struct run_network_config *cfg, struct run_network *ret,
                      struct nook_error **err)
{
  _cleanup_free_ char *leftover = netns_file(g, cfg->id);
  struct run_network n = { .host = false };
  const char *arg;
  enum mode m = mode_of(cfg->network, &arg);
  int r;

  if (run_network_check(g, s, cfg, err) < 0)
    return -1;
  /* what a crash left of an earlier run of this container */
  if (access(leftover, F_OK) == 0 && run_network_teardown(g, s, cfg->id, NULL, err) < 0)
    return -1;
  if (m == MODE_CONTAINER)
    r = setup_joined(g, s, arg, &n, err);
  else
    r = setup_own(g, s, cfg, m, arg, &n, err);
  if (r < 0)
    {
      if (m == MODE_BRIDGE)
        run_network_teardown(g, s, cfg->id, arg, NULL);
      run_network_done(&n);
      return -1;
    }
  NOOK_FAULT_POINT("after-network-setup");
  *ret = n;
  return 0;
}

/* ---- teardown --------------------------------------------------------------------------- */

static bool has_lease(struct image_store *s, const char *network, const char *id)
{
  struct ipam_lease *v = NULL;
  size_t n = 0;
  bool found = false;

  if (ipam_lease_list(s->path, network, &v, &n, NULL) < 0)
    return false;
  for (size_t i = 0; i < n && !found; i++)
    found = streq(v[i].id, id);
  ipam_lease_list_free(v, n);
  return found;
}

/* The network in which id holds a lease, or NULL: network when given, else every one in
 * STORAGE/networks (read from the files alone: nothing is created, no netlink). */
static char *lease_find(struct image_store *s, const char *network, const char *id)
{
  _cleanup_close_ int fd = -1;
  _cleanup_(nook_closedirp) DIR *d = NULL;
  struct dirent *de;

  if (network)
    return has_lease(s, network, id) ? xstrdup(network) : NULL;
  fd = openat(s->dirfd, "networks", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir(fd)) == NULL)
    return NULL;
  fd = -1;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.' && has_lease(s, de->d_name, id))
      return xstrdup(de->d_name);
  return NULL;
}

/* The id by which the host knows the namespace bound on id's file, or -1 (no file, not a
 * namespace, an old kernel): see netns_container_detach(). */
static int netns_file_nsid(const struct nook_globals *g, const char *id)
{
  _cleanup_free_ char *path = netns_file(g, id);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  _cleanup_nl_sock_ struct nl_sock *s = NULL;
  int nsid = -1;

  if (fd >= 0 && nl_sock_open(-1, &s, NULL) == 0 && nl_netns_id(s, fd, &nsid, NULL) < 0)
    nsid = -1;
  return nsid;
}

int run_network_teardown(const struct nook_globals *g, struct image_store *s, const char *id,
                         const char *network, struct nook_error **err)
{
  _cleanup_free_ char *found = NULL;
  const char *arg = NULL;
  int r, nsid = -1;

  if (network == NULL || mode_of(network, &arg) == MODE_BRIDGE)
    found = lease_find(s, arg, id);
  if (found)
    nsid = netns_file_nsid(g, id);
  /* nook's reference goes first: with the container's processes gone, the namespace dies with
   * it and the kernel removes the veth pair in the background (netns_container_detach()) */
  r = netns_file_remove(g, id, err);
  if (found)
    {
      _cleanup_error_ struct nook_error *e = NULL;
      if (netns_container_detach(s->path, found, id, nsid, r < 0 ? NULL : err) < 0)
        r = -1;
      else if (hosts_pass(s, found, NULL, NULL, NULL, &e) < 0 && e->errnum != ENOENT)
        nook_warn("/etc/hosts of the containers of network `%s`: %s", found, e->msg);
    }
  return r;
}

int run_network_reap(const struct nook_globals *g, struct image_store *s, const char *network,
                     size_t *ret_n, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  struct ipam_lease *v = NULL;
  size_t n = 0, reaped = 0;
  int r = ipam_lease_list(s->path, network, &v, &n, &e);

  if (r == -ENOENT || r == -EINVAL) /* for the caller to report */
    r = 0;
  else if (r < 0)
    {
      if (err && *err == NULL)
        *err = TAKE_PTR(e);
      return r;
    }
  for (size_t i = 0; i < n && r >= 0; i++)
    if (!container_alive(v[i].id, s))
      {
        r = run_network_teardown(g, s, v[i].id, network, err);
        reaped++;
      }
  ipam_lease_list_free(v, n);
  if (r < 0)
    return r;
  if (ret_n)
    *ret_n = reaped;
  return 0;
}
