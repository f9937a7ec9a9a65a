/* One container on one network: attach, detach, and the text of its /etc/hosts and
 * /etc/resolv.conf.  Attach costs a handful of netlink round trips: see
 * tests/bench/bench-netns.c and docs/benchmarks.md. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <net/route.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "netns/netns-internal.h"

#define CTR_IF "eth0"

void netns_veth_name(const char *id, char ret[IFNAMSIZ])
{
  uint8_t d[SHA256_DIGEST_SIZE];
  struct sha256_ctx c;

  sha256_init(&c);
  sha256_update(&c, strlen(id), (const uint8_t *)id);
  sha256_digest(&c, sizeof(d), d);
  snprintf(ret, IFNAMSIZ, "nk%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2], d[3], d[4], d[5]);
}

void netns_mac_from_ipv4(struct in_addr addr, uint8_t ret[6])
{
  ret[0] = 0x02; /* locally administered, unicast */
  ret[1] = 0x42;
  memcpy(ret + 2, &addr.s_addr, 4);
}

/* ip_forward is needed for the containers' traffic to leave the host (and for published ports
 * reached from other machines); it is turned on once, by the first container, and said so. */
static int ip_forward_ensure(const char *network, bool *ret_enabled, struct nook_error **err)
{
  _cleanup_free_ char *v = NULL;

  *ret_enabled = false;
  if (netns_sysctl_read(-1, "net/ipv4/ip_forward", &v, err) < 0)
    return -1;
  if (streq(v, "1"))
    return 0;
  if (netns_sysctl_write(-1, "net/ipv4/ip_forward", "1", err) < 0)
    return -1;
  nook_log(NOOK_LOG_INFO,
           "enabled net.ipv4.ip_forward: network `%s` routes its containers' traffic", network);
  *ret_enabled = true;
  return 0;
}

/* How long veth_release() gives a namespace to be seen dying, and how often it asks.  After its
 * last reference went, the network stack may hold it a little longer in deferred work: with an
 * IPv4 address up in it, in a few percent of cases, for about 0.1 ms (an RCU callback after a
 * grace period), a few ms on a loaded machine. */
#define DYING_WAIT_US 5000
#define DYING_POLL_US 100

/* Whether the namespace known as nsid is dying (see DYING_WAIT_US); an error asking counts as
 * alive: deleting the veth is always right, only slower. */
static bool netns_dying(struct nl_sock *s, int nsid)
{
  for (int waited = 0;; waited += DYING_POLL_US)
    {
      int r = nl_netns_alive(s, nsid, NULL);
      if (r == 0)
        return true;
      if (r < 0 || waited >= DYING_WAIT_US)
        return false;
      usleep(DYING_POLL_US);
    }
}

/* Deletes the host end `name` of a veth unless the namespace of its peer is dying (no
 * reference left), in which case the kernel's cleanup of that namespace takes the pair, a few
 * ms later, without holding the caller up.  nsid: the peer's namespace as the caller's
 * namespace knows it, or < 0 to ask the link.  Returns 0 when the link is gone or going. */
static int veth_release(struct nl_sock *s, const char *name, int nsid, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  struct nl_link l;
  int r;

  if (nsid < 0)
    {
      r = nl_link_get(s, name, &l, &e);
      if (r == -ENODEV)
        return 0;
      if (r < 0)
        return netns_error_move(err, &e, r);
      nsid = l.link_netnsid;
    }
  if (nsid >= 0 && netns_dying(s, nsid))
    {
      nook_debug("veth `%s`: its namespace is dying, the kernel removes it", name);
      return 0;
    }
  r = nl_link_del(s, name, &e);
  return r == -ENODEV ? 0 : netns_error_move(err, &e, r);
}

/* nl_link_add_veth(), and once more when the host end's name is taken by the veth of an
 * earlier attach of the same id whose namespace is being torn down (detach leaves that to the
 * kernel, so a container set up again at once can meet it): it is deleted first.  A host end
 * whose peer is in netns_fd itself is this container attached already, and stays; so does a
 * link of that name that is no veth (not nook's). */
static int add_veth(struct nl_sock *host, const struct nl_veth *v, int netns_fd,
                    struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  struct nl_link l;
  int r = nl_link_add_veth(host, v, &e), nsid;

  if (r != -EEXIST || nl_link_get(host, v->name, &l, NULL) < 0 || !streq(l.kind, "veth")
      || nl_netns_id(host, netns_fd, &nsid, NULL) < 0 || l.link_netnsid == nsid)
    return netns_error_move(err, &e, r);
  nook_debug("veth `%s` of an earlier attach still exists: deleting it", v->name);
  r = nl_link_del(host, v->name, NULL);
  if (r < 0 && r != -ENODEV)
    return netns_error_move(err, &e, -EEXIST);
  return nl_link_add_veth(host, v, err);
}

/* ---- the container's side ------------------------------------------------------------- */

static void sin_set(struct sockaddr *sa, in_addr_t a)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = a };
  memcpy(sa, &sin, sizeof(sin));
}

/* ioctl(fd, req) on link `name` with an IPv4 address (SIOCSIF*ADDR, SIOCSIFNETMASK). */
static int if_set_addr(int fd, unsigned long req, const char *name, in_addr_t a)
{
  struct ifreq ifr = { .ifr_flags = 0 };

  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  sin_set(&ifr.ifr_addr, a);
  return ioctl(fd, req, &ifr);
}

static int if_up(int fd, const char *name)
{
  struct ifreq ifr = { .ifr_flags = 0 };

  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    return -1;
  ifr.ifr_flags |= IFF_UP;
  return ioctl(fd, SIOCSIFFLAGS, &ifr);
}

/* The container's side of the veth: eth0's address (with the subnet's broadcast address), eth0
 * up, the default route via the gateway, lo up.  Done with ioctl(2)s on an AF_INET datagram
 * socket made in the container's namespace, not over rtnetlink: a netlink socket holds its
 * namespace until an RCU grace period after it is closed (10 to 30 ms on a loaded machine),
 * so a container that ends sooner would still find its namespace alive at teardown and pay for
 * deleting the veth synchronously (netns_container_detach()); an inet socket that was never
 * bound lets go of it at close. */
static int ctr_side(int netns_fd, const struct nook_network *net, struct in_addr addr,
                    struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  in_addr_t mask = htonl(ipv4_mask(net->prefix));
  struct rtentry rt = { .rt_flags = RTF_UP | RTF_GATEWAY, .rt_dev = (char *)CTR_IF };
  char a[INET_ADDRSTRLEN];
  int saved, e;

  if (netns_enter(netns_fd, &saved, err) < 0)
    return -1;
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  e = errno;
  netns_leave(saved);
  if (fd < 0)
    return nook_error_set(err, e, "container: socket");
  if (if_set_addr(fd, SIOCSIFADDR, CTR_IF, addr.s_addr) < 0
      || if_set_addr(fd, SIOCSIFNETMASK, CTR_IF, mask) < 0
      || if_set_addr(fd, SIOCSIFBRDADDR, CTR_IF, addr.s_addr | ~mask) < 0)
    return nook_error_set(err, errno, "container: add address `%s/%u` to `" CTR_IF "`",
                          ipv4_format(addr, a), net->prefix);
  if (if_up(fd, CTR_IF) < 0)
    return nook_error_set(err, errno, "container: set `" CTR_IF "` up");
  sin_set(&rt.rt_dst, INADDR_ANY);
  sin_set(&rt.rt_genmask, INADDR_ANY);
  sin_set(&rt.rt_gateway, net->gateway.s_addr);
  if (ioctl(fd, SIOCADDRT, &rt) < 0)
    return nook_error_set(err, errno, "container: add default route via `%s` on `" CTR_IF "`",
                          ipv4_format(net->gateway, a));
  if (if_up(fd, "lo") < 0)
    return nook_error_set(err, errno, "container: set `lo` up");
  return 0;
}

/* ---- attach ----------------------------------------------------------------------------- */

/* What attach_links() did, for the undo. */
enum
{
  DONE_VETH = 1 << 0,
  DONE_NAT = 1 << 1,
};

/* Everything after the lease: the veth pair, the container's side, the rules. */
static int attach_links(const struct netns_attach_config *cfg, const struct nook_network *net,
                        struct nl_sock *host, bool fresh, struct netns_attachment *a,
                        unsigned *done, struct nook_error **err)
{
  struct nl_veth v = { .name = a->host_if,
                       .peer = CTR_IF,
                       .peer_netns_fd = cfg->netns_fd,
                       .peer_mac = a->mac,
                       .master = net->bridge,
                       .up = true };

  if (add_veth(host, &v, cfg->netns_fd, err) < 0)
    return -1;
  *done |= DONE_VETH;
  if (nl_bridge_port_set_hairpin(host, a->host_if, true, err) < 0
      || ctr_side(cfg->netns_fd, net, a->addr, err) < 0
      || (fresh ? nat_container_add_new(net, cfg->id, a->addr, cfg->ports, cfg->n_ports, err)
                : nat_container_add(net, cfg->id, a->addr, cfg->ports, cfg->n_ports, err))
             < 0)
    return -1;
  *done |= DONE_NAT;
  return ip_forward_ensure(net->name, &a->ip_forward_enabled, err);
}

static int allocate(const struct netns_attach_config *cfg, const struct nook_network *net,
                    struct in_addr *ret, bool *ret_new, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  size_t n = 0;
  int r = ipam_lease_allocate(cfg->state_dir, net, cfg->id, cfg->name, ret, ret_new, &e);

  if (r != -ENOSPC || cfg->alive == NULL)
    return netns_error_move(err, &e, r);
  /* full: leases of containers that are gone (a crash) may be what fills it */
  if (ipam_lease_reclaim(cfg->state_dir, net->name, cfg->alive, cfg->alive_data, &n, err) < 0)
    return -1;
  if (n == 0)
    return netns_error_move(err, &e, r);
  return ipam_lease_allocate(cfg->state_dir, net, cfg->id, cfg->name, ret, ret_new, err);
}

int netns_container_attach(const struct netns_attach_config *cfg, struct netns_attachment *ret,
                           struct nook_error **err)
{
  const char *network = cfg->network ? cfg->network : NETWORK_DEFAULT;
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_nl_sock_ struct nl_sock *host = NULL;
  struct netns_attachment a = { .ip_forward_enabled = false };
  bool fresh = false;
  unsigned done = 0;

  if (netns_id_validate(cfg->id, err) < 0)
    return -EINVAL;
  if (cfg->netns_fd < 0)
    return nook_error_setx(err, EBADF, "attach container `%s`: no network namespace", cfg->id);
  if (network_config_load(cfg->state_dir, network, &net, err) < 0
      || nl_sock_open(-1, &host, err) < 0 || network_bridge_ensure(host, net, NULL, err) < 0
      || allocate(cfg, net, &a.addr, &fresh, err) < 0)
    return nook_error_prefix(err, "attach container `%s` to network `%s`", cfg->id, network);
  netns_veth_name(cfg->id, a.host_if);
  netns_mac_from_ipv4(a.addr, a.mac);
  a.prefix = net->prefix;
  a.gateway = net->gateway;
  if (attach_links(cfg, net, host, fresh, &a, &done, err) < 0)
    {
      /* undo what this call did, quietly (the first error is the one to report), and nothing
       * else: attaching a container twice must not detach it */
      bool rules_gone = true;

      if (done & DONE_VETH)
        nl_link_del(host, a.host_if, NULL);
      if (done & DONE_NAT)
        rules_gone = nat_container_remove(cfg->id, NULL) == 0;
      if (fresh && rules_gone) /* no lease without rules: see nat_container_add_new() */
        ipam_lease_release(cfg->state_dir, net->name, cfg->id, NULL);
      return nook_error_prefix(err, "attach container `%s` to network `%s`", cfg->id, network);
    }
  *ret = a;
  return 0;
}

/* Releases the lease of id in one network, or in all when network is NULL. */
static int release_leases(const char *state_dir, const char *network, const char *id,
                          struct nook_error **err)
{
  struct nook_network **v = NULL;
  size_t n = 0;
  int r = 0;

  if (network)
    {
      r = ipam_lease_release(state_dir, network, id, err);
      return r == -ENOENT ? 0 : r < 0 ? r : 0;
    }
  if (network_config_list(state_dir, &v, &n, err) < 0)
    return -1;
  /* all of them, even after one failed: the first error is reported */
  for (size_t i = 0; i < n; i++)
    {
      int q = ipam_lease_release(state_dir, v[i]->name, id, err);
      if (q < 0 && r == 0)
        r = q;
    }
  network_list_free(v, n);
  return r;
}

int netns_container_detach(const char *state_dir, const char *network, const char *id, int netns_id,
                           struct nook_error **err)
{
  _cleanup_nl_sock_ struct nl_sock *host = NULL;
  _cleanup_error_ struct nook_error *e = NULL;
  char host_if[IFNAMSIZ];
  int r, first = 0;

  if (netns_id_validate(id, err) < 0)
    return -EINVAL;
  netns_veth_name(id, host_if);
  /* each step runs whatever the others did: after a crash any of them may be done already */
  r = nl_sock_open(-1, &host, &e);
  if (r == 0)
    r = veth_release(host, host_if, netns_id, &e);
  if (r < 0)
    first = netns_error_move(err, &e, r);
  r = nat_container_remove(id, &e);
  if (r < 0)
    {
      /* the lease stays while rules may: a later detach retries, and attach knows that a
       * container without a lease has no rules */
      netns_error_move(err, &e, r);
      return nook_error_prefix(err, "detach container `%s`", id);
    }
  r = release_leases(state_dir, network, id, &e);
  if (r < 0 && first == 0)
    first = netns_error_move(err, &e, r);
  if (first < 0)
    return nook_error_prefix(err, "detach container `%s`", id);
  return 0;
}

/* ---- /etc files ------------------------------------------------------------------------- */

char *netns_hosts_format(const char *names, struct in_addr self, const char *self_id,
                         const struct ipam_lease *leases, size_t n)
{
  char *text = NULL, a[INET_ADDRSTRLEN];
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  if (f == NULL)
    abort(); /* only for lack of memory */
  fputs("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", f);
  if (names && *names)
    fprintf(f, "%s\t%s\n", ipv4_format(self, a), names);
  for (size_t i = 0; i < n; i++)
    if (leases[i].name && !streq(leases[i].id, self_id))
      fprintf(f, "%s\t%s\n", ipv4_format(leases[i].addr, a), leases[i].name);
  if (fclose(f) != 0)
    abort();
  return text;
}

/* A nameserver a container on an IPv4 bridge can use: not loopback (the host's 127.0.0.53
 * is not the container's), and not IPv6 (the networks have no IPv6 yet), as podman does. */
static bool nameserver_usable(const char *addr)
{
  struct in_addr a4;
  return inet_pton(AF_INET, addr, &a4) == 1 && (ntohl(a4.s_addr) >> 24) != 127;
}

/* Appends text to f without its unusable nameserver lines; returns how many were kept. */
static size_t resolv_filter(char *text, FILE *f)
{
  size_t kept = 0;
  char *line = text, *next;

  for (; line && *line; line = next)
    {
      char *p = line, addr[64];
      next = strchr(line, '\n');
      if (next)
        *next++ = '\0';
      while (isspace((unsigned char)*p))
        p++;
      if (nook_has_prefix(p, "nameserver") && isspace((unsigned char)p[10]))
        {
          if (sscanf(p + 10, " %63s", addr) != 1 || !nameserver_usable(addr))
            continue;
          kept++;
        }
      fprintf(f, "%s\n", line);
    }
  return kept;
}

static int read_optional(const char *path, char **ret, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  int r = nook_read_file_at(AT_FDCWD, path, 1 << 20, ret, NULL, &e);

  if (r == -ENOENT)
    {
      *ret = NULL;
      return 0;
    }
  return netns_error_move(err, &e, r);
}

int netns_resolv_conf_render(const char *path, char **ret, struct nook_error **err)
{
  _cleanup_free_ char *host = NULL, *resolved = NULL, *text = NULL;
  size_t len = 0, kept;
  FILE *f;

  if (read_optional(path ? path : "/etc/resolv.conf", &host, err) < 0)
    return -1;
  f = open_memstream(&text, &len);
  if (f == NULL)
    return nook_error_set(err, errno, "open_memstream");
  kept = resolv_filter(host, f);
  if (kept == 0 && path == NULL)
    {
      /* systemd-resolved: its stub is loopback, its upstream servers are not */
      if (read_optional("/run/systemd/resolve/resolv.conf", &resolved, err) < 0)
        {
          fclose(f);
          return -1;
        }
      if (resolved)
        {
          fclose(f);
          free(TAKE_PTR(text));
          f = open_memstream(&text, &len);
          if (f == NULL)
            return nook_error_set(err, errno, "open_memstream");
          kept = resolv_filter(resolved, f);
        }
    }
  if (kept == 0)
    fputs("# nook: the host's resolv.conf names no nameserver a container can reach (loopback\n"
          "# and IPv6 ones are left out); add a `nameserver` line here\n",
          f);
  if (fclose(f) != 0)
    return nook_error_set(err, errno, "resolv.conf");
  *ret = TAKE_PTR(text);
  return 0;
}
