/* IPv4 leases: STATE/networks/NAME/leases, a journal of one line per change: "ADDRESS ID NAME"
 * takes a lease, "-ID" drops it; the later line for an id wins.  Addresses are handed out
 * round-robin after the last one handed out: the address of the last lease line, or of an
 * "=ADDRESS" line that a compaction writes at its end (the lease line may be gone by then).
 * A change is one O_APPEND write(2) of its lines under flock(2) on the network's directory; when
 * dropped lines outnumber the live ones (or the last line is cut off) the writer compacts: the live
 * leases go to a new file that replaces the old with rename(2) (the lock is on the directory
 * because a rename would leave it on the old inode).  Why not a rename per change: on ext4 a rename
 * over an existing file flushes the new file's data first (auto_da_alloc) and waits on the journal,
 * 0.1 to 4 ms here, while an append costs 2 us (docs/ARCHITECTURE.md, "netns").  Readers need
 * no lock: a last line without its newline is a write in progress (or cut by a crash) and is
 * not read. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "netns/netns-internal.h"

#define LEASES_FILE "leases"
#define LEASES_HEADER                                                                              \
  "# nook leases: ADDRESS ID NAME takes a lease (NAME - for none), -ID drops it,\n"                \
  "# =ADDRESS: the last address handed out\n"
/* Compaction: when the journal would hold more than twice the live leases and this many lines
 * besides; amortised, a compaction per SLACK/2 changes at worst. */
#define LEASES_SLACK 64

void ipam_lease_list_free(struct ipam_lease *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    {
      free(v[i].id);
      free(v[i].name);
    }
  free(v);
}

static int cmp_lease(const void *a, const void *b)
{
  uint32_t x = ntohl(((const struct ipam_lease *)a)->addr.s_addr);
  uint32_t y = ntohl(((const struct ipam_lease *)b)->addr.s_addr);
  return x < y ? -1 : x > y;
}

/* A container name as a lease line can hold it: no white space, not "-". */
static int lease_name_validate(const char *name, struct nook_error **err)
{
  size_t len = strlen(name);

  if (len == 0 || len > 253 || streq(name, "-"))
    return nook_error_setx(err, EINVAL, "container name `%s`: must be 1 to 253 characters", name);
  for (const char *p = name; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return nook_error_setx(err, EINVAL, "container name `%s`: no white space allowed", name);
  return 0;
}

/* One line of the journal, in file order (seq). */
struct entry
{
  struct ipam_lease l; /* l.id set, but for a mark; addr and name only for a lease taken */
  size_t seq;
  bool drop;
  bool mark; /* "=ADDRESS": l.addr only */
};

static int parse_line(char *line, struct entry *e, struct nook_error **err)
{
  char *save = NULL, *addr, *id, *name;

  if (line[0] == '=')
    {
      e->mark = true;
      if (ipv4_parse(line + 1, &e->l.addr) < 0)
        return nook_error_setx(err, EINVAL, "`%s` is not an IPv4 address", line + 1);
      return 0;
    }
  if (line[0] == '-')
    {
      e->drop = true;
      if (netns_id_validate(line + 1, err) < 0)
        return -EINVAL;
      e->l.id = xstrdup(line + 1);
      return 0;
    }
  addr = strtok_r(line, " \t", &save);
  id = strtok_r(NULL, " \t", &save);
  name = strtok_r(NULL, " \t", &save);
  if (addr == NULL || id == NULL || strtok_r(NULL, " \t", &save) != NULL)
    return nook_error_setx(err, EINVAL, "expected ADDRESS ID NAME, -ID or =ADDRESS");
  if (ipv4_parse(addr, &e->l.addr) < 0)
    return nook_error_setx(err, EINVAL, "`%s` is not an IPv4 address", addr);
  if (netns_id_validate(id, err) < 0)
    return -EINVAL;
  e->l.id = xstrdup(id);
  e->l.name = name && !streq(name, "-") ? xstrdup(name) : NULL;
  return 0;
}

static int cmp_entry(const void *a, const void *b)
{
  const struct entry *x = a, *y = b;
  int c = strcmp(x->l.id, y->l.id);
  return c != 0 ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* What the journal says: the live leases by address, how many lines it has, and whether it
 * ends with a whole line (appending to a cut-off line would glue two together). */
struct journal
{
  struct ipam_lease *v;
  size_t n;
  size_t lines;
  struct in_addr last; /* the last address handed out, when has_last */
  bool has_last;
  bool clean;
  bool exists;
};

/* The live leases of the entries: the last entry of each id, unless it is a drop.  Takes the
 * strings of the entries it keeps and frees the others. */
static void journal_replay(struct entry *e, size_t n, struct journal *j)
{
  if (n > 1)
    qsort(e, n, sizeof(*e), cmp_entry);
  for (size_t i = 0; i < n; i++)
    {
      bool last = i + 1 == n || !streq(e[i].l.id, e[i + 1].l.id);
      if (last && !e[i].drop)
        {
          j->v = xrealloc(j->v, (j->n + 1) * sizeof(*j->v));
          j->v[j->n++] = e[i].l;
          continue;
        }
      free(e[i].l.id);
      free(e[i].l.name);
    }
  if (j->n > 1)
    qsort(j->v, j->n, sizeof(*j->v), cmp_lease);
}

static int journal_parse(char *text, size_t len, const char *network, struct journal *ret,
                         struct nook_error **err)
{
  struct journal j = { .clean = len == 0 || text[len - 1] == '\n', .exists = true };
  struct entry *e = NULL;
  size_t n = 0, lineno = 0;
  char *line = text, *next;

  for (; line && *line; line = next)
    {
      next = strchr(line, '\n');
      if (next == NULL)
        {
          j.clean = false; /* being written, or cut by a crash: not a lease yet */
          break;
        }
      *next++ = '\0';
      lineno++;
      if (*line == '\0' || *line == '#')
        continue;
      e = xrealloc(e, (n + 1) * sizeof(*e));
      e[n] = (struct entry){ .seq = n };
      if (parse_line(line, &e[n], err) < 0)
        {
          for (size_t i = 0; i <= n; i++)
            {
              free(e[i].l.id);
              free(e[i].l.name);
            }
          free(e);
          return nook_error_prefix(err, "network `%s`: leases line %zu", network, lineno);
        }
      j.lines++;
      if (!e[n].drop)
        {
          j.last = e[n].l.addr;
          j.has_last = true;
        }
      if (!e[n].mark)
        n++;
    }
  journal_replay(e, n, &j);
  free(e);
  *ret = j;
  return 0;
}

static int journal_read(int dirfd, const char *network, struct journal *ret,
                        struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  int r = nook_read_file_at(dirfd, LEASES_FILE, 16 << 20, &text, &len, &e);

  if (r == -ENOENT)
    {
      *ret = (struct journal){ .clean = true };
      return 0;
    }
  if (r < 0)
    {
      nook_error_prefix(&e, "network `%s`", network);
      return netns_error_move(err, &e, r);
    }
  return journal_parse(text, len, network, ret, err);
}

int ipam_leases_read(int dirfd, const char *network, struct ipam_lease **ret, size_t *ret_n,
                     struct nook_error **err)
{
  struct journal j;

  if (journal_read(dirfd, network, &j, err) < 0)
    return -1;
  *ret = j.v;
  *ret_n = j.n;
  return 0;
}

static void lease_print(FILE *f, const struct ipam_lease *l)
{
  char a[INET_ADDRSTRLEN];
  fprintf(f, "%s %s %s\n", ipv4_format(l->addr, a), l->id, l->name ? l->name : "-");
}

/* The journal compacted: its live leases and the last address handed out (when has_last),
 * through a new file and rename(2). */
static int journal_compact(int dirfd, const char *network, const struct ipam_lease *v, size_t n,
                           const struct in_addr *last, struct nook_error **err)
{
  char a[INET_ADDRSTRLEN];
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  if (f == NULL)
    return nook_error_set(err, errno, "open_memstream");
  fputs(LEASES_HEADER, f);
  for (size_t i = 0; i < n; i++)
    lease_print(f, &v[i]);
  if (last)
    fprintf(f, "=%s\n", ipv4_format(*last, a));
  fclose(f);
  if (nook_write_file_atomic_at(dirfd, LEASES_FILE, text, len, 0600, err) < 0)
    return nook_error_prefix(err, "network `%s`: write leases", network);
  return 0;
}

/* Records a change to j: `add` taken (or NULL) and `drops` ids dropped, given that the live
 * leases after it are v[0..n).  One append, or a compaction when the journal is due one. */
static int journal_change(int dirfd, const char *network, const struct journal *j,
                          const struct ipam_lease *add, char *const *drops, size_t n_drops,
                          const struct ipam_lease *v, size_t n, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL;
  _cleanup_close_ int fd = -1;
  size_t len = 0, lines = j->lines + (add ? 1 : 0) + n_drops;
  const struct in_addr *last = add ? &add->addr : j->has_last ? &j->last : NULL;
  FILE *f;

  if (!j->exists || !j->clean || lines > 2 * n + LEASES_SLACK)
    return journal_compact(dirfd, network, v, n, last, err);
  f = open_memstream(&text, &len);
  if (f == NULL)
    return nook_error_set(err, errno, "open_memstream");
  if (add)
    lease_print(f, add);
  for (size_t i = 0; i < n_drops; i++)
    fprintf(f, "-%s\n", drops[i]);
  fclose(f);
  fd = openat(dirfd, LEASES_FILE, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || nook_write_all(fd, text, len) < 0)
    return nook_error_set(err, errno, "network `%s`: append to leases", network);
  return 0;
}

/* Locks the network's directory; fails with ENOENT when the network does not exist (or was
 * removed while this waited for the lock). */
static int network_lock(const char *state_dir, const char *network, int *ret_fd,
                        struct nook_error **err)
{
  _cleanup_free_ char *dir = network_dir_path(state_dir, network);
  _cleanup_error_ struct nook_error *e = NULL;
  _cleanup_close_ int fd = -1;
  int r;

  if (network_name_validate(network, err) < 0)
    return -EINVAL;
  r = netns_lock_dir(dir, false, &fd, &e);
  if (r == -ENOENT || (r == 0 && faccessat(fd, "config.json", F_OK, 0) < 0 && errno == ENOENT))
    return nook_error_setx(err, ENOENT, "network `%s` does not exist", network);
  if (r < 0)
    return netns_error_move(err, &e, r);
  *ret_fd = TAKE_FD(fd);
  return 0;
}

/* Locks the network (network_lock) and reads its journal: *ret_dirfd stays locked. */
static int journal_open(const char *state_dir, const char *network, int *ret_dirfd,
                        struct journal *ret, struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  int r = network_lock(state_dir, network, &dfd, err);

  if (r < 0)
    return r;
  r = journal_read(dfd, network, ret, err);
  if (r < 0)
    return r;
  *ret_dirfd = TAKE_FD(dfd);
  return 0;
}

/* The first host address of net after `last` (wrapping around; from the first one when last is
 * NULL or outside the subnet) that no lease holds and is not the gateway. */
static int find_free(const struct nook_network *net, const struct ipam_lease *v, size_t n,
                     const struct in_addr *last, struct in_addr *ret, struct nook_error **err)
{
  uint32_t base = ntohl(net->subnet.s_addr), size = 1u << (32 - net->prefix), hosts = size - 2;
  _cleanup_free_ uint8_t *used = xcalloc(size / 8 + 1, 1);
  uint32_t start = 0; /* index into the host addresses, offsets 1 to size - 2 */
  char a[INET_ADDRSTRLEN];

#define MARK(off) (used[(off) / 8] |= (uint8_t)(1u << ((off) % 8)))
  if (ipv4_in_subnet(net->gateway, net->subnet, net->prefix))
    MARK(ntohl(net->gateway.s_addr) - base);
  for (size_t i = 0; i < n; i++)
    if (ipv4_in_subnet(v[i].addr, net->subnet, net->prefix))
      MARK(ntohl(v[i].addr.s_addr) - base);
#undef MARK
  if (last && ipv4_in_subnet(*last, net->subnet, net->prefix))
    start = (ntohl(last->s_addr) - base) % hosts; /* the index after last's, wrapped */
  for (uint32_t i = 0; i < hosts; i++)
    {
      uint32_t off = 1 + (start + i) % hosts;
      if (!(used[off / 8] & (1u << (off % 8))))
        {
          ret->s_addr = htonl(base + off);
          return 0;
        }
    }
  return nook_error_setx(err, ENOSPC, "network `%s`: no free address in `%s/%u` (%zu leases)",
                         net->name, ipv4_format(net->subnet, a), net->prefix, n);
}

int ipam_lease_allocate(const char *state_dir, const struct nook_network *net, const char *id,
                        const char *name, struct in_addr *ret, bool *ret_new,
                        struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  struct journal j;
  struct in_addr addr = { 0 };
  int r;

  if (netns_id_validate(id, err) < 0 || (name && lease_name_validate(name, err) < 0))
    return -EINVAL;
  r = journal_open(state_dir, net->name, &dfd, &j, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < j.n; i++)
    if (streq(j.v[i].id, id))
      {
        *ret = j.v[i].addr;
        if (ret_new)
          *ret_new = false;
        ipam_lease_list_free(j.v, j.n);
        return 0;
      }
  r = find_free(net, j.v, j.n, j.has_last ? &j.last : NULL, &addr, err);
  if (r == 0)
    {
      struct ipam_lease l = { addr, xstrdup(id), name ? xstrdup(name) : NULL };
      j.v = xrealloc(j.v, (j.n + 1) * sizeof(*j.v));
      j.v[j.n++] = l;
      qsort(j.v, j.n, sizeof(*j.v), cmp_lease);
      r = journal_change(dfd, net->name, &j, &l, NULL, 0, j.v, j.n, err);
    }
  ipam_lease_list_free(j.v, j.n);
  if (r == 0)
    {
      *ret = addr;
      if (ret_new)
        *ret_new = true;
    }
  return r;
}

/* Keeps the leases for which keep() is true; returns how many were dropped, or < 0. */
static int leases_filter(const char *state_dir, const char *network,
                         bool (*keep)(const struct ipam_lease *l, void *data), void *data,
                         struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  _cleanup_strv_ char **drops = NULL;
  struct journal j;
  size_t kept = 0, n;
  int r = journal_open(state_dir, network, &dfd, &j, err);

  if (r < 0)
    return r;
  for (size_t i = 0; i < j.n; i++)
    {
      if (keep(&j.v[i], data))
        {
          j.v[kept++] = j.v[i];
          continue;
        }
      nook_strv_push(&drops, j.v[i].id);
      free(j.v[i].id);
      free(j.v[i].name);
    }
  n = j.n;
  r = kept == n ? 0 : journal_change(dfd, network, &j, NULL, drops, n - kept, j.v, kept, err);
  ipam_lease_list_free(j.v, kept);
  return r < 0 ? r : (int)(n - kept);
}

int ipam_lease_locked(const char *state_dir, const char *network, ipam_lease_fn fn, void *data,
                      struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  struct journal j;
  int r = journal_open(state_dir, network, &dfd, &j, err);

  if (r < 0)
    return r;
  r = fn(j.v, j.n, data, err);
  ipam_lease_list_free(j.v, j.n);
  return r;
}

static bool keep_other_id(const struct ipam_lease *l, void *data)
{
  return !streq(l->id, data);
}

int ipam_lease_release(const char *state_dir, const char *network, const char *id,
                       struct nook_error **err)
{
  int r;

  if (netns_id_validate(id, err) < 0)
    return -EINVAL;
  r = leases_filter(state_dir, network, keep_other_id, (void *)(uintptr_t)id, err);
  return r < 0 ? r : r > 0;
}

struct alive_args
{
  ipam_alive_fn alive;
  void *data;
};

static bool keep_alive(const struct ipam_lease *l, void *data)
{
  struct alive_args *a = data;
  return a->alive(l->id, a->data);
}

int ipam_lease_reclaim(const char *state_dir, const char *network, ipam_alive_fn alive, void *data,
                       size_t *ret_n, struct nook_error **err)
{
  struct alive_args a = { alive, data };
  int r = leases_filter(state_dir, network, keep_alive, &a, err);

  if (r < 0)
    return r;
  if (ret_n)
    *ret_n = (size_t)r;
  return 0;
}

int ipam_lease_list(const char *state_dir, const char *network, struct ipam_lease **ret,
                    size_t *ret_n, struct nook_error **err)
{
  _cleanup_free_ char *dir = NULL;
  _cleanup_close_ int dfd = -1;

  if (network_name_validate(network, err) < 0)
    return -EINVAL;
  dir = network_dir_path(state_dir, network);
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 && errno == ENOENT)
    return nook_error_setx(err, ENOENT, "network `%s` does not exist", network);
  if (dfd < 0)
    return nook_error_set(err, errno, "open `%s`", dir);
  return ipam_leases_read(dfd, network, ret, ret_n, err);
}
