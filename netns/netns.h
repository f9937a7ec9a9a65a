/* netns/: container networking on a Linux bridge, over netlink only (no `ip`, no `nft`).
 *
 * Five parts, one header, each building on the ones above it:
 *
 *   rtnl     nl_*        a small rtnetlink client on libmnl: links, veth pairs, bridges,
 *                        addresses, routes; netns_sysctl_* for /proc/sys/net in a namespace
 *   network  network_*   named bridge networks, STATE/networks/NAME/config.json; the default
 *                        network `nook` (bridge `nook0`, 10.88.0.0/16) is made on first use
 *   ipam     ipam_*      IPv4 leases of a network, STATE/networks/NAME/leases
 *   nat      nat_*       masquerade and published ports in nftables table `inet nook`
 *   attach   netns_*     one container on one network: all of the above, and back
 *
 * "The host" is the network namespace of the calling thread: bridges, nft rules and sysctls
 * without a namespace argument act there.  Functions that take a netns fd act in that
 * namespace instead, entering it only for as long as it takes to open a socket or a file
 * (see nl_sock_open()); the thread is always back in its own namespace when they return.
 *
 * Conventions (common/error.h): a fallible function returns < 0 (-errno where one applies)
 * and fills *err with a message naming the object and the operation ("add veth `nk1a2b` /
 * `eth0`: File exists"); ret_* parameters are written only on success.  Everything needs
 * CAP_NET_ADMIN, and CAP_SYS_ADMIN where a namespace fd is entered.  Not thread-safe per
 * object: one nl_sock is used by one thread at a time.  See docs/ARCHITECTURE.md, "netns". */
#ifndef NOOK_NETNS_H
#define NOOK_NETNS_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* ==== rtnl: links, addresses, routes ===================================================== */

/* Size of the buffer every request is built in and every answer read into, on the stack of
 * the function that talks (libmnl's MNL_SOCKET_BUFFER_SIZE is a run-time expression, which
 * -Wvla forbids as an array size; this is its upper bound). */
#define NL_BUF_SIZE 8192

/* A NETLINK_ROUTE socket, its port id and its sequence counter.  Each request carries the next
 * sequence number; answers are checked against it and the port id (mnl_cb_run). */
struct nl_sock;

/* Opens a rtnetlink socket in the network namespace netns_fd (a /proc/PID/ns/net or
 * /run/netns/NAME fd), or in the caller's when netns_fd < 0.  A netlink socket belongs to the
 * namespace it was created in, so this setns(2)es the calling thread into netns_fd, creates
 * the socket and setns(2)es back: two system calls, no helper thread.  If going back fails
 * the process aborts rather than go on in the wrong namespace.  Extended acks are turned on:
 * the kernel's own explanation, when it gives one, ends up in the error message.
 * Errors: EINVAL (netns_fd is not a network namespace), EPERM. */
int nl_sock_open(int netns_fd, struct nl_sock **ret, struct nook_error **err);
void nl_sock_close(struct nl_sock *s);
static inline void nl_sock_closep(struct nl_sock **s)
{
  if (*s)
    nl_sock_close(*s);
}
#define _cleanup_nl_sock_ _cleanup_(nl_sock_closep)

/* What nl_link_get() reports of a link.  Every attribute read is validated first. */
struct nl_link
{
  int index;
  char name[IFNAMSIZ];
  char kind[16];  /* IFLA_INFO_KIND: "veth", "bridge", ...; "" for none (lo, physical) */
  unsigned flags; /* IFF_UP, ... */
  int master;     /* ifindex of the bridge it is a port of, 0 for none */
  unsigned mtu;
  uint8_t mac[6];
  bool has_mac;
  int link_netnsid; /* IFLA_LINK_NETNSID: for a veth whose peer is in another namespace, the id
                     * the socket's namespace knows that namespace by; else -1 */
};

/* Looks a link up by name.  Errors: ENODEV when there is none. */
int nl_link_get(struct nl_sock *s, const char *name, struct nl_link *ret, struct nook_error **err);
/* Its ifindex.  Errors: ENODEV. */
int nl_link_get_index(struct nl_sock *s, const char *name, int *ret_index, struct nook_error **err);
/* 1 when the link exists, 0 when it does not, < 0 on error. */
int nl_link_exists(struct nl_sock *s, const char *name, struct nook_error **err);

/* A veth pair in one RTM_NEWLINK: `name` in the socket's namespace and `peer` created directly
 * in peer_netns_fd (IFLA_NET_NS_FD on the peer, so there is no separate move and the peer's
 * name only has to be free in its own namespace). */
struct nl_veth
{
  const char *name;        /* this end */
  const char *peer;        /* the other end */
  int peer_netns_fd;       /* < 0: the socket's namespace */
  const uint8_t *peer_mac; /* 6 bytes, or NULL for the kernel's random one */
  const char *master;      /* bridge this end joins, or NULL */
  bool up;                 /* this end up; the peer stays down: the kernel configures the peer
                            * before it ties the pair, and a veth without its peer cannot go
                            * up (ENOTCONN), so the peer is brought up in its own namespace */
};
/* Errors: EEXIST (either name taken), ENODEV (no master), EINVAL. */
int nl_link_add_veth(struct nl_sock *s, const struct nl_veth *v, struct nook_error **err);
/* A bridge, down, with the kernel's defaults (no STP).  Errors: EEXIST. */
int nl_link_add_bridge(struct nl_sock *s, const char *name, struct nook_error **err);
/* Makes `name` a port of bridge `master`, or releases it from its master when master is NULL.
 * Errors: ENODEV. */
int nl_link_set_master(struct nl_sock *s, const char *name, const char *master,
                       struct nook_error **err);
int nl_link_set_up(struct nl_sock *s, const char *name, bool up, struct nook_error **err);
int nl_link_set_mac(struct nl_sock *s, const char *name, const uint8_t mac[6],
                    struct nook_error **err);
/* Errors: EEXIST (new_name taken), EBUSY (the link is up, on kernels that refuse that). */
int nl_link_rename(struct nl_sock *s, const char *name, const char *new_name,
                   struct nook_error **err);
/* Moves the link into the namespace netns_fd; it keeps its name, addresses are lost. */
int nl_link_set_netns(struct nl_sock *s, const char *name, int netns_fd, struct nook_error **err);
/* Deletes a link (and, for a veth, its peer).  Errors: ENODEV when there is none. */
int nl_link_del(struct nl_sock *s, const char *name, struct nook_error **err);
/* Hairpin mode of a bridge port (IFLA_BRPORT_MODE in a nested IFLA_PROTINFO, AF_BRIDGE): a
 * frame may leave by the port it came in, so a container reaches itself through a published
 * port.  Errors: EOPNOTSUPP or EINVAL when the link is not a bridge port. */
int nl_bridge_port_set_hairpin(struct nl_sock *s, const char *name, bool on,
                               struct nook_error **err);

/* Adds or deletes address/prefixlen on link `name`; family is AF_INET (addr is a struct
 * in_addr) or AF_INET6 (struct in6_addr).  IPv4 addresses get the subnet's broadcast address.
 * Errors: EEXIST (add: already there), EADDRNOTAVAIL (del: not there), ENODEV. */
int nl_addr_add(struct nl_sock *s, const char *name, int family, const void *addr,
                unsigned prefixlen, struct nook_error **err);
int nl_addr_del(struct nl_sock *s, const char *name, int family, const void *addr,
                unsigned prefixlen, struct nook_error **err);
/* Adds the default route via gateway on link `name` (main table).  Errors: EEXIST,
 * ENETUNREACH (gateway not on a connected subnet of the link). */
int nl_route_add_default(struct nl_sock *s, const char *name, int family, const void *gateway,
                         struct nook_error **err);

/* Network namespace ids (RTM_GETNSID, RTM_NEWNSID): the numbers by which the socket's namespace
 * names its peers, as in IFLA_LINK_NETNSID.  nl_netns_id() gives the id of the namespace
 * netns_fd, assigning one when it has none yet.  nl_netns_alive() tells whether the namespace
 * known as nsid still has a reference (a process, a bind mount, an open fd, a socket in it): 1
 * if so, 0 when it has none left (the kernel then tears it down in the background, in its
 * cleanup_net work, with every link in it) or no namespace has that id.  The kernel resolves
 * an id only while the namespace can still be referenced, which is what makes this the test;
 * the id of a dead namespace is freed and may name a new one later, so a caller asks soon after
 * it learnt the id, and may only err towards "alive".  Neither request waits for the rtnl
 * lock.  Errors: EINVAL (kernels before 4.20 do not look namespaces up by id). */
int nl_netns_id(struct nl_sock *s, int netns_fd, int *ret_nsid, struct nook_error **err);
int nl_netns_alive(struct nl_sock *s, int nsid, struct nook_error **err);

/* Writes or reads /proc/sys/KEY (KEY like "net/ipv4/ip_forward"; no "." or ".." parts) as
 * seen from the namespace netns_fd, or the caller's when netns_fd < 0: /proc/sys/net shows
 * the namespace of the process that opens the file, so the file is opened inside it.
 * read returns the value without its trailing newline. */
int netns_sysctl_write(int netns_fd, const char *key, const char *value, struct nook_error **err);
int netns_sysctl_read(int netns_fd, const char *key, char **ret, struct nook_error **err);

/* Opens /proc/PID/ns/net (O_CLOEXEC), for the functions that take a netns fd. */
int netns_open_pid(pid_t pid, int *ret_fd, struct nook_error **err);

struct ipam_lease;

/* ==== networks ============================================================================ */

#define NETWORK_DEFAULT "nook"
#define NETWORK_DEFAULT_BRIDGE "nook0"
#define NETWORK_DEFAULT_SUBNET "10.88.0.0/16"

/* A bridge network.  Only IPv4 for now. */
struct nook_network
{
  char *name;
  char *bridge;
  struct in_addr subnet;  /* network address, host bits zero */
  unsigned prefix;        /* 8 to 30 */
  struct in_addr gateway; /* the bridge's address, the containers' default route */
  char *created;          /* RFC 3339 */
};

/* What `nook network create` asks for; NULL fields get defaults: the first free 10.89.N.0/24,
 * its first address as gateway, the first free bridge name nookN. */
struct nook_network_opts
{
  const char *name;
  const char *subnet;  /* "A.B.C.D/P" */
  const char *gateway; /* "A.B.C.D" */
  const char *bridge;
};

void network_free(struct nook_network *net);
static inline void network_freep(struct nook_network **n)
{
  if (*n)
    network_free(*n);
}
#define _cleanup_network_ _cleanup_(network_freep)
void network_list_free(struct nook_network **v, size_t n);

/* Validates opts and writes STATE/networks/NAME/config.json.  Does not touch the kernel: the
 * bridge appears with its first container.  Errors (one line, naming the field): EINVAL for a
 * bad name, subnet, gateway or bridge ("subnet: `10.0.0.0/33`: prefix length must be 8 to 30");
 * EEXIST for a name taken, a subnet overlapping another network's or a bridge name in use. */
int network_config_create(const char *state_dir, const struct nook_network_opts *opts,
                          struct nook_network **ret, struct nook_error **err);
/* Reads a network; the default network is written first when it does not exist yet.
 * Errors: ENOENT ("network `x` does not exist"), EINVAL (a damaged config.json). */
int network_config_load(const char *state_dir, const char *name, struct nook_network **ret,
                        struct nook_error **err);
/* Every network, sorted by name, the default one included (made if missing). */
int network_config_list(const char *state_dir, struct nook_network ***ret, size_t *ret_n,
                        struct nook_error **err);
/* Removes a network: its nft rules, its bridge (in the caller's namespace) and its directory.
 * Errors: EBUSY while it has leases (containers), EPERM for the default network, ENOENT. */
int network_config_remove(const char *state_dir, const char *name, struct nook_error **err);
/* The network as JSON: name, driver, bridge, subnet, gateway, created (its config.json). */
char *network_config_to_json(const struct nook_network *net, bool pretty);
/* The same and "containers": [{"id", "name", "address"}] from leases (ipam_lease_list()). */
char *network_inspect_json(const struct nook_network *net, const struct ipam_lease *leases,
                           size_t n_leases, bool pretty);
/* Checks opts without writing anything (what create checks first, minus clashes with other
 * networks).  When ret is not NULL, fills it with the parsed values; what opts left out stays
 * empty (prefix 0, gateway 0.0.0.0, bridge NULL). */
int network_config_validate(const struct nook_network_opts *opts, struct nook_network **ret,
                            struct nook_error **err);

/* Makes the network's bridge ready, whatever of it exists already: the bridge, the gateway
 * address on it, up, and route_localnet=1 on it (a connection to a published port from
 * 127.0.0.1 leaves through the bridge with a loopback source before it is masqueraded, and its
 * answers come back to 127.0.0.1; see nat_*).  s must be a socket of the caller's namespace,
 * where the sysctl is written.  Sets *ret_created (may be NULL) when it made the bridge. */
int network_bridge_ensure(struct nl_sock *s, const struct nook_network *net, bool *ret_created,
                          struct nook_error **err);

/* ==== ipam ================================================================================= */

/* One lease: an address of the network held by a container. */
struct ipam_lease
{
  struct in_addr addr;
  char *id;   /* container id */
  char *name; /* container name, or NULL */
};
void ipam_lease_list_free(struct ipam_lease *v, size_t n);

/* Container liveness for ipam_lease_reclaim(): true while container `id` exists. */
typedef bool (*ipam_alive_fn)(const char *id, void *data);

/* Leases live in STATE/networks/NAME/leases, a journal: "ADDRESS ID NAME" takes a lease (NAME
 * "-" when there is none), "-ID" drops it, "=ADDRESS" records the last address handed out when
 * a compaction dropped the line that took it (otherwise the last lease line says it).  A change is
 * one append under flock(2) on the network's directory, so concurrent nooks never hand out one
 * address twice; the journal is compacted (a new file and rename(2)) when dropped lines outnumber
 * the live ones.  A reader needs no lock: a last line without its newline is not read. */

/* Gives container `id` an address: the next free host address after the last one handed out,
 * wrapping around at the end of the subnet (as CNI's host-local does), never the network,
 * gateway or broadcast address; the first free one when none was handed out yet.  So an address
 * is given again only after the whole subnet went round, never to the next container right
 * after its holder left (whose veth the kernel may still be removing).  A container that holds one
 * gets the same one again; *ret_new (may be NULL) says whether this call made the lease.  Errors:
 * ENOSPC when the subnet is full ("network `x`: no free address in `10.0.0.0/30`"), EINVAL for an
 * id or name a lease line cannot hold, ENOENT for a network that does not exist (or was just
 * removed). */
int ipam_lease_allocate(const char *state_dir, const struct nook_network *net, const char *id,
                        const char *name, struct in_addr *ret, bool *ret_new,
                        struct nook_error **err);
/* Drops the lease of `id`.  Returns 1 when there was one, 0 when not (not an error). */
int ipam_lease_release(const char *state_dir, const char *network, const char *id,
                       struct nook_error **err);
/* Drops every lease whose container alive() says is gone (after a crash).  *ret_n (may be
 * NULL): how many were dropped. */
int ipam_lease_reclaim(const char *state_dir, const char *network, ipam_alive_fn alive, void *data,
                       size_t *ret_n, struct nook_error **err);
/* The leases in address order.  A network without leases gives n = 0. */
int ipam_lease_list(const char *state_dir, const char *network, struct ipam_lease **ret,
                    size_t *ret_n, struct nook_error **err);
/* Calls fn with the leases of network (in address order) while holding the network's lock:
 * no lease is taken or dropped until fn returns, so what fn writes from them (the containers'
 * /etc/hosts) is never older than another writer's.  fn must not call ipam_* on this
 * network.  Returns fn's result; ENOENT for a network that does not exist. */
typedef int (*ipam_lease_fn)(const struct ipam_lease *v, size_t n, void *data,
                             struct nook_error **err);
int ipam_lease_locked(const char *state_dir, const char *network, ipam_lease_fn fn, void *data,
                      struct nook_error **err);

/* ==== nat: nftables ======================================================================== */

/* nook's rules live in one table of its own, `inet nook`, built with libnftnl and sent in
 * atomic batches over libmnl; nook never reads or changes other tables.  Chains:
 *   postrouting  nat, srcnat   masquerade: subnet -> outside; 127.0.0.0/8 -> subnet; subnet ->
 *                              subnet after DNAT (a container reaching a published port)
 *   prerouting   nat, dstnat   DNAT of published ports for packets arriving from outside
 *   output       nat, dstnat   the same for connections made on the host (127.0.0.1 too)
 *   forward      filter        accept to/from the subnet (replies, DNAT, and outgoing)
 *   input        filter        drop new connections from the bridge to 127.0.0.0/8, which
 *                              route_localnet would otherwise let a container make
 * Every rule carries a comment, "nook net=NAME" or "nook ctr=ID", by which it is deleted.  The
 * table is deleted, atomically and only if no rule is left, with the last network's rules. */
#define NAT_TABLE "nook"

struct nat_port
{
  struct in_addr host_ip; /* INADDR_ANY: every address of the host */
  uint16_t host_port;
  uint16_t ctr_port;
  uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

/* Parses `-p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]` (tcp by default).  Errors: EINVAL, naming
 * the part ("publish `80:x`: container port `x` is not a number from 1 to 65535"). */
int nat_port_parse(const char *spec, struct nat_port *ret, struct nook_error **err);

/* Adds the network's rules (masquerade, forward, input) if they are not there yet.  The table
 * and its chains are created in the same batch when missing. */
int nat_network_add(const struct nook_network *net, struct nook_error **err);
/* Deletes the network's rules, and the table when nothing else is left in it. */
int nat_network_remove(const char *network, struct nook_error **err);
/* One batch: the network's rules if missing, any stale rules of container `id` (a previous
 * crash) removed, and one prerouting and one output DNAT rule per published port to
 * addr:ctr_port.  The id must fit a rule comment (at most 100 bytes). */
int nat_container_add(const struct nook_network *net, const char *id, struct in_addr addr,
                      const struct nat_port *ports, size_t n_ports, struct nook_error **err);
/* Deletes the rules of container `id`; none is fine.  Also deletes the table if empty. */
int nat_container_remove(const char *id, struct nook_error **err);

/* ==== attach: one container on one network ================================================= */

/* The host end of a container's veth: "nk" and 12 hex digits of SHA-256(id). */
void netns_veth_name(const char *id, char ret[IFNAMSIZ]);
/* 02:42 and the four bytes of the address, as docker and podman do: a locally administered
 * unicast MAC unique within the network. */
void netns_mac_from_ipv4(struct in_addr addr, uint8_t ret[6]);

struct netns_attach_config
{
  const char *state_dir;
  const char *id;      /* container id: lease, rule comments, veth name */
  const char *name;    /* container name for /etc/hosts of others, or NULL */
  const char *network; /* NULL: NETWORK_DEFAULT */
  int netns_fd;        /* the container's network namespace */
  const struct nat_port *ports;
  size_t n_ports;
  ipam_alive_fn alive; /* or NULL; when the subnet is full, leases of dead containers are
                        * reclaimed (ipam_lease_reclaim) and the allocation tried again */
  void *alive_data;
};

struct netns_attachment
{
  char host_if[IFNAMSIZ]; /* the host end, "nk..." */
  struct in_addr addr;    /* the container's address on eth0 */
  unsigned prefix;
  struct in_addr gateway;
  uint8_t mac[6];
  bool ip_forward_enabled; /* this call turned net.ipv4.ip_forward on (it also logs so) */
};

/* Connects the container's namespace to the network: the bridge (network_bridge_ensure), an
 * address (ipam), a veth pair with the host end on the bridge, up, hairpin on, and the peer
 * made directly in the container as `eth0`, up, with a MAC derived from the address; in the
 * container the address, the default route via the gateway and `lo` up; the nft rules for the
 * network and the published ports; net.ipv4.ip_forward on if it was off.  On failure what was
 * done is undone.  Writes nothing in the container's filesystem (see netns_hosts_format() and
 * netns_resolv_conf_render() for its /etc files). */
int netns_container_attach(const struct netns_attach_config *cfg, struct netns_attachment *ret,
                           struct nook_error **err);
/* Undoes attach, in `network` or, when network is NULL, in every network: the host end of the
 * veth, then the container's nft rules, then its lease (only once the rules are gone).
 * The veth: when the container's namespace has no reference left (the caller dropped its own,
 * e.g. unmounted the file that held it, after the container's processes were gone), the
 * kernel tears the namespace down in the background and the pair goes with it, a few ms
 * later; detach leaves it to do so and returns at once.  While something still holds the
 * namespace (a stray process after a crash; detach gives it up to 5 ms to be seen dying, as
 * the stack may hold it briefly in deferred work), or when that cannot be told, detach deletes
 * the host end itself, which waits for the kernel (20-30 ms).  netns_id: the container's namespace
 * as nl_netns_id() named it (on a socket of the caller's namespace) before the caller dropped
 * its reference, or -1 when not known: the veth's IFLA_LINK_NETNSID is asked then.  The
 * addresses a network hands out go round (ipam_lease_allocate()), so a pair still on its way
 * out does not meet a new container with its address and MAC, and attach deletes a host end
 * of an earlier attach of the same id that it still finds.  Anything already gone is skipped,
 * so it serves after a crash and can run twice. */
int netns_container_detach(const char *state_dir, const char *network, const char *id, int netns_id,
                           struct nook_error **err);

/* /etc/hosts for a container: localhost lines, then `names` (its hostname and container name,
 * separated by a space; NULL for none) at `self`, then every other lease of the network that
 * has a name (leases from ipam_lease_list(); self_id's own is skipped).  Caller frees. */
char *netns_hosts_format(const char *names, struct in_addr self, const char *self_id,
                         const struct ipam_lease *leases, size_t n);
/* /etc/resolv.conf for a container: the host's (path, or /etc/resolv.conf when NULL) without
 * its loopback nameservers (127.0.0.0/8, ::1), which are unreachable from the container's
 * namespace, and without IPv6 ones, which an IPv4-only network cannot reach (as podman).  When none
 * is left and the host runs systemd-resolved (default path only), its upstream list
 * /run/systemd/resolve/resolv.conf is used instead; failing that, the text says in a comment that
 * no usable nameserver was found.  A missing host file is not an error. */
int netns_resolv_conf_render(const char *path, char **ret, struct nook_error **err);

#endif
