/* The uncompressed tar of a layer, for libarchive's read callback: our own gzip (zlib) and zstd
 * decoders, so that the diff-id is the sha256 of exactly the bytes the tar parser sees, computed
 * as they go by.  GNU tar runs gzip in a second process; to use both cores the same way, the
 * reading, decompressing and hashing run in a second thread that fills a ring of four 1 MiB
 * buffers ahead of the parser (docs/ARCHITECTURE.md, "images: layer unpack"). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/util.h"
#include "images/unpack-internal.h"

#define IN_SIZE (256u << 10) /* one read(2) of the compressed layer */
#define SLOT_SIZE (1u << 20) /* one chunk of tar handed to libarchive */
#define N_SLOTS 4

enum stream_kind
{
  STREAM_PLAIN,
  STREAM_GZIP,
  STREAM_ZSTD,
};

struct slot
{
  unsigned char *data;
  size_t len;
  uint64_t in_done; /* compressed bytes consumed when this chunk was complete */
};

struct unpack_stream
{
  int fd;
  enum stream_kind kind;

  /* The producer's side: compressed input, the decoders, the hash. */
  unsigned char *in;
  size_t in_pos, in_len;
  bool in_eof;
  uint64_t in_done;
  z_stream z;
  bool z_ready;
  bool member_end; /* gzip: the last member ended; another may follow */
  ZSTD_DStream *zs;
  size_t zs_hint; /* the last ZSTD_decompressStream() result: 0 when a frame is complete */
  struct image_hash *hash;
  bool hash_late;         /* hashed by the consumer, as it takes each slot (gzip, threaded) */
  struct nook_error *err; /* the producer's failure, written before `done` is set */

  /* The ring: slots [tail, head) are full, and the consumer holds `tail` from one next() to
   * the following one (libarchive reads the buffer until it asks for the next). */
  struct slot slots[N_SLOTS];
  size_t head, tail;
  bool holding, done, cancel, threaded, started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
};

static int read_input(struct unpack_stream *s)
{
  ssize_t n;

  do
    n = read(s->fd, s->in, IN_SIZE);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nook_error_set(&s->err, errno, "read the layer");
  s->in_pos = 0;
  s->in_len = (size_t)n;
  s->in_eof = n == 0;
  s->in_done += (uint64_t)n;
  return 0;
}

static int fill_plain(struct unpack_stream *s, struct slot *sl)
{
  ssize_t n;

  if (s->in_pos < s->in_len) /* what the detection read */
    {
      sl->len = s->in_len - s->in_pos;
      memcpy(sl->data, s->in + s->in_pos, sl->len);
      s->in_pos = s->in_len;
      return 1;
    }
  do
    n = read(s->fd, sl->data, SLOT_SIZE);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nook_error_set(&s->err, errno, "read the layer");
  sl->len = (size_t)n;
  s->in_done += (uint64_t)n;
  return n > 0;
}

static int fill_gzip(struct unpack_stream *s, struct slot *sl)
{
  while (sl->len < SLOT_SIZE)
    {
      bool starved;
      int rc;

      if (s->in_pos == s->in_len && !s->in_eof)
        {
          if (read_input(s) < 0)
            return -1;
          continue;
        }
      starved = s->in_pos == s->in_len; /* and at the end of the file */
      if (s->member_end)
        {
          /* Another member (gzip -d reads concatenated files), or trailing bytes, which gzip
           * ignores too. */
          if (starved || s->in[s->in_pos] != 0x1f)
            return 0;
          inflateReset(&s->z);
          s->member_end = false;
        }
      s->z.next_in = s->in + s->in_pos;
      s->z.avail_in = (uInt)(s->in_len - s->in_pos);
      s->z.next_out = sl->data + sl->len;
      s->z.avail_out = (uInt)(SLOT_SIZE - sl->len);
      rc = inflate(&s->z, Z_NO_FLUSH);
      s->in_pos = s->in_len - s->z.avail_in;
      sl->len = SLOT_SIZE - s->z.avail_out;
      if (rc == Z_STREAM_END)
        s->member_end = true;
      else if (rc == Z_BUF_ERROR && starved)
        return nook_error_setx(&s->err, EIO, "gzip: unexpected end of stream");
      else if (rc == Z_MEM_ERROR)
        return nook_error_set(&s->err, ENOMEM, "gzip");
      else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return nook_error_setx(&s->err, EIO, "gzip: corrupt stream: %s",
                               s->z.msg ? s->z.msg : "invalid data");
    }
  return 1;
}

static int fill_zstd(struct unpack_stream *s, struct slot *sl)
{
  while (sl->len < SLOT_SIZE)
    {
      ZSTD_inBuffer in;
      ZSTD_outBuffer out;
      size_t before = sl->len, r;

      if (s->in_pos == s->in_len && !s->in_eof)
        {
          if (read_input(s) < 0)
            return -1;
          continue;
        }
      if (s->in_pos == s->in_len && s->zs_hint == 0)
        return 0; /* the end of the file at the end of a frame */
      in = (ZSTD_inBuffer){ s->in, s->in_len, s->in_pos };
      out = (ZSTD_outBuffer){ sl->data, SLOT_SIZE, sl->len };
      r = ZSTD_decompressStream(s->zs, &out, &in);
      s->in_pos = in.pos;
      sl->len = out.pos;
      if (ZSTD_isError(r))
        return nook_error_setx(&s->err, EIO, "zstd: corrupt stream: %s", ZSTD_getErrorName(r));
      s->zs_hint = r;
      if (r != 0 && s->in_eof && s->in_pos == s->in_len && sl->len == before)
        return nook_error_setx(&s->err, EIO, "zstd: unexpected end of stream");
    }
  return 1;
}

/* Fills one slot and hashes it (unless hash_late): 1 when more may follow, 0 at the end, -1 on failure (s->err).
 * The slot may hold bytes in every case: those before a failure are handed out too, so that
 * the error names the entry they belong to. */
static int produce(struct unpack_stream *s, struct slot *sl)
{
  int r;

  sl->len = 0;
  switch (s->kind)
    {
    case STREAM_GZIP: r = fill_gzip(s, sl); break;
    case STREAM_ZSTD: r = fill_zstd(s, sl); break;
    default: r = fill_plain(s, sl); break;
    }
  if (!s->hash_late)
    image_hash_update(s->hash, sl->data, sl->len);
  sl->in_done = s->in_done;
  return r;
}

static void *stream_thread(void *arg)
{
  struct unpack_stream *s = arg;

  for (;;)
    {
      struct slot *sl;
      int r;

      pthread_mutex_lock(&s->lock);
      while (s->head - s->tail == N_SLOTS && !s->cancel)
        pthread_cond_wait(&s->cond, &s->lock);
      if (s->cancel)
        {
          s->done = true;
          pthread_mutex_unlock(&s->lock);
          return NULL;
        }
      sl = &s->slots[s->head % N_SLOTS];
      pthread_mutex_unlock(&s->lock);

      r = produce(s, sl);

      pthread_mutex_lock(&s->lock);
      if (sl->len > 0)
        s->head++;
      if (r <= 0)
        s->done = true;
      pthread_cond_broadcast(&s->cond);
      pthread_mutex_unlock(&s->lock);
      if (r <= 0)
        return NULL;
    }
}

/* Reads until the compression is known: 4 bytes, or the whole file if it is shorter. */
static int detect(struct unpack_stream *s, struct nook_error **err)
{
  static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

  while (s->in_len < 4)
    {
      ssize_t n = read(s->fd, s->in + s->in_len, IN_SIZE - s->in_len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return nook_error_set(err, errno, "read the layer");
      if (n == 0)
        break;
      s->in_len += (size_t)n;
      s->in_done += (uint64_t)n;
    }
  if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b)
    {
      if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
        return nook_error_set(err, ENOMEM, "gzip");
      s->z_ready = true;
      s->kind = STREAM_GZIP;
    }
  else if (s->in_len >= 4 && memcmp(s->in, zstd_magic, 4) == 0)
    {
      s->zs = ZSTD_createDStream();
      if (s->zs == NULL || ZSTD_isError(ZSTD_initDStream(s->zs)))
        return nook_error_set(err, ENOMEM, "zstd");
      s->kind = STREAM_ZSTD;
    }
  return 0;
}

int unpack_stream_open(int fd, bool threaded, struct unpack_stream **ret, struct nook_error **err)
{
  struct unpack_stream *s = xcalloc(1, sizeof(*s));

  s->fd = fd;
  s->in = xmalloc(IN_SIZE);
  s->zs_hint = 1;
  s->hash = image_hash_new();
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  for (size_t i = 0; i < (threaded ? N_SLOTS : 1); i++)
    s->slots[i].data = xmalloc(SLOT_SIZE);
  if (detect(s, err) < 0)
    {
      unpack_stream_free(s);
      return -1;
    }
  /* inflate is the slowest stage by far: the parser's thread takes the hashing, to balance
   * the two (zstd decodes faster than the parser writes small files; a plain tar is only
   * read) */
  s->hash_late = threaded && s->kind == STREAM_GZIP;
  /* Without a thread (pthread_create failed: EAGAIN under a thread limit), the same work is
   * done inline by next(). */
  s->threaded = threaded && pthread_create(&s->thread, NULL, stream_thread, s) == 0;
  if (!s->threaded)
    s->hash_late = false;
  s->started = s->threaded;
  *ret = s;
  return 0;
}

ssize_t unpack_stream_next(struct unpack_stream *s, const void **ret_buf, uint64_t *ret_in_done)
{
  struct slot *sl = &s->slots[0];

  if (!s->threaded)
    {
      int r = 0;
      while (!s->done && (r = produce(s, sl)) > 0 && sl->len == 0)
        ;
      if (s->done)
        return s->err ? -1 : 0;
      s->done = r <= 0;
      if (r < 0 && sl->len == 0)
        return -1;
    }
  else
    {
      pthread_mutex_lock(&s->lock);
      if (s->holding)
        {
          s->tail++;
          s->holding = false;
          pthread_cond_broadcast(&s->cond);
        }
      while (s->head == s->tail && !s->done)
        pthread_cond_wait(&s->cond, &s->lock);
      s->holding = s->head != s->tail;
      pthread_mutex_unlock(&s->lock);
      if (!s->holding)
        return s->err ? -1 : 0;
      sl = &s->slots[s->tail % N_SLOTS];
      if (s->hash_late)
        image_hash_update(s->hash, sl->data, sl->len);
    }
  if (sl->len == 0)
    return 0;
  *ret_buf = sl->data;
  *ret_in_done = sl->in_done;
  return (ssize_t)sl->len;
}

const struct nook_error *unpack_stream_error(const struct unpack_stream *s)
{
  return s->err;
}

const struct nook_error *unpack_stream_check(struct unpack_stream *s)
{
  const void *buf;
  uint64_t in_done;

  if (s->kind != STREAM_PLAIN)
    while (unpack_stream_next(s, &buf, &in_done) > 0)
      ;
  return s->err;
}

static void stream_join(struct unpack_stream *s)
{
  if (!s->started)
    return;
  pthread_mutex_lock(&s->lock);
  s->cancel = true;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  s->started = false;
}

int unpack_stream_finish(struct unpack_stream *s, char ret_diff_id[IMAGE_DIGEST_LEN + 1],
                         uint64_t *ret_in_done, struct nook_error **err)
{
  const void *buf;
  uint64_t in_done;
  ssize_t n;

  while ((n = unpack_stream_next(s, &buf, &in_done)) > 0)
    ;
  if (n < 0)
    return nook_error_setx(err, s->err->errnum, "%s", s->err->msg);
  stream_join(s); /* the producer is done: its hash and counters are ours now */
  image_hash_final(s->hash, ret_diff_id);
  *ret_in_done = s->in_done;
  return 0;
}

void unpack_stream_free(struct unpack_stream *s)
{
  if (s == NULL)
    return;
  stream_join(s);
  for (size_t i = 0; i < N_SLOTS; i++)
    free(s->slots[i].data);
  free(s->in);
  if (s->z_ready)
    inflateEnd(&s->z);
  ZSTD_freeDStream(s->zs);
  nook_error_free(s->err);
  image_hash_free(s->hash);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free(s);
}
