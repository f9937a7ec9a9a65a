/* NAT and published ports: nook's own nftables table `inet nook`, built with libnftnl and sent
 * over libmnl, never through the `nft` program.  Each change is one nfnetlink batch, which
 * the kernel applies whole or not at all.  Rules are found again by their comment (userdata
 * NFTNL_UDATA_RULE_COMMENT, what `nft` shows as `comment "..."`): "nook net=NAME" for a
 * network's rules, "nook ctr=ID" for a container's ports.  See netns.h for the chains. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "netns/netns-internal.h"

#define COMMENT_MAX 128 /* what `nft` accepts for a comment */

struct chain_def
{
  const char *name;
  const char *type;
  uint32_t hook;
  int32_t prio;
};

static const struct chain_def chains[] = {
  { "prerouting", "nat", NF_INET_PRE_ROUTING, -100 },  /* dstnat */
  { "output", "nat", NF_INET_LOCAL_OUT, -100 },        /* dstnat */
  { "postrouting", "nat", NF_INET_POST_ROUTING, 100 }, /* srcnat */
  { "forward", "filter", NF_INET_FORWARD, 0 },         { "input", "filter", NF_INET_LOCAL_IN, 0 },
};

/* libnftnl's allocations fail only for lack of memory, which nook does not survive */
static void *nonnull(void *p)
{
  if (p == NULL)
    {
      fputs("nook: out of memory\n", stderr);
      abort();
    }
  return p;
}

/* ---- expressions ------------------------------------------------------------------------ */

static struct nftnl_expr *expr(struct nftnl_rule *r, const char *name)
{
  struct nftnl_expr *e = nonnull(nftnl_expr_alloc(name));
  nftnl_rule_add_expr(r, e);
  return e;
}

static void e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
  struct nftnl_expr *e = expr(r, "cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_meta(struct nftnl_rule *r, uint32_t key)
{
  struct nftnl_expr *e = expr(r, "meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
  struct nftnl_expr *e = expr(r, "payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
}

static void e_and(struct nftnl_rule *r, const void *mask, uint32_t len)
{
  struct nftnl_expr *e = expr(r, "bitwise");
  uint8_t zero[16] = { 0 };
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static void e_ct(struct nftnl_rule *r, uint32_t key)
{
  struct nftnl_expr *e = expr(r, "ct");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
}

static void e_verdict(struct nftnl_rule *r, int verdict)
{
  struct nftnl_expr *e = expr(r, "immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
}

/* meta nfproto ipv4: the table is inet, so IPv4 header matches need this first */
static void m_ipv4(struct nftnl_rule *r)
{
  uint8_t proto = NFPROTO_IPV4;
  e_meta(r, NFT_META_NFPROTO);
  e_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* ip saddr (offset 12) or daddr (16) [!]= subnet/prefix */
static void m_addr(struct nftnl_rule *r, uint32_t offset, struct in_addr net, unsigned prefix,
                   uint32_t op)
{
  uint32_t mask = htonl(ipv4_mask(prefix));
  e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, 4);
  if (prefix < 32)
    e_and(r, &mask, 4);
  e_cmp(r, op, &net.s_addr, 4);
}
#define SADDR 12
#define DADDR 16

/* ct state & mask, compared with 0 (op NEQ: some bit set; EQ: none) */
static void m_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t mask, uint32_t op)
{
  uint32_t zero = 0;
  e_ct(r, key);
  e_and(r, &mask, 4);
  e_cmp(r, op, &zero, 4);
}

static void m_iifname(struct nftnl_rule *r, const char *name)
{
  char buf[IFNAMSIZ] = { 0 };
  snprintf(buf, sizeof(buf), "%s", name);
  e_meta(r, NFT_META_IIFNAME);
  e_cmp(r, NFT_CMP_EQ, buf, sizeof(buf));
}

/* ---- batches ---------------------------------------------------------------------------- */

/* One nfnetlink batch in a buffer sized for its messages, with what each message does (by
 * sequence number) for the error message. */
struct batch
{
  char *buf;
  struct mnl_nlmsg_batch *b;
  uint32_t first_seq, seq;
  char **what; /* what[seq - first_seq] */
  size_t cap;
  bool overflow;
};

static void batch_init(struct batch *nb, size_t max_msgs)
{
  /* every message here is well below 2 KiB; the slack after the limit takes the one that
   * crosses it, as mnl_nlmsg_batch wants */
  size_t limit = (max_msgs + 2) * 2048;

  nb->buf = xmalloc(limit + NL_BUF_SIZE);
  nb->b = nonnull(mnl_nlmsg_batch_start(nb->buf, limit));
  nb->first_seq = nb->seq = (uint32_t)time(NULL);
  nb->cap = max_msgs + 2;
  nb->what = xcalloc(nb->cap, sizeof(char *));
  nb->overflow = false;
  nb->what[0] = xstrdup("begin batch");
  nftnl_batch_begin(mnl_nlmsg_batch_current(nb->b), nb->seq++);
  mnl_nlmsg_batch_next(nb->b);
}

static void batch_free(struct batch *nb)
{
  for (size_t i = 0; i < nb->cap; i++)
    free(nb->what[i]);
  free(nb->what);
  if (nb->b)
    mnl_nlmsg_batch_stop(nb->b);
  free(nb->buf);
}

static size_t batch_count(const struct batch *nb)
{
  return nb->seq - nb->first_seq;
}

/* Starts the next message; `what` (taken) says what it does. */
static struct nlmsghdr *batch_msg(struct batch *nb, uint16_t cmd, uint16_t flags, char *what)
{
  size_t i = batch_count(nb);

  if (i + 1 >= nb->cap)
    {
      nb->overflow = true;
      free(what);
      return NULL;
    }
  nb->what[i] = what;
  return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(nb->b), cmd, NFPROTO_INET, flags | NLM_F_ACK,
                               nb->seq++);
}

static void batch_next(struct batch *nb)
{
  if (!mnl_nlmsg_batch_next(nb->b))
    nb->overflow = true;
}

/* Creates (NFT_MSG_NEWTABLE) or deletes (NFT_MSG_DELTABLE) table `inet nook`. */
static void batch_table(struct batch *nb, uint16_t cmd, uint16_t flags)
{
  struct nftnl_table *t = nonnull(nftnl_table_alloc());
  struct nlmsghdr *nlh;

  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, NAT_TABLE);
  nlh = batch_msg(
      nb, cmd, flags,
      xasprintf("%s table `inet " NAT_TABLE "`", cmd == NFT_MSG_NEWTABLE ? "create" : "delete"));
  if (nlh)
    nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
  batch_next(nb);
}

/* Creates (NFT_MSG_NEWCHAIN, with its hook) or deletes (NFT_MSG_DELCHAIN) one of chains[]. */
static void batch_chain(struct batch *nb, uint16_t cmd, uint16_t flags, const struct chain_def *d)
{
  struct nftnl_chain *c = nonnull(nftnl_chain_alloc());
  struct nlmsghdr *nlh;

  nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NAT_TABLE);
  nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, d->name);
  if (cmd == NFT_MSG_NEWCHAIN)
    {
      nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, d->type);
      nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, d->hook);
      nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, d->prio);
      nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    }
  nlh =
      batch_msg(nb, cmd, flags,
                xasprintf("%s chain `%s`", cmd == NFT_MSG_NEWCHAIN ? "create" : "delete", d->name));
  if (nlh)
    nftnl_chain_nlmsg_build_payload(nlh, c);
  nftnl_chain_free(c);
  batch_next(nb);
}

/* NLM_F_CREATE without NLM_F_EXCL: what exists already is left as it is. */
static void batch_add_table_and_chains(struct batch *nb)
{
  batch_table(nb, NFT_MSG_NEWTABLE, NLM_F_CREATE);
  for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
    batch_chain(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE, &chains[i]);
}

/* Deletes the chains and the table, each only if empty (NLM_F_NONREC: EBUSY otherwise, and the
 * whole batch with it), so rules another nook adds meanwhile are never swept away. */
static void batch_del_table_if_empty(struct batch *nb)
{
  for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
    batch_chain(nb, NFT_MSG_DELCHAIN, NLM_F_NONREC, &chains[i]);
  batch_table(nb, NFT_MSG_DELTABLE, NLM_F_NONREC);
}

static struct nftnl_rule *rule_new(const char *chain, const char *comment)
{
  struct nftnl_rule *r = nonnull(nftnl_rule_alloc());
  struct nftnl_udata_buf *ud = nonnull(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));

  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NAT_TABLE);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
  nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
  nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
  nftnl_udata_buf_free(ud);
  return r;
}

/* Appends rule r (freed) to the batch. */
static void batch_add_rule(struct batch *nb, struct nftnl_rule *r)
{
  const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
  struct nlmsghdr *nlh = batch_msg(nb, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
                                   xasprintf("add rule to chain `%s`", chain));
  if (nlh)
    nftnl_rule_nlmsg_build_payload(nlh, r);
  nftnl_rule_free(r);
  batch_next(nb);
}

static void batch_del_rule(struct batch *nb, const char *chain, uint64_t handle)
{
  struct nftnl_rule *r = nonnull(nftnl_rule_alloc());
  struct nlmsghdr *nlh;

  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NAT_TABLE);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
  nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
  nlh = batch_msg(nb, NFT_MSG_DELRULE, 0,
                  xasprintf("delete rule %llu of chain `%s`", (unsigned long long)handle, chain));
  if (nlh)
    nftnl_rule_nlmsg_build_payload(nlh, r);
  nftnl_rule_free(r);
  batch_next(nb);
}

/* Reads the answers to a sent batch: one ack per message, or an error, which the kernel
 * queues while it handles the batch inside sendmsg().  Bounded by a timeout all the same. */
static int batch_answers(struct mnl_socket *nl, uint32_t portid, struct batch *nb,
                         struct nook_error **err)
{
  size_t expected = batch_count(nb) - 2, acks = 0; /* begin and end are not acked */
  char buf[NL_BUF_SIZE], extack[160];
  struct pollfd p = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };

  while (acks < expected)
    {
      const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
      int n = poll(&p, 1, 5000);
      ssize_t len;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return nook_error_set(err, n == 0 ? ETIMEDOUT : errno, "nft: wait for the kernel's answer");
      len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
      if (len < 0)
        return nook_error_set(err, errno, "nft: read the kernel's answer");
      for (int left = (int)len; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
        {
          const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
          uint32_t i = nlh->nlmsg_seq - nb->first_seq;

          if (!mnl_nlmsg_portid_ok(nlh, portid) || i >= batch_count(nb))
            return nook_error_setx(err, EPROTO, "nft: answer to another request");
          if (nlh->nlmsg_type != NLMSG_ERROR)
            continue;
          if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
            return nook_error_setx(err, EBADMSG, "nft: malformed answer");
          if (e->error == 0)
            {
              acks++;
              continue;
            }
          netns_extack_msg(nlh, extack, sizeof(extack));
          if (extack[0])
            return nook_error_setx(err, -e->error, "nft: %s: %s (%s)", nb->what[i],
                                   strerror(-e->error), extack);
          return nook_error_set(err, -e->error, "nft: %s", nb->what[i]);
        }
    }
  return 0;
}

static int batch_send(struct mnl_socket *nl, uint32_t portid, struct batch *nb,
                      struct nook_error **err)
{
  nb->what[batch_count(nb)] = xstrdup("commit batch");
  nftnl_batch_end(mnl_nlmsg_batch_current(nb->b), nb->seq++);
  batch_next(nb);
  if (nb->overflow)
    return nook_error_setx(err, E2BIG, "nft: too many rules for one batch");
  if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(nb->b), mnl_nlmsg_batch_size(nb->b)) < 0)
    return nook_error_set(err, errno, "nft: send batch");
  return batch_answers(nl, portid, nb, err);
}

/* ---- reading the table ------------------------------------------------------------------ */

struct rule_info
{
  char chain[NFT_CHAIN_MAXNAMELEN];
  uint64_t handle;
  char comment[COMMENT_MAX];
};

struct rule_list
{
  struct rule_info *v;
  size_t n;
  bool bad;
};

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
  char *comment = data;
  const char *value = nftnl_udata_get(attr);
  uint8_t len = nftnl_udata_len(attr);

  /* a NUL-terminated string that fits, or no comment */
  if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 && len <= COMMENT_MAX
      && value[len - 1] == '\0')
    memcpy(comment, value, len);
  return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
  struct rule_list *l = data;
  struct nftnl_rule *r = nonnull(nftnl_rule_alloc());
  struct rule_info info = { .handle = 0 };
  const char *chain;

  /* nftnl_rule_nlmsg_parse validates every attribute it reads */
  if (nftnl_rule_nlmsg_parse(nlh, r) < 0 || !nftnl_rule_is_set(r, NFTNL_RULE_HANDLE)
      || (chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)) == NULL
      || strlen(chain) >= sizeof(info.chain))
    {
      l->bad = true;
      nftnl_rule_free(r);
      return MNL_CB_OK;
    }
  snprintf(info.chain, sizeof(info.chain), "%s", chain);
  info.handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
  if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA))
    {
      uint32_t len = 0;
      const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
      nftnl_udata_parse(ud, len, comment_cb, info.comment);
    }
  nftnl_rule_free(r);
  l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
  l->v[l->n++] = info;
  return MNL_CB_OK;
}

/* Every rule of table `inet nook`, or of its chain `chain` when not NULL (none when the table
 * does not exist). */
static int rules_dump(struct mnl_socket *nl, uint32_t portid, const char *chain,
                      struct rule_list *ret, struct nook_error **err)
{
  char buf[NL_BUF_SIZE];
  struct rule_list l = { NULL, 0, false };
  uint32_t seq = (uint32_t)time(NULL);
  struct nftnl_rule *r = nonnull(nftnl_rule_alloc());
  struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq);
  int rc = MNL_CB_OK;

  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NAT_TABLE);
  if (chain)
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
  nftnl_rule_nlmsg_build_payload(nlh, r);
  nftnl_rule_free(r);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
    return nook_error_set(err, errno, "nft: list rules of `inet " NAT_TABLE "`");
  while (rc > MNL_CB_STOP)
    {
      ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      rc = n < 0 ? MNL_CB_ERROR : mnl_cb_run(buf, (size_t)n, seq, portid, rule_cb, &l);
    }
  if (rc < 0 && errno == ENOENT)
    rc = MNL_CB_STOP; /* no such table: no rules */
  if (rc < 0 || l.bad)
    {
      int e = rc < 0 ? errno : EBADMSG;
      free(l.v);
      return nook_error_set(err, e, "nft: list rules of `inet " NAT_TABLE "`");
    }
  *ret = l;
  return 0;
}

static int nft_open(struct mnl_socket **ret, uint32_t *ret_portid, struct nook_error **err)
{
  if (netns_mnl_open(NETLINK_NETFILTER, -1, ret, ret_portid, err) < 0)
    return nook_error_prefix(err, "nft");
  return 0;
}

static void mnl_socket_closep(struct mnl_socket **nl)
{
  if (*nl)
    mnl_socket_close(*nl);
}

/* ---- other tables' forward policy -------------------------------------------------------- */

/* nftables runs every base chain on a hook: an accept in nook's forward chain ends only that
 * chain, and a drop policy in another table's still drops.  nook does not touch other tables,
 * so it says so instead. */
struct policy_scan
{
  const char *network;
  const char *bridge;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
  struct policy_scan *ps = data;
  struct nftnl_chain *c = nonnull(nftnl_chain_alloc());
  const char *table, *name;
  uint32_t family;

  if (nftnl_chain_nlmsg_parse(nlh, c) == 0 && nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)
      && nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY)
      && nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == NF_INET_FORWARD
      && nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP
      && ((family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY)) == NFPROTO_INET
          || family == NFPROTO_IPV4)
      && (table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)) != NULL
      && (name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)) != NULL && !streq(table, NAT_TABLE))
    nook_warn("network `%s`: nftables chain `%s %s %s` drops forwarded packets by default, "
              "which nook's own table cannot override; allow `%s` there (iifname and oifname) "
              "for containers to reach other networks",
              ps->network, family == NFPROTO_INET ? "inet" : "ip", table, name, ps->bridge);
  nftnl_chain_free(c);
  return MNL_CB_OK;
}

/* Best effort: a failure to look is not a failure to set up. */
static void forward_policy_check(struct mnl_socket *nl, uint32_t portid,
                                 const struct nook_network *net)
{
  char buf[NL_BUF_SIZE];
  struct policy_scan ps = { net->name, net->bridge };
  uint32_t seq = (uint32_t)time(NULL);
  struct nlmsghdr *nlh =
      nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
  int rc = MNL_CB_OK;

  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
    return;
  while (rc > MNL_CB_STOP)
    {
      ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      rc = n < 0 ? MNL_CB_ERROR : mnl_cb_run(buf, (size_t)n, seq, portid, chain_cb, &ps);
    }
}

/* ---- the rules -------------------------------------------------------------------------- */

static void add_network_rules(struct batch *nb, const struct nook_network *net)
{
  char tag[COMMENT_MAX];
  struct in_addr lo = { htonl(0x7f000000) };
  struct nftnl_rule *r;

  snprintf(tag, sizeof(tag), NAT_TAG_NET "%s", net->name);
  /* the subnet going out: masquerade */
  r = rule_new("postrouting", tag);
  m_ipv4(r);
  m_addr(r, SADDR, net->subnet, net->prefix, NFT_CMP_EQ);
  m_addr(r, DADDR, net->subnet, net->prefix, NFT_CMP_NEQ);
  expr(r, "masq");
  batch_add_rule(nb, r);
  /* 127.0.0.1 -> published port, DNATed to a container: it must see a source it can answer */
  r = rule_new("postrouting", tag);
  m_ipv4(r);
  m_addr(r, SADDR, lo, 8, NFT_CMP_EQ);
  m_addr(r, DADDR, net->subnet, net->prefix, NFT_CMP_EQ);
  expr(r, "masq");
  batch_add_rule(nb, r);
  /* a container -> a published port of the same network: the answer must come back through
   * the host, not straight over the bridge */
  r = rule_new("postrouting", tag);
  m_ipv4(r);
  m_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT, NFT_CMP_NEQ);
  m_addr(r, SADDR, net->subnet, net->prefix, NFT_CMP_EQ);
  m_addr(r, DADDR, net->subnet, net->prefix, NFT_CMP_EQ);
  expr(r, "masq");
  batch_add_rule(nb, r);
  /* forwarding, as netavark: answers and published ports in, everything out */
  r = rule_new("forward", tag);
  m_ipv4(r);
  m_addr(r, DADDR, net->subnet, net->prefix, NFT_CMP_EQ);
  m_ct_bits(r, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED),
            NFT_CMP_NEQ);
  e_verdict(r, NF_ACCEPT);
  batch_add_rule(nb, r);
  r = rule_new("forward", tag);
  m_ipv4(r);
  m_addr(r, DADDR, net->subnet, net->prefix, NFT_CMP_EQ);
  m_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT, NFT_CMP_NEQ);
  e_verdict(r, NF_ACCEPT);
  batch_add_rule(nb, r);
  r = rule_new("forward", tag);
  m_ipv4(r);
  m_addr(r, SADDR, net->subnet, net->prefix, NFT_CMP_EQ);
  e_verdict(r, NF_ACCEPT);
  batch_add_rule(nb, r);
  /* route_localnet on the bridge lets 127.0.0.0/8 in from it: only answers may come */
  r = rule_new("input", tag);
  m_ipv4(r);
  m_iifname(r, net->bridge);
  m_addr(r, DADDR, lo, 8, NFT_CMP_EQ);
  m_ct_bits(r, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED),
            NFT_CMP_EQ);
  e_verdict(r, NF_DROP);
  batch_add_rule(nb, r);
}
#define NETWORK_RULES 7

static void add_port_rule(struct batch *nb, const char *chain, const char *tag, struct in_addr addr,
                          const struct nat_port *p)
{
  struct nftnl_rule *r = rule_new(chain, tag);
  uint32_t local = RTN_LOCAL;
  uint16_t hport = htons(p->host_port), cport = htons(p->ctr_port);
  struct nftnl_expr *e;

  m_ipv4(r);
  if (p->host_ip.s_addr != INADDR_ANY)
    m_addr(r, DADDR, p->host_ip, 32, NFT_CMP_EQ);
  else
    {
      /* fib daddr type local: any address of the host, 127.0.0.1 included */
      e = expr(r, "fib");
      nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
      nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
      nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
      e_cmp(r, NFT_CMP_EQ, &local, sizeof(local));
    }
  e_meta(r, NFT_META_L4PROTO);
  e_cmp(r, NFT_CMP_EQ, &p->proto, 1);
  e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2); /* destination port */
  e_cmp(r, NFT_CMP_EQ, &hport, 2);
  e = expr(r, "immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
  nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &addr.s_addr, 4);
  e = expr(r, "immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
  nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &cport, 2);
  e = expr(r, "nat");
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
  batch_add_rule(nb, r);
}

/* ---- the interface ---------------------------------------------------------------------- */

/* One batch: the network's rules unless there, the container's stale rules out and its ports
 * in.  id may be NULL (the network alone).  Without may_have_rules only chain `input` is read
 * (the network has one rule there), not the whole table, whose port rules grow with the
 * containers. */
static int nat_apply(const struct nook_network *net, const char *id, struct in_addr addr,
                     const struct nat_port *ports, size_t n_ports, bool may_have_rules,
                     struct nook_error **err)
{
  _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
  char net_tag[COMMENT_MAX], ctr_tag[COMMENT_MAX] = "";
  struct rule_list l = { NULL, 0, false };
  struct batch nb = { NULL };
  bool has_net = false;
  size_t stale = 0;
  uint32_t portid;
  int r;

  if (id && netns_id_validate(id, err) < 0)
    return -EINVAL;
  snprintf(net_tag, sizeof(net_tag), NAT_TAG_NET "%s", net->name);
  if (id)
    snprintf(ctr_tag, sizeof(ctr_tag), NAT_TAG_CTR "%s", id);
  if (nft_open(&nl, &portid, err) < 0
      || rules_dump(nl, portid, may_have_rules ? NULL : "input", &l, err) < 0)
    return -1;
  for (size_t i = 0; i < l.n; i++)
    {
      has_net = has_net || streq(l.v[i].comment, net_tag);
      stale += id && streq(l.v[i].comment, ctr_tag);
    }
  if (has_net && stale == 0 && n_ports == 0)
    {
      free(l.v);
      return 0;
    }
  batch_init(&nb, 1 + ARRAY_SIZE(chains) + NETWORK_RULES + stale + 2 * n_ports);
  /* Two nooks attaching the network's first containers at once may both find its rules
   * missing and both add them: the same rules twice, harmless, and deleted together. */
  if (!has_net)
    {
      batch_add_table_and_chains(&nb);
      add_network_rules(&nb, net);
    }
  for (size_t i = 0; i < l.n && stale > 0; i++)
    if (streq(l.v[i].comment, ctr_tag))
      batch_del_rule(&nb, l.v[i].chain, l.v[i].handle);
  for (size_t i = 0; i < n_ports; i++)
    {
      add_port_rule(&nb, "prerouting", ctr_tag, addr, &ports[i]);
      add_port_rule(&nb, "output", ctr_tag, addr, &ports[i]);
    }
  free(l.v);
  r = batch_send(nl, portid, &nb, err);
  batch_free(&nb);
  if (r == 0 && !has_net)
    forward_policy_check(nl, portid, net);
  if (r < 0)
    return id ? nook_error_prefix(err, "container `%s`", id)
              : nook_error_prefix(err, "network `%s`", net->name);
  return 0;
}

int nat_network_add(const struct nook_network *net, struct nook_error **err)
{
  return nat_apply(net, NULL, (struct in_addr){ 0 }, NULL, 0, false, err);
}

int nat_container_add(const struct nook_network *net, const char *id, struct in_addr addr,
                      const struct nat_port *ports, size_t n_ports, struct nook_error **err)
{
  return nat_apply(net, id, addr, ports, n_ports, true, err);
}

int nat_container_add_new(const struct nook_network *net, const char *id, struct in_addr addr,
                          const struct nat_port *ports, size_t n_ports, struct nook_error **err)
{
  return nat_apply(net, id, addr, ports, n_ports, false, err);
}

/* Deletes every rule whose comment is tag, and the table with them when nothing else is
 * left.  A rule deleted by someone else between the dump and the batch (ENOENT) or one added
 * (EBUSY on the table) makes it look again. */
static int remove_tagged(const char *tag, struct nook_error **err)
{
  for (int attempt = 0;; attempt++)
    {
      _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
      _cleanup_error_ struct nook_error *e = NULL;
      struct rule_list l = { NULL, 0, false };
      struct batch nb = { NULL };
      size_t mine = 0;
      uint32_t portid;
      int r;

      if (nft_open(&nl, &portid, err) < 0 || rules_dump(nl, portid, NULL, &l, err) < 0)
        return -1;
      for (size_t i = 0; i < l.n; i++)
        mine += streq(l.v[i].comment, tag);
      if (mine == 0 && l.n > 0)
        {
          free(l.v);
          return 0;
        }
      batch_init(&nb, mine + ARRAY_SIZE(chains) + 1);
      for (size_t i = 0; i < l.n; i++)
        if (streq(l.v[i].comment, tag))
          batch_del_rule(&nb, l.v[i].chain, l.v[i].handle);
      if (mine == l.n)
        batch_del_table_if_empty(&nb);
      free(l.v);
      r = batch_send(nl, portid, &nb, &e);
      batch_free(&nb);
      if (r == 0 || (mine == 0 && r == -ENOENT)) /* nothing to do, no table */
        return 0;
      if ((r != -ENOENT && r != -EBUSY) || attempt == 2)
        return netns_error_move(err, &e, r);
    }
}

/* remove_tagged() for "nook net=NAME" or "nook ctr=ID", the error naming which. */
static int remove_named(const char *what, const char *tag_prefix, const char *name,
                        struct nook_error **err)
{
  char tag[COMMENT_MAX];

  snprintf(tag, sizeof(tag), "%s%s", tag_prefix, name);
  if (remove_tagged(tag, err) < 0)
    return nook_error_prefix(err, "%s `%s`", what, name);
  return 0;
}

int nat_network_remove(const char *network, struct nook_error **err)
{
  if (network_name_validate(network, err) < 0)
    return -EINVAL;
  return remove_named("network", NAT_TAG_NET, network, err);
}

int nat_container_remove(const char *id, struct nook_error **err)
{
  if (netns_id_validate(id, err) < 0)
    return -EINVAL;
  return remove_named("container", NAT_TAG_CTR, id, err);
}

/* ---- -p -------------------------------------------------------------------------------- */

static int port_parse(const char *spec, const char *what, const char *s, uint16_t *ret,
                      struct nook_error **err)
{
  uint64_t v;

  if (nook_parse_u64(s, &v) < 0 || v < 1 || v > 65535)
    return nook_error_setx(
        err, EINVAL, "publish `%s`: %s port `%s` is not a number from 1 to 65535", spec, what, s);
  *ret = (uint16_t)v;
  return 0;
}

int nat_port_parse(const char *spec, struct nat_port *ret, struct nook_error **err)
{
  _cleanup_free_ char *s = xstrdup(spec);
  struct nat_port p = { .proto = IPPROTO_TCP };
  char *proto = strchr(s, '/'), *cport, *hport;

  if (proto)
    {
      *proto++ = '\0';
      if (streq(proto, "udp"))
        p.proto = IPPROTO_UDP;
      else if (!streq(proto, "tcp"))
        return nook_error_setx(err, EINVAL, "publish `%s`: protocol `%s` must be tcp or udp", spec,
                               proto);
    }
  if (s[0] == '[')
    return nook_error_setx(err, EINVAL, "publish `%s`: IPv6 host addresses are not supported",
                           spec);
  cport = strrchr(s, ':');
  if (cport == NULL)
    return nook_error_setx(err, EINVAL,
                           "publish `%s`: expected [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]", spec);
  *cport++ = '\0';
  hport = strrchr(s, ':');
  if (hport)
    {
      *hport++ = '\0';
      if (strchr(s, ':'))
        return nook_error_setx(err, EINVAL, "publish `%s`: IPv6 host addresses are not supported",
                               spec);
      if (*s && ipv4_parse(s, &p.host_ip) < 0)
        return nook_error_setx(err, EINVAL, "publish `%s`: host address `%s` is not IPv4", spec, s);
    }
  else
    hport = s;
  if (port_parse(spec, "host", hport, &p.host_port, err) < 0
      || port_parse(spec, "container", cport, &p.ctr_port, err) < 0)
    return -EINVAL;
  *ret = p;
  return 0;
}
