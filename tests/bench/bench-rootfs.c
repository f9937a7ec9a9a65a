/* bench-rootfs STORAGE IMAGE [N]: the cost of a container's root filesystem from an image whose
 * layers are already unpacked: image_open() (resolve, verified manifest and config, layers
 * present), image_rootfs_mount() (the overlay mount, no copy) and image_rootfs_umount() with
 * removal, N times each.  Prints markdown rows (median, mean). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "images/image.h"
#include "tests/bench/bench.h"

int main(int argc, char **argv)
{
  struct nook_error *err = NULL;
  struct image_store *s = NULL;
  int n = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 200;
  double *open_us, *mount_us, *umount_us;

  if (argc < 3)
    {
      fprintf(stderr, "usage: %s STORAGE IMAGE [N]\n", argv[0]);
      return 2;
    }
  if (n < 1)
    n = 1;
  open_us = calloc((size_t)n, sizeof(double));
  mount_us = calloc((size_t)n, sizeof(double));
  umount_us = calloc((size_t)n, sizeof(double));
  if (!open_us || !mount_us || !umount_us || image_store_open(argv[1], &s, &err) < 0)
    goto fail;
  for (int i = 0; i < n; i++)
    {
      struct image *img = NULL;
      char id[32];
      double t0 = bench_now_us(), t1, t2;

      snprintf(id, sizeof id, "bench-%d-%d", (int)getpid(), i);
      if (image_open(s, argv[2], &img, &err) < 0)
        goto fail;
      t1 = bench_now_us();
      if (image_rootfs_mount(s, img, id, false, NULL, &err) < 0)
        {
          image_free(img);
          goto fail;
        }
      t2 = bench_now_us();
      image_free(img);
      if (image_rootfs_umount(s, id, true, &err) < 0)
        goto fail;
      open_us[i] = t1 - t0;
      mount_us[i] = t2 - t1;
      umount_us[i] = bench_now_us() - t2;
    }
  printf("| what (%d runs) | median | mean |\n| --- | ---: | ---: |\n", n);
  bench_report("image_open (resolve, manifest, config, layers present)", open_us, n);
  bench_report("image_rootfs_mount (overlay, lowerdir+)", mount_us, n);
  bench_report("image_rootfs_umount + remove", umount_us, n);
  image_store_free(s);
  return 0;
fail:
  fprintf(stderr, "bench-rootfs: %s\n", err ? err->msg : "out of memory");
  image_store_free(s);
  return 1;
}
