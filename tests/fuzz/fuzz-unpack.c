/* Fuzz target for the layer reader (images/unpack*.c): each input is a layer (tar, tar+gzip or
 * tar+zstd) unpacked into BASE/root, next to BASE/sentinel/keep; whatever the input, nothing
 * may appear in BASE but root/ and sentinel/, the sentinel file must keep its content, mode
 * and link count, and a failure must say which layer entry or which part of the layer failed.
 * A violation aborts (a crash for the fuzzer).
 *
 * The custom mutator edits tar header fields and fixes their checksums, so that mutations get
 * past libarchive's checksum test (tests/fuzz/fuzz.h says how targets are built and run).  Run
 * as root: owners, devices and trusted.* xattrs are part of what is fuzzed. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "images/image.h"
#include "tests/fuzz/fuzz.h"

static const char *base;
static int base_fd = -1;

/* A valid layer must unpack: else (libarchive not loaded) every input would fail and nothing
 * would be fuzzed. */
static void check_setup(void)
{
  static const char hello[] = "hello\n";
  struct fuzz_buf layer = { 0 };
  _cleanup_close_ int fd = memfd_create("layer", MFD_CLOEXEC), root = -1;
  _cleanup_error_ struct nook_error *err = NULL;
  struct image_unpack_opts opts = { .keep_owner = true };

  fuzz_tar_add(&layer, "etc/hello", '0', NULL, hello, sizeof(hello) - 1);
  fuzz_tar_end(&layer);
  fuzz_check(fd >= 0 && nook_write_all(fd, layer.data, layer.len) == (ssize_t)layer.len
                 && lseek(fd, 0, SEEK_SET) == 0 && mkdirat(base_fd, "root", 0755) == 0
                 && (root = openat(base_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0,
             "cannot set up", "root");
  free(layer.data);
  fuzz_check(image_unpack(fd, root, &opts, NULL, &err) == 0, "a valid layer does not unpack",
             err ? err->msg : NULL);
  fuzz_check(nook_rm_rf_at(base_fd, "root", NULL) == 0, "cannot remove", "root");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  struct rlimit fsize = { 64 << 20, 64 << 20 };
  _cleanup_close_ int sfd = -1;

  /* a layer may claim files of any size: past 64 MiB, writes fail with EFBIG */
  signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &fsize);
  base_fd = fuzz_tmpdir(&base);
  fuzz_check(mkdirat(base_fd, "sentinel", 0755) == 0
                 && (sfd = openat(base_fd, "sentinel", O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0
                 && nook_write_file_atomic_at(sfd, "keep", "keep\n", 5, 0644, NULL) == 0
                 && fchmodat(sfd, "keep", 0644, 0) == 0,
             "cannot set up", base);
  check_setup();
  return 0;
}

/* BASE holds root/ and sentinel/ only, the sentinel keep only, unchanged. */
static void check_outside(void)
{
  static const char *const names[] = { "root", "sentinel", "keep" };
  _cleanup_free_ char *keep = NULL;
  struct stat st;

  for (int pass = 0; pass < 2; pass++)
    {
      _cleanup_closedir_ DIR *d = NULL;
      struct dirent *de;
      int fd = openat(base_fd, pass ? "sentinel" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      d = fd >= 0 ? fdopendir(fd) : NULL;
      fuzz_check(d != NULL, "cannot list", pass ? "sentinel" : ".");
      while ((de = readdir(d)))
        fuzz_check(streq(de->d_name, ".") || streq(de->d_name, "..")
                       || streq(de->d_name, names[pass ? 2 : 0])
                       || (!pass && streq(de->d_name, names[1])),
                   "an entry outside the layer", de->d_name);
    }
  fuzz_check(fstatat(base_fd, "sentinel/keep", &st, AT_SYMLINK_NOFOLLOW) == 0
                 && S_ISREG(st.st_mode) && st.st_nlink == 1 && (st.st_mode & 07777) == 0644,
             "the sentinel file changed", NULL);
  fuzz_check(nook_read_file_at(base_fd, "sentinel/keep", 64, &keep, NULL, NULL) == 0
                 && streq(keep, "keep\n"),
             "the sentinel file's content changed", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* both kinds of layer: for overlay, and a plain rootfs tarball */
  struct image_unpack_opts opts = { .overlay_whiteouts = size % 2 == 0, .keep_owner = true };
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *diff_id = NULL;
  _cleanup_close_ int fd = memfd_create("layer", MFD_CLOEXEC), root = -1;
  int r;

  if (base_fd < 0)
    LLVMFuzzerInitialize(NULL, NULL);
  /* libFuzzer sets its own SIGXFSZ handler after LLVMFuzzerInitialize (a "crash"): a layer
   * past RLIMIT_FSIZE must get EFBIG instead */
  signal(SIGXFSZ, SIG_IGN);
  fuzz_check(fd >= 0 && (size == 0 || nook_write_all(fd, data, size) == (ssize_t)size)
                 && lseek(fd, 0, SEEK_SET) == 0,
             "memfd", NULL);
  fuzz_check(mkdirat(base_fd, "root", 0755) == 0
                 && (root = openat(base_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0,
             "cannot make", "root");
  r = image_unpack(fd, root, &opts, &diff_id, &err);
  fuzz_check_error(r, err, NULL);
  if (r == 0)
    fuzz_check(diff_id && strlen(diff_id) == IMAGE_DIGEST_LEN && nook_has_prefix(diff_id, "sha256:"),
               "success without a diff-id", NULL);
  else
    fuzz_check(strstr(err->msg, "layer") != NULL, "an error that names no entry", err->msg);
  check_outside();
  fuzz_check(nook_rm_rf_at(base_fd, "root", NULL) == 0, "cannot remove", "root");
  return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
  return fuzz_tar_custom_mutator(data, size, max, seed);
}
