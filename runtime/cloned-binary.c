/* CVE-2019-5736: re-executes nook from a copy of its binary that cannot be written (see
 * cloned-binary.h).  After crun's cloned_binary.c and runc's libcontainer/exeseal, in the order
 * that costs least (measured in docs/benchmarks.md): a read-only detached bind mount of the
 * binary, which copies nothing, then a sealed memfd copy. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/mount-api.h"
#include "common/util.h"
#include "runtime/cloned-binary.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* The seals that make a memfd immutable; F_SEAL_EXEC (6.3) is added when the kernel has it. */
#define BASE_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define MEMFD_NAME "nook_cloned:/proc/self/exe"

extern char **environ;

/* Whether fd is a binary nobody can open for writing: a memfd with every base seal, or a file
 * on a read-only mount.  A read-only mount could be remounted read-write by the host's admin;
 * crun accepts that too (nook installed on a read-only /usr then needs no copy). */
static bool is_protected(int fd)
{
  struct statvfs sv;
  int seals = fcntl(fd, F_GET_SEALS);

  if (seals >= 0)
    return (seals & BASE_SEALS) == BASE_SEALS;
  return fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* A read-only bind mount of the binary, detached (no mount namespace sees it, so it needs no
 * cleanup and the container cannot remount it): open_tree(OPEN_TREE_CLONE) and mount_setattr.
 * Needs CAP_SYS_ADMIN and Linux 5.12. */
static int open_ro_bind(int *ret_fd)
{
  struct nook_mount_attr attr = {
    .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
  };
  _cleanup_close_ int fd =
      (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | O_CLOEXEC);

  if (fd < 0 || syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
    return -errno;
  *ret_fd = TAKE_FD(fd);
  return 0;
}

/* A copy of the binary in a memfd, sealed against any change. */
static int open_sealed_copy(int exe_fd, int *ret_fd, struct nook_error **err)
{
  _cleanup_close_ int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  struct stat st;
  off_t left;

  /* MFD_EXEC is unknown before Linux 6.3, where every memfd is executable anyway */
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return nook_error_set(err, errno, "memfd_create");
  if (fstat(exe_fd, &st) < 0)
    return nook_error_set(err, errno, "stat `/proc/self/exe`");
  for (left = st.st_size; left > 0;)
    {
      ssize_t n = sendfile(fd, exe_fd, NULL, (size_t)left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return nook_error_set(err, n < 0 ? errno : EIO, "copy `/proc/self/exe` to a memfd");
      left -= n;
    }
  if (fchmod(fd, 0555) < 0)
    return nook_error_set(err, errno, "chmod the memfd copy");
  (void)fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC);
  if (fcntl(fd, F_ADD_SEALS, BASE_SEALS) < 0)
    return nook_error_set(err, errno, "seal the memfd copy");
  *ret_fd = TAKE_FD(fd);
  return 0;
}

/* The command line of this process, from /proc/self/cmdline (what main() got, whatever the
 * option parsers did to argv since). */
static int read_cmdline(char **ret_buf, char ***ret_argv, struct nook_error **err)
{
  _cleanup_free_ char *buf = NULL;
  _cleanup_free_ char **argv = NULL;
  size_t len, n = 0;

  if (nook_read_file_at(AT_FDCWD, "/proc/self/cmdline", 1 << 20, &buf, &len, err) < 0)
    return -1;
  if (len == 0)
    return nook_error_setx(err, EINVAL, "`/proc/self/cmdline` is empty");
  argv = xcalloc(len + 1, sizeof(*argv));
  for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
    argv[n++] = buf + i;
  *ret_buf = TAKE_PTR(buf);
  *ret_argv = TAKE_PTR(argv);
  return 0;
}

int nook_cloned_binary_ensure(struct nook_error **err)
{
  _cleanup_close_ int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  _cleanup_close_ int fd = -1;
  _cleanup_free_ char *cmdline = NULL;
  _cleanup_free_ char **argv = NULL;

  if (exe < 0)
    return nook_error_set(err, errno, "protect the runtime binary: open `/proc/self/exe`");
  if (is_protected(exe))
    return 0;
  if (read_cmdline(&cmdline, &argv, err) < 0)
    return nook_error_prefix(err, "protect the runtime binary");
  if (open_ro_bind(&fd) < 0 && open_sealed_copy(exe, &fd, err) < 0)
    return nook_error_prefix(err, "protect the runtime binary");
  /* The re-executed nook checks the same property and so never loops. */
  if (!is_protected(fd))
    return nook_error_setx(err, EPERM, "protect the runtime binary: its copy is writable");
  syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
  return nook_error_set(err, errno, "protect the runtime binary: re-execute it");
}
