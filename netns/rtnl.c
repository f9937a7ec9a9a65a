/* A small rtnetlink client on libmnl, after libmnl's examples: every request is built in a
 * buffer on the stack of the function that sends it, answers are read into the same buffer
 * and run through mnl_cb_run2() with the request's sequence number and the socket's port id,
 * and every attribute read back is validated before use.  Links are named in every request
 * the kernel can resolve by name (IFLA_IFNAME with ifi_index 0), so most operations are one
 * round trip; the others look the index up first. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "netns/netns-internal.h"

#ifndef RTEXT_FILTER_SKIP_STATS
#define RTEXT_FILTER_SKIP_STATS (1 << 3)
#endif

struct nl_sock
{
  struct mnl_socket *nl;
  uint32_t portid;
  uint32_t seq;
  char extack[160]; /* the kernel's message for the last failed request, or "" */
};

/* ---- namespaces ------------------------------------------------------------------------- */

int netns_enter(int netns_fd, int *ret_saved, struct nook_error **err)
{
  _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

  if (self < 0)
    return nook_error_set(err, errno, "open `/proc/thread-self/ns/net`");
  if (setns(netns_fd, CLONE_NEWNET) < 0)
    return nook_error_set(err, errno, "enter network namespace (fd %d)", netns_fd);
  *ret_saved = TAKE_FD(self);
  return 0;
}

void netns_leave(int saved)
{
  if (setns(saved, CLONE_NEWNET) < 0)
    {
      nook_error_log("return to the original network namespace: %s", strerror(errno));
      abort();
    }
  close(saved);
}

int netns_open_pid(pid_t pid, int *ret_fd, struct nook_error **err)
{
  char path[64];
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", path);
  *ret_fd = fd;
  return 0;
}

int netns_mnl_open(int bus, int netns_fd, struct mnl_socket **ret, uint32_t *ret_portid,
                   struct nook_error **err)
{
  struct mnl_socket *nl;
  int saved = -1, e, one = 1;

  if (netns_fd >= 0 && netns_enter(netns_fd, &saved, err) < 0)
    return -1;
  nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
  e = errno;
  if (saved >= 0)
    netns_leave(saved);
  if (nl == NULL)
    return nook_error_set(err, e, "open netlink socket");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      e = errno;
      mnl_socket_close(nl);
      return nook_error_set(err, e, "bind netlink socket");
    }
  /* Both are optional: without them errors are plain errnos. */
  mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
  *ret_portid = mnl_socket_get_portid(nl);
  *ret = nl;
  return 0;
}

int nl_sock_open(int netns_fd, struct nl_sock **ret, struct nook_error **err)
{
  struct nl_sock *s = xcalloc(1, sizeof(*s));

  if (netns_mnl_open(NETLINK_ROUTE, netns_fd, &s->nl, &s->portid, err) < 0)
    {
      free(s);
      return nook_error_prefix(err, "rtnetlink");
    }
  s->seq = (uint32_t)time(NULL);
  *ret = s;
  return 0;
}

void nl_sock_close(struct nl_sock *s)
{
  if (s == NULL)
    return;
  mnl_socket_close(s->nl);
  free(s);
}

/* ---- talking ---------------------------------------------------------------------------- */

struct extack
{
  char *buf;
  size_t size;
};

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
  struct extack *x = data;

  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG
      && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
    snprintf(x->buf, x->size, "%s", mnl_attr_get_str(attr));
  return MNL_CB_OK;
}

void netns_extack_msg(const struct nlmsghdr *nlh, char *buf, size_t size)
{
  const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
  struct extack x = { buf, size };
  size_t off = sizeof(*e);

  buf[0] = '\0';
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
    return;
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
    {
      /* the request is echoed in full before the attributes */
      if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
        return;
      off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
    }
  if (mnl_nlmsg_get_payload_len(nlh) >= off)
    mnl_attr_parse(nlh, (unsigned)off, extack_attr_cb, &x);
}

struct talk
{
  struct nl_sock *s;
  mnl_cb_t cb;
  void *data;
};

static int talk_data(const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;
  return t->cb ? t->cb(nlh, t->data) : MNL_CB_OK;
}

static int talk_noop(const struct nlmsghdr *nlh, void *data)
{
  return MNL_CB_OK;
}

static int talk_done(const struct nlmsghdr *nlh, void *data)
{
  /* a dump that failed half-way says so in NLMSG_DONE's payload */
  if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
    {
      int e = *(const int *)mnl_nlmsg_get_payload(nlh);
      if (e < 0)
        {
          errno = -e;
          return MNL_CB_ERROR;
        }
    }
  return MNL_CB_STOP;
}

static int talk_error(const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;
  const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
    {
      errno = EBADMSG;
      return MNL_CB_ERROR;
    }
  if (e->error == 0)
    return MNL_CB_STOP; /* the ack */
  netns_extack_msg(nlh, t->s->extack, sizeof(t->s->extack));
  errno = e->error < 0 ? -e->error : e->error;
  return MNL_CB_ERROR;
}

static mnl_cb_t talk_ctl[NLMSG_MIN_TYPE] = {
  [NLMSG_NOOP] = talk_noop,
  [NLMSG_ERROR] = talk_error,
  [NLMSG_DONE] = talk_done,
  [NLMSG_OVERRUN] = talk_noop,
};

/* Sends the request at the start of buf with the next sequence number and an ack requested,
 * then reads answers into buf until the ack (or an error); cb sees each data message.  cb
 * should not fail (record a problem in data instead), so that the ack is always read and no
 * answer is left in the socket for the next request.  Returns 0, or -1 with errno set. */
static int nl_talk(struct nl_sock *s, char *buf, mnl_cb_t cb, void *data)
{
  struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
  struct talk t = { s, cb, data };
  uint32_t seq;

  if (++s->seq == 0) /* 0 would turn libmnl's sequence check off */
    s->seq = 1;
  seq = nlh->nlmsg_seq = s->seq;
  nlh->nlmsg_flags |= NLM_F_ACK;
  s->extack[0] = '\0';
  if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
    return -1;
  for (;;)
    {
      ssize_t n = mnl_socket_recvfrom(s->nl, buf, NL_BUF_SIZE);
      int r;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      r = mnl_cb_run2(buf, (size_t)n, seq, s->portid, talk_data, &t, talk_ctl,
                      ARRAY_SIZE(talk_ctl));
      if (r < 0)
        return -1;
      if (r == MNL_CB_STOP)
        return 0;
    }
}

/* Fills *err from errno after a failed nl_talk(): "WHAT: strerror (kernel's message)". */
static int nl_fail(struct nl_sock *s, struct nook_error **err, const char *fmt, ...) _printf_(3, 4);
static int nl_fail(struct nl_sock *s, struct nook_error **err, const char *fmt, ...)
{
  int e = errno;
  char what[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (s->extack[0] != '\0')
    return nook_error_setx(err, e, "%s: %s (%s)", what, strerror(e), s->extack);
  return nook_error_set(err, e, "%s", what);
}

static int check_name(const char *name, struct nook_error **err)
{
  size_t len = name ? strlen(name) : 0;

  if (len == 0 || len >= IFNAMSIZ)
    return nook_error_setx(err, EINVAL, "link name `%s` must be 1 to %d characters",
                           name ? name : "", IFNAMSIZ - 1);
  return 0;
}

/* RTM_*LINK request for link `name` (or index when > 0). */
static struct ifinfomsg *link_msg(char *buf, uint16_t type, uint16_t flags, int family, int index,
                                  const char *name)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  struct ifinfomsg *ifm;

  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
  ifm->ifi_family = (unsigned char)family;
  ifm->ifi_index = index;
  if (name)
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  return ifm;
}

/* ---- reading a link --------------------------------------------------------------------- */

static int link_attr_cb(const struct nlattr *a, void *data)
{
  const struct nlattr **tb = data;
  int type = mnl_attr_get_type(a);

  if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
    return MNL_CB_OK; /* newer than these headers: not ours to read */
  switch (type)
    {
    case IFLA_IFNAME:
      if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0 || mnl_attr_get_payload_len(a) > IFNAMSIZ)
        return MNL_CB_ERROR;
      break;
    case IFLA_MTU:
    case IFLA_MASTER:
    case IFLA_LINK_NETNSID:
      if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
        return MNL_CB_ERROR;
      break;
    case IFLA_LINKINFO:
      if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
        return MNL_CB_ERROR;
      break;
    case IFLA_ADDRESS: break; /* length checked where used: only 6 bytes are an Ethernet address */
    default: return MNL_CB_OK;
    }
  tb[type] = a;
  return MNL_CB_OK;
}

static int linkinfo_attr_cb(const struct nlattr *a, void *data)
{
  const struct nlattr **tb = data;

  if (mnl_attr_type_valid(a, IFLA_INFO_MAX) < 0 || mnl_attr_get_type(a) != IFLA_INFO_KIND)
    return MNL_CB_OK;
  if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
    return MNL_CB_ERROR;
  tb[IFLA_INFO_KIND] = a;
  return MNL_CB_OK;
}

struct link_reply
{
  struct nl_link link;
  bool found;
  bool bad; /* an attribute failed validation */
};

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
  struct link_reply *r = data;
  const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
  const struct nlattr *info[IFLA_INFO_MAX + 1] = { 0 };
  const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
  struct nl_link *l = &r->link;

  if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm)
      || mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb) < 0 || tb[IFLA_IFNAME] == NULL
      || (tb[IFLA_LINKINFO]
          && mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, info) < 0))
    {
      r->bad = true;
      return MNL_CB_OK;
    }
  memset(l, 0, sizeof(*l));
  l->index = ifm->ifi_index;
  l->flags = ifm->ifi_flags;
  snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
  if (info[IFLA_INFO_KIND])
    snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(info[IFLA_INFO_KIND]));
  if (tb[IFLA_MTU])
    l->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
  if (tb[IFLA_MASTER])
    l->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
  l->link_netnsid = tb[IFLA_LINK_NETNSID] ? (int)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID])
                                          : NETNSA_NSID_NOT_ASSIGNED;
  if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(l->mac))
    {
      memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(l->mac));
      l->has_mac = true;
    }
  r->found = true;
  return MNL_CB_OK;
}

int nl_link_get(struct nl_sock *s, const char *name, struct nl_link *ret, struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  struct link_reply r = { .found = false };

  if (check_name(name, err) < 0)
    return -EINVAL;
  link_msg(buf, RTM_GETLINK, 0, AF_UNSPEC, 0, name);
  mnl_attr_put_u32((struct nlmsghdr *)buf, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  if (nl_talk(s, buf, link_cb, &r) < 0)
    return nl_fail(s, err, "get link `%s`", name);
  if (r.bad)
    return nook_error_setx(err, EBADMSG, "get link `%s`: malformed answer from the kernel", name);
  if (!r.found)
    return nook_error_setx(err, ENODEV, "get link `%s`: no answer from the kernel", name);
  *ret = r.link;
  return 0;
}

int nl_link_get_index(struct nl_sock *s, const char *name, int *ret_index, struct nook_error **err)
{
  struct nl_link l;
  int r = nl_link_get(s, name, &l, err);

  if (r < 0)
    return r;
  *ret_index = l.index;
  return 0;
}

int nl_link_exists(struct nl_sock *s, const char *name, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  struct nl_link l;
  int r = nl_link_get(s, name, &l, &e);

  if (r == 0)
    return 1;
  if (r == -ENODEV)
    return 0;
  if (err && *err == NULL)
    *err = TAKE_PTR(e);
  return r;
}

/* ---- namespace ids ---------------------------------------------------------------------- */

struct nsid_reply
{
  int nsid;
  bool found;
  bool bad;
};

static int nsid_attr_cb(const struct nlattr *a, void *data)
{
  const struct nlattr **tb = data;

  if (mnl_attr_type_valid(a, NETNSA_MAX) < 0 || mnl_attr_get_type(a) != NETNSA_NSID)
    return MNL_CB_OK;
  if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
    return MNL_CB_ERROR;
  tb[NETNSA_NSID] = a;
  return MNL_CB_OK;
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
  struct nsid_reply *r = data;
  const struct nlattr *tb[NETNSA_MAX + 1] = { 0 };

  if (nlh->nlmsg_type != RTM_NEWNSID || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtgenmsg)
      || mnl_attr_parse(nlh, sizeof(struct rtgenmsg), nsid_attr_cb, tb) < 0
      || tb[NETNSA_NSID] == NULL)
    {
      r->bad = true;
      return MNL_CB_OK;
    }
  r->nsid = (int)mnl_attr_get_u32(tb[NETNSA_NSID]);
  r->found = true;
  return MNL_CB_OK;
}

/* RTM_GETNSID or RTM_NEWNSID naming the peer namespace by fd (>= 0) or by nsid. */
static int nsid_talk(struct nl_sock *s, uint16_t type, int fd, int nsid, struct nsid_reply *r)
{
  char buf[NL_BUF_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  struct rtgenmsg *g;

  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
  g->rtgen_family = AF_UNSPEC;
  if (fd >= 0)
    mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)fd);
  if (fd < 0 || type == RTM_NEWNSID)
    mnl_attr_put_u32(nlh, NETNSA_NSID, (uint32_t)nsid);
  *r = (struct nsid_reply){ .nsid = NETNSA_NSID_NOT_ASSIGNED };
  if (nl_talk(s, buf, nsid_cb, r) < 0)
    return -1;
  if (r->bad || (type == RTM_GETNSID && !r->found))
    {
      errno = EBADMSG;
      return -1;
    }
  return 0;
}

int nl_netns_id(struct nl_sock *s, int netns_fd, int *ret_nsid, struct nook_error **err)
{
  struct nsid_reply r;

  if (nsid_talk(s, RTM_GETNSID, netns_fd, 0, &r) < 0)
    return nl_fail(s, err, "get the id of network namespace (fd %d)", netns_fd);
  if (r.nsid < 0)
    {
      /* none yet: the kernel picks one (EEXIST: someone else just did) */
      if (nsid_talk(s, RTM_NEWNSID, netns_fd, NETNSA_NSID_NOT_ASSIGNED, &r) < 0 && errno != EEXIST)
        return nl_fail(s, err, "assign an id to network namespace (fd %d)", netns_fd);
      if (nsid_talk(s, RTM_GETNSID, netns_fd, 0, &r) < 0)
        return nl_fail(s, err, "get the id of network namespace (fd %d)", netns_fd);
      if (r.nsid < 0)
        return nook_error_setx(err, ENOENT, "network namespace (fd %d) has no id", netns_fd);
    }
  *ret_nsid = r.nsid;
  return 0;
}

int nl_netns_alive(struct nl_sock *s, int nsid, struct nook_error **err)
{
  struct nsid_reply r;

  if (nsid < 0)
    return nook_error_setx(err, EINVAL, "network namespace id %d: not an id", nsid);
  if (nsid_talk(s, RTM_GETNSID, -1, nsid, &r) == 0)
    return 1;
  if (errno == ENOENT)
    return 0;
  return nl_fail(s, err, "look up network namespace id %d", nsid);
}

/* ---- changing links --------------------------------------------------------------------- */

static void put_veth_peer(struct nlmsghdr *nlh, const struct nl_veth *v)
{
  struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  struct nlattr *data, *peer;
  struct ifinfomsg *pifm;

  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  /* the peer is described by an ifinfomsg and attributes of its own, inside the nest */
  pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
  pifm->ifi_family = AF_UNSPEC; /* no IFF_UP: see struct nl_veth */
  mnl_attr_put_strz(nlh, IFLA_IFNAME, v->peer);
  if (v->peer_netns_fd >= 0)
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)v->peer_netns_fd);
  if (v->peer_mac)
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, v->peer_mac);
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
}

int nl_link_add_veth(struct nl_sock *s, const struct nl_veth *v, struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  struct ifinfomsg *ifm;
  int master = 0;

  if (check_name(v->name, err) < 0 || check_name(v->peer, err) < 0)
    return nook_error_prefix(err, "add veth");
  if (v->master && nl_link_get_index(s, v->master, &master, err) < 0)
    return nook_error_prefix(err, "add veth `%s` / `%s`", v->name, v->peer);
  ifm = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0, v->name);
  if (v->up)
    ifm->ifi_flags = ifm->ifi_change = IFF_UP;
  /* the kernel sets the master right after creating the link, in the same request */
  if (master > 0)
    mnl_attr_put_u32((struct nlmsghdr *)buf, IFLA_MASTER, (uint32_t)master);
  put_veth_peer((struct nlmsghdr *)buf, v);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "add veth `%s` / `%s`", v->name, v->peer);
  return 0;
}

int nl_link_add_bridge(struct nl_sock *s, const char *name, struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
  struct nlattr *info;

  if (check_name(name, err) < 0)
    return nook_error_prefix(err, "add bridge");
  link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0, name);
  info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "add bridge `%s`", name);
  return 0;
}

int nl_link_set_master(struct nl_sock *s, const char *name, const char *master,
                       struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  int index = 0;

  if (check_name(name, err) < 0)
    return -EINVAL;
  if (master && nl_link_get_index(s, master, &index, err) < 0)
    return nook_error_prefix(err, "set master of `%s`", name);
  link_msg(buf, RTM_SETLINK, 0, AF_UNSPEC, 0, name);
  mnl_attr_put_u32((struct nlmsghdr *)buf, IFLA_MASTER, (uint32_t)index);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return master ? nl_fail(s, err, "set master of `%s` to `%s`", name, master)
                  : nl_fail(s, err, "release `%s` from its master", name);
  return 0;
}

int nl_link_set_up(struct nl_sock *s, const char *name, bool up, struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  struct ifinfomsg *ifm;

  if (check_name(name, err) < 0)
    return -EINVAL;
  ifm = link_msg(buf, RTM_SETLINK, 0, AF_UNSPEC, 0, name);
  ifm->ifi_change = IFF_UP;
  ifm->ifi_flags = up ? IFF_UP : 0;
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "bring `%s` %s", name, up ? "up" : "down");
  return 0;
}

int nl_link_set_mac(struct nl_sock *s, const char *name, const uint8_t mac[6],
                    struct nook_error **err)
{
  char buf[NL_BUF_SIZE];

  if (check_name(name, err) < 0)
    return -EINVAL;
  link_msg(buf, RTM_SETLINK, 0, AF_UNSPEC, 0, name);
  mnl_attr_put((struct nlmsghdr *)buf, IFLA_ADDRESS, 6, mac);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "set MAC address of `%s` to %02x:%02x:%02x:%02x:%02x:%02x", name, mac[0],
                   mac[1], mac[2], mac[3], mac[4], mac[5]);
  return 0;
}

int nl_link_rename(struct nl_sock *s, const char *name, const char *new_name,
                   struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  int index;

  if (check_name(new_name, err) < 0 || nl_link_get_index(s, name, &index, err) < 0)
    return nook_error_prefix(err, "rename `%s`", name);
  link_msg(buf, RTM_SETLINK, 0, AF_UNSPEC, index, new_name);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "rename `%s` to `%s`", name, new_name);
  return 0;
}

int nl_link_set_netns(struct nl_sock *s, const char *name, int netns_fd, struct nook_error **err)
{
  char buf[NL_BUF_SIZE];

  if (check_name(name, err) < 0)
    return -EINVAL;
  link_msg(buf, RTM_SETLINK, 0, AF_UNSPEC, 0, name);
  mnl_attr_put_u32((struct nlmsghdr *)buf, IFLA_NET_NS_FD, (uint32_t)netns_fd);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "move `%s` to another network namespace", name);
  return 0;
}

int nl_link_del(struct nl_sock *s, const char *name, struct nook_error **err)
{
  char buf[NL_BUF_SIZE];

  if (check_name(name, err) < 0)
    return -EINVAL;
  link_msg(buf, RTM_DELLINK, 0, AF_UNSPEC, 0, name);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "delete link `%s`", name);
  return 0;
}

int nl_bridge_port_set_hairpin(struct nl_sock *s, const char *name, bool on,
                               struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
  struct nlattr *proto;
  int index;

  if (nl_link_get_index(s, name, &index, err) < 0)
    return nook_error_prefix(err, "set hairpin %s", on ? "on" : "off");
  /* the bridge's own setlink (AF_BRIDGE) wants the index, not a name */
  link_msg(buf, RTM_SETLINK, 0, AF_BRIDGE, index, NULL);
  proto = mnl_attr_nest_start(nlh, IFLA_PROTINFO | NLA_F_NESTED);
  mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, on ? 1 : 0);
  mnl_attr_nest_end(nlh, proto);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "set hairpin %s on `%s`", on ? "on" : "off", name);
  return 0;
}

/* ---- addresses and routes --------------------------------------------------------------- */

static size_t family_addr_len(int family)
{
  return family == AF_INET    ? sizeof(struct in_addr)
         : family == AF_INET6 ? sizeof(struct in6_addr)
                              : 0;
}

static int addr_change(struct nl_sock *s, bool add, const char *name, int family, const void *addr,
                       unsigned prefixlen, struct nook_error **err)
{
  char buf[NL_BUF_SIZE], a[INET6_ADDRSTRLEN] = "?";
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  size_t alen = family_addr_len(family);
  const char *op = add ? "add" : "delete", *prep = add ? "to" : "from";
  struct ifaddrmsg *ifa;
  int index;

  if (alen == 0 || prefixlen > alen * 8)
    return nook_error_setx(err, EINVAL, "%s address %s `%s`: invalid family or prefix length %u",
                           op, prep, name, prefixlen);
  inet_ntop(family, addr, a, sizeof(a));
  if (nl_link_get_index(s, name, &index, err) < 0)
    return nook_error_prefix(err, "%s address `%s/%u` %s `%s`", op, a, prefixlen, prep, name);
  nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
  ifa->ifa_family = (uint8_t)family;
  ifa->ifa_prefixlen = (uint8_t)prefixlen;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (uint32_t)index;
  mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
  mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
  if (add && family == AF_INET && prefixlen < 31)
    {
      struct in_addr brd = *(const struct in_addr *)addr;
      brd.s_addr |= htonl(~ipv4_mask(prefixlen));
      mnl_attr_put(nlh, IFA_BROADCAST, sizeof(brd), &brd);
    }
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "%s address `%s/%u` %s `%s`", op, a, prefixlen, prep, name);
  return 0;
}

int nl_addr_add(struct nl_sock *s, const char *name, int family, const void *addr,
                unsigned prefixlen, struct nook_error **err)
{
  return addr_change(s, true, name, family, addr, prefixlen, err);
}

int nl_addr_del(struct nl_sock *s, const char *name, int family, const void *addr,
                unsigned prefixlen, struct nook_error **err)
{
  return addr_change(s, false, name, family, addr, prefixlen, err);
}

int nl_route_add_default(struct nl_sock *s, const char *name, int family, const void *gateway,
                         struct nook_error **err)
{
  char buf[NL_BUF_SIZE], a[INET6_ADDRSTRLEN] = "?";
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  size_t alen = family_addr_len(family);
  struct rtmsg *rtm;
  int index;

  if (alen == 0)
    return nook_error_setx(err, EINVAL, "add default route on `%s`: invalid family", name);
  inet_ntop(family, gateway, a, sizeof(a));
  if (nl_link_get_index(s, name, &index, err) < 0)
    return nook_error_prefix(err, "add default route via `%s` on `%s`", a, name);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
  rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
  rtm->rtm_family = (uint8_t)family;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put(nlh, RTA_GATEWAY, alen, gateway);
  mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
  if (nl_talk(s, buf, NULL, NULL) < 0)
    return nl_fail(s, err, "add default route via `%s` on `%s`", a, name);
  return 0;
}

/* ---- sysctl ----------------------------------------------------------------------------- */

/* KEY's parts must be names: no empty, "." or ".." part can lead out of /proc/sys. */
static bool sysctl_key_ok(const char *key)
{
  const char *p = key;

  if (key == NULL)
    return false;
  for (;;)
    {
      size_t n = strcspn(p, "/");
      if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return false;
      if (p[n] == '\0')
        return true;
      p += n + 1;
    }
}

static int sysctl_open(int netns_fd, const char *key, int flags, int *ret_fd,
                       struct nook_error **err)
{
  _cleanup_free_ char *path = NULL;
  int saved = -1, fd, e;

  if (!sysctl_key_ok(key))
    return nook_error_setx(err, EINVAL, "invalid sysctl `%s`", key ? key : "");
  path = xasprintf("/proc/sys/%s", key);
  if (netns_fd >= 0 && netns_enter(netns_fd, &saved, err) < 0)
    return nook_error_prefix(err, "sysctl `%s`", key);
  fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
  e = errno;
  if (saved >= 0)
    netns_leave(saved);
  if (fd < 0)
    return nook_error_set(err, e, "open sysctl `%s`", key);
  *ret_fd = fd;
  return 0;
}

int netns_sysctl_write(int netns_fd, const char *key, const char *value, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  int r = sysctl_open(netns_fd, key, O_WRONLY, &fd, err);

  if (r < 0)
    return r;
  if (nook_write_all(fd, value, strlen(value)) < 0)
    return nook_error_set(err, errno, "write `%s` to sysctl `%s`", value, key);
  return 0;
}

int netns_sysctl_read(int netns_fd, const char *key, char **ret, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  char *text = NULL;
  size_t len = 0;
  int r = sysctl_open(netns_fd, key, O_RDONLY, &fd, err);

  if (r < 0)
    return r;
  if (nook_read_fd(fd, 4096, &text, &len, err) < 0)
    return nook_error_prefix(err, "read sysctl `%s`", key);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
    text[--len] = '\0';
  *ret = text;
  return 0;
}
