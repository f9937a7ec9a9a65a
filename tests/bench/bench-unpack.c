/* bench-unpack [--plain] LAYER DIR: image_unpack() of the file LAYER (tar, tar+gzip or
 * tar+zstd) into the directory DIR (created when missing), owners kept when root, whiteouts as
 * overlay's unless --plain; prints the diff-id.  tests/bench/bench-unpack.sh times it against
 * GNU tar with hyperfine. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"

int main(int argc, char **argv)
{
  struct image_unpack_opts opts = { .overlay_whiteouts = true, .keep_owner = geteuid() == 0 };
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *diff_id = NULL;
  _cleanup_close_ int fd = -1, dirfd = -1;
  int i = 1;

  if (argc > 1 && streq(argv[1], "--plain"))
    {
      opts.overlay_whiteouts = false;
      i++;
    }
  if (argc - i != 2)
    {
      fprintf(stderr, "usage: bench-unpack [--plain] LAYER DIR\n");
      return 2;
    }
  fd = open(argv[i], O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (mkdir(argv[i + 1], 0755) < 0 && errno != EEXIST)
      || (dirfd = open(argv[i + 1], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    {
      perror(fd < 0 ? argv[i] : argv[i + 1]);
      return 1;
    }
  if (image_unpack(fd, dirfd, &opts, &diff_id, &err) < 0)
    {
      fprintf(stderr, "bench-unpack: %s\n", err->msg);
      return 1;
    }
  printf("%s\n", diff_id);
  return 0;
}
