#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

void nook_strv_free(char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

size_t nook_strv_length(char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

char **nook_strv_dup(char *const *v)
{
  size_t n = nook_strv_length(v);
  char **r;

  if (v == NULL)
    return NULL;
  r = xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++)
    r[i] = xstrdup(v[i]);
  return r;
}

void nook_strv_push(char ***v, const char *s)
{
  size_t n = nook_strv_length(*v);
  *v = xrealloc(*v, (n + 2) * sizeof(char *));
  (*v)[n] = xstrdup(s);
  (*v)[n + 1] = NULL;
}

bool nook_strv_contains(char *const *v, const char *s)
{
  for (size_t i = 0; v && v[i]; i++)
    if (streq(v[i], s))
      return true;
  return false;
}

bool nook_has_prefix(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int nook_parse_u64(const char *s, uint64_t *ret)
{
  char *end = NULL;
  unsigned long long v;

  if (s == NULL || *s == '\0' || isspace((unsigned char)*s) || *s == '-' || *s == '+')
    return -EINVAL;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno == ERANGE)
    return -ERANGE;
  if (errno != 0 || end == s || *end != '\0')
    return -EINVAL;
  *ret = (uint64_t)v;
  return 0;
}

int nook_parse_i64(const char *s, int64_t *ret)
{
  char *end = NULL;
  long long v;

  if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
    return -EINVAL;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno == ERANGE)
    return -ERANGE;
  if (errno != 0 || end == s || *end != '\0')
    return -EINVAL;
  *ret = (int64_t)v;
  return 0;
}

int nook_parse_int(const char *s, int *ret)
{
  int64_t v;
  int r = nook_parse_i64(s, &v);
  if (r < 0)
    return r;
  if (v < INT_MIN || v > INT_MAX)
    return -ERANGE;
  *ret = (int)v;
  return 0;
}

ssize_t nook_write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  size_t done = 0;

  while (done < len)
    {
      ssize_t n = write(fd, p + done, len - done);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      done += (size_t)n;
    }
  return (ssize_t)done;
}

ssize_t nook_read_all(int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t done = 0;

  while (done < len)
    {
      ssize_t n = read(fd, p + done, len - done);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      if (n == 0)
        break;
      done += (size_t)n;
    }
  return (ssize_t)done;
}

int nook_read_fd(int fd, size_t max, char **ret, size_t *ret_len, struct nook_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0, cap = 0;

  for (;;)
    {
      ssize_t n;
      if (cap - len < 4096)
        {
          cap = cap ? cap * 2 : 8192;
          buf = xrealloc(buf, cap + 1);
        }
      n = read(fd, buf + len, cap - len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return nook_error_set(err, errno, "read");
        }
      if (n == 0)
        break;
      len += (size_t)n;
      if (len > max)
        return nook_error_set(err, EFBIG, "read: more than %zu bytes", max);
    }
  if (buf == NULL)
    buf = xmalloc(1);
  buf[len] = '\0';
  *ret = TAKE_PTR(buf);
  if (ret_len)
    *ret_len = len;
  return 0;
}

int nook_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
                      struct nook_error **err)
{
  _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  int r;

  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", path);
  r = nook_read_fd(fd, max, ret, ret_len, err);
  if (r < 0)
    nook_error_prefix(err, "`%s`", path);
  return r;
}

/* DIRFD/NAME as a path for a message: the directory's path from /proc/self/fd, or NAME
 * alone when it cannot be read. */
static char *path_at(int dirfd, const char *name)
{
  char link[64], dir[PATH_MAX];
  ssize_t n;

  if (dirfd == AT_FDCWD || name[0] == '/')
    return xstrdup(name);
  snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
  n = readlink(link, dir, sizeof dir - 1);
  if (n <= 0)
    return xstrdup(name);
  dir[n] = '\0';
  return xasprintf("%s/%s", streq(dir, "/") ? "" : dir, name);
}

/* Fails a write of DIRFD/NAME: the temp file TMP goes, the message names NAME's full path
 * (the temp file is an implementation detail, and a full disk must say where it is). */
static int write_atomic_fail(int dirfd, const char *name, const char *tmp, const char *what,
                             struct nook_error **err)
{
  int e = errno;
  _cleanup_free_ char *path = path_at(dirfd, name);

  unlinkat(dirfd, tmp, 0);
  return nook_error_set(err, e, "%s `%s`", what, path);
}

int nook_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len,
                              mode_t mode, struct nook_error **err)
{
  _cleanup_free_ char *tmp = xasprintf(".%s.tmp.%d", name, (int)getpid());
  _cleanup_close_ int fd = -1;

  fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return write_atomic_fail(dirfd, name, tmp, "create", err);
  if (nook_write_all(fd, data, len) < 0)
    return write_atomic_fail(dirfd, name, tmp, "write", err);
  if (renameat(dirfd, tmp, dirfd, name) < 0)
    return write_atomic_fail(dirfd, name, tmp, "rename a new", err);
  return 0;
}

int nook_write_file(const char *path, const char *data, size_t len, struct nook_error **err)
{
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    return nook_error_set(err, errno, "open `%s`", path);
  if (nook_write_all(fd, data, len) < 0)
    return nook_error_set(err, errno, "write `%s`", path);
  return 0;
}

int nook_mkdir_p(const char *path, mode_t mode, struct nook_error **err)
{
  _cleanup_free_ char *p = xstrdup(path);
  size_t len = strlen(p);

  while (len > 1 && p[len - 1] == '/')
    p[--len] = '\0';
  for (char *s = p + 1; *s; s++)
    {
      if (*s != '/')
        continue;
      *s = '\0';
      if (mkdir(p, mode) < 0 && errno != EEXIST)
        return nook_error_set(err, errno, "mkdir `%s`", p);
      *s = '/';
    }
  if (mkdir(p, mode) < 0 && errno != EEXIST)
    return nook_error_set(err, errno, "mkdir `%s`", p);
  return 0;
}

static int rm_rf_children(int dfd, dev_t dev, struct nook_error **err)
{
  _cleanup_closedir_ DIR *d = fdopendir(dfd);
  struct dirent *de;

  if (d == NULL)
    {
      close(dfd);
      return nook_error_set(err, errno, "fdopendir");
    }
  while ((errno = 0, de = readdir(d)) != NULL)
    {
      struct stat st;
      if (streq(de->d_name, ".") || streq(de->d_name, ".."))
        continue;
      if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        {
          if (errno == ENOENT)
            continue;
          return nook_error_set(err, errno, "stat `%s`", de->d_name);
        }
      if (S_ISDIR(st.st_mode))
        {
          int cfd;
          if (st.st_dev != dev)
            return nook_error_set(err, EBUSY, "`%s` is a mount point", de->d_name);
          cfd = openat(dirfd(d), de->d_name,
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (cfd < 0)
            return nook_error_set(err, errno, "open `%s`", de->d_name);
          if (rm_rf_children(cfd, dev, err) < 0)
            return nook_error_prefix(err, "`%s`", de->d_name);
          if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return nook_error_set(err, errno, "rmdir `%s`", de->d_name);
        }
      else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
        return nook_error_set(err, errno, "unlink `%s`", de->d_name);
    }
  return 0;
}

int nook_path_clean_rel(const char *path, bool refuse_escape, char **ret)
{
  _cleanup_free_ char *out = xmalloc(strlen(path) + 1);
  size_t len = 0;

  for (const char *p = path; *p;)
    {
      const char *s = p + strspn(p, "/");
      size_t n = strcspn(s, "/");

      p = s + n;
      if (n == 0 || (n == 1 && s[0] == '.'))
        continue;
      if (n == 2 && s[0] == '.' && s[1] == '.')
        {
          if (len == 0 && refuse_escape)
            return -EINVAL;
          while (len > 0 && out[len - 1] != '/')
            len--;
          if (len > 0)
            len--;
          continue;
        }
      if (len > 0)
        out[len++] = '/';
      memcpy(out + len, s, n);
      len += n;
    }
  out[len] = '\0';
  *ret = TAKE_PTR(out);
  return 0;
}

int nook_rm_rf_at(int dirfd, const char *name, struct nook_error **err)
{
  struct stat st;
  int dfd;

  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : nook_error_set(err, errno, "stat `%s`", name);
  if (!S_ISDIR(st.st_mode))
    {
      if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
        return nook_error_set(err, errno, "unlink `%s`", name);
      return 0;
    }
  dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return nook_error_set(err, errno, "open `%s`", name);
  if (rm_rf_children(dfd, st.st_dev, err) < 0)
    return nook_error_prefix(err, "remove `%s`", name);
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return nook_error_set(err, errno, "rmdir `%s`", name);
  return 0;
}

int nook_realpath(const char *path, char **ret, struct nook_error **err)
{
  char *r = realpath(path, NULL);
  if (r == NULL)
    return nook_error_set(err, errno, "resolve `%s`", path);
  *ret = r;
  return 0;
}

char *nook_time_rfc3339(void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

static const struct
{
  const char *name;
  int sig;
} signals[] = {
  { "HUP", SIGHUP },     { "INT", SIGINT },       { "QUIT", SIGQUIT },   { "ILL", SIGILL },
  { "TRAP", SIGTRAP },   { "ABRT", SIGABRT },     { "IOT", SIGIOT },     { "BUS", SIGBUS },
  { "FPE", SIGFPE },     { "KILL", SIGKILL },     { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },
  { "USR2", SIGUSR2 },   { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },   { "TERM", SIGTERM },
  { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },   { "CONT", SIGCONT },   { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },   { "URG", SIGURG },
  { "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ },     { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
  { "WINCH", SIGWINCH }, { "IO", SIGIO },         { "POLL", SIGPOLL },   { "PWR", SIGPWR },
  { "SYS", SIGSYS },
};

int nook_signal_parse(const char *s)
{
  int n;
  const char *name = s;

  if (s == NULL || *s == '\0')
    return -EINVAL;
  if (nook_parse_int(s, &n) == 0)
    return (n > 0 && n < NSIG) ? n : -EINVAL;
  if (strncasecmp(name, "SIG", 3) == 0)
    name += 3;
  if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0)
    {
      int base = strncasecmp(name, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
      int off = 0;
      const char *rest = name + 5;
      if (*rest && (nook_parse_int(rest, &off) < 0))
        return -EINVAL;
      n = base + off;
      return (n >= SIGRTMIN && n <= SIGRTMAX) ? n : -EINVAL;
    }
  for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
    if (strcasecmp(name, signals[i].name) == 0)
      return signals[i].sig;
  return -EINVAL;
}

const char *nook_signal_name(int sig)
{
  static __thread char buf[16];
  for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
    if (signals[i].sig == sig)
      {
        snprintf(buf, sizeof(buf), "SIG%s", signals[i].name);
        return buf;
      }
  return NULL;
}

int nook_fds_cloexec_from(int from, struct nook_error **err)
{
#ifdef HAVE_CLOSE_RANGE
  if (close_range((unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return 0;
#endif
  {
    _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    if (d == NULL)
      return nook_error_set(err, errno, "open `/proc/self/fd`");
    while ((de = readdir(d)) != NULL)
      {
        int fd;
        if (nook_parse_int(de->d_name, &fd) < 0 || fd < from || fd == dirfd(d))
          continue;
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
          return nook_error_set(err, errno, "set close-on-exec on fd %d", fd);
      }
  }
  return 0;
}

static bool fd_is_kept(int fd, const int *keep, size_t n_keep)
{
  for (size_t i = 0; i < n_keep; i++)
    if (keep[i] == fd)
      return true;
  return false;
}

int nook_fds_close_from(int from, const int *keep, size_t n_keep, struct nook_error **err)
{
  _cleanup_closedir_ DIR *d = NULL;
  struct dirent *de;

#ifdef HAVE_CLOSE_RANGE
  {
    /* the gaps between the kept fds, in ascending order */
    unsigned lo = (unsigned)from;
    bool ok = true;
    for (;;)
      {
        unsigned next = ~0U;
        for (size_t i = 0; i < n_keep; i++)
          if (keep[i] >= 0 && (unsigned)keep[i] >= lo && (unsigned)keep[i] < next)
            next = (unsigned)keep[i];
        if (next > lo && close_range(lo, next == ~0U ? ~0U : next - 1, 0) < 0)
          ok = false;
        if (next == ~0U || !ok)
          break;
        lo = next + 1;
      }
    if (ok)
      return 0;
  }
#endif
  d = opendir("/proc/self/fd");
  if (d == NULL)
    return nook_error_set(err, errno, "open `/proc/self/fd`");
  while ((de = readdir(d)) != NULL)
    {
      int fd;
      if (nook_parse_int(de->d_name, &fd) < 0 || fd < from || fd == dirfd(d)
          || fd_is_kept(fd, keep, n_keep))
        continue;
      close(fd);
    }
  return 0;
}

void nook_signals_reset(void)
{
  struct
  {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } dfl = { .handler = SIG_DFL };
  uint64_t none = 0;

  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
}

int nook_proc_start_time(pid_t pid, uint64_t *ret)
{
  char path[64], buf[1024];
  _cleanup_close_ int fd = -1;
  ssize_t n;
  char *p;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? -ESRCH : -errno;
  n = nook_read_all(fd, buf, sizeof(buf) - 1);
  if (n <= 0)
    return -ESRCH;
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: skip to the last ')'. */
  p = strrchr(buf, ')');
  if (p == NULL)
    return -EINVAL;
  p++;
  /* After ')' come fields 3..; starttime is field 22, i.e. the 20th after ')'. */
  for (int field = 3; field < 22; field++)
    {
      p = strchr(p + 1, ' ');
      if (p == NULL)
        return -EINVAL;
    }
  {
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(p + 1, &end, 10);
    if (errno != 0 || end == p + 1)
      return -EINVAL;
    *ret = v;
  }
  /* A zombie still has a start time, but for nook it has stopped. */
  {
    char *state = strrchr(buf, ')') + 2;
    if (*state == 'Z' || *state == 'X')
      return -ESRCH;
  }
  return 0;
}
