/* Fuzz target for the network state files (netns/network.c, netns/ipam.c): each input is written
 * both as STATE/networks/fuzz/config.json, read with network_config_load(), and as that
 * network's leases file, read with ipam_leases_read(); each of its lines is also a `-p` port
 * spec for nat_port_parse().  The files are nook's own, but a read must never go wrong on a
 * damaged one: it fails with one printable line, or gives a network that is the one asked for
 * and comes back the same through its JSON, and leases sorted by address with valid ids. */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "netns/netns-internal.h"
#include "netns/netns.h"
#include "tests/fuzz/fuzz.h"

static const char *state;
static int net_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  int base = fuzz_tmpdir(&state);

  fuzz_check(mkdirat(base, "networks", 0700) == 0 && mkdirat(base, "networks/fuzz", 0700) == 0,
             "cannot make", "networks/fuzz");
  net_fd = openat(base, "networks/fuzz", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  fuzz_check(net_fd >= 0, "cannot open", "networks/fuzz");
  return 0;
}

static void check_config(const uint8_t *data, size_t size)
{
  _cleanup_network_ struct nook_network *net = NULL, *again = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *json = NULL;
  int r;

  fuzz_write_file(net_fd, "config.json", data, size);
  r = network_config_load(state, "fuzz", &net, &err);
  fuzz_check_error(r, err, NULL);
  if (r < 0)
    return;
  fuzz_check(streq(net->name, "fuzz"), "a network loaded under another name", net->name);
  fuzz_check(net->prefix >= 8 && net->prefix <= 30, "a prefix out of range", NULL);
  fuzz_check(ipv4_in_subnet(net->gateway, net->subnet, net->prefix), "a gateway outside the subnet",
             NULL);
  json = network_config_to_json(net, size % 2);
  fuzz_write_file(net_fd, "config.json", json, strlen(json));
  r = network_config_load(state, "fuzz", &again, &err);
  fuzz_check(r == 0, "a network written back does not load", err ? err->msg : NULL);
  fuzz_check(streq(net->bridge, again->bridge) && net->subnet.s_addr == again->subnet.s_addr
                 && net->prefix == again->prefix && net->gateway.s_addr == again->gateway.s_addr
                 && streq(net->created, again->created),
             "a network changed in a round trip through its JSON", json);
}

static void check_leases(const uint8_t *data, size_t size)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct ipam_lease *v = NULL;
  size_t n = 0;
  int r;

  fuzz_write_file(net_fd, "leases", data, size);
  r = ipam_leases_read(net_fd, "fuzz", &v, &n, &err);
  fuzz_check_error(r, err, "network `fuzz`");
  for (size_t i = 0; r == 0 && i < n; i++)
    {
      fuzz_check(netns_id_validate(v[i].id, NULL) == 0, "a lease with an invalid id", v[i].id);
      fuzz_check(i == 0 || ntohl(v[i - 1].addr.s_addr) <= ntohl(v[i].addr.s_addr),
                 "leases not sorted by address", v[i].id);
    }
  ipam_lease_list_free(v, n);
}

static void check_ports(const uint8_t *data, size_t size)
{
  _cleanup_free_ char *text = xstrndup((const char *)data, size);
  char *save = NULL;

  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      _cleanup_error_ struct nook_error *err = NULL;
      struct nat_port p = { 0 };
      int r = nat_port_parse(line, &p, &err);

      fuzz_check_error(r, err, "publish");
      if (r == 0)
        fuzz_check(p.host_port > 0 && p.ctr_port > 0, "a published port 0", line);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (net_fd < 0)
    LLVMFuzzerInitialize(NULL, NULL);
  check_config(data, size);
  check_leases(data, size);
  check_ports(data, size);
  return 0;
}
