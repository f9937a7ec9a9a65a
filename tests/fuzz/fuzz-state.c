/* Fuzz target for a container's state.json (runtime/state.c) and its supervisor's status.json
 * (runtime/supervisor-status.c): each input is written as DIR/state.json and read with
 * nook_state_read(), through the directory fd as the runtime does, and as DIR/status.json,
 * read with nook_sup_status_read() (which must survive the same round trip).
 * Whatever the file holds (it is nook's own, but a disk can be full or a file cut short), a read
 * fails with one printable line naming the container, or gives a state that survives a round
 * trip: written back with nook_state_write() and read again, every field is the same; the OCI
 * state JSON made from it (what hooks read on stdin) parses; its cgroupPath decodes or fails
 * cleanly (cgroup_path_decode). */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroups/cgroup-internal.h"
#include "common/json.h"
#include "common/util.h"
#include "runtime/state.h"
#include "runtime/supervisor.h"
#include "tests/fuzz/fuzz.h"

static int dir_fd = -1, copy_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  int base = fuzz_tmpdir(NULL);

  fuzz_check(mkdirat(base, "fuzz", 0700) == 0 && mkdirat(base, "copy", 0700) == 0,
             "cannot make the state directories", NULL);
  dir_fd = openat(base, "fuzz", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  copy_fd = openat(base, "copy", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  fuzz_check(dir_fd >= 0 && copy_fd >= 0, "cannot open the state directories", NULL);
  return 0;
}

static void check_same(const struct nook_state *a, const struct nook_state *b)
{
  fuzz_check(streq(a->id, b->id) && a->pid == b->pid && a->pid_start == b->pid_start
                 && streq(a->bundle, b->bundle) && streq(a->rootfs, b->rootfs)
                 && streq(a->created, b->created) && streq(a->owner, b->owner)
                 && a->created_done == b->created_done && a->own_pidns == b->own_pidns
                 && a->no_new_keyring == b->no_new_keyring
                 && streq(a->cgroup_path, b->cgroup_path) && a->n_annotations == b->n_annotations,
             "the state changed in a round trip", NULL);
  for (size_t i = 0; i < a->n_annotations; i++)
    fuzz_check(streq(a->annotations[i].key, b->annotations[i].key)
                   && streq(a->annotations[i].value, b->annotations[i].value),
               "an annotation changed in a round trip", a->annotations[i].key);
}

/* UTF-8 as nook's writers take it: no overlong forms, nothing past U+10FFFF. */
static bool utf8_strict(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p;)
    {
      size_t len = *p < 0x80 ? 1 : *p < 0xc2 ? 0 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : *p < 0xf5 ? 4 : 0;
      if (len == 0)
        return false;
      for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
          return false;
      p += len;
    }
  return true;
}

/* The error member of the input as it stands in the file ("" when it has none), or NULL when
 * the input does not parse.  The reader sees the file as a C string, up to its first NUL: so
 * does this.  (Parsing all of size bytes made an input with NULs after the JSON look as if it
 * had no error at all, and so an empty, trivially valid one.) */
static const char *input_error(const uint8_t *data, size_t size)
{
  static char error[4096];
  _cleanup_json_ yajl_val v = NULL;
  const char *e;

  error[0] = '\0';
  if (nook_json_parse_untrusted((const char *)data, strnlen((const char *)data, size), 1u << 20,
                                "status", &v, NULL) < 0)
    return NULL;
  if ((e = nook_json_get_str(v, "error")))
    snprintf(error, sizeof(error), "%s", e);
  return error;
}

/* Written back and read again, a status read from anywhere is in nook's own form (the writer
 * turns bytes that are not UTF-8 into '?', which yajl's reader lets through: overlong forms);
 * from there a write and a read change nothing. */
static void status_again(const struct nook_sup_status *st, struct nook_sup_status *ret)
{
  _cleanup_error_ struct nook_error *err = NULL;
  int r;

  r = nook_sup_status_write(copy_fd, st, &err);
  fuzz_check(r == 0, "cannot write the status back", err ? err->msg : NULL);
  r = nook_sup_status_read(copy_fd, ret, &err);
  fuzz_check(r == 0, "cannot read the status written back", err ? err->msg : NULL);
}

static void check_status(const uint8_t *data, size_t size)
{
  struct nook_sup_status st = { 0 }, once = { 0 }, twice = { 0 };
  _cleanup_error_ struct nook_error *err = NULL;
  const char *error;
  int r;

  fuzz_write_file(dir_fd, "status.json", data, size);
  r = nook_sup_status_read(dir_fd, &st, &err);
  fuzz_check_error(r == -ENOENT ? 0 : r, err, NULL);
  if (r < 0)
    {
      fuzz_check(strstr(err->msg, "status.json") != NULL, "an error that names no file", err->msg);
      return;
    }
  status_again(&st, &once);
  status_again(&once, &twice);
  fuzz_check(once.state == twice.state && once.pid == twice.pid
                 && once.supervisor_pid == twice.supervisor_pid
                 && once.supervisor_start == twice.supervisor_start
                 && once.exit_code == twice.exit_code && once.signal == twice.signal
                 && once.oom_killed == twice.oom_killed
                 && once.stopped_by_user == twice.stopped_by_user
                 && once.started_ns == twice.started_ns && once.finished_ns == twice.finished_ns
                 && once.restart_count == twice.restart_count && streq(once.error, twice.error),
             "the status changed in a round trip", once.error);
  fuzz_check(st.state == once.state && st.pid == once.pid && st.exit_code == once.exit_code
                 && st.restart_count == once.restart_count,
             "the status changed in its first round trip", NULL);
  /* an error in nook's own form is kept as it is (cut to fit where a character starts) */
  error = input_error(data, size);
  if (error && utf8_strict(error))
    fuzz_check(utf8_strict(st.error) && streq(st.error, once.error),
               "an error in UTF-8 changed in a round trip", st.error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  _cleanup_state_ struct nook_state *st = NULL, *again = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_free_ char *oci = NULL, *cgroup = NULL;
  _cleanup_json_ yajl_val tree = NULL;
  int r;

  if (dir_fd < 0)
    LLVMFuzzerInitialize(NULL, NULL);
  check_status(data, size);
  fuzz_write_file(dir_fd, "state.json", data, size);
  r = nook_state_read(dir_fd, "fuzz", &st, &err);
  fuzz_check_error(r, err, NULL);
  if (r < 0)
    {
      fuzz_check(strstr(err->msg, "container `fuzz`") != NULL, "an error that names no container",
                 err->msg);
      return 0;
    }
  r = nook_state_write(copy_fd, st, &err);
  fuzz_check(r == 0, "cannot write the state back", err ? err->msg : NULL);
  r = nook_state_read(copy_fd, "fuzz", &again, &err);
  fuzz_check(r == 0, "cannot read the state written back", err ? err->msg : NULL);
  check_same(st, again);
  oci = nook_state_oci_json(st, NOOK_STATUS_RUNNING, size % 2);
  r = nook_json_parse_untrusted(oci, strlen(oci), 1u << 30, "oci state", &tree, &err);
  fuzz_check(r == 0, "the OCI state JSON does not parse", err ? err->msg : NULL);
  if (*st->cgroup_path)
    {
      r = cgroup_path_decode(st->cgroup_path, size % 3 ? "memory" : "", &cgroup, &err);
      fuzz_check_error(r, err, "cgroup path");
    }
  return 0;
}
