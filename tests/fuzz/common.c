/* The fuzz targets' shared code (tests/fuzz/fuzz.h): checks, a temporary directory, a tar writer
 * and mutator, and, without libFuzzer, the standalone runner: replay, then a mutation loop with
 * a generic mutator that knows a libFuzzer dictionary. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/util.h"
#include "tests/fuzz/fuzz.h"

/* ---- checks ---------------------------------------------------------------------------------- */

static void save_input(void);

void fuzz_check(bool ok, const char *what, const char *detail)
{
  if (ok)
    return;
  fprintf(stderr, "%s: %s%s%s\n", program_invocation_short_name, what, detail ? ": " : "",
          detail ? detail : "");
  save_input();
  abort();
}

void fuzz_check_error(int r, const struct nook_error *err, const char *prefix)
{
  if (r >= 0)
    {
      fuzz_check(err == NULL, "success with an error set", err ? err->msg : NULL);
      return;
    }
  fuzz_check(err && err->msg && *err->msg, "a failure without an error message", NULL);
  for (const char *p = err->msg; *p; p++)
    fuzz_check((unsigned char)*p >= 0x20 && *p != 0x7f,
               "an error message with a control character (not one printable line)", err->msg);
  fuzz_check(!prefix || nook_has_prefix(err->msg, prefix), "an error message without its prefix",
             err->msg);
}

/* ---- the temporary directory ----------------------------------------------------------------- */

static char tmp_path[256];
static int tmp_fd = -1;

static void tmp_remove(void)
{
  if (*tmp_path)
    nook_rm_rf_at(AT_FDCWD, tmp_path, NULL);
}

int fuzz_tmpdir(const char **ret_path)
{
  if (tmp_fd < 0)
    {
      const char *tmp = getenv("TMPDIR");
      snprintf(tmp_path, sizeof(tmp_path), "%s/nook-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
               program_invocation_short_name);
      fuzz_check(mkdtemp(tmp_path) != NULL, "cannot make a temporary directory", tmp_path);
      tmp_fd = open(tmp_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      fuzz_check(tmp_fd >= 0, "cannot open the temporary directory", tmp_path);
      atexit(tmp_remove);
    }
  if (ret_path)
    *ret_path = tmp_path;
  return tmp_fd;
}

void fuzz_write_file(int dirfd, const char *name, const void *data, size_t size)
{
  _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  fuzz_check(fd >= 0 && (size == 0 || nook_write_all(fd, data, size) == (ssize_t)size),
             "cannot write", name);
}

uint64_t fuzz_rnd(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* ---- tar ----------------------------------------------------------------------------------- */

static void buf_append(struct fuzz_buf *b, const void *data, size_t size)
{
  b->data = xrealloc(b->data, b->len + size + 1);
  if (size)
    memcpy(b->data + b->len, data, size);
  b->len += size;
}

static bool is_header(const uint8_t *h)
{
  return memcmp(h + 257, "ustar", 5) == 0;
}

static void header_checksum(uint8_t *h)
{
  unsigned sum = 0;

  memset(h + 148, ' ', 8);
  for (int i = 0; i < 512; i++)
    sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
}

void fuzz_tar_add(struct fuzz_buf *b, const char *name, char type, const char *link,
                  const void *data, size_t size)
{
  uint8_t h[512] = { 0 }, pad[512] = { 0 };

  snprintf((char *)h, 100, "%s", name);
  snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
  snprintf((char *)h + 108, 8, "%07o", 0);
  snprintf((char *)h + 116, 8, "%07o", 0);
  snprintf((char *)h + 124, 12, "%011zo", type == '0' ? size : 0);
  snprintf((char *)h + 136, 12, "%011o", 1600000000);
  h[156] = (uint8_t)type;
  if (link)
    snprintf((char *)h + 157, 100, "%s", link);
  memcpy(h + 257, "ustar\0" "00", 8);
  header_checksum(h);
  buf_append(b, h, sizeof(h));
  if (type == '0' && size)
    {
      buf_append(b, data, size);
      buf_append(b, pad, (512 - size % 512) % 512);
    }
}

void fuzz_tar_end(struct fuzz_buf *b)
{
  static const uint8_t zero[1024];

  buf_append(b, zero, sizeof(zero));
}

bool fuzz_tar_is_tar(const uint8_t *data, size_t size)
{
  return size >= 512 && is_header(data);
}

void fuzz_tar_fix_checksums(uint8_t *data, size_t size)
{
  for (size_t off = 0; off + 512 <= size; off += 512)
    if (is_header(data + off))
      header_checksum(data + off);
}

static void set_field(uint8_t *f, size_t len, const char *v)
{
  memset(f, 0, len);
  memcpy(f, v, strnlen(v, len));
}

/* One change to a header field, with values a hostile layer or archive would use. */
static void mutate_header(uint8_t *h, uint64_t *s)
{
  static const char *const names[] = {
    "../x", "/etc/passwd", "a/../../b", "a/b", "a", ".", "./", "", "a/.wh.b", ".wh..wh..opq",
    "a/.wh..wh..opq", ".wh..wh.plnk/x", "sentinel/keep", "../sentinel/keep", "a/b/c/d",
    "lnk/x", "dev/null", "//a//b/", "..", "a/..", "\xff\xfe", "manifest.json", "index.json",
    "oci-layout", "blobs/sha256/", "blobs", "repositories", "layer.tar", "../layer.tar",
  };
  static const char *const sizes[] = { "00000000000", "00000000001", "77777777777",
                                       "00000001000", "\x80\x7f\xff\xff\xff\xff\xff\xff",
                                       "\xff\xff\xff\xff\xff\xff\xff\xff", "-1" };
  static const char types[] = "012345679xgLKSDVMN A";
  char num[16];

  switch (fuzz_rnd(s) % 7)
    {
    case 0: set_field(h, 100, names[fuzz_rnd(s) % ARRAY_SIZE(names)]); break;
    case 1: set_field(h + 157, 100, names[fuzz_rnd(s) % ARRAY_SIZE(names)]); break;
    case 2: h[156] = (uint8_t)types[fuzz_rnd(s) % (sizeof(types) - 1)]; break;
    case 3: set_field(h + 124, 12, sizes[fuzz_rnd(s) % ARRAY_SIZE(sizes)]); break;
    case 4:
      snprintf(num, sizeof(num), "%07o", (unsigned)(fuzz_rnd(s) % 010000));
      set_field(h + 100, 8, num); /* mode */
      break;
    case 5:
      snprintf(num, sizeof(num), "%07o", (unsigned)(fuzz_rnd(s) % 2 ? 0 : fuzz_rnd(s) % 07777777));
      set_field(h + 108 + 8 * (fuzz_rnd(s) % 2), 8, num); /* uid or gid */
      break;
    default: set_field(h + 345, 155, names[fuzz_rnd(s) % ARRAY_SIZE(names)]); break; /* prefix */
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

size_t fuzz_tar_mutate(uint8_t *data, size_t size, size_t max, uint64_t *s)
{
  size_t blocks = size / 512, n = 1 + fuzz_rnd(s) % 4;

  for (size_t i = 0; i < n && blocks > 0; i++)
    {
      size_t a = fuzz_rnd(s) % blocks, b = fuzz_rnd(s) % blocks;
      uint8_t tmp[512];

      switch (fuzz_rnd(s) % 6)
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
        case 4: data[fuzz_rnd(s) % size] ^= (uint8_t)(1u << (fuzz_rnd(s) % 8)); break;
        default: size = fuzz_rnd(s) % (size + 1); blocks = size / 512; break;
        }
    }
  fuzz_tar_fix_checksums(data, size);
  if (fuzz_rnd(s) % 4 == 0 && size > 0)
    {
      size = compress_to(data, size, max, fuzz_rnd(s) % 2);
      if (fuzz_rnd(s) % 4 == 0 && size > 0)
        {
          if (fuzz_rnd(s) % 2)
            size = fuzz_rnd(s) % size;
          else
            data[fuzz_rnd(s) % size] ^= 0xff;
        }
    }
  return size;
}

size_t fuzz_tar_custom_mutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
  uint64_t s = seed | 1;

  if (fuzz_tar_is_tar(data, size) && fuzz_rnd(&s) % 2)
    return fuzz_tar_mutate(data, size, max, &s);
  size = LLVMFuzzerMutate(data, size, max);
  fuzz_tar_fix_checksums(data, size);
  return size;
}

#ifdef NOOK_LIBFUZZER
/* libFuzzer keeps a failing input itself. */
static void save_input(void)
{
}
#else
/* ---- the standalone runner ------------------------------------------------------------------- */

#pragma weak LLVMFuzzerInitialize
#pragma weak LLVMFuzzerCustomMutator
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define INPUT_TIMEOUT 30 /* seconds for one input: more is a hang */
#define FUZZ_MAX_FILE (64u << 20) /* a file to replay */

static const uint8_t *current; /* the input being run */
static size_t current_len;

struct inputs
{
  uint8_t **data;
  size_t *len, n;
  char **names; /* the files they came from (seeds only) */
};
static struct inputs seeds, dict;

static void save_input(void)
{
  char name[128];
  int fd;

  if (!current)
    return;
  snprintf(name, sizeof(name), "crash-%s-%d", program_invocation_short_name, (int)getpid());
  fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0)
    {
      if (current_len == 0 || nook_write_all(fd, current, current_len) == (ssize_t)current_len)
        fprintf(stderr, "%s: the input is in %s\n", program_invocation_short_name, name);
      close(fd);
    }
  current = NULL;
}

static void on_alarm(int sig)
{
  static const char msg[] = "fuzz: an input ran longer than 30 s\n";
  if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
    { /* reported by the abort anyway */
    }
  save_input();
  abort();
}

static void run_one(const uint8_t *data, size_t len)
{
  /* a copy of its own, so that ASan sees reads past the end */
  _cleanup_free_ uint8_t *copy = xmalloc(len ? len : 1);

  if (len)
    memcpy(copy, data, len);
  current = copy;
  current_len = len;
  alarm(INPUT_TIMEOUT);
  LLVMFuzzerTestOneInput(copy, len);
  alarm(0);
  current = NULL;
}

static void inputs_add(struct inputs *in, uint8_t *data, size_t len, const char *name)
{
  in->data = xrealloc(in->data, (in->n + 1) * sizeof(*in->data));
  in->len = xrealloc(in->len, (in->n + 1) * sizeof(*in->len));
  in->names = xrealloc(in->names, (in->n + 1) * sizeof(*in->names));
  in->data[in->n] = data;
  in->names[in->n] = name ? xstrdup(name) : NULL;
  in->len[in->n++] = len;
}

static void inputs_free(struct inputs *in)
{
  for (size_t k = 0; k < in->n; k++)
    {
      free(in->data[k]);
      free(in->names[k]);
    }
  free(in->data);
  free(in->len);
  free(in->names);
}

static void load(struct inputs *in, const char *path)
{
  _cleanup_free_ char *buf = NULL;
  struct stat st;
  size_t len = 0;

  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    {
      _cleanup_closedir_ DIR *d = opendir(path);
      struct dirent *de;
      while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
          {
            _cleanup_free_ char *p = xasprintf("%s/%s", path, de->d_name);
            load(in, p);
          }
      return;
    }
  if (nook_read_file_at(AT_FDCWD, path, FUZZ_MAX_FILE, &buf, &len, NULL) < 0)
    {
      fprintf(stderr, "%s: cannot read `%s`\n", program_invocation_short_name, path);
      exit(2);
    }
  inputs_add(in, (uint8_t *)TAKE_PTR(buf), len, path);
}

/* A libFuzzer dictionary: one `"word"` a line (optionally NAME="word"), \\ \" \xNN escapes,
 * `#` comments. */
static void load_dict(const char *path)
{
  _cleanup_free_ char *text = NULL;
  char *save = NULL;

  if (nook_read_file_at(AT_FDCWD, path, FUZZ_MAX_INPUT, &text, NULL, NULL) < 0)
    {
      fprintf(stderr, "%s: cannot read `%s`\n", program_invocation_short_name, path);
      exit(2);
    }
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      char *q = strchr(line, '"'), *end = strrchr(line, '"');
      uint8_t *w;
      size_t n = 0;

      if (line[strspn(line, " \t")] == '#' || !q || end <= q)
        continue;
      w = xmalloc((size_t)(end - q));
      for (char *p = q + 1; p < end; p++)
        {
          unsigned v;
          if (*p == '\\' && p[1] == 'x' && p + 3 < end && sscanf(p + 2, "%2x", &v) == 1)
            {
              w[n++] = (uint8_t)v;
              p += 3;
            }
          else if (*p == '\\' && p + 1 < end)
            w[n++] = (uint8_t)*++p;
          else
            w[n++] = (uint8_t)*p;
        }
      inputs_add(&dict, w, n, NULL);
    }
}

static uint64_t rng = 1;

/* Replaces [at, at + cut) with the n bytes of what (which may lie inside data). */
static size_t splice_in(uint8_t *data, size_t size, size_t max, size_t at, size_t cut,
                        const uint8_t *what, size_t n)
{
  _cleanup_free_ uint8_t *copy = NULL;

  if (size - cut + n > max)
    return size;
  copy = xmalloc(n ? n : 1);
  if (n)
    memcpy(copy, what, n);
  memmove(data + at + n, data + at + cut, size - at - cut);
  if (n)
    memcpy(data + at, copy, n);
  return size - cut + n;
}

/* Another number where a run of digits is: the values parsers get wrong. */
static size_t mutate_number(uint8_t *data, size_t size, size_t max, size_t at)
{
  static const char *const numbers[] = {
    "0", "-1", "1", "-0", "255", "256", "4095", "4096", "65535", "65536", "2147483647",
    "2147483648", "-2147483648", "4294967295", "4294967296", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "18446744073709551615",
    "18446744073709551616", "1e999", "1.5", "0x10", "00",
  };
  const char *v = numbers[fuzz_rnd(&rng) % ARRAY_SIZE(numbers)];
  size_t start = at, end;

  while (start < size && !(data[start] >= '0' && data[start] <= '9'))
    start++;
  if (start == size)
    start = at;
  end = start;
  while (end < size && data[end] >= '0' && data[end] <= '9')
    end++;
  return splice_in(data, size, max, start, end - start, (const uint8_t *)v, strlen(v));
}

/* One to four generic changes: bits, bytes, ranges, dictionary words, numbers, other seeds. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max)
{
  static const uint8_t special[] = { 0, 0xff, 0x7f, 0x80, '"', '\\', '{', '}', '[', ']', ',',
                                     ':', '0', '-', '/', '.', '\n', ' ', '=', 'a' };
  size_t n = 1 + fuzz_rnd(&rng) % 4;

  for (size_t i = 0; i < n; i++)
    {
      size_t at = size ? fuzz_rnd(&rng) % (size + 1) : 0;
      size_t len = size > at ? 1 + fuzz_rnd(&rng) % (size - at < 64 ? size - at : 64) : 0;
      uint8_t b = special[fuzz_rnd(&rng) % sizeof(special)];

      switch (fuzz_rnd(&rng) % 9)
        {
        case 0:
          if (at < size)
            data[at] ^= (uint8_t)(1u << (fuzz_rnd(&rng) % 8));
          break;
        case 1:
          if (at < size)
            data[at] = fuzz_rnd(&rng) % 2 ? b : (uint8_t)fuzz_rnd(&rng);
          break;
        case 2: size = splice_in(data, size, max, at, 0, &b, 1); break;
        case 3: size = splice_in(data, size, max, at, len, NULL, 0); break;
        case 4: /* a range again, somewhere else */
          if (len)
            size = splice_in(data, size, max, fuzz_rnd(&rng) % (size + 1), 0, data + at, len);
          break;
        case 5:
        case 6:
          if (dict.n)
            {
              size_t k = fuzz_rnd(&rng) % dict.n;
              size = splice_in(data, size, max, at, fuzz_rnd(&rng) % 2 ? len : 0, dict.data[k],
                               dict.len[k]);
            }
          break;
        case 7: size = mutate_number(data, size, max, at); break;
        default: /* a piece of another seed */
          if (seeds.n)
            {
              size_t k = fuzz_rnd(&rng) % seeds.n, l = seeds.len[k];
              size_t from = l ? fuzz_rnd(&rng) % l : 0, cnt = l - from;
              if (cnt > 256)
                cnt = 1 + fuzz_rnd(&rng) % 256;
              size = splice_in(data, size, max, at, len, seeds.data[k] + from, cnt);
            }
          break;
        }
    }
  return size;
}

static size_t mutate(uint8_t *data, size_t size, size_t max)
{
  if (LLVMFuzzerCustomMutator)
    return LLVMFuzzerCustomMutator(data, size, max, (unsigned)fuzz_rnd(&rng));
  return LLVMFuzzerMutate(data, size, max);
}

int main(int argc, char **argv)
{
  const char *me = program_invocation_short_name;
  _cleanup_free_ uint8_t *buf = xmalloc(FUZZ_MAX_INPUT);
  uint64_t runs = 0;
  double seconds = -1;
  time_t start;
  int i = 1;

  rng = (uint64_t)time(NULL);
  for (; i + 1 < argc && argv[i][0] == '-'; i += 2)
    {
      if (streq(argv[i], "-t"))
        seconds = strtod(argv[i + 1], NULL);
      else if (streq(argv[i], "-s"))
        rng = strtoull(argv[i + 1], NULL, 0);
      else if (streq(argv[i], "-d"))
        load_dict(argv[i + 1]);
      else
        break;
    }
  if (i >= argc || argv[i][0] == '-')
    {
      fprintf(stderr, "usage: %s FILE... | %s -t SECONDS [-s SEED] [-d DICT] SEED...\n", me, me);
      return 2;
    }
  for (; i < argc; i++)
    load(&seeds, argv[i]);
  signal(SIGALRM, on_alarm);
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback(save_input);
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  for (size_t k = 0; k < seeds.n; k++)
    {
      if (seconds <= 0) /* a replay: say which input fails */
        {
          printf("Running: %s\n", seeds.names[k]);
          fflush(stdout);
        }
      run_one(seeds.data[k], seeds.len[k]);
    }
  printf("%s: %zu inputs replayed, no failure\n", me, seeds.n);
  if (seconds > 0)
    {
      printf("%s: mutating for %.0f s, seed %#" PRIx64 "\n", me, seconds, rng);
      fflush(stdout);
      rng |= 1;
      start = time(NULL);
      while (difftime(time(NULL), start) < seconds)
        {
          size_t k = seeds.n ? fuzz_rnd(&rng) % seeds.n : 0, len = seeds.n ? seeds.len[k] : 0;
          if (len > FUZZ_MAX_INPUT)
            len = FUZZ_MAX_INPUT;
          if (len)
            memcpy(buf, seeds.data[k], len);
          len = mutate(buf, len, FUZZ_MAX_INPUT);
          run_one(buf, len);
          runs++;
        }
      printf("%s: %" PRIu64 " mutated inputs, no failure\n", me, runs);
    }
  inputs_free(&seeds);
  inputs_free(&dict);
  return 0;
}
#endif
