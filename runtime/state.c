#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroups/cgroup.h"
#include "common/json.h"
#include "common/util.h"
#include "runtime/state.h"

#define STATE_FILE "state.json"
#define STATE_MAX (16 * 1024 * 1024)

static const char *const status_names[] = {
  [NOOK_STATUS_CREATING] = "creating", [NOOK_STATUS_CREATED] = "created",
  [NOOK_STATUS_RUNNING] = "running",   [NOOK_STATUS_PAUSED] = "paused",
  [NOOK_STATUS_STOPPED] = "stopped",
};

const char *nook_status_to_string(enum nook_status s) { return status_names[s]; }

int nook_id_validate(const char *id, struct nook_error **err)
{
  size_t len = id ? strlen(id) : 0;

  if (len == 0)
    return nook_error_setx(err, EINVAL, "container id must not be empty");
  if (len > 1024)
    return nook_error_setx(err, EINVAL, "container id `%.32s...` is longer than 1024 characters", id);
  if (streq(id, ".") || streq(id, ".."))
    return nook_error_setx(err, EINVAL, "invalid container id `%s`", id);
  /* --root also holds nook's own files (.seccomp-cache): `delete --force .seccomp-cache` must
   * not remove them as if they were a container, so no id may look like one. */
  if (id[0] == '.')
    return nook_error_setx(err, EINVAL, "invalid container id `%s`: it must not start with `.`",
                           id);
  for (const char *p = id; *p; p++)
    {
      char c = *p;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
            || c == '+' || c == '-' || c == '.'))
        return nook_error_setx(err, EINVAL,
                              "invalid container id `%s`: only [A-Za-z0-9_+.-] are allowed", id);
    }
  return 0;
}

static int lock_dir(int dfd, const char *id, struct nook_error **err)
{
  while (flock(dfd, LOCK_EX) < 0)
    if (errno != EINTR)
      return nook_error_set(err, errno, "lock container `%s`", id);
  return 0;
}

int nook_state_dir_create(const char *root, const char *id, int *ret_dirfd, struct nook_error **err)
{
  _cleanup_close_ int rootfd = -1;
  _cleanup_close_ int dfd = -1;

  if (nook_id_validate(id, err) < 0)
    return -EINVAL;
  rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 && errno == ENOENT)
    {
      if (nook_mkdir_p(root, 0700, err) < 0)
        return nook_error_prefix(err, "state root");
      rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
  if (rootfd < 0)
    return nook_error_set(err, errno, "open state root `%s`", root);
  if (mkdirat(rootfd, id, 0700) < 0)
    {
      if (errno == EEXIST)
        return nook_error_setx(err, EEXIST, "container `%s` already exists", id);
      return nook_error_set(err, errno, "create state directory `%s/%s`", root, id);
    }
  dfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return nook_error_set(err, errno, "open state directory `%s/%s`", root, id);
  if (lock_dir(dfd, id, err) < 0)
    return -1;
  *ret_dirfd = TAKE_FD(dfd);
  return 0;
}

#define ALIAS_DIR "@names"

int nook_state_alias_set(const char *root, const char *name, const char *id, struct nook_error **err)
{
  _cleanup_free_ char *dir = xasprintf("%s/" ALIAS_DIR, root);
  _cleanup_free_ char *tmp = NULL;
  int r = -1;

  if (nook_id_validate(name, err) < 0 || nook_id_validate(id, err) < 0)
    return -EINVAL;
  /* symlink + rename: a reader sees the old link or the new one.  A concurrent alias_remove
   * may take the directory away between mkdir and symlink: then once more. */
  tmp = xasprintf(".%s.%d", name, (int)getpid());
  for (int attempt = 0; attempt < 3 && r < 0; attempt++)
    {
      _cleanup_close_ int dfd = -1;
      if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return nook_error_set(err, errno, "create `%s`", dir);
      dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dfd < 0 && errno == ENOENT)
        continue;
      if (dfd < 0)
        return nook_error_set(err, errno, "open `%s`", dir);
      if (symlinkat(id, dfd, tmp) < 0)
        {
          if (errno == ENOENT)
            continue;
          return nook_error_set(err, errno, "create the alias `%s/%s`", dir, name);
        }
      if (renameat(dfd, tmp, dfd, name) < 0)
        {
          int e = errno;
          unlinkat(dfd, tmp, 0);
          return nook_error_set(err, e, "create the alias `%s/%s`", dir, name);
        }
      r = 0;
    }
  return r < 0 ? nook_error_setx(err, ENOENT, "create the alias `%s/%s`: the directory keeps "
                                               "disappearing", dir, name)
               : 0;
}

void nook_state_alias_remove(const char *root, const char *name, const char *id)
{
  _cleanup_free_ char *path = xasprintf("%s/" ALIAS_DIR "/%s", root, name);
  _cleanup_free_ char *target = nook_state_alias_resolve(root, name);

  if (streq(target, id) && unlink(path) == 0)
    {
      /* The last alias takes the directory with it, so that an empty state root is empty. */
      free(path);
      path = xasprintf("%s/" ALIAS_DIR, root);
      rmdir(path);
    }
}

char *nook_state_alias_resolve(const char *root, const char *what)
{
  _cleanup_free_ char *path = NULL;
  char buf[1100];
  struct stat st;
  ssize_t n;

  if (nook_id_validate(what, NULL) < 0)
    return NULL;
  path = xasprintf("%s/%s", root, what);
  if (lstat(path, &st) == 0)
    return NULL;
  free(path);
  path = xasprintf("%s/" ALIAS_DIR "/%s", root, what);
  n = readlink(path, buf, sizeof buf - 1);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  return nook_id_validate(buf, NULL) == 0 ? xstrdup(buf) : NULL;
}

int nook_state_dir_open(const char *root, const char *id, bool lock, int *ret_dirfd,
                        struct nook_error **err)
{
  _cleanup_free_ char *path = NULL;
  _cleanup_close_ int dfd = -1;

  if (nook_id_validate(id, err) < 0)
    return -EINVAL;
  path = xasprintf("%s/%s", root, id);
  dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    {
      if (errno == ENOENT)
        return nook_error_setx(err, ENOENT, "container `%s` does not exist", id);
      return nook_error_set(err, errno, "open state directory `%s`", path);
    }
  if (lock && lock_dir(dfd, id, err) < 0)
    return -1;
  /* A concurrent delete may have removed the directory while we waited for the lock. */
  if (lock && faccessat(dfd, STATE_FILE, F_OK, 0) < 0 && errno == ENOENT)
    {
      struct stat st;
      if (fstat(dfd, &st) == 0 && st.st_nlink == 0)
        return nook_error_setx(err, ENOENT, "container `%s` does not exist", id);
    }
  *ret_dirfd = TAKE_FD(dfd);
  return 0;
}

int nook_state_dir_remove(const char *root, const char *id, struct nook_error **err)
{
  _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (rootfd < 0)
    return nook_error_set(err, errno, "open state root `%s`", root);
  if (nook_rm_rf_at(rootfd, id, err) < 0)
    return nook_error_prefix(err, "remove state of container `%s`", id);
  return 0;
}

static void annotations_json(yajl_gen g, const struct nook_state *st)
{
  nook_json_str(g, "annotations");
  yajl_gen_map_open(g);
  for (size_t i = 0; i < st->n_annotations; i++)
    nook_json_kv_str(g, st->annotations[i].key, st->annotations[i].value);
  yajl_gen_map_close(g);
}

int nook_state_write(int dirfd, const struct nook_state *st, struct nook_error **err)
{
  yajl_gen g = nook_json_gen_new(false);
  _cleanup_free_ char *text = NULL;
  size_t len;

  yajl_gen_map_open(g);
  nook_json_kv_str(g, "id", st->id);
  nook_json_kv_int(g, "pid", st->pid);
  nook_json_str(g, "pidStart");
  {
    /* unsigned, as nook_state_read() parses it (yajl_gen_integer() is signed) */
    char start[24];
    int n = snprintf(start, sizeof(start), "%" PRIu64, st->pid_start);
    yajl_gen_number(g, start, (size_t)n);
  }
  nook_json_kv_str(g, "bundle", st->bundle);
  nook_json_kv_str(g, "rootfs", st->rootfs);
  nook_json_kv_str(g, "created", st->created);
  nook_json_kv_str(g, "owner", st->owner);
  nook_json_kv_bool(g, "createdDone", st->created_done);
  nook_json_kv_bool(g, "ownPidns", st->own_pidns);
  nook_json_kv_bool(g, "noNewKeyring", st->no_new_keyring);
  nook_json_kv_str(g, "cgroupPath", st->cgroup_path);
  annotations_json(g, st);
  yajl_gen_map_close(g);
  text = nook_json_gen_finish(g, &len);
  return nook_write_file_atomic_at(dirfd, STATE_FILE, text, len, 0600, err);
}

static char *dup_or_empty(const char *s) { return xstrdup(s ? s : ""); }

int nook_state_read(int dirfd, const char *id, struct nook_state **ret, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL;
  _cleanup_json_ yajl_val root = NULL;
  struct nook_state *st;
  yajl_val ann;
  int64_t pid = 0;
  uint64_t start = 0;

  if (nook_read_file_at(dirfd, STATE_FILE, STATE_MAX, &text, NULL, err) < 0)
    return nook_error_prefix(err, "read state of container `%s`", id);
  if (nook_json_parse(text, "state.json", &root, err) < 0)
    return nook_error_prefix(err, "container `%s`", id);

  st = xcalloc(1, sizeof(*st));
  st->id = dup_or_empty(nook_json_get_str(root, "id"));
  nook_json_get_i64(root, "pid", &pid);
  st->pid = (pid_t)pid;
  nook_json_get_u64(root, "pidStart", &start);
  st->pid_start = start;
  st->bundle = dup_or_empty(nook_json_get_str(root, "bundle"));
  st->rootfs = dup_or_empty(nook_json_get_str(root, "rootfs"));
  st->created = dup_or_empty(nook_json_get_str(root, "created"));
  st->owner = dup_or_empty(nook_json_get_str(root, "owner"));
  nook_json_get_bool(root, "createdDone", &st->created_done);
  nook_json_get_bool(root, "ownPidns", &st->own_pidns);
  nook_json_get_bool(root, "noNewKeyring", &st->no_new_keyring);
  st->cgroup_path = dup_or_empty(nook_json_get_str(root, "cgroupPath"));
  ann = nook_json_get(root, "annotations");
  if (YAJL_IS_OBJECT(ann))
    {
      st->annotations = xcalloc(ann->u.object.len, sizeof(struct nook_kv));
      for (size_t i = 0; i < ann->u.object.len; i++)
        {
          yajl_val v = ann->u.object.values[i];
          if (!YAJL_IS_STRING(v))
            continue;
          st->annotations[st->n_annotations].key = xstrdup(ann->u.object.keys[i]);
          st->annotations[st->n_annotations].value = xstrdup(v->u.string);
          st->n_annotations++;
        }
    }
  *ret = st;
  return 0;
}

void nook_state_free(struct nook_state *st)
{
  if (st == NULL)
    return;
  free(st->id);
  free(st->bundle);
  free(st->rootfs);
  free(st->created);
  free(st->owner);
  free(st->cgroup_path);
  for (size_t i = 0; i < st->n_annotations; i++)
    {
      free(st->annotations[i].key);
      free(st->annotations[i].value);
    }
  free(st->annotations);
  free(st);
}

static bool init_alive(const struct nook_state *st)
{
  uint64_t start;

  if (st->pid <= 0)
    return false;
  if (nook_proc_start_time(st->pid, &start) < 0)
    return false;
  return start == st->pid_start;
}

enum nook_status nook_state_status(int dirfd, const struct nook_state *st)
{
  if (!st->created_done)
    {
      /* The pid is known from the moment the init is cloned; before that, only a live
       * `create` holds the directory. */
      if (st->pid > 0 && !init_alive(st))
        return NOOK_STATUS_STOPPED;
      return NOOK_STATUS_CREATING;
    }
  if (!init_alive(st))
    return NOOK_STATUS_STOPPED;
  if (faccessat(dirfd, "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return NOOK_STATUS_CREATED;
  if (st->cgroup_path && *st->cgroup_path)
    {
      _cleanup_cgroup_ struct nook_cgroup *cg = NULL;
      bool frozen = false;
      if (nook_cgroup_open(st->cgroup_path, &cg, NULL) == 0
          && nook_cgroup_is_frozen(cg, &frozen, NULL) == 0 && frozen)
        return NOOK_STATUS_PAUSED;
    }
  return NOOK_STATUS_RUNNING;
}

char *nook_state_oci_json(const struct nook_state *st, enum nook_status status, bool pretty)
{
  yajl_gen g = nook_json_gen_new(pretty);

  yajl_gen_map_open(g);
  nook_json_kv_str(g, "ociVersion", "1.2.0");
  nook_json_kv_str(g, "id", st->id);
  nook_json_kv_int(g, "pid", status == NOOK_STATUS_STOPPED ? 0 : st->pid);
  nook_json_kv_str(g, "status", nook_status_to_string(status));
  nook_json_kv_str(g, "bundle", st->bundle);
  nook_json_kv_str(g, "rootfs", st->rootfs);
  nook_json_kv_str(g, "created", st->created);
  nook_json_kv_str(g, "owner", st->owner);
  if (st->n_annotations > 0)
    annotations_json(g, st);
  yajl_gen_map_close(g);
  return nook_json_gen_finish(g, NULL);
}

int nook_state_pidfd(const struct nook_state *st, int *ret_pidfd, struct nook_error **err)
{
  _cleanup_close_ int pidfd = -1;

  if (st->pid <= 0)
    return -ESRCH;
  pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
  if (pidfd < 0)
    {
      if (errno == ESRCH)
        return -ESRCH;
      return nook_error_set(err, errno, "pidfd_open %d", (int)st->pid);
    }
  /* Checked after the pidfd exists: if the pid is still ours now, the pidfd refers to our
   * init and stays valid even if the pid is later reused. */
  if (!init_alive(st))
    return -ESRCH;
  *ret_pidfd = TAKE_FD(pidfd);
  return 0;
}
