/* Blob downloads: several at once on one curl multi handle, each into the store's resumable
 * partial file for its digest (ROOT/tmp/partial-HEX), so that a pull broken by a crash, ^C
 * or the network continues where it stopped, the next time or right away.
 *
 * A job asks for `Range: bytes=N-` when N bytes are already there.  A server that answers
 * 200 sends the whole blob: the partial is emptied and filled again.  A 206 must start at N.
 * The digest and size are checked before the blob gets its name; a server that sends more
 * than the descriptor's size is cut off at once. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "images/registry-internal.h"

#define PARALLEL_DEFAULT 3
/* Resumptions of one blob after a transfer broke (having made progress), within one pull. */
#define RESUME_MAX 2

struct blob_job
{
  struct registry_xfer x;
  struct registry_client *client;
  struct image_store *store;
  const struct registry_blob *blob;
  const struct image_progress *progress;
  char item[13]; /* the digest's first 12 hex digits */
  struct image_blob_writer *w;
  uint64_t offset;   /* where the current attempt started */
  uint64_t received; /* bytes of the current attempt */
  int resumes;
  bool resumed;   /* bytes of an earlier attempt or pull are in the partial file */
  bool restarted; /* started over from byte 0 once after a failed verification */
  bool authenticated;
  bool too_big, bad_range, active;
  struct nook_error *write_err;
};

static void job_progress(struct blob_job *j)
{
  if (j->progress && j->progress->update)
    j->progress->update(j->progress->data, j->item, image_blob_writer_size(j->w),
                        j->blob->size > 0 ? (uint64_t)j->blob->size : 0);
}

static bool job_on_headers(struct registry_xfer *x)
{
  struct blob_job *j = x->data;

  if (x->resp.status == 206)
    {
      if (!x->resp.has_range || x->resp.range_start != j->offset)
        {
          j->bad_range = true;
          return false;
        }
      return true;
    }
  /* 200 to a Range request: the whole blob comes again. */
  if (j->offset > 0 && image_blob_writer_reset(j->w, &j->write_err) < 0)
    return false;
  j->offset = 0;
  return true;
}

static bool job_sink(struct registry_xfer *x, const char *data, size_t len)
{
  struct blob_job *j = x->data;

  if (j->blob->size >= 0 && len > (uint64_t)j->blob->size - image_blob_writer_size(j->w))
    {
      j->too_big = true;
      return false;
    }
  if (image_blob_writer_write(j->w, data, len, &j->write_err) < 0)
    return false;
  j->received += len;
  job_progress(j);
  return true;
}

/* Commits the blob; -EINVAL (and the partial file removed) when it is not what was asked. */
static int job_commit(struct blob_job *j, struct nook_error **err)
{
  int r = image_blob_writer_commit(j->w, j->blob->digest, j->blob->size, NULL, err);

  if (r < 0)
    return r;
  image_blob_writer_free(j->w);
  j->w = NULL;
  if (j->progress && j->progress->done)
    j->progress->done(j->progress->data, j->item);
  return 0;
}

/* Starts (or restarts) the download: 1 when a transfer was added to the multi handle, 0 when
 * the partial file already held the whole blob. */
static int job_start(struct blob_job *j, struct nook_error **err)
{
  struct registry_client *c = j->client;
  _cleanup_free_ char *url = NULL;
  uint64_t off = 0;
  int r;

  if (!j->w)
    {
      r = image_blob_writer_resume(j->store, j->blob->digest, &j->w, &off, err);
      if (r < 0)
        return r;
    }
  off = image_blob_writer_size(j->w);
  if (j->blob->size >= 0 && off > (uint64_t)j->blob->size)
    {
      r = image_blob_writer_reset(j->w, err);
      if (r < 0)
        return r;
      off = 0;
    }
  if (j->blob->size >= 0 && off == (uint64_t)j->blob->size)
    {
      _cleanup_error_ struct nook_error *cerr = NULL;
      /* All there already (a pull stopped between the last byte and the rename). */
      if (job_commit(j, &cerr) == 0)
        return 0;
      /* Wrong content: the partial file is gone; start from nothing. */
      image_blob_writer_free(j->w);
      j->w = NULL;
      r = image_blob_writer_resume(j->store, j->blob->digest, &j->w, &off, err);
      if (r < 0)
        return r;
    }
  j->resumed = j->resumed || off > 0;
  j->offset = off;
  j->received = 0;
  j->too_big = j->bad_range = false;
  if (!j->x.h && !(j->x.h = curl_easy_init()))
    return nook_error_setx(err, ENOMEM, "cannot create a libcurl handle");
  url = registry_url(c, "blobs/%s", j->blob->digest);
  registry_xfer_setup(&j->x, c, j->x.h, url, NULL);
  j->x.on_headers = job_on_headers;
  j->x.sink = job_sink;
  j->x.data = j;
  if (off > 0)
    {
      char range[32];
      snprintf(range, sizeof range, "%llu-", (unsigned long long)off);
      curl_easy_setopt(j->x.h, CURLOPT_RANGE, range); /* copied by libcurl */
    }
  job_progress(j);
  if (curl_multi_add_handle(c->multi, j->x.h) != CURLM_OK)
    return nook_error_setx(err, EIO, "cannot add a libcurl transfer");
  j->active = true;
  return 1;
}

/* Hands an error made on the side over to the caller. */
static int error_pass(struct nook_error **err, struct nook_error **from)
{
  int r = nook_error_code(*from);

  if (err && !*err)
    *err = TAKE_PTR(*from);
  nook_error_freep(from);
  return r;
}

/* After a transfer ended: 0 when the blob is in the store, 1 to start again, < 0 failed. */
static int job_done(struct blob_job *j, CURLcode res, struct nook_error **err)
{
  const struct registry_resp *resp = &j->x.resp;
  int r;

  if (j->write_err)
    return error_pass(err, &j->write_err);
  if (res == CURLE_OK && resp->status >= 200 && resp->status < 300)
    {
      _cleanup_error_ struct nook_error *cerr = NULL;
      r = job_commit(j, &cerr);
      if (r == 0)
        return 0;
      if (r == -EINVAL && j->resumed && !j->restarted)
        {
          /* The bytes kept from before may be what is wrong: once more, from nothing. */
          image_blob_writer_free(j->w);
          j->w = NULL;
          j->restarted = true;
          j->resumed = false;
          return 1;
        }
      return error_pass(err, &cerr);
    }
  if (res == CURLE_OK && resp->status == 401 && !j->authenticated)
    {
      j->authenticated = true; /* the token may have expired during a long pull */
      r = registry_authenticate(j->client, resp, err);
      return r < 0 ? r : 1;
    }
  if (res == CURLE_OK && resp->status == 416 && j->offset > 0)
    {
      r = image_blob_writer_reset(j->w, err);
      return r < 0 ? r : 1;
    }
  if (res == CURLE_OK)
    return registry_status_error(resp, err);
  if (j->too_big)
    {
      image_blob_writer_reset(j->w, NULL);
      return nook_error_setx(err, EINVAL, "the registry sent more than the %lld bytes of the blob",
                             (long long)j->blob->size);
    }
  if (j->bad_range && j->resumes < RESUME_MAX)
    {
      j->resumes++;
      r = image_blob_writer_reset(j->w, err);
      return r < 0 ? r : 1;
    }
  if (j->bad_range)
    return nook_error_setx(err, EPROTO, "the registry answered a range request with another range");
  if (j->received > 0 && j->resumes < RESUME_MAX)
    {
      j->resumes++;
      j->resumed = true;
      return 1;
    }
  return registry_xfer_error(&j->x, res, err);
}

/* Names the blob in an error, unless the message does already (the blob writer's do). */
static int job_fail(struct blob_job *j, int r, struct nook_error **err)
{
  if (!err || !*err || strstr((*err)->msg, j->blob->digest))
    return r;
  return nook_error_prefix(err, "blob `%s`", j->blob->digest);
}

/* Reads the transfers that ended; returns < 0 on the first failure. */
static int jobs_reap(struct registry_client *c, size_t *active, struct nook_error **err)
{
  CURLMsg *msg;
  int left, r;

  while ((msg = curl_multi_info_read(c->multi, &left)))
    {
      struct registry_xfer *x = NULL;
      struct blob_job *j;
      CURL *h = msg->easy_handle;
      CURLcode res = msg->data.result;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
      j = x->data;
      curl_multi_remove_handle(c->multi, h);
      j->active = false;
      (*active)--;
      r = job_done(j, res, err);
      if (r > 0)
        {
          r = job_start(j, err);
          if (r > 0)
            (*active)++;
        }
      if (r < 0)
        return job_fail(j, r, err);
    }
  return 0;
}

static void jobs_free(struct registry_client *c, struct blob_job *jobs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      if (jobs[i].active)
        curl_multi_remove_handle(c->multi, jobs[i].x.h);
      registry_xfer_clear(&jobs[i].x);
      if (jobs[i].x.h)
        curl_easy_cleanup(jobs[i].x.h);
      image_blob_writer_free(jobs[i].w); /* keeps the partial file */
      nook_error_free(jobs[i].write_err);
    }
  free(jobs);
}

int registry_get_blobs(struct registry_client *c, struct image_store *s,
                       const struct registry_blob *blobs, size_t n, int parallel,
                       const struct image_progress *progress, struct nook_error **err)
{
  struct blob_job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
  size_t next = 0, active = 0;
  int r = 0;

  if (parallel <= 0)
    parallel = PARALLEL_DEFAULT;
  while (r >= 0 && (next < n || active > 0))
    {
      CURLMcode mc;
      int running;

      while (r >= 0 && active < (size_t)parallel && next < n)
        {
          struct blob_job *j = &jobs[next++];
          j->client = c;
          j->store = s;
          j->blob = &blobs[j - jobs];
          j->progress = progress;
          snprintf(j->item, sizeof j->item, "%s", j->blob->digest + 7);
          r = job_start(j, err);
          if (r < 0)
            r = job_fail(j, r, err);
          else
            active += (size_t)r;
        }
      if (r < 0 || active == 0)
        continue;
      mc = curl_multi_perform(c->multi, &running);
      if (mc == CURLM_OK)
        r = jobs_reap(c, &active, err);
      if (mc == CURLM_OK && r >= 0 && active > 0)
        mc = curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
      if (mc != CURLM_OK)
        r = nook_error_setx(err, EIO, "libcurl: %s", curl_multi_strerror(mc));
    }
  jobs_free(c, jobs, n);
  return r < 0 ? r : 0;
}
