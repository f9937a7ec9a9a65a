/* Unit tests for netns/: parsing and validation everywhere; network configs and IPAM in a
 * temporary state dir; as root, rtnetlink, nftables and a whole attach/detach.
 *
 * The host is never touched: before anything live, this process unshare(CLONE_NEWNET)s into
 * a fresh network namespace that plays the host (and is checked to differ from the one it
 * started in), and every "container" is a further namespace made from there.  Everything
 * dies with the process: namespaces, links, nft tables.  Traffic goes only between these
 * namespaces (10.88.0.0/16, 192.0.2.0/24, 198.51.100.0/24) and to 127.0.0.1 inside them.
 * `ip` and `nft` run only as independent witnesses, inside the test namespace. */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "netns/netns-internal.h"
#include "tests/unit/tap.h"

static char *tmpdir;

static bool has(const char *haystack, const char *needle)
{
  return haystack && needle && strstr(haystack, needle) != NULL;
}

/* Output of a shell command (run in this process's namespaces), or "" */
static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...)
{
  _cleanup_free_ char *cmd = NULL;
  char *out = NULL;
  size_t len = 0;
  va_list ap;
  FILE *p;

  va_start(ap, fmt);
  if (vasprintf(&cmd, fmt, ap) < 0)
    abort();
  va_end(ap);
  p = popen(cmd, "r");
  if (p == NULL || nook_read_fd(fileno(p), 1 << 22, &out, &len, NULL) < 0)
    out = xstrdup("");
  if (p)
    pclose(p);
  return out;
}

/* state + suffix, freed at the next call */
static const char *state_path(const char *state, const char *suffix)
{
  static char *last;
  free(last);
  last = xasprintf("%s%s", state, suffix);
  return last;
}

/* tap_ok() with the condition evaluated before the description's arguments (which often
 * show the error the condition produced) */
#define CHECK(cond, ...)                                                                           \
  do                                                                                               \
    {                                                                                              \
      int check_ok_ = (cond);                                                                      \
      tap_ok(check_ok_, __VA_ARGS__);                                                              \
    }                                                                                              \
  while (0)

/* &err, emptied first: each call gets a fresh error to fill */
#define E (nook_error_freep(&err), &err)

/* text as TAP diagnostics */
static void diag(const char *text)
{
  for (const char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL)
    {
      nl = strchr(p, '\n');
      printf("# %.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
    }
}

static const char *msg(struct nook_error *e)
{
  return e ? e->msg : "(no error)";
}

/* ---- pure -------------------------------------------------------------------------------- */

static void check_port(const char *spec, const char *want_ip, int hp, int cp, int proto)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct nat_port p;
  char a[INET_ADDRSTRLEN];

  if (nat_port_parse(spec, &p, E) < 0)
    {
      CHECK(0, "publish %s parses (%s)", spec, msg(err));
      return;
    }
  CHECK(streq(ipv4_format(p.host_ip, a), want_ip) && p.host_port == hp && p.ctr_port == cp
            && p.proto == proto,
        "publish %s -> %s %d %d %d", spec, a, p.host_port, p.ctr_port, p.proto);
}

static void check_port_bad(const char *spec, const char *want)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct nat_port p;

  CHECK(nat_port_parse(spec, &p, E) < 0 && has(msg(err), want), "publish %s refused: %s", spec,
        msg(err));
}

static void test_ports(void)
{
  check_port("8080:80", "0.0.0.0", 8080, 80, IPPROTO_TCP);
  check_port("127.0.0.1:8080:80", "127.0.0.1", 8080, 80, IPPROTO_TCP);
  check_port("53:53/udp", "0.0.0.0", 53, 53, IPPROTO_UDP);
  check_port(":1:65535/tcp", "0.0.0.0", 1, 65535, IPPROTO_TCP);
  check_port_bad("80", "expected [HOSTIP:]HOSTPORT:CTRPORT");
  check_port_bad("0:80", "host port `0`");
  check_port_bad("80:65536", "container port `65536`");
  check_port_bad("80:x", "container port `x`");
  check_port_bad("80:80/sctp", "protocol `sctp`");
  check_port_bad("1.2.3:80:80", "host address `1.2.3`");
  check_port_bad("[::1]:80:80", "IPv6");
  check_port_bad("+80:80", "host port `+80`");
}

static void check_opts_bad(const char *name, const char *subnet, const char *gw, const char *bridge,
                           const char *want)
{
  struct nook_network_opts o = { name, subnet, gw, bridge };
  _cleanup_error_ struct nook_error *err = NULL;

  CHECK(network_config_validate(&o, NULL, E) < 0 && has(msg(err), want), "network refused (%s): %s",
        want, msg(err));
}

static void test_validate(void)
{
  struct nook_network_opts o = { "web", "10.89.3.0/24", "10.89.3.254", "br-web" };
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  char a[INET_ADDRSTRLEN];

  CHECK(network_config_validate(&o, &net, E) == 0 && net->prefix == 24
            && streq(ipv4_format(net->gateway, a), "10.89.3.254") && streq(net->bridge, "br-web"),
        "a valid network parses (%s)", msg(err));
  check_opts_bad("", NULL, NULL, NULL, "name: ``: must be 1 to 64");
  check_opts_bad("-x", NULL, NULL, NULL, "name: `-x`: must start with");
  check_opts_bad("a/b", NULL, NULL, NULL, "name: `a/b`: only");
  check_opts_bad("n", "10.89.0.0", NULL, NULL, "subnet: `10.89.0.0`: not an IPv4 subnet");
  check_opts_bad("n", "10.89.0.0/33", NULL, NULL, "subnet: `10.89.0.0/33`: not an IPv4 subnet");
  check_opts_bad("n", "10.89.0.0/31", NULL, NULL,
                 "subnet: `10.89.0.0/31`: prefix length must be 8 to 30");
  check_opts_bad("n", "10.89.0.1/24", NULL, NULL,
                 "has host bits set (the subnet is `10.89.0.0/24`)");
  check_opts_bad("n", "10.89.0.0/24", "10.89.1.1", NULL,
                 "gateway: `10.89.1.1` is not a host address");
  check_opts_bad("n", "10.89.0.0/24", "10.89.0.255", NULL, "gateway: `10.89.0.255` is not a host");
  check_opts_bad("n", "10.89.0.0/24", "10.89.0.0", NULL, "gateway: `10.89.0.0` is not a host");
  check_opts_bad("n", "10.89.0.0/24", "x", NULL, "gateway: `x`: not an IPv4 address");
  check_opts_bad("n", NULL, "10.89.0.1", NULL, "gateway: `10.89.0.1`: needs a subnet");
  check_opts_bad("n", NULL, NULL, "abcdefghijklmnop",
                 "bridge: `abcdefghijklmnop`: must be 1 to 15");
  check_opts_bad("n", NULL, NULL, "a:b", "bridge: `a:b`: not a link name");
}

static void test_names(void)
{
  char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ];
  uint8_t mac[6];
  struct in_addr ip = { htonl(0x0a580002) };

  netns_veth_name("c1", a);
  netns_veth_name("c1", b);
  netns_veth_name("c2", c);
  CHECK(streq(a, b) && !streq(a, c) && strlen(a) == 14 && nook_has_prefix(a, "nk"),
        "veth names: %s, stable, per id", a);
  netns_mac_from_ipv4(ip, mac);
  CHECK(memcmp(mac, "\x02\x42\x0a\x58\x00\x02", 6) == 0, "MAC 02:42 + 10.88.0.2");
}

static void write_path(const char *path, const char *text)
{
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || nook_write_all(fd, text, strlen(text)) < 0)
    printf("# write %s: %s\n", path, strerror(errno));
}

static void write_tmp(const char *name, const char *text)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", tmpdir, name);
  write_path(p, text);
}

static char *resolv(const char *name)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", tmpdir, name);
  _cleanup_error_ struct nook_error *err = NULL;
  char *out = NULL;

  if (netns_resolv_conf_render(p, &out, E) < 0)
    return xasprintf("error: %s", msg(err));
  return out;
}

static void test_etc_files(void)
{
  struct ipam_lease leases[] = {
    { { htonl(0x0a580002) }, (char *)"c1", (char *)"web" },
    { { htonl(0x0a580003) }, (char *)"c2", (char *)"db" },
    { { htonl(0x0a580004) }, (char *)"c3", NULL },
  };
  _cleanup_free_ char *hosts = netns_hosts_format("h1 web", leases[0].addr, "c1", leases, 3);
  _cleanup_free_ char *r1 = NULL, *r2 = NULL, *r3 = NULL;

  tap_is_str(hosts,
             "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
             "10.88.0.2\th1 web\n10.88.0.3\tdb\n",
             "/etc/hosts: self, then named others");
  write_tmp("r1", "# host\nsearch example.com\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n"
                  "  nameserver ::1\nnameserver 2001:db8::1\noptions edns0\n");
  r1 = resolv("r1");
  tap_is_str(r1, "# host\nsearch example.com\nnameserver 192.0.2.53\noptions edns0\n",
             "resolv.conf: loopback and IPv6 nameservers left out");
  write_tmp("r2", "nameserver 127.0.0.53\noptions edns0 trust-ad\n");
  r2 = resolv("r2");
  CHECK(has(r2, "options edns0 trust-ad\n") && !has(r2, "127.0.0.53")
            && has(r2, "# nook: the host's resolv.conf names no nameserver"),
        "resolv.conf: only loopback -> a comment says so");
  r3 = resolv("missing");
  CHECK(has(r3, "# nook:"), "resolv.conf: no host file is not an error");
}

/* ---- network configs and IPAM (files only) ---------------------------------------------- */

static struct nook_network *net_create(const char *state, const char *name, const char *subnet,
                                       const char *gw, const char *bridge)
{
  struct nook_network_opts o = { name, subnet, gw, bridge };
  _cleanup_error_ struct nook_error *err = NULL;
  struct nook_network *net = NULL;

  if (network_config_create(state, &o, &net, E) < 0)
    CHECK(0, "create network %s: %s", name, msg(err));
  return net;
}

static void test_network_configs(const char *state)
{
  _cleanup_network_ struct nook_network *def = NULL, *n1 = NULL, *n2 = NULL, *again = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  struct nook_network_opts o = { 0 };
  struct nook_network **v = NULL;
  _cleanup_free_ char *json = NULL;
  char a[INET_ADDRSTRLEN];
  size_t n = 0;

  CHECK(network_config_load(state, NETWORK_DEFAULT, &def, E) == 0 && streq(def->bridge, "nook0")
            && def->prefix == 16 && streq(ipv4_format(def->gateway, a), "10.88.0.1"),
        "the default network appears on first use (%s)", msg(err));
  n1 = net_create(state, "n1", NULL, NULL, NULL);
  n2 = net_create(state, "n2", NULL, NULL, NULL);
  CHECK(n1 && n2 && streq(ipv4_format(n1->subnet, a), "10.89.0.0") && n1->prefix == 24
            && streq(n1->bridge, "nook1") && streq(ipv4_format(n2->subnet, a), "10.89.1.0")
            && streq(n2->bridge, "nook2") && streq(ipv4_format(n2->gateway, a), "10.89.1.1"),
        "defaults: the next free 10.89.N.0/24, gateway .1, bridge nookN");
  o = (struct nook_network_opts){ .name = "n1" };
  CHECK(network_config_create(state, &o, NULL, E) == -EEXIST
            && has(msg(err), "network `n1` already exists"),
        "a name is taken once: %s", msg(err));
  nook_error_freep(&err);
  o = (struct nook_network_opts){ .name = "n3", .subnet = "10.88.5.0/24" };
  CHECK(network_config_create(state, &o, NULL, E) == -EEXIST
            && has(msg(err), "subnet: `10.88.5.0/24` overlaps network `nook` (`10.88.0.0/16`)"),
        "overlapping subnets refused: %s", msg(err));
  nook_error_freep(&err);
  o = (struct nook_network_opts){ .name = "n3", .bridge = "nook1" };
  CHECK(network_config_create(state, &o, NULL, E) == -EEXIST
            && has(msg(err), "bridge: `nook1` is the bridge of network `n1`"),
        "a bridge serves one network: %s", msg(err));
  nook_error_freep(&err);
  CHECK(network_config_list(state, &v, &n, E) == 0 && n == 3 && streq(v[0]->name, "n1")
            && streq(v[1]->name, "n2") && streq(v[2]->name, "nook"),
        "list: every network, by name");
  network_list_free(v, n);
  json = network_config_to_json(n1, false);
  CHECK(has(json, "\"subnet\":\"10.89.0.0/24\"") && has(json, "\"bridge\":\"nook1\"")
            && has(json, "\"driver\":\"bridge\""),
        "inspect JSON: %s", json);
  CHECK(network_config_load(state, "n1", &again, E) == 0 && again->prefix == 24
            && streq(again->created, n1->created),
        "config.json reads back");
  CHECK(network_config_load(state, "nope", &again, E) == -ENOENT
            && has(msg(err), "network `nope` does not exist"),
        "unknown network: %s", msg(err));
  nook_error_freep(&err);
  nook_mkdir_p(state_path(state, "/networks/broken"), 0700, NULL);
  write_tmp("state/networks/broken/config.json",
            "{\"name\":\"broken\",\"subnet\":\"10.89.9.0/24\"}");
  CHECK(network_config_load(state, "broken", &again, E) < 0 && has(msg(err), "are required"),
        "a damaged config.json is an error: %s", msg(err));
  nook_rm_rf_at(AT_FDCWD, state_path(state, "/networks/broken"), NULL);
}

static void test_ipam(const char *state)
{
  _cleanup_network_ struct nook_network *t = net_create(state, "t", "192.0.2.0/29", NULL, "brt");
  _cleanup_network_ struct nook_network *g =
      net_create(state, "g", "192.0.2.8/29", "192.0.2.13", "brg");
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *leases_path = xasprintf("%s/networks/t/leases", state), *text = NULL;
  const char *want[] = { "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6" };
  const char *want_g[] = { "192.0.2.9", "192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.14" };
  char a[INET_ADDRSTRLEN], id[16];
  struct in_addr addr;
  struct ipam_lease *v = NULL;
  size_t n = 0;
  bool ok = true;

  if (!t || !g)
    return;
  for (int i = 0; i < 5; i++)
    {
      snprintf(id, sizeof(id), "c%d", i);
      ok = ok && ipam_lease_allocate(state, t, id, i == 1 ? "web" : NULL, &addr, NULL, E) == 0
           && streq(ipv4_format(addr, a), want[i]);
    }
  CHECK(ok, "allocation: lowest free first, no network/gateway/broadcast (%s)", msg(err));
  ok = true;
  for (int i = 0; i < 5; i++)
    {
      snprintf(id, sizeof(id), "c%d", i);
      ok = ok && ipam_lease_allocate(state, g, id, NULL, &addr, NULL, E) == 0
           && streq(ipv4_format(addr, a), want_g[i]);
    }
  CHECK(ok, "allocation skips a gateway in the middle (%s)", msg(err));
  CHECK(ipam_lease_allocate(state, t, "c5", NULL, &addr, NULL, E) == -ENOSPC
            && has(msg(err), "network `t`: no free address in `192.0.2.0/29` (5 leases)"),
        "exhausted: %s", msg(err));
  nook_error_freep(&err);
  CHECK(ipam_lease_allocate(state, t, "c3", NULL, &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.5"),
        "a container keeps its address");
  CHECK(ipam_lease_release(state, "t", "c1", E) == 1
            && ipam_lease_release(state, "t", "c1", E) == 0,
        "release: once, then nothing to release");
  CHECK(ipam_lease_allocate(state, t, "c9", "db", &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.3"),
        "a released address is given again (%s)", a);
  nook_read_file_at(AT_FDCWD, leases_path, 1 << 20, &text, NULL, NULL);
  CHECK(has(text, "192.0.2.6 c4 -\n-c1\n192.0.2.3 c9 db\n"),
        "the lease file is a journal: a release appends -ID, a lease its line: %s", text);
  CHECK(ipam_lease_list(state, "t", &v, &n, E) == 0 && n == 5 && streq(v[1].id, "c9")
            && streq(v[1].name, "db") && v[2].name == NULL,
        "list");
  ipam_lease_list_free(v, n);
}

static bool alive_even(const char *id, void *data)
{
  (*(int *)data)++;
  return (id[1] - '0') % 2 == 0;
}

static void test_ipam_reclaim_and_errors(const char *state)
{
  _cleanup_network_ struct nook_network *t = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *path = xasprintf("%s/networks/t/leases", state);
  struct ipam_lease *v = NULL;
  size_t n = 0, dropped = 0;
  int calls = 0;

  network_config_load(state, "t", &t, NULL);
  CHECK(ipam_lease_reclaim(state, "t", alive_even, &calls, &dropped, E) == 0 && dropped == 2
            && calls == 5,
        "reclaim drops the leases of gone containers (%zu of %d)", dropped, calls);
  CHECK(ipam_lease_list(state, "t", &v, &n, E) == 0 && n == 3, "three left");
  ipam_lease_list_free(v, n);
  CHECK(ipam_lease_release(state, "nope", "c1", E) == -ENOENT, "release in an unknown network");
  nook_error_freep(&err);
  CHECK(t
            && ipam_lease_allocate(state, t, "bad id", NULL, &(struct in_addr){ 0 }, NULL, E)
                   == -EINVAL,
        "an id with a space is refused: %s", msg(err));
  nook_error_freep(&err);
  write_path(path, "192.0.2.2 c0 -\n192.0.2.x c1 -\n");
  CHECK(ipam_lease_list(state, "t", &v, &n, E) < 0
            && has(msg(err), "network `t`: leases line 2: `192.0.2.x` is not an IPv4 address"),
        "a damaged lease file names the line: %s", msg(err));
  write_path(path, "");
}

/* The journal: the later line of an id wins, a cut-off last line is not a lease (and the next
 * change rewrites the file whole), and churn is compacted away. */
static int count_leases(const struct ipam_lease *v, size_t n, void *data, struct nook_error **err)
{
  (void)v;
  (void)err;
  *(size_t *)data = n;
  return 7;
}

static void test_ipam_journal(const char *state)
{
  _cleanup_network_ struct nook_network *j = net_create(state, "j", "203.0.113.0/24", NULL, "brj");
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *path = xasprintf("%s/networks/j/leases", state);
  struct ipam_lease *v = NULL;
  struct in_addr addr;
  size_t n = 0, lines = 0;
  bool ok = true;

  if (!j)
    return;
  write_path(path, "203.0.113.9 a -\n203.0.113.7 b web\n-a\n203.0.113.5 c -\n-c\n"
                   "203.0.113.4 c db\n203.0.113.8 d");
  CHECK(ipam_lease_list(state, "j", &v, &n, E) == 0 && n == 2 && streq(v[0].id, "c")
            && streq(v[0].name, "db") && streq(v[1].id, "b"),
        "replay: drops and a later lease win, the cut-off line is not read (%zu)", n);
  ipam_lease_list_free(v, n);
  CHECK(ipam_lease_allocate(state, j, "e", NULL, &addr, NULL, E) == 0
            && ipam_lease_list(state, "j", &v, &n, E) == 0 && n == 3,
        "a change after a cut-off line: %s", msg(err));
  ipam_lease_list_free(v, n);
  _cleanup_free_ char *text = NULL;
  nook_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, NULL);
  CHECK(text && !has(text, "203.0.113.8 d") && !has(text, "-a\n")
            && has(text, "203.0.113.4 c db\n"),
        "... rewrites the journal whole: %s", text);
  for (int i = 0; i < 300 && ok; i++)
    {
      _cleanup_free_ char *id = xasprintf("churn%d", i);
      ok = ipam_lease_allocate(state, j, id, NULL, &addr, NULL, E) == 0
           && ipam_lease_release(state, "j", id, E) == 1;
    }
  free(text);
  text = NULL;
  nook_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, NULL);
  for (const char *p = text; p && (p = strchr(p, '\n')); p++)
    lines++;
  CHECK(ok && lines <= 2 * 3 + 64 + 2, "300 leases taken and dropped: %zu lines left (%s)", lines,
        msg(err));
  CHECK(ipam_lease_locked(state, "j", count_leases, &n, E) == 7 && n == 3,
        "ipam_lease_locked hands the leases to its callback and returns its result");
  CHECK(ipam_lease_locked(state, "nope", count_leases, &n, E) == -ENOENT,
        "ipam_lease_locked: an unknown network");
}

/* Round-robin: the next free address after the last one handed out, wrapping around; the last
 * one survives its lease and a compaction of the journal. */
static void test_ipam_round_robin(const char *state)
{
  _cleanup_network_ struct nook_network *r = net_create(state, "rr", "192.0.2.16/29", NULL, "brr");
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *path = xasprintf("%s/networks/rr/leases", state), *text = NULL;
  const char *cycle[] = { "192.0.2.18", "192.0.2.19", "192.0.2.20", "192.0.2.21", "192.0.2.22" };
  char a[INET_ADDRSTRLEN];
  struct in_addr addr;
  size_t lines = 0;
  bool ok = true;

  if (!r)
    return;
  CHECK(ipam_lease_allocate(state, r, "x1", NULL, &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.18")
            && ipam_lease_allocate(state, r, "x2", NULL, &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.19"),
        "the first addresses in order (%s)", msg(err));
  ipam_lease_release(state, "rr", "x1", NULL);
  ipam_lease_release(state, "rr", "x2", NULL);
  CHECK(ipam_lease_allocate(state, r, "x3", NULL, &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.20"),
        "a released address is not the next one given: %s", a);
  CHECK(ipam_lease_allocate(state, r, "x4", NULL, &addr, NULL, E) == 0
            && ipam_lease_allocate(state, r, "x5", NULL, &addr, NULL, E) == 0
            && ipam_lease_allocate(state, r, "x6", NULL, &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.18"),
        "at the end of the subnet it wraps around, past the gateway: %s", a);
  CHECK(ipam_lease_allocate(state, r, "x7", NULL, &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.19"),
        "and skips what is taken: %s", a);
  write_path(path, "192.0.2.22 y1 -\n=192.0.2.20\n-y1\n");
  CHECK(ipam_lease_allocate(state, r, "y2", NULL, &addr, NULL, E) == 0
            && streq(ipv4_format(addr, a), "192.0.2.21"),
        "an =ADDRESS line after the last lease line says where to go on: %s", a);
  write_path(path, "");
  /* 60 times round the five addresses: compactions on the way must not lose the place */
  for (int i = 0; i < 300 && ok; i++)
    {
      _cleanup_free_ char *id = xasprintf("rr%d", i);
      ok = ipam_lease_allocate(state, r, id, NULL, &addr, NULL, E) == 0
           && streq(ipv4_format(addr, a), cycle[i % 5])
           && ipam_lease_release(state, "rr", id, E) == 1;
    }
  nook_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, NULL);
  for (const char *p = text; p && (p = strchr(p, '\n')); p++)
    lines++;
  CHECK(ok && lines < 100,
        "300 leases taken and dropped go round and round, through compactions "
        "(%zu lines left; %s, %s)",
        lines, a, msg(err));
}

/* Two kinds of contention: a lock held by someone else makes allocate wait; and four
 * processes allocating at once never share an address. */
static void test_ipam_contention(const char *state)
{
  _cleanup_network_ struct nook_network *c =
      net_create(state, "contend", "198.51.100.0/24", NULL, "brc");
  _cleanup_free_ char *dir = xasprintf("%s/networks/contend", state);
  _cleanup_close_ int lock = -1;
  struct ipam_lease *v = NULL;
  struct pollfd p;
  int pfd[2];
  size_t n = 0;
  bool distinct = true, waited, done;
  pid_t pid;

  if (!c || pipe2(pfd, O_CLOEXEC) < 0 || netns_lock_dir(dir, false, &lock, NULL) < 0)
    return;
  pid = fork();
  if (pid == 0)
    {
      struct in_addr a;
      int r;
      close(lock); /* a copy of the parent's description would hold the lock for us */
      r = ipam_lease_allocate(state, c, "waiter", NULL, &a, NULL, NULL);
      if (write(pfd[1], r == 0 ? "y" : "n", 1) < 0)
        _exit(1);
      _exit(0);
    }
  p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
  waited = poll(&p, 1, 300) == 0;
  close(TAKE_FD(lock));
  done = poll(&p, 1, 5000) == 1;
  waitpid(pid, NULL, 0);
  close(pfd[0]);
  close(pfd[1]);
  CHECK(waited && done, "allocate waits for the network's lock (waited %d, then done %d)", waited,
        done);
  for (int k = 0; k < 4; k++)
    if (fork() == 0)
      {
        for (int i = 0; i < 15; i++)
          {
            char id[32];
            struct in_addr a;
            snprintf(id, sizeof(id), "p%d-%d", k, i);
            if (ipam_lease_allocate(state, c, id, NULL, &a, NULL, NULL) < 0)
              _exit(1);
          }
        _exit(0);
      }
  for (int k = 0; k < 4; k++)
    {
      int st = 1;
      wait(&st);
      distinct = distinct && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
  CHECK(distinct, "four processes allocate at once without error");
  distinct = ipam_lease_list(state, "contend", &v, &n, NULL) == 0 && n == 61;
  for (size_t i = 1; i < n; i++)
    distinct = distinct && v[i].addr.s_addr != v[i - 1].addr.s_addr;
  CHECK(distinct, "61 leases, all addresses distinct (%zu)", n);
  ipam_lease_list_free(v, n);
}

/* ---- live: namespaces --------------------------------------------------------------------- */

static int test_netns_fd = -1; /* the namespace this test runs in, "the host" */

/* A new namespace may start with the host's ip_forward (a Docker host has it on); the tests
 * of "turned on when needed" want it off at first. */
static void forwarding_off(void)
{
  nook_write_file("/proc/sys/net/ipv4/ip_forward", "0", 1, NULL);
}

/* A fresh network namespace, held by the returned fd. */
static int new_netns(void)
{
  int fd = -1;

  if (unshare(CLONE_NEWNET) == 0)
    {
      fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      forwarding_off();
    }
  if (setns(test_netns_fd, CLONE_NEWNET) < 0)
    abort(); /* never go on in the wrong namespace */
  return fd;
}

static void test_rtnl(void)
{
  _cleanup_nl_sock_ struct nl_sock *s = NULL, *cs = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_close_ int ctr = new_netns(), other = new_netns();
  _cleanup_free_ char *out = NULL, *out2 = NULL, *val = NULL, *val2 = NULL;
  const uint8_t mac[6] = { 0x02, 0x42, 0xc0, 0x00, 0x02, 0x09 };
  struct nl_veth v = {
    .name = "va", .peer = "vb", .peer_netns_fd = -1, .master = "brx", .up = true
  };
  struct nl_veth v2 = { .name = "vc", .peer = "eth0", .peer_netns_fd = ctr, .peer_mac = mac };
  struct in_addr a4 = { htonl(0xc0000201) }, gw = { htonl(0xc0000202) };
  struct in6_addr a6;
  struct nl_link l, br;

  inet_pton(AF_INET6, "2001:db8::1", &a6);
  CHECK(nl_sock_open(-1, &s, E) == 0 && nl_sock_open(ctr, &cs, E) == 0, "rtnl sockets (%s)",
        msg(err));
  if (s == NULL || cs == NULL)
    return;
  CHECK(nl_link_add_bridge(s, "brx", E) == 0 && nl_link_get(s, "brx", &br, E) == 0
            && streq(br.kind, "bridge"),
        "add bridge (%s)", msg(err));
  CHECK(nl_link_add_bridge(s, "brx", E) == -EEXIST
            && streq(msg(err), "add bridge `brx`: File exists"),
        "again: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_link_add_veth(s, &v, E) == 0 && nl_link_get(s, "va", &l, E) == 0 && l.master == br.index
            && (l.flags & IFF_UP) && streq(l.kind, "veth"),
        "veth pair, one end on the bridge and up in one request (%s)", msg(err));
  CHECK(nl_link_add_veth(s, &v, E) == -EEXIST
            && streq(msg(err), "add veth `va` / `vb`: File exists"),
        "again: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_link_exists(s, "vb", E) == 1 && nl_link_exists(s, "nope", E) == 0,
        "link exists / does not");
  CHECK(nl_link_add_veth(s, &v2, E) == 0 && nl_link_exists(s, "eth0", E) == 0
            && nl_link_get(cs, "eth0", &l, E) == 0 && l.has_mac && memcmp(l.mac, mac, 6) == 0,
        "veth peer made directly in another namespace with its MAC (%s)", msg(err));
  CHECK(nl_bridge_port_set_hairpin(s, "va", true, E) == 0, "hairpin on (%s)", msg(err));
  out = run("ip -d link show dev va");
  CHECK(has(out, "hairpin on"), "ip sees hairpin on");
  CHECK(nl_bridge_port_set_hairpin(s, "vc", true, E) < 0 && has(msg(err), "set hairpin on on `vc`"),
        "hairpin on a link that is no bridge port: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_link_set_mac(s, "vb", mac, E) == 0 && nl_link_get(s, "vb", &l, E) == 0
            && memcmp(l.mac, mac, 6) == 0,
        "set MAC");
  CHECK(nl_link_set_master(s, "va", NULL, E) == 0 && nl_link_get(s, "va", &l, E) == 0
            && l.master == 0 && nl_link_set_master(s, "va", "brx", E) == 0,
        "release from and set master (%s)", msg(err));
  CHECK(nl_link_set_up(s, "vb", false, E) == 0 && nl_link_rename(s, "vb", "vb2", E) == 0
            && nl_link_exists(s, "vb2", E) == 1 && nl_link_exists(s, "vb", E) == 0,
        "rename (%s)", msg(err));
  CHECK(nl_link_rename(s, "vb2", "va", E) == -EEXIST && has(msg(err), "rename `vb2` to `va`"),
        "rename onto a taken name: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_addr_add(s, "va", AF_INET, &a4, 24, E) == 0
            && nl_addr_add(s, "va", AF_INET6, &a6, 64, E) == 0,
        "add IPv4 and IPv6 addresses (%s)", msg(err));
  out2 = run("ip addr show dev va");
  CHECK(has(out2, "inet 192.0.2.1/24 brd 192.0.2.255") && has(out2, "inet6 2001:db8::1/64"),
        "ip sees both, with the broadcast address");
  CHECK(nl_addr_add(s, "va", AF_INET, &a4, 24, E) == -EEXIST
            && nook_has_prefix(msg(err), "add address `192.0.2.1/24` to `va`: File exists"),
        "again: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_addr_del(s, "va", AF_INET6, &a6, 64, E) == 0
            && nl_addr_del(s, "va", AF_INET6, &a6, 64, E) == -EADDRNOTAVAIL,
        "delete an address, then it is gone: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_addr_add(cs, "eth0", AF_INET, &gw, 24, E) == 0
            && nl_link_set_up(cs, "eth0", true, E) == 0
            && nl_route_add_default(cs, "eth0", AF_INET, &a4, E) == 0,
        "address and default route in the other namespace (%s)", msg(err));
  free(out);
  out = run("nsenter --net=/proc/%d/fd/%d ip route show default", (int)getpid(), ctr);
  CHECK(has(out, "default via 192.0.2.1 dev eth0"), "ip sees the route there: %s", out);
  CHECK(nl_route_add_default(cs, "eth0", AF_INET, &a4, E) == -EEXIST
            && has(msg(err), "add default route via `192.0.2.1` on `eth0`: File exists"),
        "again: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_link_set_netns(s, "vb2", other, E) == 0 && nl_link_exists(s, "vb2", E) == 0,
        "move a link to another namespace (%s)", msg(err));
  CHECK(nl_link_del(s, "vc", E) == 0 && nl_link_exists(cs, "eth0", E) == 0,
        "delete one end, the peer goes too");
  CHECK(nl_link_del(s, "vc", E) == -ENODEV && streq(msg(err), "delete link `vc`: No such device"),
        "again: %s", msg(err));
  nook_error_freep(&err);
  CHECK(nl_link_get(s, "a-name-too-long-for-a-link", &l, E) == -EINVAL, "long names refused: %s",
        msg(err));
  nook_error_freep(&err);
  CHECK(netns_sysctl_write(ctr, "net/ipv4/ip_forward", "1", E) == 0
            && netns_sysctl_read(ctr, "net/ipv4/ip_forward", &val, E) == 0
            && netns_sysctl_read(-1, "net/ipv4/ip_forward", &val2, E) == 0 && streq(val, "1")
            && streq(val2, "0"),
        "sysctl in another namespace, not in this one (%s / %s)", val, val2);
  CHECK(netns_sysctl_write(-1, "net/../../etc/x", "1", E) == -EINVAL,
        "sysctl keys stay in /proc/sys");
  nook_error_freep(&err);
  nl_link_del(s, "va", NULL);
  nl_link_del(s, "brx", NULL);
}

/* Namespace ids: a veth's peer namespace by id, and whether it is still alive once the last
 * reference to it is gone. */
static void test_netns_ids(void)
{
  _cleanup_nl_sock_ struct nl_sock *s = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  int ctr = new_netns(), nsid = -1, again = -2;
  struct nl_veth v = { .name = "vid", .peer = "eth0", .peer_netns_fd = ctr };
  struct nl_link l;

  CHECK(nl_sock_open(-1, &s, E) == 0 && nl_netns_id(s, ctr, &nsid, E) == 0 && nsid >= 0
            && nl_netns_id(s, ctr, &again, E) == 0 && again == nsid,
        "a namespace gets an id, the same one each time (%d, %s)", nsid, msg(err));
  if (s == NULL || nsid < 0)
    return;
  CHECK(nl_link_add_veth(s, &v, E) == 0 && nl_link_get(s, "vid", &l, E) == 0
            && l.link_netnsid == nsid,
        "a veth names its peer's namespace by that id (%d, %s)", l.link_netnsid, msg(err));
  CHECK(nl_netns_alive(s, nsid, E) == 1, "alive while an fd holds it (%s)", msg(err));
  close(ctr); /* the last reference: the kernel tears the namespace down in the background */
  CHECK(nl_netns_alive(s, nsid, E) == 0, "dying once the last reference is gone (%s)", msg(err));
  for (int i = 0; i < 200 && nl_link_exists(s, "vid", NULL) == 1; i++)
    usleep(10000);
  CHECK(nl_link_exists(s, "vid", E) == 0, "... and the veth goes with it");
  CHECK(nl_netns_alive(s, 4242, E) == 0 && nl_netns_alive(s, -1, E) == -EINVAL,
        "an id no namespace has; not an id: %s", msg(err));
  CHECK(nl_link_get(s, "lo", &l, E) == 0 && l.link_netnsid == -1, "lo names no namespace");
}

/* ---- live: nftables ----------------------------------------------------------------------- */

/* Rules of `inet nook` whose comment is `comment` (NULL: all), or -1 when there is no table. */
static int count_rules(const char *comment)
{
  _cleanup_free_ char *out = run("nft -j list table inet nook 2>/dev/null");
  _cleanup_json_ yajl_val root = NULL;
  yajl_val arr;
  int n = 0;

  if (*out == '\0' || nook_json_parse(out, "nft", &root, NULL) < 0)
    return -1;
  arr = nook_json_get(root, "nftables");
  for (size_t i = 0; arr && YAJL_IS_ARRAY(arr) && i < arr->u.array.len; i++)
    {
      yajl_val rule = nook_json_get(arr->u.array.values[i], "rule");
      if (rule && (comment == NULL || streq(nook_json_get_str(rule, "comment"), comment)))
        n++;
    }
  return n;
}

/* nat_network_add(), with what it writes to stderr returned */
static char *stderr_of_network_add(const struct nook_network *net, struct nook_error **err)
{
  _cleanup_free_ char *path = xasprintf("%s/stderr", tmpdir);
  int saved = dup(STDERR_FILENO), fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  char *out = NULL;

  fflush(stderr);
  dup2(fd, STDERR_FILENO);
  nat_network_add(net, err);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  if (nook_read_file_at(AT_FDCWD, path, 1 << 16, &out, NULL, NULL) < 0)
    out = xstrdup("");
  return out;
}

static void test_nft(void)
{
  struct nook_network_opts o = { "nt", "10.99.0.0/24", NULL, "brnt" };
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *text = NULL, *other = NULL, *tables = NULL, *warned = NULL;
  struct nat_port ports[2];
  struct in_addr ip = { htonl(0x0a630002) };
  bool ok;

  network_config_validate(&o, &net, NULL);
  net->gateway.s_addr = htonl(0x0a630001);
  nat_port_parse("127.0.0.1:8080:80", &ports[0], NULL);
  nat_port_parse("5353:53/udp", &ports[1], NULL);
  free(run("nft add table inet other && nft add chain inet other c && nft add rule inet other c "
           "counter"));
  CHECK(count_rules(NULL) == -1, "no nook table to begin with");
  /* a host firewall whose forward chain drops: nook cannot override it, and says so */
  free(run("nft add table ip filter && nft add chain ip filter FORWARD "
           "'{ type filter hook forward priority 0; policy drop; }'"));
  warned = stderr_of_network_add(net, &err);
  CHECK(err == NULL && count_rules("nook net=nt") == 7, "network rules (%s)", msg(err));
  CHECK(has(warned, "nftables chain `ip filter FORWARD` drops forwarded packets by default")
            && has(warned, "allow `brnt` there"),
        "a drop policy elsewhere is reported: %s", warned);
  free(run("nft delete table ip filter"));
  CHECK(nat_network_add(net, E) == 0 && count_rules(NULL) == 7, "added once only");
  CHECK(nat_container_add(net, "c1", ip, ports, 2, E) == 0 && count_rules("nook ctr=c1") == 4,
        "two ports: prerouting and output each (%s)", msg(err));
  CHECK(nat_container_add(net, "c1", ip, ports, 1, E) == 0 && count_rules("nook ctr=c1") == 2,
        "again: the stale rules are replaced (%s)", msg(err));
  CHECK(nat_container_add(net, "c2", ip, NULL, 0, E) == 0 && count_rules(NULL) == 9,
        "no ports, no rules");
  text = run("nft list table inet nook");
  ok =
      has(text, "ip saddr 10.99.0.0/24 ip daddr != 10.99.0.0/24 masquerade comment \"nook net=nt\"")
      && has(text, "ip saddr 127.0.0.0/8 ip daddr 10.99.0.0/24 masquerade")
      && has(text,
             "ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.99.0.2:80 comment \"nook ctr=c1\"")
      && has(text, "iifname \"brnt\" ip daddr 127.0.0.0/8")
      && has(text, "type nat hook output priority -100");
  CHECK(ok, "nft reads the rules back as meant");
  if (!ok)
    diag(text);
  CHECK(nat_container_remove("c1", E) == 0 && count_rules("nook ctr=c1") == 0
            && count_rules(NULL) == 7,
        "container rules removed (%s)", msg(err));
  CHECK(nat_container_remove("c1", E) == 0, "again: nothing to do");
  free(run("nft add rule inet nook postrouting counter comment \\\"someone else\\\""));
  CHECK(nat_network_remove("nt", E) == 0 && count_rules(NULL) == 1,
        "network rules removed; a rule not nook's keeps the table (%s)", msg(err));
  free(run("nft flush chain inet nook postrouting"));
  CHECK(nat_network_remove("nt", E) == 0 && count_rules(NULL) == -1, "an empty table is removed");
  CHECK(nat_network_remove("nt", E) == 0, "again: no table is fine (%s)", msg(err));
  other = run("nft list table inet other");
  CHECK(has(other, "counter"), "other tables are never touched");
  free(run("nft delete table inet other"));
  tables = run("nft list tables");
  CHECK(!has(tables, "nook"), "no nook table left");
}

/* ---- live: attach ------------------------------------------------------------------------- */

/* A server in namespace ns: TCP (answers `tag` to every connection) or UDP (echoes `tag` and
 * what came).  Returns its pid once it listens. */
static pid_t serve(int ns, int type, uint16_t port, const char *tag)
{
  int pfd[2];
  pid_t pid;
  char c;

  if (pipe2(pfd, O_CLOEXEC) < 0)
    return -1;
  pid = fork();
  if (pid == 0)
    {
      struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
      int one = 1, s;
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (setns(ns, CLONE_NEWNET) < 0 || (s = socket(AF_INET, type | SOCK_CLOEXEC, 0)) < 0)
        _exit(1);
      setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0
          || (type == SOCK_STREAM && listen(s, 16) < 0))
        _exit(1);
      if (write(pfd[1], "r", 1) < 0)
        _exit(1);
      for (;;)
        {
          char buf[64];
          struct sockaddr_in from;
          socklen_t fl = sizeof(from);
          if (type == SOCK_DGRAM)
            {
              ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
              if (n > 0)
                sendto(s, tag, strlen(tag), 0, (struct sockaddr *)&from, fl);
              continue;
            }
          int c2 = accept4(s, NULL, NULL, SOCK_CLOEXEC);
          if (c2 >= 0)
            {
              if (write(c2, tag, strlen(tag)) < 0)
                _exit(1);
              close(c2);
            }
        }
    }
  close(pfd[1]);
  if (read(pfd[0], &c, 1) != 1)
    pid = -1;
  close(pfd[0]);
  return pid;
}

/* Connects from namespace ns (-1: this one) to ip:port, returns what the server said or an
 * error text. */
static char *talk(int ns, int type, const char *ip, uint16_t port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
  _cleanup_close_ int s = -1;
  struct pollfd p;
  char buf[64] = "";
  ssize_t n;
  int saved = -1;

  inet_pton(AF_INET, ip, &sa.sin_addr);
  if (ns >= 0 && netns_enter(ns, &saved, NULL) < 0)
    return xstrdup("error: setns");
  s = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (saved >= 0)
    netns_leave(saved);
  if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
    return xasprintf("error: connect: %s", strerror(errno));
  if (type == SOCK_DGRAM && send(s, "hi", 2, 0) < 0)
    return xasprintf("error: send: %s", strerror(errno));
  p = (struct pollfd){ .fd = s, .events = POLLIN };
  if (poll(&p, 1, 3000) != 1)
    return xstrdup("error: timeout");
  n = recv(s, buf, sizeof(buf) - 1, 0);
  if (n < 0)
    return xasprintf("error: %s", strerror(errno));
  buf[n] = '\0';
  return xstrdup(buf);
}

static void check_talk(int ns, int type, const char *ip, uint16_t port, const char *want,
                       const char *what)
{
  _cleanup_free_ char *got = talk(ns, type, ip, port);
  CHECK(streq(got, want) || (nook_has_prefix(want, "error") && nook_has_prefix(got, "error")),
        "%s: %s:%u -> %s", what, ip, port, got);
}

static int attach(const char *state, const char *id, const char *name, int ns,
                  const char *const *specs, size_t n, struct netns_attachment *a,
                  struct nook_error **err)
{
  struct nat_port ports[4];
  struct netns_attach_config cfg = {
    .state_dir = state, .id = id, .name = name, .netns_fd = ns, .ports = ports, .n_ports = n
  };

  for (size_t i = 0; i < n; i++)
    nat_port_parse(specs[i], &ports[i], NULL);
  return netns_container_attach(&cfg, a, err);
}

static const char *const specs[] = { "127.0.0.1:18080:8080", "18081:8080", "15353:5353/udp" };

/* Two containers on the default network: what they look like and who reaches whom. */
static void test_attach(const char *state, int c1, int c2, struct netns_attachment *a1)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_nl_sock_ struct nl_sock *s = NULL, *s1 = NULL;
  _cleanup_free_ char *out = NULL;
  struct netns_attachment a2;
  struct nl_link l, br;
  char a[INET_ADDRSTRLEN];

  CHECK(attach(state, "c1", "web", c1, specs, 3, a1, E) == 0, "attach c1 (%s)", msg(err));
  CHECK(attach(state, "c2", "db", c2, NULL, 0, &a2, E) == 0, "attach c2 (%s)", msg(err));
  CHECK(streq(ipv4_format(a1->addr, a), "10.88.0.2") && a1->prefix == 16
            && streq(ipv4_format(a2.addr, a), "10.88.0.3"),
        "addresses from the default network");
  CHECK(a1->ip_forward_enabled && !a2.ip_forward_enabled, "ip_forward turned on once, and said so");
  nl_sock_open(-1, &s, NULL);
  nl_sock_open(c1, &s1, NULL);
  CHECK(s && s1 && nl_link_get(s, "nook0", &br, E) == 0 && nl_link_get(s, a1->host_if, &l, E) == 0
            && l.master == br.index && (l.flags & IFF_UP),
        "host end %s on nook0, up (%s)", a1->host_if, msg(err));
  CHECK(s1 && nl_link_get(s1, "eth0", &l, E) == 0 && memcmp(l.mac, a1->mac, 6) == 0
            && memcmp(l.mac, "\x02\x42\x0a\x58\x00\x02", 6) == 0 && (l.flags & IFF_UP),
        "eth0 in the container with its MAC");
  out = run("nsenter --net=/proc/%d/fd/%d ip route show default", (int)getpid(), c1);
  CHECK(has(out, "default via 10.88.0.1 dev eth0"), "default route via the gateway");
  check_talk(-1, SOCK_STREAM, "10.88.0.2", 8080, "c1", "host to container over the bridge");
  check_talk(c2, SOCK_STREAM, "10.88.0.2", 8080, "c1", "container to container");
  check_talk(c1, SOCK_STREAM, "10.88.0.3", 8080, "c2", "and back");
  check_talk(-1, SOCK_STREAM, "127.0.0.1", 18080, "c1", "published on 127.0.0.1");
  check_talk(-1, SOCK_STREAM, "127.0.0.1", 18081, "c1",
             "published on every address, via 127.0.0.1");
  check_talk(-1, SOCK_STREAM, "10.88.0.1", 18081, "c1", "published, via the bridge's address");
  check_talk(c2, SOCK_STREAM, "10.88.0.1", 18081, "c1", "another container to a published port");
  check_talk(c1, SOCK_STREAM, "10.88.0.1", 18081, "c1",
             "a container to its own published port (hairpin)");
  check_talk(c2, SOCK_STREAM, "10.88.0.1", 18080, "error",
             "127.0.0.1-only port not from a container");
  check_talk(-1, SOCK_DGRAM, "127.0.0.1", 15353, "udp-c1", "udp published on 127.0.0.1");
  check_talk(-1, SOCK_STREAM, "127.0.0.1", 18082, "error", "an unpublished port is refused");
}

/* /etc/hosts, a second attach, and detach of both. */
static void test_detach(const char *state, int c1, const struct netns_attachment *a1)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_nl_sock_ struct nl_sock *s = NULL, *s1 = NULL;
  _cleanup_free_ char *hosts = NULL;
  struct netns_attachment again;
  struct ipam_lease *v = NULL;
  size_t n = 0;

  nl_sock_open(-1, &s, NULL);
  nl_sock_open(c1, &s1, NULL);
  CHECK(ipam_lease_list(state, NETWORK_DEFAULT, &v, &n, E) == 0 && n == 2, "two leases");
  hosts = netns_hosts_format("c1host web", a1->addr, "c1", v, n);
  CHECK(has(hosts, "10.88.0.2\tc1host web\n10.88.0.3\tdb\n"), "/etc/hosts from the leases");
  ipam_lease_list_free(v, n);
  CHECK(attach(state, "c1", "web", c1, NULL, 0, &again, E) < 0
            && has(msg(err), "attach container `c1` to network `nook`: add veth"),
        "attach twice fails: %s", msg(err));
  CHECK(count_rules("nook ctr=c1") == 6 && nl_link_exists(s, a1->host_if, NULL) == 1
            && ipam_lease_list(state, NETWORK_DEFAULT, &v, &n, NULL) == 0 && n == 2,
        "and leaves c1 attached: rules, veth, lease");
  ipam_lease_list_free(v, n);
  CHECK(netns_container_detach(state, NETWORK_DEFAULT, "c1", -1, E) == 0, "detach c1 (%s)",
        msg(err));
  CHECK(nl_link_exists(s, a1->host_if, NULL) == 0 && nl_link_exists(s1, "eth0", NULL) == 0
            && count_rules("nook ctr=c1") == 0,
        "veth and rules gone");
  CHECK(ipam_lease_list(state, NETWORK_DEFAULT, &v, &n, E) == 0 && n == 1 && streq(v[0].id, "c2"),
        "lease gone");
  ipam_lease_list_free(v, n);
  check_talk(-1, SOCK_STREAM, "127.0.0.1", 18080, "error", "the published port is closed");
  CHECK(netns_container_detach(state, NETWORK_DEFAULT, "c1", -1, E) == 0, "detach twice (%s)",
        msg(err));
  CHECK(netns_container_detach(state, NULL, "c2", -1, E) == 0 && count_rules(NULL) == 7,
        "detach in any network; the network's rules stay");
}

/* A failed attach undoes itself; detach after the container's namespace died. */
static void test_attach_failures(const char *state)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_nl_sock_ struct nl_sock *s = NULL, *s3 = NULL;
  _cleanup_close_ int c3 = new_netns();
  struct netns_attachment a3;
  struct ipam_lease *v = NULL;
  size_t n = 0;

  nl_sock_open(-1, &s, NULL);
  CHECK(s && nl_sock_open(c3, &s3, E) == 0 && nl_link_add_bridge(s3, "eth0", E) == 0,
        "c3 gets an eth0 of its own (%s)", msg(err));
  CHECK(attach(state, "c3", NULL, c3, specs, 1, &a3, E) < 0 && has(msg(err), "add veth `")
            && has(msg(err), "` / `eth0`: File exists"),
        "attach where eth0 exists: %s", msg(err));
  CHECK(ipam_lease_list(state, NETWORK_DEFAULT, &v, &n, NULL) == 0 && n == 0
            && count_rules("nook ctr=c3") == 0,
        "rolled back: no lease, no rules");
  ipam_lease_list_free(v, n);
  nl_link_del(s3, "eth0", NULL);
  CHECK(attach(state, "c3", NULL, c3, specs, 1, &a3, E) == 0, "attach c3 (%s)", msg(err));
  nl_sock_close(TAKE_PTR(s3));
  close(TAKE_FD(c3));
  for (int i = 0; i < 100 && nl_link_exists(s, a3.host_if, NULL) == 1; i++)
    usleep(20000); /* the kernel destroys a namespace asynchronously */
  CHECK(netns_container_detach(state, NULL, "c3", -1, E) == 0 && count_rules("nook ctr=c3") == 0
            && nl_link_exists(s, a3.host_if, NULL) == 0,
        "detach after the namespace died (%s)", msg(err));
  CHECK(network_config_remove(state, NETWORK_DEFAULT, E) == -EPERM, "the default network stays");
}

/* Polls (up to 2 s) until the link is gone. */
static bool link_goes(struct nl_sock *s, const char *name)
{
  for (int i = 0; i < 200 && nl_link_exists(s, name, NULL) == 1; i++)
    usleep(10000);
  return nl_link_exists(s, name, NULL) == 0;
}

/* Detach leaves the veth of a dying namespace to the kernel, deletes it while the namespace is
 * held; attach of an id again replaces a pair of the id whose peer is elsewhere. */
static void test_detach_dying(const char *state)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_nl_sock_ struct nl_sock *s = NULL, *s6 = NULL;
  _cleanup_close_ int c6 = new_netns(), c6b = new_netns(), c7b = new_netns();
  int c4 = new_netns(), c5 = new_netns(), c7 = new_netns(), nsid = -1;
  struct netns_attachment a4, a5, a6, a7;

  if (nl_sock_open(-1, &s, E) < 0)
    return;
  CHECK(attach(state, "c4", NULL, c4, specs, 1, &a4, E) == 0 && nl_netns_id(s, c4, &nsid, E) == 0,
        "attach c4 (%s)", msg(err));
  close(c4); /* the last reference, as when teardown unmounts the namespace's file */
  CHECK(netns_container_detach(state, NULL, "c4", nsid, E) == 0 && count_rules("nook ctr=c4") == 0
            && link_goes(s, a4.host_if),
        "detach by the id of a dying namespace: rules now, the veth with the namespace (%s)",
        msg(err));
  CHECK(attach(state, "c5", NULL, c5, NULL, 0, &a5, E) == 0, "attach c5 (%s)", msg(err));
  close(c5);
  CHECK(netns_container_detach(state, NULL, "c5", -1, E) == 0 && link_goes(s, a5.host_if),
        "detach without an id asks the veth (%s)", msg(err));
  CHECK(attach(state, "c6", NULL, c6, NULL, 0, &a6, E) == 0
            && attach(state, "c6", NULL, c6b, NULL, 0, &a6, E) == 0 && nl_sock_open(c6, &s6, E) == 0
            && nl_link_exists(s6, "eth0", NULL) == 0,
        "attach of an id in another namespace replaces the pair whose peer is elsewhere (%s)",
        msg(err));
  CHECK(nl_netns_id(s, c6b, &nsid, E) == 0
            && netns_container_detach(state, NULL, "c6", nsid, E) == 0
            && nl_link_exists(s, a6.host_if, NULL) == 0,
        "detach of a namespace still held deletes the veth itself (%s)", msg(err));
  CHECK(attach(state, "c7", NULL, c7, NULL, 0, &a7, E) == 0, "attach c7 (%s)", msg(err));
  close(c7);
  CHECK(attach(state, "c7", NULL, c7b, NULL, 0, &a7, E) == 0
            && netns_container_detach(state, NULL, "c7", -1, E) == 0
            && nl_link_exists(s, a7.host_if, NULL) == 0,
        "attach again at once while the old namespace dies (%s)", msg(err));
}

static void test_containers(const char *state)
{
  _cleanup_close_ int c1 = new_netns(), c2 = new_netns();
  struct netns_attachment a1;
  pid_t srv[3];

  srv[0] = serve(c1, SOCK_STREAM, 8080, "c1");
  srv[1] = serve(c2, SOCK_STREAM, 8080, "c2");
  srv[2] = serve(c1, SOCK_DGRAM, 5353, "udp-c1");
  test_attach(state, c1, c2, &a1);
  test_detach(state, c1, &a1);
  test_attach_failures(state);
  test_detach_dying(state);
  for (size_t i = 0; i < ARRAY_SIZE(srv); i++)
    if (srv[i] > 0)
      {
        kill(srv[i], SIGKILL);
        waitpid(srv[i], NULL, 0);
      }
}

static void test_network_remove(const char *state)
{
  _cleanup_network_ struct nook_network *net =
      net_create(state, "gone", "10.77.0.0/24", NULL, "brgone");
  _cleanup_nl_sock_ struct nl_sock *s = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *dir = xasprintf("%s/networks/gone", state);
  struct in_addr a;

  if (!net || nl_sock_open(-1, &s, NULL) < 0)
    return;
  CHECK(network_bridge_ensure(s, net, NULL, E) == 0 && network_bridge_ensure(s, net, NULL, E) == 0
            && nat_network_add(net, E) == 0,
        "bridge ensured twice, rules added (%s)", msg(err));
  ipam_lease_allocate(state, net, "busy", NULL, &a, NULL, NULL);
  CHECK(network_config_remove(state, "gone", E) == -EBUSY
            && has(msg(err), "network `gone` is in use by 1 container (`busy`)"),
        "not while in use: %s", msg(err));
  nook_error_freep(&err);
  ipam_lease_release(state, "gone", "busy", NULL);
  CHECK(network_config_remove(state, "gone", E) == 0 && nl_link_exists(s, "brgone", NULL) == 0
            && count_rules("nook net=gone") == 0 && access(dir, F_OK) < 0,
        "removed: bridge, rules, directory (%s)", msg(err));
  CHECK(network_config_remove(state, "gone", E) == -ENOENT, "again: %s", msg(err));
}

int main(void)
{
  _cleanup_free_ char *state = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_nl_sock_ struct nl_sock *s = NULL;
  struct stat before, after;
  char tmpl[] = "/tmp/nook-test-netns.XXXXXX";

  tmpdir = mkdtemp(tmpl);
  if (tmpdir == NULL)
    return 1;
  state = xasprintf("%s/state", tmpdir);
  test_ports();
  test_validate();
  test_names();
  test_etc_files();
  test_network_configs(state);
  test_ipam(state);
  test_ipam_reclaim_and_errors(state);
  test_ipam_journal(state);
  test_ipam_round_robin(state);
  test_ipam_contention(state);

  if (geteuid() != 0)
    printf("ok %d # SKIP rtnetlink, nftables and attach need root\n", ++tap_n);
  else if (stat("/proc/self/ns/net", &before) < 0 || unshare(CLONE_NEWNET) < 0
           || stat("/proc/self/ns/net", &after) < 0 || before.st_ino == after.st_ino)
    printf("ok %d # SKIP cannot make a network namespace: %s\n", ++tap_n, strerror(errno));
  else
    {
      /* from here on this process is in a namespace of its own: "the host" */
      test_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      forwarding_off();
      CHECK(nl_sock_open(-1, &s, E) == 0 && nl_link_set_up(s, "lo", true, E) == 0,
            "the test's namespace, lo up (%s)", msg(err));
      test_rtnl();
      test_netns_ids();
      test_nft();
      test_containers(state);
      test_network_remove(state);
    }
  nook_rm_rf_at(AT_FDCWD, tmpdir, NULL);
  return tap_done();
}
