/* What the files of netns/ share among themselves and with the unit tests; not an interface. */
#ifndef NOOK_NETNS_INTERNAL_H
#define NOOK_NETNS_INTERNAL_H

#include <libmnl/libmnl.h>

#include "netns/netns.h"

/* Moves the calling thread into the network namespace netns_fd; *ret_saved is an fd of the
 * namespace it was in, for netns_leave().  Between the two, the caller only opens things. */
int netns_enter(int netns_fd, int *ret_saved, struct nook_error **err);
/* Returns to the namespace saved by netns_enter() and closes the fd.  Aborts if the kernel
 * refuses: going on in another namespace than the caller's would act on the wrong network. */
void netns_leave(int saved);

/* A libmnl socket of the netlink family `bus`, created in netns_fd (< 0: the caller's) with
 * SOCK_CLOEXEC, bound, with extended acks asked for.  *ret_portid is its port id. */
int netns_mnl_open(int bus, int netns_fd, struct mnl_socket **ret, uint32_t *ret_portid,
                   struct nook_error **err);

/* Reads the message of an extended ack (NLMSGERR_ATTR_MSG) in an NLMSG_ERROR, validated,
 * into buf ("" when there is none). */
void netns_extack_msg(const struct nlmsghdr *nlh, char *buf, size_t size);

/* IPv4 in host byte order, for arithmetic on subnets. */
static inline uint32_t ipv4_mask(unsigned prefix)
{
  return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}
/* "A.B.C.D" strictly (inet_pton).  Returns 0 or -EINVAL. */
int ipv4_parse(const char *s, struct in_addr *ret);
/* "A.B.C.D/P" with P from 0 to 32.  Returns 0 or -EINVAL. */
int ipv4_parse_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix);
/* "A.B.C.D" in a static-free buffer of at least INET_ADDRSTRLEN. */
const char *ipv4_format(struct in_addr a, char buf[INET_ADDRSTRLEN]);
/* True when a is inside subnet/prefix. */
bool ipv4_in_subnet(struct in_addr a, struct in_addr subnet, unsigned prefix);

/* STATE/networks and STATE/networks/NAME. */
char *network_root_path(const char *state_dir);
char *network_dir_path(const char *state_dir, const char *name);
/* A network name: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 bytes.  The error names `what`. */
int network_name_validate(const char *name, struct nook_error **err);
/* A container id fit for a lease line and a rule comment: 1 to 100 bytes of [A-Za-z0-9_+.-]. */
int netns_id_validate(const char *id, struct nook_error **err);

/* Opens (creating with mode 0700) and flock(2)s a directory; returns the locked fd. */
int netns_lock_dir(const char *path, bool create, int *ret_fd, struct nook_error **err);

/* Moves a local error into *err when the caller wants one and has none yet; returns r. */
static inline int netns_error_move(struct nook_error **err, struct nook_error **local, int r)
{
  if (err && *err == NULL)
    {
      *err = *local;
      *local = NULL;
    }
  return r;
}

/* The leases of the network whose directory dirfd is (locked by the caller), sorted by
 * address.  A missing lease file is no lease. */
int ipam_leases_read(int dirfd, const char *network, struct ipam_lease **ret, size_t *ret_n,
                     struct nook_error **err);

/* nat_container_add() for a container known to have no rules yet, which saves reading the
 * whole table: attach adds rules only under a lease and detach drops the lease only after
 * the rules, so a container whose lease is new has none. */
int nat_container_add_new(const struct nook_network *net, const char *id, struct in_addr addr,
                          const struct nat_port *ports, size_t n_ports, struct nook_error **err);

/* The comments nook's rules carry. */
#define NAT_TAG_NET "nook net="
#define NAT_TAG_CTR "nook ctr="

#endif
