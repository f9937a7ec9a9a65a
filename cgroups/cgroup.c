/* The cgroup manager's common part: mode detection, path rules, file helpers, the handle, and
 * the operations that are the same on v1 and v2 (enter, pids, kill, destroy).  The rest is
 * dispatched to cgroup-v1.c / cgroup-v2.c through struct cgroup_ops.
 *
 * Path rules (see cgroup_path_compute in cgroup-internal.h):
 *  - an absolute cgroupsPath is used as is in every hierarchy;
 *  - a relative one, and the default "nook/ID", go below nook's own cgroup, read per hierarchy
 *    from /proc/self/cgroup (v1, and the cgroup2 mount of a hybrid host);
 *  - on a pure v2 host they go below the *parent* of nook's own cgroup unless that is the root,
 *    as runc's fs2 does: nook's own cgroup holds nook itself, and the "no internal processes"
 *    rule forbids enabling controllers for the children of a cgroup with processes;
 *  - with --systemd-cgroup, "slice:prefix:name" becomes the path systemd would give the scope,
 *    below the root ("/machine.slice/prefix-name.scope"); nook writes it through cgroupfs.
 * nook only removes what it names: the container's cgroup (and its children), and the "nook"
 * directory above a default path when it is empty. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroup-internal.h"
#include "common/log.h"
#include "common/util.h"

#define CG_DESTROY_TIMEOUT_MS 5000
#define CG_MAX_DEPTH 64

/* ---- mode --------------------------------------------------------------------------------- */

enum nook_cgroup_mode nook_cgroup_mode(void)
{
  static int cached = -1;
  int m = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  struct statfs st;

  if (m >= 0)
    return (enum nook_cgroup_mode)m;
  if (statfs(CGROUP_ROOT, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
    m = NOOK_CGROUP_V2;
  else if (statfs(CGROUP_ROOT "/unified", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
    m = NOOK_CGROUP_HYBRID;
  else
    m = NOOK_CGROUP_V1;
  __atomic_store_n(&cached, m, __ATOMIC_RELAXED);
  return (enum nook_cgroup_mode)m;
}

const char *nook_cgroup_mode_name(enum nook_cgroup_mode m)
{
  switch (m)
    {
    case NOOK_CGROUP_V1: return "v1";
    case NOOK_CGROUP_HYBRID: return "hybrid";
    case NOOK_CGROUP_V2: return "v2";
    }
  return "unknown";
}

/* ---- paths -------------------------------------------------------------------------------- */

char *cgroup_path_clean(const char *path)
{
  bool absolute = path[0] == '/';
  size_t len = strlen(path), o = 0;
  char *out = xmalloc(len + 2);
  const char *p = path;

  while (*p)
    {
      const char *end = strchrnul(p, '/');
      size_t n = (size_t)(end - p);

      if (n == 0 || (n == 1 && p[0] == '.'))
        ; /* empty or "." */
      else if (n == 2 && p[0] == '.' && p[1] == '.')
        {
          while (o > 0 && out[o - 1] != '/')
            o--;
          if (o > 0)
            o--; /* the slash before the dropped component */
        }
      else
        {
          out[o++] = '/';
          memcpy(out + o, p, n);
          o += n;
        }
      p = *end ? end + 1 : end;
    }
  out[o] = '\0';
  if (absolute)
    {
      if (o == 0)
        {
          out[0] = '/';
          out[1] = '\0';
        }
      return out;
    }
  memmove(out, o ? out + 1 : out, o ? o : 1);
  return out;
}

static bool cg_has_suffix(const char *s, const char *suffix)
{
  size_t len = strlen(s), slen = strlen(suffix);
  return len > slen && streq(s + len - slen, suffix);
}

int cgroup_slice_expand(const char *slice, char **ret, struct nook_error **err)
{
  static const char suffix[] = ".slice";
  _cleanup_free_ char *name = NULL, *path = NULL;
  size_t off = 0;

  if (!cg_has_suffix(slice, suffix) || strchr(slice, '/'))
    return nook_error_setx(err, EINVAL, "invalid slice name `%s`", slice);
  name = xstrndup(slice, strlen(slice) - (sizeof(suffix) - 1));
  if (streq(name, "-"))
    {
      *ret = xstrdup("/");
      return 0;
    }
  path = xcalloc(1, 1);
  for (;;)
    {
      const char *dash = strchrnul(name + off, '-');
      char *next;

      if (dash == name + off)
        return nook_error_setx(err, EINVAL, "invalid slice name `%s`", slice);
      /* "/a.slice" then "/a-b.slice": each level is the prefix of the name up to a dash */
      next = xasprintf("%s/%.*s%s", path, (int)(dash - name), name, suffix);
      free(path);
      path = next;
      if (*dash == '\0')
        break;
      off = (size_t)(dash - name) + 1;
    }
  *ret = TAKE_PTR(path);
  return 0;
}

int cgroup_systemd_path(const char *spec, const char *id, char **ret, struct nook_error **err)
{
  _cleanup_free_ char *copy = NULL, *slice_path = NULL;
  const char *slice = "system.slice", *prefix = "nook", *name = id;
  char *c1, *c2;

  if (spec && *spec)
    {
      copy = xstrdup(spec);
      c1 = strchr(copy, ':');
      c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      if (c2 == NULL || strchr(c2 + 1, ':'))
        return nook_error_setx(err, EINVAL,
                               "linux.cgroupsPath: expected `slice:prefix:name` with "
                               "--systemd-cgroup, got `%s`",
                               spec);
      *c1 = *c2 = '\0';
      slice = *copy ? copy : "system.slice";
      prefix = c1 + 1;
      name = c2 + 1;
    }
  if (name == NULL || *name == '\0' || strchr(name, '/') || strchr(prefix, '/'))
    return nook_error_setx(err, EINVAL, "linux.cgroupsPath: invalid systemd unit name in `%s`",
                           spec ? spec : "");
  if (cg_has_suffix(name, ".slice")) /* a slice unit: placed as the slice it is */
    return cgroup_slice_expand(name, ret, err) < 0 ? nook_error_prefix(err, "linux.cgroupsPath")
                                                   : 0;
  if (cgroup_slice_expand(slice, &slice_path, err) < 0)
    return nook_error_prefix(err, "linux.cgroupsPath");
  *ret = xasprintf("%s/%s%s%s.scope", streq(slice_path, "/") ? "" : slice_path, prefix,
                   *prefix ? "-" : "", name);
  return 0;
}

char *cgroup_path_base(const char *own, bool v2_parent)
{
  _cleanup_free_ char *clean = cgroup_path_clean(own && *own ? own : "/");
  char *slash;

  if (clean[0] != '/' || !v2_parent || streq(clean, "/"))
    return clean[0] == '/' ? TAKE_PTR(clean) : xstrdup("/");
  slash = strrchr(clean, '/');
  if (slash == clean)
    return xstrdup("/");
  *slash = '\0';
  return TAKE_PTR(clean);
}

static char *cg_path_join(const char *base, const char *rel)
{
  return xasprintf("%s/%s", streq(base, "/") ? "" : base, rel);
}

static bool cg_id_valid(const char *id)
{
  return id && *id && !strchr(id, '/') && !streq(id, ".") && !streq(id, "..");
}

int cgroup_path_compute(const char *own, bool v2_parent, const struct nook_cgroup_config *cfg,
                        char **ret, struct nook_error **err)
{
  _cleanup_free_ char *path = NULL, *base = cgroup_path_base(own, v2_parent);
  const char *cp = cfg->cgroups_path;

  if (cfg->systemd)
    {
      if (cgroup_systemd_path(cp, cfg->id, &path, err) < 0)
        return -1;
    }
  else if (cp == NULL || *cp == '\0')
    {
      _cleanup_free_ char *rel = NULL;
      if (!cg_id_valid(cfg->id))
        return nook_error_setx(err, EINVAL, "invalid container id `%s` for a cgroup path",
                               cfg->id ? cfg->id : "");
      rel = xasprintf("nook/%s", cfg->id);
      path = cg_path_join(base, rel);
    }
  else
    {
      _cleanup_free_ char *clean = cgroup_path_clean(cp);
      if (streq(clean, "/"))
        return nook_error_setx(err, EINVAL, "linux.cgroupsPath: `%s` is the root cgroup", cp);
      if (*clean == '\0')
        return nook_error_setx(err, EINVAL, "linux.cgroupsPath: `%s` is nook's own cgroup", cp);
      path = clean[0] == '/' ? TAKE_PTR(clean) : cg_path_join(base, clean);
    }
  if (strchr(path, ';') || strchr(path, '\n'))
    return nook_error_setx(err, EINVAL, "linux.cgroupsPath: `;` and newlines are not supported");
  *ret = TAKE_PTR(path);
  return 0;
}

char *cgroup_path_encode(const char *const *keys, const char *const *paths, size_t n)
{
  size_t best = 0, best_count = 0;
  char *out;

  for (size_t i = 0; i < n; i++)
    {
      size_t count = 0;
      for (size_t j = 0; j < n; j++)
        count += streq(paths[i], paths[j]);
      if (count > best_count)
        {
          best = i;
          best_count = count;
        }
    }
  out = xstrdup(n ? paths[best] : "/");
  for (size_t i = 0; i < n; i++)
    {
      char *next;
      if (streq(paths[i], paths[best]))
        continue;
      next = xasprintf("%s;%s=%s", out, *keys[i] ? keys[i] : CGROUP_UNIFIED_KEY, paths[i]);
      free(out);
      out = next;
    }
  return out;
}

int cgroup_path_decode(const char *encoded, const char *key, char **ret, struct nook_error **err)
{
  const char *want = *key ? key : CGROUP_UNIFIED_KEY;
  const char *seg = strchr(encoded, ';');
  const char *found = NULL;
  size_t found_len = 0;

  if (encoded[0] != '/')
    return nook_error_setx(err, EINVAL, "cgroup path `%s` is not absolute", encoded);
  while (seg)
    {
      const char *start = seg + 1, *end = strchrnul(start, ';');
      const char *eq = strstr(start, "=/");
      if (eq == NULL || eq > end || eq == start)
        return nook_error_setx(err, EINVAL, "cgroup path `%s` is malformed", encoded);
      if ((size_t)(eq - start) == strlen(want) && strncmp(start, want, strlen(want)) == 0)
        {
          found = eq + 1;
          found_len = (size_t)(end - found);
        }
      seg = *end ? end : NULL;
    }
  *ret = found ? xstrndup(found, found_len) : xstrndup(encoded, strcspn(encoded, ";"));
  return 0;
}

/* ---- files -------------------------------------------------------------------------------- */

int cg_error_take(struct nook_error **err, struct nook_error *e)
{
  int r = nook_error_code(e);

  if (err && *err == NULL)
    *err = e;
  else
    nook_error_free(e);
  return r;
}

int cg_write(const char *dir, const char *file, const char *value, struct nook_error **err)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
  _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  size_t len = strlen(value);
  ssize_t n;

  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", p);
  /* one write(2): cgroup files take a value per write */
  do
    n = write(fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nook_error_set(err, errno, "write `%s` to `%s`", value, p);
  if ((size_t)n != len)
    return nook_error_set(err, EIO, "short write of `%s` to `%s`", value, p);
  return 0;
}

int cg_read(const char *dir, const char *file, char **ret, struct nook_error **err)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
  return nook_read_file_at(AT_FDCWD, p, 1 << 20, ret, NULL, err);
}

bool cg_exists(const char *dir, const char *file)
{
  _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
  return access(p, F_OK) == 0;
}

static int cg_parse_value(const char *dir, const char *file, const char *s, size_t len,
                          uint64_t *ret, struct nook_error **err)
{
  _cleanup_free_ char *v = xstrndup(s, len);
  size_t n = strlen(v);

  while (n && (v[n - 1] == '\n' || v[n - 1] == ' '))
    v[--n] = '\0';
  if (streq(v, "max"))
    {
      *ret = UINT64_MAX;
      return 0;
    }
  if (nook_parse_u64(v, ret) < 0)
    return nook_error_setx(err, EINVAL, "`%s/%s`: unexpected value `%s`", dir, file, v);
  return 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *ret, struct nook_error **err)
{
  _cleanup_free_ char *s = NULL;

  if (cg_read(dir, file, &s, err) < 0)
    return -1;
  return cg_parse_value(dir, file, s, strlen(s), ret, err);
}

/* Finds "key value" in text; returns the value's start and length, or NULL. */
static const char *cg_find_key(const char *text, const char *key, size_t *ret_len)
{
  size_t klen = strlen(key);

  for (const char *line = text; line && *line;)
    {
      const char *eol = strchrnul(line, '\n');
      if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
        {
          *ret_len = (size_t)(eol - (line + klen + 1));
          return line + klen + 1;
        }
      line = *eol ? eol + 1 : NULL;
    }
  return NULL;
}

int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret,
                  struct nook_error **err)
{
  _cleanup_free_ char *s = NULL;
  const char *v;
  size_t len = 0;

  if (cg_read(dir, file, &s, err) < 0)
    return -1;
  v = cg_find_key(s, key, &len);
  if (v == NULL)
    {
      *ret = 0;
      return 0;
    }
  return cg_parse_value(dir, file, v, len, ret, err);
}

uint64_t cg_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- hierarchies -------------------------------------------------------------------------- */

bool cg_list_has(const char *list, const char *item)
{
  size_t len = strlen(item);

  for (const char *p = list; p && *p;)
    {
      const char *end = strchrnul(p, ',');
      if ((size_t)(end - p) == len && strncmp(p, item, len) == 0)
        return true;
      p = *end ? end + 1 : NULL;
    }
  return false;
}

char *cg_dir_of(const struct cg_hierarchy *h, const char *path)
{
  size_t len = strlen(h->mount_root);

  if (streq(h->mount_root, "/"))
    return xasprintf("%s%s", h->mount, path);
  if (strncmp(path, h->mount_root, len) == 0 && (path[len] == '/' || path[len] == '\0'))
    return xasprintf("%s%s", h->mount, path + len);
  return NULL;
}

static int cg_set_path(struct cg_hierarchy *h, char *path, struct nook_error **err)
{
  h->path = path;
  h->dir = cg_dir_of(h, path);
  if (h->dir == NULL)
    return nook_error_setx(err, EINVAL, "cgroup `%s` is outside the mount `%s` (root `%s`)", path,
                           h->mount, h->mount_root);
  return 0;
}

const struct cg_hierarchy *cg_hierarchy_for(const struct nook_cgroup *cg, const char *controller)
{
  if (cg->mode == NOOK_CGROUP_V2)
    {
      _cleanup_free_ char *list = NULL;
      if (controller == NULL)
        return &cg->h[0];
      if (cg_read(cg->h[0].dir, "cgroup.controllers", &list, NULL) < 0)
        return NULL;
      for (char *p = list; *p; p++)
        if (*p == ' ' || *p == '\n')
          *p = ',';
      return cg_list_has(list, controller) ? &cg->h[0] : NULL;
    }
  for (size_t i = 0; i < cg->n_h; i++)
    {
      const char *c = cg->h[i].controllers;
      if (controller == NULL ? *c == '\0' : (*c != '\0' && cg_list_has(c, controller)))
        return &cg->h[i];
    }
  return NULL;
}

/* Where processes are listed: the cgroup2 hierarchy on v2, else the first v1 one of these. */
static const struct cg_hierarchy *cg_primary(const struct nook_cgroup *cg)
{
  static const char *const prefer[] = { "pids", "freezer", "memory", "devices", "cpu" };

  if (cg->mode == NOOK_CGROUP_V2)
    return &cg->h[0];
  for (size_t i = 0; i < ARRAY_SIZE(prefer); i++)
    {
      const struct cg_hierarchy *h = cg_hierarchy_for(cg, prefer[i]);
      if (h)
        return h;
    }
  return &cg->h[0];
}

int cg_walk_down(const struct cg_hierarchy *h, cg_walk_fn fn, void *data, struct nook_error **err)
{
  _cleanup_free_ char *p = xstrdup(h->dir);
  size_t mlen = strlen(h->mount);

  if (strlen(p) <= mlen + 1)
    return 0; /* the mount itself */
  for (char *s = p + mlen + 1;; s++)
    {
      char saved = *s;
      int r;

      if (saved != '/' && saved != '\0')
        continue;
      *s = '\0';
      r = fn(p, data, err);
      *s = saved;
      if (r < 0 || saved == '\0')
        return r < 0 ? r : 0;
    }
}

static int cg_mkdir_one(char *dir, void *data, struct nook_error **err)
{
  struct cg_hierarchy *h = data;

  if (mkdir(dir, 0755) == 0)
    h->n_created++;
  else if (errno != EEXIST)
    return -errno; /* cg_mkdir says what failed */
  return 0;
}

int cg_mkdir(struct cg_hierarchy *h, struct nook_error **err)
{
  /* A concurrent `nook delete` may remove an empty "nook" parent between two mkdirs: retry. */
  for (int attempt = 0;; attempt++)
    {
      int r;

      h->n_created = 0;
      r = cg_walk_down(h, cg_mkdir_one, h, err);
      if (r == 0)
        return 0;
      if (r != -ENOENT || attempt == 3)
        return nook_error_set(err, -r, "mkdir `%s`", h->dir);
    }
}

static void cg_rollback(struct nook_cgroup *cg)
{
  for (size_t i = 0; i < cg->n_h; i++)
    {
      _cleanup_free_ char *p = cg->h[i].dir ? xstrdup(cg->h[i].dir) : NULL;
      for (size_t k = 0; p && k < cg->h[i].n_created; k++)
        {
          char *slash = strrchr(p, '/');
          /* busy: another container was just created in a shared "nook" parent */
          if (rmdir(p) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
            nook_warn("rmdir `%s`: %s", p, strerror(errno));
          if (slash)
            *slash = '\0';
        }
      cg->h[i].n_created = 0;
    }
}

/* ---- the handle --------------------------------------------------------------------------- */

static struct nook_cgroup *cg_new(void)
{
  struct nook_cgroup *cg = xcalloc(1, sizeof(*cg));

  cg->mode = nook_cgroup_mode();
  cg->ops = cg->mode == NOOK_CGROUP_V2 ? &cgroup_ops_v2 : &cgroup_ops_v1;
  cg->dirfd = -1;
  return cg;
}

void nook_cgroup_free(struct nook_cgroup *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n_h; i++)
    {
      free(cg->h[i].controllers);
      free(cg->h[i].mount);
      free(cg->h[i].mount_root);
      free(cg->h[i].own);
      free(cg->h[i].path);
      free(cg->h[i].dir);
    }
  free(cg->h);
  free(cg->path);
  if (cg->dirfd >= 0)
    close(cg->dirfd);
  free(cg);
}

static void cg_encode(struct nook_cgroup *cg)
{
  _cleanup_free_ const char **keys = xcalloc(cg->n_h, sizeof(char *));
  _cleanup_free_ const char **paths = xcalloc(cg->n_h, sizeof(char *));

  for (size_t i = 0; i < cg->n_h; i++)
    {
      keys[i] = cg->h[i].controllers;
      paths[i] = cg->h[i].path;
    }
  cg->path = cgroup_path_encode(keys, paths, cg->n_h);
}

/* A cgroup that existed already must be empty: destroy kills whatever is in it. */
static int cg_check_empty(const struct nook_cgroup *cg, struct nook_error **err)
{
  for (size_t i = 0; i < cg->n_h; i++)
    {
      _cleanup_free_ char *procs = NULL;
      if (cg->h[i].n_created > 0)
        continue;
      if (cg_read(cg->h[i].dir, "cgroup.procs", &procs, err) < 0)
        return -1;
      if (*procs)
        return nook_error_setx(err, EBUSY, "cgroup `%s` already has processes", cg->h[i].dir);
    }
  return 0;
}

int nook_cgroup_create(const struct nook_cgroup_config *cfg, struct nook_cgroup **ret,
                       struct nook_error **err)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = cg_new();
  int r;

  if (cg_discover(cg, err) < 0)
    return -1;
  for (size_t i = 0; i < cg->n_h; i++)
    {
      char *path = NULL;
      bool v2_parent = cg->mode == NOOK_CGROUP_V2;
      if (cgroup_path_compute(cg->h[i].own, v2_parent, cfg, &path, err) < 0)
        return -1;
      if (cg_set_path(&cg->h[i], path, err) < 0)
        return -1;
    }
  cg_encode(cg);
  r = cg->ops->create(cg, cfg->resources, err);
  if (r >= 0)
    r = cg_check_empty(cg, err);
  if (r >= 0)
    r = cg->ops->load(cg, err);
  if (r >= 0 && cfg->resources)
    r = cg->ops->update(cg, cfg->resources, err);
  if (r < 0)
    {
      cg_rollback(cg);
      return r;
    }
  *ret = TAKE_PTR(cg);
  return 0;
}

int nook_cgroup_open(const char *path, struct nook_cgroup **ret, struct nook_error **err)
{
  _cleanup_cgroup_ struct nook_cgroup *cg = cg_new();

  if (path == NULL || cg_discover(cg, err) < 0)
    return path ? -1 : nook_error_setx(err, EINVAL, "no cgroup path");
  for (size_t i = 0; i < cg->n_h; i++)
    {
      char *p = NULL;
      if (cgroup_path_decode(path, cg->h[i].controllers, &p, err) < 0)
        return -1;
      if (cg_set_path(&cg->h[i], p, err) < 0)
        return -1;
    }
  cg->path = xstrdup(path);
  if (cg->ops->load(cg, err) < 0)
    return -1;
  *ret = TAKE_PTR(cg);
  return 0;
}

const char *nook_cgroup_path(const struct nook_cgroup *cg)
{
  return cg->path;
}

int nook_cgroup_dirfd(const struct nook_cgroup *cg)
{
  return cg->dirfd;
}

bool nook_cgroup_clone_joins(const struct nook_cgroup *cg, bool cloned_into)
{
  return cloned_into && cg->mode == NOOK_CGROUP_V2;
}

int nook_cgroup_enter_self(const struct nook_cgroup *cg, bool cloned_into, struct nook_error **err)
{
  for (size_t i = 0; i < cg->n_h; i++)
    {
      bool v2 = cg->h[i].controllers[0] == '\0';

      if (v2 && cloned_into)
        continue;
      /* "0" is the writer itself.  Into a v1 tasks file that moves one thread without the
       * global threadgroup lock, whose write side waits for an RCU grace period (5-20 ms on
       * this kind of host, for every container); the caller is single-threaded, so the one
       * thread is the whole process. */
      if (cg_write(cg->h[i].dir, v2 ? "cgroup.procs" : "tasks", "0", err) < 0)
        return nook_error_prefix(err, "join the cgroup");
    }
  return 0;
}

int nook_cgroup_enter(const struct nook_cgroup *cg, pid_t pid, struct nook_error **err)
{
  _cleanup_free_ char *s = xasprintf("%d", (int)pid);

  for (size_t i = 0; i < cg->n_h; i++)
    for (int attempt = 0;; attempt++)
      {
        struct nook_error *e = NULL;
        int r = cg_write(cg->h[i].dir, "cgroup.procs", s, &e);
        if (r == 0)
          break;
        /* EINVAL: a task still in TASK_NEW cannot move yet (runc retries the same way) */
        if (r == -EINVAL && attempt < 5)
          {
            nook_error_free(e);
            usleep(30000);
            continue;
          }
        cg_error_take(err, e);
        return nook_error_prefix(err, "move pid %d into the cgroup", (int)pid);
      }
  return 0;
}

/* The next child cgroup of dir (a subdirectory, read from d), or NULL at the end. */
static char *cg_next_child(DIR *d, const char *dir)
{
  struct dirent *de;

  while ((de = readdir(d)) != NULL)
    if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
      return xasprintf("%s/%s", dir, de->d_name);
  return NULL;
}

static int cg_collect(const char *dir, int depth, pid_t **v, size_t *n, struct nook_error **err)
{
  _cleanup_free_ char *procs = NULL;
  _cleanup_closedir_ DIR *d = NULL;
  int r = cg_read(dir, "cgroup.procs", &procs, err);

  if (r < 0)
    return r; /* -ENOENT: the caller may accept a cgroup that is gone */
  for (char *line = procs; *line;)
    {
      char *eol = strchrnul(line, '\n');
      bool last = *eol == '\0';
      int pid = 0;

      *eol = '\0';
      if (nook_parse_int(line, &pid) == 0 && pid > 0)
        {
          *v = xrealloc(*v, (*n + 1) * sizeof(pid_t));
          (*v)[(*n)++] = pid;
        }
      if (last)
        break;
      line = eol + 1;
    }
  d = opendir(dir);
  if (d == NULL || depth >= CG_MAX_DEPTH)
    return 0;
  for (;;)
    {
      _cleanup_free_ char *child = cg_next_child(d, dir);
      struct nook_error *e = NULL;

      if (child == NULL)
        break;
      r = cg_collect(child, depth + 1, v, n, &e);
      if (r == -ENOENT) /* removed while walking */
        nook_error_free(e);
      else if (r < 0)
        return cg_error_take(err, e);
    }
  return 0;
}

int nook_cgroup_pids(const struct nook_cgroup *cg, pid_t **ret, size_t *ret_n,
                     struct nook_error **err)
{
  _cleanup_free_ pid_t *v = NULL;
  size_t n = 0;

  if (cg_collect(cg_primary(cg)->dir, 0, &v, &n, err) < 0)
    return -1;
  *ret = TAKE_PTR(v);
  *ret_n = n;
  return 0;
}

static int cg_signal_pids(const pid_t *v, size_t n, int sig, struct nook_error **err)
{
  for (size_t i = 0; i < n; i++)
    if (kill(v[i], sig) < 0 && errno != ESRCH)
      return nook_error_set(err, errno, "kill %d with signal %d", (int)v[i], sig);
  return 0;
}

/* SIGKILL through cgroup.kill (Linux 5.14) of the cgroup2 hierarchy: 1 when done, 0 when the
 * kernel does not have it. */
static int cg_kill_unified(const struct nook_cgroup *cg, struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, NULL);

  if (h == NULL || !cg_exists(h->dir, "cgroup.kill"))
    return 0;
  return cg_write(h->dir, "cgroup.kill", "1", err) < 0 ? -1 : 1;
}

int nook_cgroup_kill(const struct nook_cgroup *cg, int sig, struct nook_error **err)
{
  _cleanup_free_ pid_t *v = NULL;
  bool frozen = true, thaw = false;
  size_t n = 0;
  int r;

  if (sig == SIGKILL)
    {
      r = cg_kill_unified(cg, err);
      if (r < 0 || (r > 0 && cg->mode == NOOK_CGROUP_V2))
        return r < 0 ? -1 : 0;
    }
  /* pid by pid: freeze first so that nothing forks past the list, as runc (best effort; a
   * paused container stays paused) */
  if (cg->ops->is_frozen(cg, &frozen, NULL) == 0 && !frozen)
    thaw = cg->ops->freeze(cg, true, NULL) == 0;
  r = nook_cgroup_pids(cg, &v, &n, err);
  if (r >= 0)
    r = cg_signal_pids(v, n, sig, err);
  if (thaw)
    (void)cg->ops->freeze(cg, false, NULL);
  return r < 0 ? -1 : 0;
}

int nook_cgroup_freeze(const struct nook_cgroup *cg, bool frozen, struct nook_error **err)
{
  return cg->ops->freeze(cg, frozen, err);
}

int nook_cgroup_is_frozen(const struct nook_cgroup *cg, bool *ret, struct nook_error **err)
{
  return cg->ops->is_frozen(cg, ret, err);
}

int nook_cgroup_update(const struct nook_cgroup *cg, const struct nook_resources *r,
                       struct nook_error **err)
{
  return r ? cg->ops->update(cg, r, err) : 0;
}

int nook_cgroup_stats(const struct nook_cgroup *cg, struct nook_cgroup_stats *ret,
                      struct nook_error **err)
{
  struct nook_cgroup_stats s;

  /* the readers skip what a hierarchy lacks: make a cgroup that is gone an error first */
  if (access(cg_primary(cg)->dir, F_OK) < 0)
    return nook_error_set(err, errno, "cgroup `%s`", cg_primary(cg)->dir);
  memset(&s, 0, sizeof(s));
  if (cg->ops->stats(cg, &s, err) < 0)
    return -1;
  *ret = s;
  return 0;
}

int nook_cgroup_oom_fd(const struct nook_cgroup *cg, int *ret_fd, struct nook_error **err)
{
  return cg->ops->oom_fd(cg, ret_fd, err);
}

int nook_cgroup_oom_file(const struct nook_cgroup *cg, char **ret, struct nook_error **err)
{
  const struct cg_hierarchy *h = cg_hierarchy_for(cg, "memory");

  if (h == NULL)
    return nook_error_setx(err, EOPNOTSUPP, "oom count: the memory controller is not available");
  *ret = xasprintf("%s/%s", h->dir,
                   cg->mode == NOOK_CGROUP_V2 ? "memory.events" : "memory.oom_control");
  return 0;
}

/* SIGKILL to everything in every hierarchy; a hierarchy already removed is fine. */
static int cg_kill_all(const struct nook_cgroup *cg, struct nook_error **err)
{
  if (cg_kill_unified(cg, err) < 0)
    return -1;
  for (size_t i = 0; i < cg->n_h; i++)
    {
      _cleanup_free_ pid_t *v = NULL;
      struct nook_error *e = NULL;
      size_t n = 0;
      int r = cg_collect(cg->h[i].dir, 0, &v, &n, &e);

      if (r == -ENOENT)
        nook_error_free(e);
      else if (r < 0)
        return cg_error_take(err, e);
      if (cg_signal_pids(v, n, SIGKILL, err) < 0)
        return -1;
    }
  return 0;
}

/* rmdir of dir and the cgroups the container made below it, deepest first; *busy when one
 * still has processes. */
static int cg_rmdir_tree(const char *dir, int depth, bool *busy, struct nook_error **err)
{
  _cleanup_closedir_ DIR *d = opendir(dir);

  if (d == NULL)
    return errno == ENOENT ? 0 : nook_error_set(err, errno, "open `%s`", dir);
  while (depth < CG_MAX_DEPTH)
    {
      _cleanup_free_ char *child = cg_next_child(d, dir);
      if (child == NULL)
        break;
      if (cg_rmdir_tree(child, depth + 1, busy, err) < 0)
        return -1;
    }
  if (rmdir(dir) == 0 || errno == ENOENT)
    return 0;
  if (errno == EBUSY || errno == ENOTEMPTY)
    {
      *busy = true;
      return 0;
    }
  return nook_error_set(err, errno, "rmdir `%s`", dir);
}

/* The "nook" directory of the default path "BASE/nook/ID", when this cgroup is at that place
 * and the directory is empty.  Nothing else above the cgroup is ever removed. */
static void cg_rmdir_nook_parent(const struct nook_cgroup *cg)
{
  for (size_t i = 0; i < cg->n_h; i++)
    {
      const struct cg_hierarchy *h = &cg->h[i];
      _cleanup_free_ char *base = cgroup_path_base(h->own, cg->mode == NOOK_CGROUP_V2);
      _cleanup_free_ char *parent = cg_path_join(base, "nook"), *dir = NULL;
      const char *slash = strrchr(h->path, '/');

      if (slash == NULL || (size_t)(slash - h->path) != strlen(parent)
          || strncmp(h->path, parent, strlen(parent)) != 0)
        continue;
      dir = cg_dir_of(h, parent);
      if (dir && rmdir(dir) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
        nook_warn("rmdir `%s`: %s", dir, strerror(errno));
    }
}

int nook_cgroup_destroy(struct nook_cgroup *cg, struct nook_error **err)
{
  uint64_t deadline = cg_now_ms() + CG_DESTROY_TIMEOUT_MS;
  useconds_t backoff = 1000;
  bool frozen = false;

  /* tasks frozen by the v1 freezer do not die until thawed */
  if (cg->ops->is_frozen(cg, &frozen, NULL) == 0 && frozen)
    (void)cg->ops->freeze(cg, false, NULL);
  for (;;)
    {
      bool busy = false;

      if (cg_kill_all(cg, err) < 0)
        return -1;
      for (size_t i = 0; i < cg->n_h; i++)
        if (cg_rmdir_tree(cg->h[i].dir, 0, &busy, err) < 0)
          return -1;
      if (!busy)
        break;
      if (cg_now_ms() >= deadline)
        return nook_error_setx(err, EBUSY, "cgroup `%s` still has processes after %d ms", cg->path,
                               CG_DESTROY_TIMEOUT_MS);
      usleep(backoff);
      backoff = backoff * 2 > 100000 ? 100000 : backoff * 2;
    }
  cg_rmdir_nook_parent(cg);
  if (cg->dirfd >= 0)
    {
      close(cg->dirfd);
      cg->dirfd = -1;
    }
  return 0;
}
