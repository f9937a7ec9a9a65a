/* status.json (the supervisor's record), restart policies, and whether a supervisor lives.
 *
 * The supervisor writes status.json with snprintf into a stack buffer: it never builds a yajl
 * generator, so that its steady state allocates nothing.  Readers (nook ps, inspect, wait) parse
 * it with yajl. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "runtime/supervisor.h"

#define STATUS_FILE "status.json"
#define STATUS_MAX (64 * 1024)

static const char *const state_names[] = {
  [NOOK_SUP_STARTING] = "starting",     [NOOK_SUP_RUNNING] = "running",
  [NOOK_SUP_STOPPING] = "stopping",     [NOOK_SUP_EXITED] = "exited",
  [NOOK_SUP_RESTARTING] = "restarting", [NOOK_SUP_FAILED] = "failed",
};

const char *nook_sup_state_to_string(enum nook_sup_state s)
{
  return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
  size_t len = p[0] < 0xc2 ? 0 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;

  if (len == 0 || len > n)
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

/* s as the inside of a JSON string into buf (always terminated; cut when it does not fit).
 * Bytes that are not UTF-8 become '?', so that yajl's reader accepts what was written. */
static void json_escape(const char *s, char *buf, size_t size)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0, n = strlen(s);

  for (size_t i = 0; i < n && o + 7 < size;)
    {
      size_t l;
      if (p[i] == '"' || p[i] == '\\')
        {
          buf[o++] = '\\';
          buf[o++] = (char)p[i++];
        }
      else if (p[i] < 0x20 || p[i] == 0x7f)
        o += (size_t)snprintf(buf + o, size - o, "\\u%04x", p[i++]);
      else if (p[i] < 0x80)
        buf[o++] = (char)p[i++];
      else if ((l = utf8_len(p + i, n - i)) > 0)
        {
          memcpy(buf + o, p + i, l);
          o += l;
          i += l;
        }
      else
        {
          buf[o++] = '?';
          i++;
        }
    }
  buf[o] = '\0';
}

int nook_sup_status_write(int dirfd, const struct nook_sup_status *st, struct nook_error **err)
{
  /* the fields, then the error escaped in place (6 bytes a byte at worst), then the end */
  char buf[1024 + 6 * sizeof(st->error)];
  int n;

  n = snprintf(buf, sizeof(buf),
               "{\"state\":\"%s\",\"pid\":%d,\"supervisorPid\":%d,\"supervisorStart\":%" PRIu64
               ",\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"stoppedByUser\":%s"
               ",\"startedNs\":%" PRId64 ",\"finishedNs\":%" PRId64 ",\"restartCount\":%u"
               ",\"error\":\"",
               nook_sup_state_to_string(st->state), (int)st->pid, (int)st->supervisor_pid,
               st->supervisor_start, st->exit_code, st->signal, st->oom_killed ? "true" : "false",
               st->stopped_by_user ? "true" : "false", st->started_ns, st->finished_ns,
               st->restart_count);
  if (n < 0 || (size_t)n + 6 * strlen(st->error) + 4 > sizeof(buf))
    return nook_error_setx(err, EOVERFLOW, "%s: the record does not fit", STATUS_FILE);
  json_escape(st->error, buf + n, sizeof(buf) - (size_t)n - 3);
  n += (int)strlen(buf + n);
  memcpy(buf + n, "\"}\n", 3);
  return nook_write_file_atomic_at(dirfd, STATUS_FILE, buf, (size_t)n + 3, 0600, err);
}

static bool get_int(yajl_val v, const char *key, int64_t min, int64_t max, int64_t *ret)
{
  int64_t x;

  if (!nook_json_get_i64(v, key, &x) || x < min || x > max)
    return false;
  *ret = x;
  return true;
}

int nook_sup_status_read(int dirfd, struct nook_sup_status *ret, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL;
  _cleanup_json_ yajl_val v = NULL;
  struct nook_error *e = NULL;
  struct nook_sup_status st = { 0 };
  const char *state, *error;
  int64_t pid, spid, code, sig, count;
  size_t i;
  int r;

  r = nook_read_file_at(dirfd, STATUS_FILE, STATUS_MAX, &text, NULL, &e);
  if (r == -ENOENT)
    {
      nook_error_free(e);
      return -ENOENT;
    }
  if (r < 0)
    {
      *err = e;
      return r;
    }
  if (nook_json_parse(text, STATUS_FILE, &v, err) < 0)
    return -EINVAL;
  state = nook_json_get_str(v, "state");
  for (i = 0; state && i < ARRAY_SIZE(state_names); i++)
    if (streq(state, state_names[i]))
      break;
  if (state == NULL || i == ARRAY_SIZE(state_names))
    return nook_error_setx(err, EINVAL, "%s: state: `%s` is not a known state", STATUS_FILE,
                           state ? state : "");
  st.state = (enum nook_sup_state)i;
  if (!get_int(v, "pid", 0, INT32_MAX, &pid) || !get_int(v, "supervisorPid", 0, INT32_MAX, &spid)
      || !get_int(v, "exitCode", 0, 255, &code) || !get_int(v, "signal", 0, 127, &sig)
      || !get_int(v, "restartCount", 0, UINT32_MAX, &count)
      || !nook_json_get_u64(v, "supervisorStart", &st.supervisor_start)
      || !nook_json_get_i64(v, "startedNs", &st.started_ns)
      || !nook_json_get_i64(v, "finishedNs", &st.finished_ns)
      || !nook_json_get_bool(v, "oomKilled", &st.oom_killed)
      || !nook_json_get_bool(v, "stoppedByUser", &st.stopped_by_user))
    return nook_error_setx(err, EINVAL, "%s: a field is missing or out of range", STATUS_FILE);
  st.pid = (pid_t)pid;
  st.supervisor_pid = (pid_t)spid;
  st.exit_code = (int)code;
  st.signal = (int)sig;
  st.restart_count = (unsigned)count;
  if ((error = nook_json_get_str(v, "error")))
    {
      /* cut where a character starts: a cut one would be written back as '?' */
      size_t cut = strlen(error);
      if (cut >= sizeof(st.error))
        for (cut = sizeof(st.error) - 1; cut > 0 && ((unsigned char)error[cut] & 0xc0) == 0x80;)
          cut--;
      memcpy(st.error, error, cut);
      st.error[cut] = '\0';
    }
  *ret = st;
  return 0;
}

bool nook_sup_status_supervisor_alive(const struct nook_sup_status *st)
{
  uint64_t start;

  if (st->supervisor_pid <= 0 || nook_proc_start_time(st->supervisor_pid, &start) < 0)
    return false;
  return start == st->supervisor_start;
}

int nook_restart_parse(const char *s, struct nook_restart *ret, struct nook_error **err)
{
  static const char prefix[] = "on-failure:";
  uint64_t max = 0;

  if (streq(s, "no"))
    *ret = (struct nook_restart){ NOOK_RESTART_NO, 0 };
  else if (streq(s, "always") || streq(s, "unless-stopped"))
    *ret = (struct nook_restart){ NOOK_RESTART_ALWAYS, 0 };
  else if (streq(s, "on-failure"))
    *ret = (struct nook_restart){ NOOK_RESTART_ON_FAILURE, 0 };
  else if (s && nook_has_prefix(s, prefix) && nook_parse_u64(s + sizeof(prefix) - 1, &max) == 0
           && max <= UINT32_MAX)
    *ret = (struct nook_restart){ NOOK_RESTART_ON_FAILURE, (unsigned)max };
  else
    return nook_error_setx(err, EINVAL, "--restart `%s`: use no, on-failure[:N] or always",
                           s ? s : "");
  return 0;
}

const char *nook_restart_format(const struct nook_restart *r, char *buf, size_t size)
{
  switch (r->policy)
    {
    case NOOK_RESTART_ALWAYS: snprintf(buf, size, "always"); break;
    case NOOK_RESTART_ON_FAILURE:
      if (r->max)
        snprintf(buf, size, "on-failure:%u", r->max);
      else
        snprintf(buf, size, "on-failure");
      break;
    case NOOK_RESTART_NO:
    default: snprintf(buf, size, "no"); break;
    }
  return buf;
}
