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

static void check_status(const uint8_t *data, size_t size)
{
  struct nook_sup_status st = { 0 }, again = { 0 };
  _cleanup_error_ struct nook_error *err = NULL;
  int r;

  fuzz_write_file(dir_fd, "status.json", data, size);
  r = nook_sup_status_read(dir_fd, &st, &err);
  fuzz_check_error(r == -ENOENT ? 0 : r, err, NULL);
  if (r < 0)
    {
      fuzz_check(strstr(err->msg, "status.json") != NULL, "an error that names no file", err->msg);
      return;
    }
  r = nook_sup_status_write(copy_fd, &st, &err);
  fuzz_check(r == 0, "cannot write the status back", err ? err->msg : NULL);
  r = nook_sup_status_read(copy_fd, &again, &err);
  fuzz_check(r == 0, "cannot read the status written back", err ? err->msg : NULL);
  fuzz_check(st.state == again.state && st.pid == again.pid
                 && st.supervisor_pid == again.supervisor_pid
                 && st.supervisor_start == again.supervisor_start
                 && st.exit_code == again.exit_code && st.signal == again.signal
                 && st.oom_killed == again.oom_killed && st.stopped_by_user == again.stopped_by_user
                 && st.started_ns == again.started_ns && st.finished_ns == again.finished_ns
                 && st.restart_count == again.restart_count && streq(st.error, again.error),
             "the status changed in a round trip", st.error);
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
