/* config.User of an image ("name", "uid", "name:group", "uid:gid") resolved in the image's own
 * /etc/passwd and /etc/group, read inside its root filesystem (symlinks there stay there). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/path-root.h"
#include "common/util.h"
#include "images/image.h"

#define ID_FILE_MAX (4u << 20)

/* etc/passwd or etc/group of the rootfs as text; a missing file is an empty one. */
static int read_id_file(int rootfd, const char *name, char **ret, struct nook_error **err)
{
  _cleanup_close_ int fd = -1;
  int r;

  fd = nook_open_in_root(rootfd, name, O_RDONLY);
  if (fd < 0 && errno == ENOENT)
    {
      *ret = xstrdup("");
      return 0;
    }
  if (fd < 0)
    return nook_error_set(err, errno, "open `/%s` in the image", name);
  r = nook_read_fd(fd, ID_FILE_MAX, ret, NULL, err);
  if (r < 0)
    return nook_error_prefix(err, "read `/%s` in the image", name);
  return 0;
}

/* Splits "a:b:c" lines; calls fn for each line with its fields (at most 7).  fn returns true
 * to stop. */
typedef bool (*line_fn)(char **fields, size_t n, void *data);

static void each_line(char *text, line_fn fn, void *data)
{
  char *save = NULL;

  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      char *fields[7] = { 0 };
      size_t n = 0;
      char *p = line;
      while (n < 7)
        {
          fields[n++] = p;
          p = strchr(p, ':');
          if (!p)
            break;
          *p++ = '\0';
        }
      if (line[0] == '#' || n < 3)
        continue;
      if (fn(fields, n, data))
        return;
    }
}

struct id_lookup
{
  const char *name; /* by name, or */
  long id;          /* by id when name is NULL */
  bool found;
  uid_t uid;
  gid_t gid;
  char *user_name;
};

static bool parse_id(const char *s, long *ret)
{
  int64_t v;

  if (nook_parse_i64(s, &v) < 0 || v < 0 || v > (int64_t)UINT32_MAX - 1)
    return false;
  *ret = (long)v;
  return true;
}

static bool passwd_line(char **f, size_t n, void *data)
{
  struct id_lookup *l = data;
  long uid, gid;

  if (n < 4 || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
    return false;
  if (l->name ? !streq(f[0], l->name) : uid != l->id)
    return false;
  l->found = true;
  l->uid = (uid_t)uid;
  l->gid = (gid_t)gid;
  l->user_name = xstrdup(f[0]);
  return true;
}

static bool group_line(char **f, size_t n, void *data)
{
  struct id_lookup *l = data;
  long gid;

  if (n < 3 || !parse_id(f[2], &gid))
    return false;
  if (l->name ? !streq(f[0], l->name) : gid != l->id)
    return false;
  l->found = true;
  l->gid = (gid_t)gid;
  return true;
}

struct member_lookup
{
  const char *user;
  gid_t primary;
  gid_t *gids;
  size_t n;
};

static bool member_line(char **f, size_t n, void *data)
{
  struct member_lookup *m = data;
  char *save = NULL;
  long gid;

  if (n < 4 || !parse_id(f[2], &gid) || (gid_t)gid == m->primary)
    return false;
  for (char *u = strtok_r(f[3], ",", &save); u; u = strtok_r(NULL, ",", &save))
    if (streq(u, m->user))
      {
        m->gids = xrealloc(m->gids, (m->n + 1) * sizeof *m->gids);
        m->gids[m->n++] = (gid_t)gid;
        break;
      }
  return false;
}

int image_user_resolve(int rootfs_dirfd, const char *user, uid_t *ret_uid, gid_t *ret_gid,
                       gid_t **ret_gids, size_t *ret_ngids, struct nook_error **err)
{
  _cleanup_free_ char *u = xstrdup(user && *user ? user : "0");
  _cleanup_free_ char *passwd = NULL, *group = NULL;
  struct id_lookup pw = { .name = u };
  struct member_lookup members = { 0 };
  char *grp = strchr(u, ':');
  int r;

  if (grp)
    *grp++ = '\0';
  if ((r = read_id_file(rootfs_dirfd, "etc/passwd", &passwd, err)) < 0)
    return r;
  if (parse_id(u, &pw.id))
    pw.name = NULL;
  each_line(passwd, passwd_line, &pw);
  if (!pw.found)
    {
      if (pw.name)
        return nook_error_setx(err, ENOENT, "user `%s` not found in the image's /etc/passwd", u);
      pw.uid = (uid_t)pw.id; /* a numeric uid needs no entry; its group is 0 then */
      pw.gid = 0;
    }
  if (grp)
    {
      struct id_lookup gr = { .name = grp };
      if (parse_id(grp, &gr.id))
        {
          gr.name = NULL;
          gr.found = true;
          gr.gid = (gid_t)gr.id;
        }
      else
        {
          if ((r = read_id_file(rootfs_dirfd, "etc/group", &group, err)) < 0)
            return r;
          each_line(group, group_line, &gr);
        }
      if (!gr.found)
        {
          free(pw.user_name);
          return nook_error_setx(err, ENOENT, "group `%s` not found in the image's /etc/group", grp);
        }
      pw.gid = gr.gid;
    }
  else if (pw.user_name && ret_gids)
    {
      if ((r = read_id_file(rootfs_dirfd, "etc/group", &group, err)) < 0)
        {
          free(pw.user_name);
          return r;
        }
      members.user = pw.user_name;
      members.primary = pw.gid;
      each_line(group, member_line, &members);
    }
  free(pw.user_name);
  *ret_uid = pw.uid;
  *ret_gid = pw.gid;
  if (ret_gids)
    *ret_gids = members.gids;
  else
    free(members.gids);
  if (ret_ngids)
    *ret_ngids = members.n;
  return 0;
}
