/* The network of a container of `nook run` (cli/run-network.c): its network namespace, its
 * place on a bridge network (netns/), and the files bind-mounted over its /etc/hosts,
 * /etc/hostname and /etc/resolv.conf.
 *
 * Modes, as ctr.network records them:
 *   NETWORK (default `nook`; `bridge` is an alias of it)  a network namespace of its own, made
 *             by setup and held by a bind mount on ROOT/@netns/ID (podman's way: the namespace
 *             outlives a restart of the container's process, and teardown works after a crash;
 *             '@' is never part of a container id, so the directory is no container's),
 *             attached to the bridge network with netns_container_attach(); published ports
 *   none      a new network namespace with only lo (the runtime makes it)
 *   host      the host's network namespace
 *   container:ID  the network namespace of another running container, and its files
 *
 * The files live in the container's directory, STORAGE/containers/ID/{hosts,hostname,
 * resolv.conf}.  The hosts file of a container on a bridge network lists the other containers
 * of that network by name below a marker line; setup and teardown rewrite that part of every
 * peer's file in place (the bind mount shows the same inode), under the network's lease lock.
 *
 * Everything that touches the kernel's network acts in the network namespace nook runs in
 * ("the host"); everything needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN). */
#ifndef NOOK_CLI_RUN_NETWORK_H
#define NOOK_CLI_RUN_NETWORK_H

#include <stdbool.h>

#include "cli/cli.h"
#include "common/error.h"

struct image_store;

/* What a container asks of its network: ctr.network and ctr.ports, and the flags that shape
 * its /etc files. */
struct run_network_config
{
  const char *id;         /* the container's id (64 hex digits) */
  const char *name;       /* its name: /etc/hosts of its peers list it; or NULL */
  const char *network;    /* "none", "host", "container:ID", "bridge" or a network's name;
                           * NULL: run_network_default() */
  char *const *ports;     /* -p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp], NULL-terminated, or NULL */
  const char *hostname;   /* --hostname, or NULL for the mode's default */
  char *const *add_hosts; /* --add-host NAME:IP */
  char *const *dns;       /* --dns IP: replaces the host's nameservers in resolv.conf */
};

/* What setup made, for the container's config.json (struct nook_run_config). */
struct run_network
{
  char *netns_path;         /* join this network namespace; NULL: a new one (none) or host */
  bool host;                /* --net host: no network namespace of its own */
  char *hostname;           /* the container's hostname: --hostname, or the mode's default
                             * (the host's with --net host, the joined container's with
                             * container:, else the first 12 digits of the id) */
  char **file_sources;      /* the files, NULL-terminated, and */
  char **file_destinations; /* where they go: /etc/hosts, /etc/hostname, /etc/resolv.conf */
};

/* Frees the members of n (not n itself). */
void run_network_done(struct run_network *n);

/* The default mode: the default bridge network for root; `none` otherwise (a bridge needs
 * CAP_NET_ADMIN on the host). */
const char *run_network_default(void);

/* Checks cfg without changing anything: the mode, -p (nat_port_parse), --add-host, --dns and
 * the flags that a mode refuses (-p, --add-host, --dns with none; -p with host; -p, --add-host,
 * --dns, --hostname with container:); that the network exists, or that the container to join
 * runs.  Errors are one line naming the flag: "--publish: `80:x`: ...", "--net `x`: network
 * `x` does not exist", "-p cannot be used with --net none". */
int run_network_check(const struct nook_globals *g, struct image_store *s,
                      const struct run_network_config *cfg, struct nook_error **err);

/* Prepares the network of container cfg->id (after run_network_check): for a bridge network a
 * network namespace bound on ROOT/@netns/ID and attached to the network (lease, veth, ports),
 * then the container's hosts, hostname and resolv.conf; the peers' hosts files learn its name.
 * Anything left of an earlier setup of the same id (a crash) is torn down first.  On failure
 * what was done is undone.  *ret is filled only on success. */
int run_network_setup(const struct nook_globals *g, struct image_store *s,
                      const struct run_network_config *cfg, struct run_network *ret,
                      struct nook_error **err);

/* Undoes setup for container id on network (ctr.network; NULL when not known, e.g. `nook rm
 * -f` after a crash: every network is looked at), once the container's processes are gone:
 * unmounts and removes ROOT/@netns/ID, which drops the namespace's last reference, then
 * detaches it (netns_container_detach(): the nft rules and the lease now; the veth pair goes
 * with the namespace, which the kernel tears down in the background, a few ms later, unless
 * something still holds the namespace, e.g. a stray process after a crash: then the pair is
 * deleted here), and rewrites the peers' hosts files.  A container that holds no lease costs
 * no netlink at all.  Idempotent: anything already gone is skipped, so it serves after a crash
 * (kill -9 of nook and the container) and can run twice.  The files in the container's
 * directory stay (they go with it). */
int run_network_teardown(const struct nook_globals *g, struct image_store *s, const char *id,
                         const char *network, struct nook_error **err);

/* Detaches the leases of network whose container's directory no longer exists (a container
 * removed without its teardown), so that they do not hold the network: `nook network rm`
 * calls this first.  *ret_n (may be NULL): how many. */
int run_network_reap(const struct nook_globals *g, struct image_store *s, const char *network,
                     size_t *ret_n, struct nook_error **err);

#endif
