/* IPv4 leases: STATE/networks/NAME/leases, one "ADDRESS ID NAME" line per container.  Every
 * change reads the file, changes the list and replaces the file with rename(2), all under
 * flock(2) on the network's directory (not on the file: a rename would leave the lock on the
 * old inode).  Readers need no lock. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "netns/netns-internal.h"

#define LEASES_FILE "leases"
#define LEASES_HEADER "# nook leases: ADDRESS CONTAINER-ID NAME (- for none)\n"

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

static int parse_line(char *line, struct ipam_lease *l, struct nook_error **err)
{
  char *save = NULL;
  char *addr = strtok_r(line, " \t", &save);
  char *id = strtok_r(NULL, " \t", &save);
  char *name = strtok_r(NULL, " \t", &save);

  if (addr == NULL || id == NULL || strtok_r(NULL, " \t", &save) != NULL)
    return nook_error_setx(err, EINVAL, "expected ADDRESS ID NAME");
  if (ipv4_parse(addr, &l->addr) < 0)
    return nook_error_setx(err, EINVAL, "`%s` is not an IPv4 address", addr);
  if (netns_id_validate(id, err) < 0)
    return -EINVAL;
  l->id = xstrdup(id);
  l->name = name && !streq(name, "-") ? xstrdup(name) : NULL;
  return 0;
}

static int leases_parse(char *text, const char *network, struct ipam_lease **ret, size_t *ret_n,
                        struct nook_error **err)
{
  struct ipam_lease *v = NULL;
  size_t n = 0, lineno = 0;
  char *line = text, *next;

  for (; line && *line; line = next)
    {
      next = strchr(line, '\n');
      if (next)
        *next++ = '\0';
      lineno++;
      if (*line == '\0' || *line == '#')
        continue;
      v = xrealloc(v, (n + 1) * sizeof(*v));
      memset(&v[n], 0, sizeof(v[n]));
      if (parse_line(line, &v[n], err) < 0)
        {
          ipam_lease_list_free(v, n + 1);
          return nook_error_prefix(err, "network `%s`: leases line %zu", network, lineno);
        }
      n++;
    }
  if (n > 1)
    qsort(v, n, sizeof(*v), cmp_lease);
  *ret = v;
  *ret_n = n;
  return 0;
}

int ipam_leases_read(int dirfd, const char *network, struct ipam_lease **ret, size_t *ret_n,
                     struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  _cleanup_free_ char *text = NULL;
  int r = nook_read_file_at(dirfd, LEASES_FILE, 16 << 20, &text, NULL, &e);

  if (r == -ENOENT)
    {
      *ret = NULL;
      *ret_n = 0;
      return 0;
    }
  if (r < 0)
    {
      nook_error_prefix(&e, "network `%s`", network);
      return netns_error_move(err, &e, r);
    }
  return leases_parse(text, network, ret, ret_n, err);
}

static int leases_write(int dirfd, const char *network, const struct ipam_lease *v, size_t n,
                        struct nook_error **err)
{
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  char a[INET_ADDRSTRLEN];

  if (f == NULL)
    return nook_error_set(err, errno, "open_memstream");
  fputs(LEASES_HEADER, f);
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%s %s %s\n", ipv4_format(v[i].addr, a), v[i].id, v[i].name ? v[i].name : "-");
  fclose(f);
  if (nook_write_file_atomic_at(dirfd, LEASES_FILE, text, len, 0600, err) < 0)
    return nook_error_prefix(err, "network `%s`: write leases", network);
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

/* The lowest host address of net that no lease holds and is not its gateway. */
static int find_free(const struct nook_network *net, const struct ipam_lease *v, size_t n,
                     struct in_addr *ret, struct nook_error **err)
{
  uint32_t base = ntohl(net->subnet.s_addr), size = 1u << (32 - net->prefix);
  _cleanup_free_ uint8_t *used = xcalloc(size / 8 + 1, 1);
  char a[INET_ADDRSTRLEN];

#define MARK(off) (used[(off) / 8] |= (uint8_t)(1u << ((off) % 8)))
  MARK(0);
  MARK(size - 1);
  if (ipv4_in_subnet(net->gateway, net->subnet, net->prefix))
    MARK(ntohl(net->gateway.s_addr) - base);
  for (size_t i = 0; i < n; i++)
    if (ipv4_in_subnet(v[i].addr, net->subnet, net->prefix))
      MARK(ntohl(v[i].addr.s_addr) - base);
#undef MARK
  for (uint32_t off = 1; off < size - 1; off++)
    if (!(used[off / 8] & (1u << (off % 8))))
      {
        ret->s_addr = htonl(base + off);
        return 0;
      }
  return nook_error_setx(err, ENOSPC, "network `%s`: no free address in `%s/%u` (%zu leases)",
                         net->name, ipv4_format(net->subnet, a), net->prefix, n);
}

int ipam_lease_allocate(const char *state_dir, const struct nook_network *net, const char *id,
                        const char *name, struct in_addr *ret, bool *ret_new,
                        struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  struct ipam_lease *v = NULL;
  struct in_addr addr = { 0 };
  size_t n = 0;
  int r;

  if (netns_id_validate(id, err) < 0 || (name && lease_name_validate(name, err) < 0))
    return -EINVAL;
  r = network_lock(state_dir, net->name, &dfd, err);
  if (r < 0)
    return r;
  r = ipam_leases_read(dfd, net->name, &v, &n, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < n; i++)
    if (streq(v[i].id, id))
      {
        *ret = v[i].addr;
        if (ret_new)
          *ret_new = false;
        ipam_lease_list_free(v, n);
        return 0;
      }
  r = find_free(net, v, n, &addr, err);
  if (r == 0)
    {
      v = xrealloc(v, (n + 1) * sizeof(*v));
      v[n++] = (struct ipam_lease){ addr, xstrdup(id), name ? xstrdup(name) : NULL };
      qsort(v, n, sizeof(*v), cmp_lease);
      r = leases_write(dfd, net->name, v, n, err);
    }
  ipam_lease_list_free(v, n);
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
  struct ipam_lease *v = NULL;
  size_t n = 0, kept = 0;
  int r = network_lock(state_dir, network, &dfd, err);

  if (r < 0)
    return r;
  r = ipam_leases_read(dfd, network, &v, &n, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < n; i++)
    {
      if (keep(&v[i], data))
        {
          v[kept++] = v[i];
          continue;
        }
      free(v[i].id);
      free(v[i].name);
    }
  r = kept == n ? 0 : leases_write(dfd, network, v, kept, err);
  ipam_lease_list_free(v, kept);
  return r < 0 ? r : (int)(n - kept);
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
