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
#include <time.h>

#include "common/fault.h"
#include "common/util.h"
#include "images/registry-internal.h"

#define PARALLEL_DEFAULT 3
/* Resumptions of one blob after a transfer broke (having made progress), within one pull. */
#define RESUME_MAX 2
/* How often a blob that another process downloads is looked at again. */
#define BUSY_RETRY_MS 250

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
  bool busy; /* another process writes its partial file: tried again later */
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
  NOOK_FAULT_POINT("mid-pull");
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

/* Hands an error made on the side over to the caller. */
static int error_pass(struct nook_error **err, struct nook_error **from)
{
  int r = nook_error_code(*from);

  if (err && !*err)
    *err = TAKE_PTR(*from);
  nook_error_freep(from);
  return r;
}

enum
{
  JOB_DONE = 0,    /* the blob is in the store */
  JOB_STARTED = 1, /* a transfer runs on the multi handle */
  JOB_BUSY = 2,    /* another process downloads it now: try again later */
};

/* Opens the partial file into j->w; else (j->w stays NULL) JOB_DONE when another process
 * stored the blob meanwhile, or JOB_BUSY while another process writes it. */
static int job_open(struct blob_job *j, struct nook_error **err)
{
  _cleanup_error_ struct nook_error *e = NULL;
  uint64_t off;
  int r = image_blob_writer_resume(j->store, j->blob->digest, &j->w, &off, &e);

  if (r == -EEXIST)
    {
      if (j->progress && j->progress->done)
        j->progress->done(j->progress->data, j->item);
      return JOB_DONE;
    }
  if (r == -EBUSY)
    return JOB_BUSY;
  return r < 0 ? error_pass(err, &e) : 0;
}

/* Starts (or restarts) the download: JOB_STARTED, JOB_DONE (also when the partial file held
 * the whole blob already) or JOB_BUSY. */
static int job_start(struct blob_job *j, struct nook_error **err)
{
  struct registry_client *c = j->client;
  _cleanup_free_ char *url = NULL;
  uint64_t off = 0;
  int r;

  if (!j->w && ((r = job_open(j, err)) < 0 || !j->w))
    return r;
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
      if ((r = job_open(j, err)) < 0 || !j->w)
        return r;
      off = 0;
    }
  j->resumed = j->resumed || off > 0;
  j->offset = off;
  j->received = 0;
  j->too_big = j->bad_range = false;
  if (!j->x.h && !(j->x.h = sym_curl_easy_init()))
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
      sym_curl_easy_setopt(j->x.h, CURLOPT_RANGE, range); /* copied by libcurl */
    }
  job_progress(j);
  if (sym_curl_multi_add_handle(c->multi, j->x.h) != CURLM_OK)
    return nook_error_setx(err, EIO, "cannot add a libcurl transfer");
  j->active = true;
  return JOB_STARTED;
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

struct blob_run
{
  struct registry_client *client;
  struct blob_job *jobs;
  size_t n, next; /* jobs[next..n) have not been started */
  size_t active;  /* transfers on the multi handle */
  size_t busy;    /* jobs waiting for another process */
  size_t parallel;
  struct timespec busy_tried;
};

/* Counts what job_start() (or job_done()) returned; < 0 names the blob. */
static int run_account(struct blob_run *run, struct blob_job *j, int r, struct nook_error **err)
{
  if (r < 0)
    return job_fail(j, r, err);
  if (r == JOB_STARTED)
    run->active++;
  if (r == JOB_BUSY)
    {
      j->busy = true;
      run->busy++;
    }
  return 0;
}

/* Reads the transfers that ended; returns < 0 on the first failure. */
static int run_reap(struct blob_run *run, struct nook_error **err)
{
  CURLMsg *msg;
  int left, r;

  while ((msg = sym_curl_multi_info_read(run->client->multi, &left)))
    {
      struct registry_xfer *x = NULL;
      struct blob_job *j;
      CURL *h = msg->easy_handle;
      CURLcode res = msg->data.result;

      if (msg->msg != CURLMSG_DONE)
        continue;
      sym_curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
      j = x->data;
      sym_curl_multi_remove_handle(run->client->multi, h);
      j->active = false;
      run->active--;
      r = job_done(j, res, err);
      if (r > 0)
        r = job_start(j, err);
      r = run_account(run, j, r, err);
      if (r < 0)
        return r;
    }
  return 0;
}

/* Starts jobs up to the parallel limit: those that waited for another process (at most
 * every BUSY_RETRY_MS), then new ones. */
static int run_fill(struct blob_run *run, const struct registry_blob *blobs, struct image_store *s,
                    const struct image_progress *progress, struct nook_error **err)
{
  struct timespec now;
  int r = 0;

  clock_gettime(CLOCK_MONOTONIC, &now);
  if (run->busy > 0
      && (now.tv_sec - run->busy_tried.tv_sec) * 1000
                 + (now.tv_nsec - run->busy_tried.tv_nsec) / 1000000
             >= BUSY_RETRY_MS)
    {
      run->busy_tried = now;
      for (size_t i = 0; r >= 0 && i < run->next && run->active < run->parallel; i++)
        if (run->jobs[i].busy)
          {
            run->jobs[i].busy = false;
            run->busy--;
            r = run_account(run, &run->jobs[i], job_start(&run->jobs[i], err), err);
          }
    }
  while (r >= 0 && run->active < run->parallel && run->next < run->n)
    {
      struct blob_job *j = &run->jobs[run->next];
      j->client = run->client;
      j->store = s;
      j->blob = &blobs[run->next++];
      j->progress = progress;
      snprintf(j->item, sizeof j->item, "%s", j->blob->digest + 7);
      r = run_account(run, j, job_start(j, err), err);
    }
  return r;
}

static void run_free(struct blob_run *run)
{
  for (size_t i = 0; i < run->n; i++)
    {
      struct blob_job *j = &run->jobs[i];
      if (j->active)
        sym_curl_multi_remove_handle(run->client->multi, j->x.h);
      registry_xfer_clear(&j->x);
      if (j->x.h)
        sym_curl_easy_cleanup(j->x.h);
      image_blob_writer_free(j->w); /* keeps the partial file */
      nook_error_free(j->write_err);
    }
  free(run->jobs);
}

int registry_get_blobs(struct registry_client *c, struct image_store *s,
                       const struct registry_blob *blobs, size_t n, int parallel,
                       const struct image_progress *progress, struct nook_error **err)
{
  struct blob_run run = {
    .client = c,
    .jobs = xcalloc(n ? n : 1, sizeof *run.jobs),
    .n = n,
    .parallel = parallel > 0 ? (size_t)parallel : PARALLEL_DEFAULT,
  };
  int r = 0;

  while (r >= 0 && (run.next < n || run.active > 0 || run.busy > 0))
    {
      CURLMcode mc = CURLM_OK;
      int running;

      r = run_fill(&run, blobs, s, progress, err);
      if (r < 0)
        break;
      if (run.active > 0)
        {
          mc = sym_curl_multi_perform(c->multi, &running);
          if (mc == CURLM_OK)
            r = run_reap(&run, err);
        }
      /* Waits for the network, or a while for another process's download. */
      if (mc == CURLM_OK && r >= 0 && (run.active > 0 || run.busy > 0))
        mc = sym_curl_multi_poll(c->multi, NULL, 0, run.active > 0 ? 1000 : BUSY_RETRY_MS, NULL);
      if (mc != CURLM_OK)
        r = nook_error_setx(err, EIO, "libcurl: %s", sym_curl_multi_strerror(mc));
    }
  run_free(&run);
  return r < 0 ? r : 0;
}
