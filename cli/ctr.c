/* Containers of `nook run`: their directories, names, records and state (see cli/ctr.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/ctr.h"
#include "cli/run-network.h"
#include "common/json.h"
#include "common/util.h"
#include "images/image.h"
#include "runtime/container.h"
#include "runtime/state.h"

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

static void random_bytes(void *buf, size_t len)
{
  if (getrandom(buf, len, 0) != (ssize_t)len)
    abort(); /* the kernel's entropy is initialised long before containers run */
}

static void random_id(char ret[65])
{
  static const char hex[] = "0123456789abcdef";
  unsigned char b[32];

  random_bytes(b, sizeof b);
  for (size_t i = 0; i < sizeof b; i++)
    {
      ret[2 * i] = hex[b[i] >> 4];
      ret[2 * i + 1] = hex[b[i] & 15];
    }
  ret[64] = '\0';
}

/* podman's (docker's) names are an adjective and a scientist; ours are an adjective and a
 * small dwelling, for a runtime called nook. */
static char *random_name(void)
{
  static const char *const adjectives[] = {
    "amber",  "brave",  "calm",   "clever", "cosy",   "eager",  "fancy",  "gentle",
    "happy",  "jolly",  "keen",   "lucid",  "mellow", "nimble", "proud",  "quiet",
    "rapid",  "sharp",  "snug",   "steady", "sunny",  "swift",  "tidy",   "vivid",
  };
  static const char *const nouns[] = {
    "attic",  "burrow", "cabin",  "cellar", "chalet", "cottage", "cove",   "den",
    "dugout", "grotto", "hammock", "hut",   "igloo",  "lodge",  "loft",   "niche",
    "nest",   "nook",   "pod",    "shed",   "shelter", "tent",  "tower",  "yurt",
  };
  unsigned char b[2];

  random_bytes(b, sizeof b);
  return xasprintf("%s_%s", adjectives[b[0] % ARRAY_SIZE(adjectives)],
                   nouns[b[1] % ARRAY_SIZE(nouns)]);
}

static bool name_valid(const char *name)
{
  size_t len = strlen(name);

  return len > 0 && len <= 128 && strspn(name, NAME_CHARS) == len
         && ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')
             || (name[0] >= '0' && name[0] <= '9'));
}

static bool id_valid(const char *id)
{
  return strlen(id) == 64 && strspn(id, "0123456789abcdef") == 64;
}

static int names_dir(struct image_store *s, int *ret_fd, struct nook_error **err)
{
  int fd;

  if (mkdirat(s->dirfd, "names", 0700) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "create `%s/names`", s->path);
  fd = openat(s->dirfd, "names", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s/names`", s->path);
  *ret_fd = fd;
  return 0;
}

/* The id NAME points to, or -ENOENT. */
static int name_target(int namesfd, const char *name, char ret_id[65])
{
  char buf[80];
  ssize_t n = readlinkat(namesfd, name, buf, sizeof buf - 1);

  if (n < 0)
    return -errno;
  buf[n] = '\0';
  if (!id_valid(buf))
    return -EINVAL;
  memcpy(ret_id, buf, 65);
  return 0;
}

static bool ctr_dir_exists(struct image_store *s, const char *id)
{
  _cleanup_free_ char *rel = xasprintf("containers/%s", id);
  struct stat st;

  return fstatat(s->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* symlinkat(2) is the reservation: it fails with EEXIST when another container has the name,
 * also when both are being made at this very moment.  A name left by a crashed container
 * (its directory gone) is taken over. */
static int name_reserve(struct image_store *s, const char *name, const char *id, struct nook_error **err)
{
  _cleanup_close_ int namesfd = -1;
  char other[65];
  int r;

  if ((r = names_dir(s, &namesfd, err)) < 0)
    return r;
  for (int attempt = 0; attempt < 2; attempt++)
    {
      if (symlinkat(id, namesfd, name) == 0)
        return 0;
      if (errno != EEXIST)
        return nook_error_set(err, errno, "reserve the name `%s`", name);
      r = name_target(namesfd, name, other);
      if (r == 0 && ctr_dir_exists(s, other))
        return nook_error_setx(err, EEXIST, "the name `%s` is in use by container %.12s", name,
                               other);
      if (r != -ENOENT && unlinkat(namesfd, name, 0) < 0 && errno != ENOENT)
        return nook_error_set(err, errno, "remove the stale name `%s`", name);
    }
  return nook_error_setx(err, EEXIST, "the name `%s` is in use", name);
}

int ctr_create(struct image_store *s, const char *name, struct ctr *c, struct nook_error **err)
{
  _cleanup_free_ char *gen = NULL, *rel = NULL;
  int r;

  if (name && !name_valid(name))
    return nook_error_setx(err, EINVAL, "--name `%s`: use letters, digits, `_`, `.` and `-`, "
                                        "starting with a letter or digit",
                           name);
  if (mkdirat(s->dirfd, "containers", 0700) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "create `%s/containers`", s->path);
  for (;;)
    {
      random_id(c->id);
      free(rel);
      rel = xasprintf("containers/%s", c->id);
      if (mkdirat(s->dirfd, rel, 0700) == 0)
        break;
      if (errno != EEXIST)
        return nook_error_set(err, errno, "create `%s/%s`", s->path, rel);
    }
  for (int attempt = 0;; attempt++)
    {
      if (!name)
        {
          free(gen);
          gen = random_name();
        }
      r = name_reserve(s, name ? name : gen, c->id, err);
      if (r == 0)
        break;
      /* A generated name that is taken: another one, a few times. */
      if (name || r != -EEXIST || attempt >= 16)
        {
          unlinkat(s->dirfd, rel, AT_REMOVEDIR);
          return r;
        }
      nook_error_freep(err);
    }
  c->name = name ? xstrdup(name) : TAKE_PTR(gen);
  return 0;
}

int ctr_release_name(struct image_store *s, const char *name, const char *id,
                     struct nook_error **err)
{
  _cleanup_close_ int namesfd = -1;
  char target[65];
  int r;

  if (!name)
    return 0;
  if ((r = names_dir(s, &namesfd, err)) < 0)
    return r;
  /* Only our own: the name may already belong to a newer container. */
  if (name_target(namesfd, name, target) == 0 && streq(target, id)
      && unlinkat(namesfd, name, 0) < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "release the name `%s`", name);
  return 0;
}

int ctr_save(struct image_store *s, const struct ctr *c, struct nook_error **err)
{
  _cleanup_close_ int dfd = -1;
  _cleanup_free_ char *json = NULL;
  yajl_gen g = nook_json_gen_new(true);
  char restart[32];
  size_t len;
  int r;

  yajl_gen_map_open(g);
  nook_json_kv_str(g, "id", c->id);
  nook_json_kv_str(g, "name", c->name);
  nook_json_kv_str(g, "image", c->image);
  nook_json_kv_str(g, "imageId", c->image_id);
  nook_json_kv_str(g, "created", c->created);
  nook_json_kv_strv(g, "command", c->command);
  nook_json_kv_bool(g, "rm", c->rm);
  nook_json_kv_bool(g, "tty", c->tty);
  nook_json_kv_bool(g, "interactive", c->interactive);
  nook_json_kv_str(g, "restart", nook_restart_format(&c->restart, restart, sizeof restart));
  nook_json_kv_int(g, "logMaxSize", (long long)c->log_max_size);
  nook_json_kv_int(g, "logMaxFiles", c->log_max_files);
  nook_json_kv_int(g, "stopSignal", c->stop_signal);
  nook_json_kv_int(g, "stopTimeout", c->stop_timeout);
  if (c->hostname)
    nook_json_kv_str(g, "hostname", c->hostname);
  nook_json_kv_strv(g, "addHosts", c->add_hosts);
  nook_json_kv_strv(g, "dns", c->dns);
  nook_json_kv_str(g, "network", c->network);
  nook_json_kv_strv(g, "ports", c->ports);
  yajl_gen_map_close(g);
  json = nook_json_gen_finish(g, &len);
  if ((r = ctr_dir_open(s, c->id, &dfd, err)) < 0)
    return r;
  return nook_write_file_atomic_at(dfd, "run.json", json, len, 0600, err);
}

static char **json_strv(yajl_val obj, const char *key)
{
  yajl_val v = nook_json_get(obj, key);
  char **ret = NULL;

  if (!YAJL_IS_ARRAY(v))
    return NULL;
  for (size_t i = 0; i < v->u.array.len; i++)
    if (YAJL_IS_STRING(v->u.array.values[i]))
      nook_strv_push(&ret, v->u.array.values[i]->u.string);
  return ret;
}

static char *json_strdup(yajl_val obj, const char *key)
{
  const char *v = nook_json_get_str(obj, key);

  return v ? xstrdup(v) : NULL;
}

int ctr_load(struct image_store *s, const char *id, struct ctr **ret, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL, *what = NULL;
  _cleanup_json_ yajl_val v = NULL;
  _cleanup_close_ int dfd = -1;
  _cleanup_ctr_ struct ctr *c = NULL;
  const char *restart;
  int64_t n;
  int r;

  if ((r = ctr_dir_open(s, id, &dfd, err)) < 0)
    return r;
  r = nook_read_file_at(dfd, "run.json", 1u << 20, &text, NULL, NULL);
  if (r == -ENOENT)
    return nook_error_setx(err, ENOENT, "no container `%s`", id);
  what = xasprintf("container %.12s: run.json", id);
  if (r < 0 || (r = nook_json_parse(text, what, &v, err)) < 0)
    return r < 0 && *err ? r : nook_error_set(err, -r, "read %s", what);
  c = xcalloc(1, sizeof *c);
  snprintf(c->id, sizeof c->id, "%s", id);
  c->name = json_strdup(v, "name");
  c->image = json_strdup(v, "image");
  c->image_id = json_strdup(v, "imageId");
  c->created = json_strdup(v, "created");
  c->command = json_strv(v, "command");
  nook_json_get_bool(v, "rm", &c->rm);
  nook_json_get_bool(v, "tty", &c->tty);
  nook_json_get_bool(v, "interactive", &c->interactive);
  restart = nook_json_get_str(v, "restart");
  if (restart && nook_restart_parse(restart, &c->restart, err) < 0)
    return nook_error_prefix(err, "%s", what);
  if (nook_json_get_i64(v, "logMaxSize", &n) && n >= 0)
    c->log_max_size = (uint64_t)n;
  if (nook_json_get_i64(v, "logMaxFiles", &n) && n >= 0 && n < 1000)
    c->log_max_files = (unsigned)n;
  c->stop_signal = SIGTERM;
  if (nook_json_get_i64(v, "stopSignal", &n) && n > 0 && n < 65)
    c->stop_signal = (int)n;
  c->stop_timeout = 10;
  if (nook_json_get_i64(v, "stopTimeout", &n) && n >= 0 && n <= 86400)
    c->stop_timeout = (unsigned)n;
  c->hostname = json_strdup(v, "hostname");
  c->add_hosts = json_strv(v, "addHosts");
  c->dns = json_strv(v, "dns");
  c->network = json_strdup(v, "network");
  c->ports = json_strv(v, "ports");
  if (!c->name)
    c->name = xstrndup(id, 12);
  *ret = TAKE_PTR(c);
  return 0;
}

void ctr_free(struct ctr *c)
{
  if (!c)
    return;
  free(c->name);
  free(c->image);
  free(c->image_id);
  free(c->created);
  nook_strv_free(c->command);
  free(c->hostname);
  nook_strv_free(c->add_hosts);
  nook_strv_free(c->dns);
  free(c->network);
  nook_strv_free(c->ports);
  free(c);
}

int ctr_dir_open(struct image_store *s, const char *id, int *ret_fd, struct nook_error **err)
{
  _cleanup_free_ char *rel = NULL;
  int fd;

  if (!id_valid(id))
    return nook_error_setx(err, EINVAL, "`%s` is not a container id", id);
  rel = xasprintf("containers/%s", id);
  fd = openat(s->dirfd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return nook_error_setx(err, ENOENT, "no container `%s`", id);
  if (fd < 0)
    return nook_error_set(err, errno, "open `%s/%s`", s->path, rel);
  *ret_fd = fd;
  return 0;
}

/* The directory of containers for readdir; *ret NULL (and 0) when there is none yet. */
static int containers_opendir(struct image_store *s, DIR **ret, struct nook_error **err)
{
  int fd = openat(s->dirfd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;

  *ret = NULL;
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0 || !(d = fdopendir(fd)))
    {
      int e = errno;
      if (fd >= 0)
        close(fd);
      return nook_error_set(err, e, "open `%s/containers`", s->path);
    }
  *ret = d;
  return 0;
}

int ctr_lookup(struct image_store *s, const char *what, char ret_id[65], struct nook_error **err)
{
  _cleanup_(nook_closedirp) DIR *d = NULL;
  _cleanup_close_ int namesfd = -1;
  char found[65] = "";
  size_t wlen = strlen(what);
  bool ambiguous = false;
  struct dirent *de;
  int r;

  if (name_valid(what) && names_dir(s, &namesfd, NULL) == 0 && name_target(namesfd, what, found) == 0
      && ctr_dir_exists(s, found))
    {
      memcpy(ret_id, found, 65);
      return 0;
    }
  found[0] = '\0';
  if (id_valid(what) && ctr_dir_exists(s, what))
    {
      memcpy(ret_id, what, 65);
      return 0;
    }
  if (wlen < 4 || wlen > 64 || strspn(what, "0123456789abcdef") != wlen)
    return nook_error_setx(err, ENOENT, "no container `%s`", what);
  if ((r = containers_opendir(s, &d, err)) < 0)
    return r;
  while (d && (de = readdir(d)))
    if (id_valid(de->d_name) && strncmp(de->d_name, what, wlen) == 0)
      {
        ambiguous = found[0] != '\0';
        memcpy(found, de->d_name, 65);
      }
  if (ambiguous)
    return nook_error_setx(err, EINVAL, "container id prefix `%s` is ambiguous", what);
  if (!found[0])
    return nook_error_setx(err, ENOENT, "no container `%s`", what);
  memcpy(ret_id, found, 65);
  return 0;
}

static int ctr_cmp(const void *a, const void *b)
{
  const struct ctr *x = *(struct ctr *const *)a, *y = *(struct ctr *const *)b;
  int r = strcmp(x->created ? x->created : "", y->created ? y->created : "");

  return r ? r : strcmp(x->id, y->id);
}

int ctr_list(struct image_store *s, struct ctr ***ret, size_t *ret_n, struct nook_error **err)
{
  _cleanup_(nook_closedirp) DIR *d = NULL;
  struct ctr **v = NULL;
  size_t n = 0;
  struct dirent *de;
  int r;

  if ((r = containers_opendir(s, &d, err)) < 0)
    return r;
  while (d && (de = readdir(d)))
    {
      struct ctr *c = NULL;
      /* A directory without run.json is a run that crashed before it got that far, or one
       * being made now: not a container yet (nook rm ID still removes it). */
      if (!id_valid(de->d_name) || ctr_load(s, de->d_name, &c, NULL) < 0)
        continue;
      v = xrealloc(v, (n + 1) * sizeof *v);
      v[n++] = c;
    }
  if (n)
    qsort(v, n, sizeof *v, ctr_cmp);
  *ret = v;
  *ret_n = n;
  return 0;
}

void ctr_list_free(struct ctr **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    ctr_free(v[i]);
  free(v);
}

const char *ctr_state_to_string(enum ctr_state s)
{
  switch (s)
    {
    case CTR_CREATED: return "created";
    case CTR_RUNNING: return "running";
    case CTR_PAUSED: return "paused";
    case CTR_STOPPING: return "stopping";
    case CTR_RESTARTING: return "restarting";
    case CTR_EXITED: return "exited";
    }
  return "unknown";
}

/* The OCI status of id in --root, or -ENOENT when it has no state there. */
static int oci_status(const char *root, const char *id, enum nook_status *ret)
{
  _cleanup_close_ int dfd = -1;
  _cleanup_state_ struct nook_state *st = NULL;
  int r;

  r = nook_state_dir_open(root, id, false, &dfd, NULL);
  if (r < 0)
    return r;
  r = nook_state_read(dfd, id, &st, NULL);
  if (r < 0)
    return r;
  *ret = nook_state_status(dfd, st);
  return 0;
}

int ctr_status_get(const struct nook_globals *g, struct image_store *s, const char *id,
                   struct ctr_status *ret, struct nook_error **err)
{
  struct ctr_status cs = { .state = CTR_CREATED };
  _cleanup_close_ int dfd = -1;
  enum nook_status oci;
  int r;

  if ((r = ctr_dir_open(s, id, &dfd, err)) < 0)
    return r;
  r = nook_sup_status_read(dfd, &cs.sup, err);
  if (r < 0 && r != -ENOENT)
    return r;
  cs.supervisor_alive = r == 0 && nook_sup_status_supervisor_alive(&cs.sup);
  if (oci_status(g->root, id, &oci) == 0 && oci != NOOK_STATUS_STOPPED)
    {
      if (oci == NOOK_STATUS_PAUSED)
        cs.state = CTR_PAUSED;
      else if (oci == NOOK_STATUS_RUNNING)
        cs.state = cs.supervisor_alive && cs.sup.state == NOOK_SUP_STOPPING ? CTR_STOPPING
                                                                            : CTR_RUNNING;
      *ret = cs;
      return 0;
    }
  if (r == -ENOENT)
    ; /* never started */
  else if (cs.supervisor_alive && cs.sup.state == NOOK_SUP_RESTARTING)
    cs.state = CTR_RESTARTING;
  else if (cs.supervisor_alive && cs.sup.state == NOOK_SUP_STARTING)
    cs.state = CTR_CREATED;
  else if (cs.sup.state != NOOK_SUP_STARTING || cs.sup.started_ns)
    cs.state = CTR_EXITED;
  *ret = cs;
  return 0;
}

/* The name reserved for id, found in STORAGE/names: for a run that crashed before it wrote
 * run.json.  NULL when there is none. */
static char *name_of(struct image_store *s, const char *id)
{
  _cleanup_(nook_closedirp) DIR *d = NULL;
  int fd = -1;
  char target[65];
  struct dirent *de;

  if (names_dir(s, &fd, NULL) < 0)
    return NULL;
  if ((d = fdopendir(fd)) == NULL)
    {
      close(fd);
      return NULL;
    }
  while ((de = readdir(d)))
    if (name_target(dirfd(d), de->d_name, target) == 0 && streq(target, id))
      return xstrdup(de->d_name);
  return NULL;
}

int ctr_cleanup(const struct nook_globals *g, struct image_store *s, const char *id,
                bool restarting, struct nook_error **err)
{
  _cleanup_ctr_ struct ctr *c = NULL;
  _cleanup_free_ char *lost = NULL;
  int r;

  /* Without run.json (a run that crashed early) there is still state to remove, the alias
   * and the name included: found by the id they point to (tests/integration/faults.bats). */
  if (ctr_load(s, id, &c, NULL) < 0)
    c = NULL;
  if (!c && !restarting && (lost = name_of(s, id)))
    {
      nook_state_alias_remove(g->root, lost, id);
      if ((r = ctr_release_name(s, lost, id, err)) < 0)
        return r;
    }
  r = nook_container_delete(g->root, id, true, err);
  if (r == -ENOENT)
    nook_error_freep(err);
  else if (r < 0)
    return r;
  if (restarting)
    return 0;
  if (c)
    nook_state_alias_remove(g->root, c->name, id);
  if ((r = run_network_teardown(g, s, id, c ? c->network : NULL, err)) < 0)
    return r;
  if (c && c->rm)
    {
      if ((r = ctr_release_name(s, c->name, id, err)) < 0)
        return r;
    }
  return image_rootfs_umount(s, id, c && c->rm, err);
}
