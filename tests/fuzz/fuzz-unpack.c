/* Fuzz target for the layer reader (images/unpack*.c): each input is a layer (tar, tar+gzip or
 * tar+zstd) unpacked into BASE/root, next to BASE/sentinel/keep; whatever the input, nothing
 * may appear in BASE but root/ and sentinel/, the sentinel file must keep its content, mode
 * and link count, and a failure must say which layer entry or which part of the layer failed.
 * A violation aborts (a crash for the fuzzer).
 *
 * Built two ways by tests/fuzz/run-fuzz.sh: with clang's libFuzzer (-DNOOK_LIBFUZZER; a custom
 * mutator edits tar header fields and fixes their checksums, so that mutations get past
 * libarchive's checksum test), or as a standalone program around the same mutator, with
 * ASan, for compilers without libFuzzer:
 *
 *   fuzz-unpack FILE...                       run each file once (a crash to reproduce)
 *   fuzz-unpack -t SECONDS [-s SEED] SEED...  mutate the seed layers (files or directories)
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/util.h"
#include "images/image.h"

#define FUZZ_MAX_INPUT (1u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);

static char base[64];
static int base_fd = -1;
static const uint8_t *current; /* the input being run, saved when it fails */
static size_t current_len;

void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* The standalone runner has no libFuzzer to keep a failing input: it goes to
 * ./crash-unpack-PID. */
static void save_input(void)
{
#ifndef NOOK_LIBFUZZER
  char name[64];
  int fd;

  snprintf(name, sizeof(name), "crash-unpack-%d", (int)getpid());
  fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0 && current)
    {
      nook_write_all(fd, current, current_len);
      fprintf(stderr, "fuzz-unpack: the input is in %s\n", name);
    }
  if (fd >= 0)
    close(fd);
#endif
}

static void remove_base(void)
{
  if (*base)
    nook_rm_rf_at(AT_FDCWD, base, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  struct rlimit fsize = { 64 << 20, 64 << 20 };
  _cleanup_close_ int sfd = -1;

  /* a layer may claim files of any size: past 64 MiB, writes fail with EFBIG */
  signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &fsize);
  snprintf(base, sizeof(base), "%s/nook-fuzz-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(base) == NULL || (base_fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0
      || mkdirat(base_fd, "sentinel", 0755) < 0
      || (sfd = openat(base_fd, "sentinel", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0
      || nook_write_file_atomic_at(sfd, "keep", "keep\n", 5, 0644, NULL) < 0
      || fchmodat(sfd, "keep", 0644, 0) < 0)
    {
      perror("fuzz-unpack: set up the temporary directory");
      abort();
    }
  atexit(remove_base);
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback(save_input);
  return 0;
}

static void check(bool ok, const char *what, const char *msg)
{
  if (ok)
    return;
  fprintf(stderr, "fuzz-unpack: %s in %s%s%s\n", what, base, msg ? ": " : "", msg ? msg : "");
  save_input();
  abort();
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
      check(d != NULL, "cannot list", pass ? "sentinel" : ".");
      while ((de = readdir(d)))
        check(streq(de->d_name, ".") || streq(de->d_name, "..")
                  || streq(de->d_name, names[pass ? 2 : 0])
                  || (!pass && streq(de->d_name, names[1])),
              "an entry outside the layer", de->d_name);
    }
  check(fstatat(base_fd, "sentinel/keep", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)
            && st.st_nlink == 1 && (st.st_mode & 07777) == 0644,
        "the sentinel file changed", NULL);
  check(nook_read_file_at(base_fd, "sentinel/keep", 64, &keep, NULL, NULL) == 0
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
  current = data;
  current_len = size;
  check(fd >= 0 && (size == 0 || nook_write_all(fd, data, size) == (ssize_t)size)
            && lseek(fd, 0, SEEK_SET) == 0,
        "memfd", NULL);
  check(mkdirat(base_fd, "root", 0755) == 0
            && (root = openat(base_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0,
        "cannot make", "root");
  r = image_unpack(fd, root, &opts, &diff_id, &err);
  if (r == 0)
    check(diff_id && strlen(diff_id) == IMAGE_DIGEST_LEN && nook_has_prefix(diff_id, "sha256:"),
          "success without a diff-id", NULL);
  else
    check(err && err->msg && strstr(err->msg, "layer"), "an error that names no entry",
          err ? err->msg : NULL);
  check_outside();
  check(nook_rm_rf_at(base_fd, "root", NULL) == 0, "cannot remove", "root");
  return 0;
}

/* ---- mutations ------------------------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static bool is_header(const uint8_t *h)
{
  return memcmp(h + 257, "ustar", 5) == 0;
}

/* Rewrites the checksum of every block that looks like a ustar header. */
static void fix_checksums(uint8_t *data, size_t size)
{
  for (size_t off = 0; off + 512 <= size; off += 512)
    {
      unsigned sum = 0;
      if (!is_header(data + off))
        continue;
      memset(data + off + 148, ' ', 8);
      for (int i = 0; i < 512; i++)
        sum += data[off + i];
      snprintf((char *)data + off + 148, 8, "%06o", sum);
    }
}

static void set_field(uint8_t *f, size_t len, const char *v)
{
  memset(f, 0, len);
  memcpy(f, v, strnlen(v, len));
}

/* One change to a header field, with values a hostile layer would use. */
static void mutate_header(uint8_t *h, uint64_t *s)
{
  static const char *const names[] = {
    "../x", "/etc/passwd", "a/../../b", "a/b", "a", ".", "./", "", "a/.wh.b", ".wh..wh..opq",
    "a/.wh..wh..opq", ".wh..wh.plnk/x", "sentinel/keep", "../sentinel/keep", "a/b/c/d",
    "lnk/x", "dev/null", "//a//b/", "..", "a/..", "\xff\xfe",
  };
  static const char *const sizes[] = { "00000000000", "00000000001", "77777777777",
                                       "00000001000", "\x80\x7f\xff\xff\xff\xff\xff\xff",
                                       "\xff\xff\xff\xff\xff\xff\xff\xff", "-1" };
  static const char types[] = "012345679xgLKSDVMN A";
  char num[16];

  switch (rnd(s) % 7)
    {
    case 0: set_field(h, 100, names[rnd(s) % ARRAY_SIZE(names)]); break;
    case 1: set_field(h + 157, 100, names[rnd(s) % ARRAY_SIZE(names)]); break;
    case 2: h[156] = (uint8_t)types[rnd(s) % (sizeof(types) - 1)]; break;
    case 3: set_field(h + 124, 12, sizes[rnd(s) % ARRAY_SIZE(sizes)]); break;
    case 4:
      snprintf(num, sizeof(num), "%07o", (unsigned)(rnd(s) % 010000));
      set_field(h + 100, 8, num); /* mode */
      break;
    case 5:
      snprintf(num, sizeof(num), "%07o", (unsigned)(rnd(s) % 2 ? 0 : rnd(s) % 07777777));
      set_field(h + 108 + 8 * (rnd(s) % 2), 8, num); /* uid or gid */
      break;
    default: set_field(h + 345, 155, names[rnd(s) % ARRAY_SIZE(names)]); break; /* prefix */
    }
}

static size_t compress_to(uint8_t *data, size_t size, size_t max, bool zstd)
{
  _cleanup_free_ uint8_t *out = xmalloc(max);
  size_t n = 0;

  if (zstd)
    {
      n = ZSTD_compress(out, max, data, size, 1);
      if (ZSTD_isError(n))
        return size;
    }
  else
    {
      z_stream z = { .next_in = data, .avail_in = (uInt)size, .next_out = out,
                     .avail_out = (uInt)max };
      if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return size;
      int rc = deflate(&z, Z_FINISH);
      n = max - z.avail_out;
      deflateEnd(&z);
      if (rc != Z_STREAM_END)
        return size;
    }
  memcpy(data, out, n);
  return n;
}

/* Tar-aware changes to a plain layer: header fields, blocks duplicated, moved or dropped,
 * truncation; then sometimes compression, and sometimes damage to the compressed bytes. */
static size_t mutate(uint8_t *data, size_t size, size_t max, uint64_t *s)
{
  size_t blocks = size / 512, n = 1 + rnd(s) % 4;

  for (size_t i = 0; i < n && blocks > 0; i++)
    {
      size_t a = rnd(s) % blocks, b = rnd(s) % blocks;
      uint8_t tmp[512];

      switch (rnd(s) % 6)
        {
        case 0:
        case 1:
          for (size_t k = 0; k < blocks; k++) /* the next header from a random block */
            if (is_header(data + 512 * ((a + k) % blocks)))
              {
                mutate_header(data + 512 * ((a + k) % blocks), s);
                break;
              }
          break;
        case 2: /* a block again, after another */
          if (size + 512 <= max)
            {
              memmove(data + 512 * (b + 1) + 512, data + 512 * (b + 1), size - 512 * (b + 1));
              memcpy(data + 512 * (b + 1), data + 512 * a + (a > b ? 512 : 0), 512);
              size += 512;
              blocks++;
            }
          break;
        case 3: /* two blocks swapped */
          memcpy(tmp, data + 512 * a, 512);
          memcpy(data + 512 * a, data + 512 * b, 512);
          memcpy(data + 512 * b, tmp, 512);
          break;
        case 4: data[rnd(s) % size] ^= (uint8_t)(1u << (rnd(s) % 8)); break;
        default: size = rnd(s) % (size + 1); blocks = size / 512; break;
        }
    }
  fix_checksums(data, size);
  if (rnd(s) % 4 == 0 && size > 0)
    {
      size = compress_to(data, size, max, rnd(s) % 2);
      if (rnd(s) % 4 == 0 && size > 0)
        {
          if (rnd(s) % 2)
            size = rnd(s) % size;
          else
            data[rnd(s) % size] ^= 0xff;
        }
    }
  return size;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
  uint64_t s = seed | 1;

  if (size >= 512 && is_header(data) && rnd(&s) % 2)
    return mutate(data, size, max, &s);
#ifdef NOOK_LIBFUZZER
  size = LLVMFuzzerMutate(data, size, max);
  fix_checksums(data, size);
#endif
  return size;
}

#ifndef NOOK_LIBFUZZER
/* ---- the standalone runner ----------------------------------------------------------------- */

struct seeds
{
  uint8_t **data;
  size_t *len, n;
};

static void load(struct seeds *sd, const char *path)
{
  struct stat st;
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;

  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    {
      _cleanup_closedir_ DIR *d = opendir(path);
      struct dirent *de;
      while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
          {
            _cleanup_free_ char *p = xasprintf("%s/%s", path, de->d_name);
            load(sd, p);
          }
      return;
    }
  if (nook_read_file_at(AT_FDCWD, path, FUZZ_MAX_INPUT, &buf, &len, NULL) < 0)
    {
      fprintf(stderr, "fuzz-unpack: cannot read `%s`\n", path);
      exit(2);
    }
  sd->data = xrealloc(sd->data, (sd->n + 1) * sizeof(*sd->data));
  sd->len = xrealloc(sd->len, (sd->n + 1) * sizeof(*sd->len));
  sd->data[sd->n] = (uint8_t *)TAKE_PTR(buf);
  sd->len[sd->n++] = len;
}

int main(int argc, char **argv)
{
  struct seeds sd = { 0 };
  uint64_t s = (uint64_t)time(NULL), runs = 0;
  double seconds = -1;
  _cleanup_free_ uint8_t *buf = xmalloc(FUZZ_MAX_INPUT);
  time_t start = time(NULL);
  int i = 1;

  for (; i + 1 < argc && argv[i][0] == '-'; i += 2)
    {
      if (streq(argv[i], "-t"))
        seconds = strtod(argv[i + 1], NULL);
      else if (streq(argv[i], "-s"))
        s = strtoull(argv[i + 1], NULL, 0);
      else
        break;
    }
  if (i >= argc)
    {
      fprintf(stderr, "usage: fuzz-unpack FILE... | fuzz-unpack -t SECONDS [-s SEED] SEED...\n");
      return 2;
    }
  for (; i < argc; i++)
    load(&sd, argv[i]);
  LLVMFuzzerInitialize(&argc, &argv);
  if (seconds < 0)
    {
      for (size_t k = 0; k < sd.n; k++)
        LLVMFuzzerTestOneInput(sd.data[k], sd.len[k]);
      printf("fuzz-unpack: %zu inputs, no failure\n", sd.n);
      return 0;
    }
  printf("fuzz-unpack: %zu seeds, %.0f s, seed %#" PRIx64 "\n", sd.n, seconds, s);
  fflush(stdout);
  s |= 1;
  while (difftime(time(NULL), start) < seconds && sd.n > 0)
    {
      size_t k = rnd(&s) % sd.n, len = sd.len[k];
      memcpy(buf, sd.data[k], len);
      len = mutate(buf, len, FUZZ_MAX_INPUT, &s);
      LLVMFuzzerTestOneInput(buf, len);
      runs++;
    }
  printf("fuzz-unpack: %" PRIu64 " mutated inputs, no failure\n", runs);
  for (size_t k = 0; k < sd.n; k++)
    free(sd.data[k]);
  free(sd.data);
  free(sd.len);
  return 0;
}
#endif
