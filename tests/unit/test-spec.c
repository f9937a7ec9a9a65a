/* Unit tests for runtime/spec.c and runtime/spec-default.c: the config.json grammar, its error
 * messages (exact, since the CLI and the integration tests show them), hostile input and the
 * runc-compatible default config. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "common/util.h"
#include "runtime/spec.h"
#include "tests/unit/tap.h"

/* The JSON below is written with ' for " to stay readable. */
static char *sq(const char *s)
{
  char *r = xstrdup(s);
  for (char *c = r; *c; c++)
    if (*c == '\'')
      *c = '"';
  return r;
}

static struct nook_spec *parse_sq(const char *json, struct nook_error **err)
{
  _cleanup_free_ char *j = sq(json);
  struct nook_spec *spec = NULL;

  if (nook_spec_parse(j, strlen(j), &spec, err) < 0)
    return NULL;
  return spec;
}

/* One assertion: the parse fails with exactly this message and errnum EINVAL. */
static void expect_error(const char *json, const char *want)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_spec_ struct nook_spec *spec = parse_sq(json, &err);
  const char *got = spec ? "(parsed)" : err ? err->msg : "(no error set)";

  if (err && err->errnum != EINVAL)
    got = "(errnum is not EINVAL)";
  tap_is_str(got, want, want);
}

/* One assertion: the parse succeeds and validation fails with exactly this message. */
static void expect_invalid(const char *json, const char *want)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_spec_ struct nook_spec *spec = parse_sq(json, &err);
  const char *got = err ? err->msg : "(valid)";

  if (spec && nook_spec_validate(spec, &err) < 0)
    got = err->msg;
  tap_is_str(got, want, want);
}

static void expect_valid(const char *json, const char *name)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_spec_ struct nook_spec *spec = parse_sq(json, &err);

  if (spec)
    nook_spec_validate(spec, &err);
  tap_is_str(err ? err->msg : NULL, NULL, name);
}

/* Every field of the runtime-spec's Linux part, with unknown fields (x-*) at every level. */
static const char full_config[] =
    "{'ociVersion': '1.2.0', 'x-top': {'deep': [1, {'a': null}]},"
    " 'process': {'x-p': 1, 'terminal': true, 'consoleSize': {'height': 24, 'width': 80, 'x': 0},"
    "  'user': {'uid': 1000, 'gid': 1001, 'umask': 18, 'additionalGids': [5, 6, 4294967295],"
    "           'username': 'alice', 'x-u': []},"
    "  'args': ['sh', '-c', 'echo hi'], 'commandLine': 'sh -c x',"
    "  'env': ['PATH=/bin', 'TERM=xterm'], 'cwd': '/home',"
    "  'capabilities': {'bounding': ['CAP_KILL'], 'effective': [], 'x-c': {},"
    "                   'permitted': ['CAP_KILL', 'CAP_CHOWN'], 'ambient': ['CAP_KILL']},"
    "  'rlimits': [{'type': 'RLIMIT_NOFILE', 'hard': 1024, 'soft': 512, 'x-r': 'y'},"
    "              {'type': 'RLIMIT_CORE', 'hard': 18446744073709551615, 'soft': 0}],"
    "  'noNewPrivileges': true, 'apparmorProfile': 'nook-default', 'oomScoreAdj': -500,"
    "  'scheduler': {'policy': 'SCHED_FIFO', 'nice': -5, 'priority': 10,"
    "                'flags': ['SCHED_FLAG_RESET_ON_FORK'], 'x-s': 1},"
    "  'selinuxLabel': 'system_u:system_r:container_t:s0',"
    "  'ioPriority': {'class': 'IOPRIO_CLASS_BE', 'priority': 4},"
    "  'execCPUAffinity': {'initial': '0-3,7', 'final': '1'}},"
    " 'root': {'path': 'rootfs', 'readonly': true, 'x-r': false},"
    " 'hostname': 'box', 'domainname': 'example.org',"
    " 'mounts': [{'destination': '/proc', 'type': 'proc', 'source': 'proc', 'x-m': 1},"
    "            {'destination': '/data', 'type': 'bind', 'source': '/srv/data',"
    "             'options': ['rbind', 'ro'],"
    "             'uidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
    "             'gidMappings': [{'containerID': 0, 'hostID': 200000, 'size': 1000}]}],"
    " 'hooks': {'x-h': [], 'prestart': [{'path': '/bin/pre', 'args': ['pre', 'x'],"
    "                                   'env': ['A=1'], 'timeout': 5, 'x': 1}],"
    "  'createRuntime': [{'path': '/bin/cr'}],"
    "  'createContainer': [{'path': '/bin/cc'}, {'path': '/bin/cc2'}],"
    "  'startContainer': [{'path': '/bin/sc'}], 'poststart': [{'path': '/bin/ps'}],"
    "  'poststop': [{'path': '/bin/pst', 'timeout': 30}]},"
    " 'annotations': {'org.example.key': 'value', 'empty': ''},"
    " 'linux': {'x-l': 1,"
    "  'namespaces': [{'type': 'pid'}, {'type': 'network', 'path': '/var/run/netns/x'},"
    "                 {'type': 'mount', 'x-n': 1}, {'type': 'ipc'}, {'type': 'uts'},"
    "                 {'type': 'user'}, {'type': 'cgroup'}, {'type': 'time'}],"
    "  'uidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
    "  'gidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
    "  'timeOffsets': {'monotonic': {'secs': -3600, 'nanosecs': 500},"
    "                  'boottime': {'secs': 86400}, 'realtime': {'secs': 1}},"
    "  'devices': [{'type': 'c', 'path': '/dev/fuse', 'major': 10, 'minor': 229,"
    "               'fileMode': 438, 'uid': 0, 'gid': 0, 'x-d': 1},"
    "              {'type': 'p', 'path': '/dev/fifo'}],"
    "  'cgroupsPath': '/nook/box',"
    "  'resources': {'x-res': 1,"
    "   'devices': [{'allow': false, 'access': 'rwm'},"
    "               {'allow': true, 'type': 'c', 'major': 10, 'minor': 229, 'access': 'rw'}],"
    "   'memory': {'limit': 536870912, 'reservation': 268435456, 'swap': -1, 'kernel': -1,"
    "              'kernelTCP': 0, 'swappiness': 60, 'disableOOMKiller': false,"
    "              'useHierarchy': true, 'checkBeforeUpdate': true, 'x-mem': 1},"
    "   'cpu': {'shares': 1024, 'quota': 100000, 'burst': 1000, 'period': 100000,"
    "           'realtimeRuntime': 950000, 'realtimePeriod': 1000000, 'cpus': '0-3',"
    "           'mems': '0', 'idle': 1},"
    "   'pids': {'limit': 32771},"
    "   'blockIO': {'weight': 500, 'leafWeight': 300,"
    "               'weightDevice': [{'major': 8, 'minor': 0, 'weight': 600}],"
    "               'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1048576}],"
    "               'throttleWriteBpsDevice': [{'major': 8, 'minor': 0, 'rate': 2}],"
    "               'throttleReadIOPSDevice': [{'major': 8, 'minor': 0, 'rate': 3}],"
    "               'throttleWriteIOPSDevice': [{'major': 8, 'minor': 16, 'rate': 300}]},"
    "   'hugepageLimits': [{'pageSize': '2MB', 'limit': 209715200}],"
    "   'network': {'classID': 1048577, 'priorities': [{'name': 'eth0', 'priority': 500}]},"
    "   'rdma': {'mlx5_1': {'hcaHandles': 3, 'hcaObjects': 10000}, 'rxe3': {'hcaObjects': 7}},"
    "   'unified': {'io.max': '259:0 rbps=2097152', 'memory.high': '1G'}},"
    "  'intelRdt': {'closID': 'guaranteed', 'l3CacheSchema': 'L3:0=7f0',"
    "               'memBwSchema': 'MB:0=20', 'enableCMT': true, 'enableMBM': false},"
    "  'sysctl': {'net.ipv4.ip_forward': '1', 'kernel.shmmax': '100000'},"
    "  'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,"
    "              'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],"
    "              'flags': ['SECCOMP_FILTER_FLAG_LOG'], 'listenerPath': '/run/agent.sock',"
    "              'listenerMetadata': 'meta', 'x-sc': 1,"
    "              'syscalls': [{'names': ['read', 'write'], 'action': 'SCMP_ACT_ALLOW'},"
    "                           {'names': ['personality'], 'action': 'SCMP_ACT_ERRNO',"
    "                            'errnoRet': 38, 'x-sy': 1,"
    "                            'args': [{'index': 0, 'value': 18446744073709551615,"
    "                                      'valueTwo': 0, 'op': 'SCMP_CMP_MASKED_EQ',"
    "                                      'x-a': 1}]}]},"
    "  'rootfsPropagation': 'rslave', 'maskedPaths': ['/proc/kcore'],"
    "  'readonlyPaths': ['/proc/sys'], 'mountLabel': 'system_u:object_r:container_file_t:s0',"
    "  'personality': {'domain': 'LINUX32', 'flags': []}}}";

static void test_full_process(const struct nook_spec *s)
{
  const struct nook_process *p = s->process;

  tap_is_str(s->oci_version, "1.2.0", "ociVersion");
  tap_ok(p->terminal && p->console_size.set && p->console_size.height == 24
             && p->console_size.width == 80,
         "process.terminal and consoleSize");
  tap_ok(p->user.uid == 1000 && p->user.gid == 1001 && p->user.umask.set
             && p->user.umask.value == 18,
         "process.user uid, gid, umask");
  tap_ok(p->user.n_additional_gids == 3 && p->user.additional_gids[0] == 5
             && p->user.additional_gids[2] == (gid_t)4294967295u,
         "process.user.additionalGids up to UINT32_MAX");
  tap_is_str(p->user.username, "alice", "process.user.username");
  tap_ok(nook_strv_length(p->args) == 3 && streq(p->args[2], "echo hi"), "process.args");
  tap_is_str(p->command_line, "sh -c x", "process.commandLine");
  tap_ok(nook_strv_length(p->env) == 2 && streq(p->env[1], "TERM=xterm"), "process.env");
  tap_is_str(p->cwd, "/home", "process.cwd");
  tap_ok(p->capabilities && nook_strv_length(p->capabilities->permitted) == 2
             && p->capabilities->effective && p->capabilities->effective[0] == NULL
             && p->capabilities->inheritable == NULL,
         "capabilities: [] is empty, absent is NULL");
  tap_ok(p->n_rlimits == 2 && p->rlimits[0].resource == RLIMIT_NOFILE && p->rlimits[0].soft == 512
             && p->rlimits[1].resource == RLIMIT_CORE && p->rlimits[1].hard == UINT64_MAX,
         "process.rlimits mapped to RLIMIT_* with uint64 limits");
  tap_ok(p->no_new_privileges && streq(p->apparmor_profile, "nook-default") && p->oom_score_adj.set
             && p->oom_score_adj.value == -500,
         "noNewPrivileges, apparmorProfile, oomScoreAdj");
  tap_ok(p->scheduler.set && p->scheduler.policy_value == SCHED_FIFO
             && p->scheduler.nice.value == -5 && p->scheduler.priority.value == 10
             && !p->scheduler.runtime.set
             && nook_strv_contains(p->scheduler.flags, "SCHED_FLAG_RESET_ON_FORK"),
         "process.scheduler");
  tap_ok(p->io_priority.set && p->io_priority.class == 2 && p->io_priority.priority == 4,
         "process.ioPriority (IOPRIO_CLASS_BE is 2)");
  tap_ok(streq(p->exec_cpu_affinity.initial, "0-3,7") && streq(p->exec_cpu_affinity.final, "1")
             && streq(p->selinux_label, "system_u:system_r:container_t:s0"),
         "execCPUAffinity and selinuxLabel");
}

static void test_full_top(const struct nook_spec *s)
{
  const struct nook_hooks *h = &s->hooks;

  tap_ok(s->root && streq(s->root->path, "rootfs") && s->root->readonly, "root");
  tap_ok(streq(s->hostname, "box") && streq(s->domainname, "example.org"), "hostname, domainname");
  tap_ok(s->n_mounts == 2 && streq(s->mounts[0].destination, "/proc")
             && s->mounts[0].options == NULL && nook_strv_contains(s->mounts[1].options, "rbind"),
         "mounts");
  tap_ok(s->mounts[1].n_uid_mappings == 1 && s->mounts[1].uid_mappings[0].host_id == 100000
             && s->mounts[1].n_gid_mappings == 1 && s->mounts[1].gid_mappings[0].size == 1000,
         "mounts[].uidMappings and gidMappings");
  tap_ok(h->n_prestart == 1 && h->prestart[0].timeout.set && h->prestart[0].timeout.value == 5
             && nook_strv_length(h->prestart[0].args) == 2 && streq(h->prestart[0].env[0], "A=1"),
         "hooks.prestart");
  tap_ok(h->n_create_runtime == 1 && h->n_create_container == 2 && h->n_start_container == 1
             && h->n_poststart == 1 && h->n_poststop == 1
             && streq(h->create_container[1].path, "/bin/cc2") && !h->poststart[0].timeout.set,
         "all six hook kinds");
  tap_ok(s->n_annotations == 2 && streq(s->annotations[0].key, "org.example.key")
             && streq(s->annotations[1].value, ""),
         "annotations");
}

static void test_full_linux(const struct nook_spec *s)
{
  const struct nook_linux *l = s->linux;

  tap_ok(l->n_namespaces == 8 && l->namespaces[1].type == NOOK_NS_NETWORK
             && streq(l->namespaces[1].path, "/var/run/netns/x")
             && l->namespaces[7].type == NOOK_NS_TIME && l->namespaces[0].path == NULL,
         "linux.namespaces");
  tap_ok(l->n_uid_mappings == 1 && l->uid_mappings[0].size == 65536 && l->n_gid_mappings == 1,
         "linux.uidMappings and gidMappings");
  tap_ok(l->time_monotonic.set && l->time_monotonic.secs == -3600
             && l->time_monotonic.nanosecs == 500 && l->time_boottime.set
             && l->time_boottime.secs == 86400,
         "linux.timeOffsets");
  tap_ok(l->n_devices == 2 && l->devices[0].type == 'c' && l->devices[0].major == 10
             && l->devices[0].file_mode.value == 438 && l->devices[1].type == 'p'
             && !l->devices[1].uid.set,
         "linux.devices");
  tap_ok(streq(l->cgroups_path, "/nook/box") && streq(l->rootfs_propagation, "rslave")
             && streq(l->mount_label, "system_u:object_r:container_file_t:s0"),
         "cgroupsPath, rootfsPropagation, mountLabel");
  tap_ok(l->intel_rdt.set && streq(l->intel_rdt.clos_id, "guaranteed")
             && l->intel_rdt.enable_cmt.value && l->intel_rdt.enable_mbm.set
             && !l->intel_rdt.enable_mbm.value,
         "linux.intelRdt");
  tap_ok(l->n_sysctl == 2 && streq(l->sysctl[0].key, "net.ipv4.ip_forward"), "linux.sysctl");
  tap_ok(nook_strv_contains(l->masked_paths, "/proc/kcore")
             && nook_strv_contains(l->readonly_paths, "/proc/sys"),
         "maskedPaths, readonlyPaths");
  tap_ok(l->personality.set && streq(l->personality.domain, "LINUX32") && l->personality.flags
             && l->personality.flags[0] == NULL,
         "linux.personality");
}

static void test_full_resources(const struct nook_resources *r)
{
  tap_ok(r->n_devices == 2 && !r->devices[0].allow && r->devices[0].type == 'a'
             && r->devices[0].major == -1 && r->devices[0].access && r->devices[1].type == 'c'
             && r->devices[1].minor == 229,
         "resources.devices with wildcard defaults");
  tap_ok(r->memory.limit.value == 536870912 && r->memory.swap.value == -1
             && r->memory.swappiness.value == 60 && r->memory.disable_oom_killer.set
             && !r->memory.disable_oom_killer.value && r->memory.check_before_update.value,
         "resources.memory");
  tap_ok(r->cpu.shares.value == 1024 && r->cpu.quota.value == 100000 && r->cpu.burst.value == 1000
             && streq(r->cpu.cpus, "0-3") && r->cpu.idle.set && r->cpu.idle.value == 1,
         "resources.cpu");
  tap_ok(r->pids.limit.set && r->pids.limit.value == 32771, "resources.pids");
  tap_ok(r->block_io.weight.value == 500 && r->block_io.n_weight_device == 1
             && r->block_io.weight_device[0].weight.value == 600
             && !r->block_io.weight_device[0].leaf_weight.set
             && r->block_io.throttle_read_bps[0].rate == 1048576
             && r->block_io.n_throttle_write_iops == 1
             && r->block_io.throttle_write_iops[0].minor == 16,
         "resources.blockIO");
  tap_ok(r->n_hugepage_limits == 1 && streq(r->hugepage_limits[0].page_size, "2MB"),
         "resources.hugepageLimits");
  tap_ok(r->network.class_id.value == 1048577 && r->network.n_priorities == 1
             && streq(r->network.priorities[0].name, "eth0"),
         "resources.network");
  tap_ok(r->n_rdma == 2 && streq(r->rdma[0].device, "mlx5_1") && r->rdma[0].hca_handles.value == 3
             && !r->rdma[1].hca_handles.set && r->rdma[1].hca_objects.value == 7,
         "resources.rdma");
  tap_ok(r->n_unified == 2 && streq(r->unified[1].key, "memory.high"), "resources.unified");
}

static void test_full_seccomp(const struct nook_seccomp *sc)
{
  tap_ok(streq(sc->default_action, "SCMP_ACT_ERRNO") && sc->default_errno_ret.value == 1
             && nook_strv_length(sc->architectures) == 2
             && streq(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG")
             && streq(sc->listener_path, "/run/agent.sock") && streq(sc->listener_metadata, "meta"),
         "linux.seccomp");
  tap_ok(sc->n_syscalls == 2 && nook_strv_length(sc->syscalls[0].names) == 2
             && sc->syscalls[1].errno_ret.value == 38 && sc->syscalls[1].n_args == 1,
         "linux.seccomp.syscalls");
  tap_ok(sc->syscalls[1].args[0].value == UINT64_MAX && sc->syscalls[1].args[0].value_two.set
             && streq(sc->syscalls[1].args[0].op, "SCMP_CMP_MASKED_EQ"),
         "seccomp arg value 18446744073709551615 is exact");
}

static void test_full(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_spec_ struct nook_spec *s = parse_sq(full_config, &err);

  tap_ok(s != NULL, "full config parses, unknown fields ignored at every level");
  if (s == NULL)
    {
      printf("# %s\n", err->msg);
      return;
    }
  test_full_process(s);
  test_full_top(s);
  test_full_linux(s);
  test_full_resources(s->linux->resources);
  test_full_seccomp(s->linux->seccomp);
  tap_ok(nook_spec_validate(s, &err) == 0, "full config validates");
}

static void test_defaults(void)
{
  _cleanup_free_ char *def = nook_spec_default_json(false, 0, 0);
  _cleanup_free_ char *rootless = nook_spec_default_json(true, 1000, 1001);
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_spec_ struct nook_spec *s = NULL;
  _cleanup_spec_ struct nook_spec *r = NULL;

  tap_ok(def && nook_spec_parse(def, strlen(def), &s, &err) == 0
             && nook_spec_validate(s, &err) == 0,
         "default config parses and validates");
  tap_ok(rootless && nook_spec_parse(rootless, strlen(rootless), &r, &err) == 0
             && nook_spec_validate(r, &err) == 0,
         "rootless default config parses and validates");
  if (s == NULL || r == NULL)
    return;
  tap_ok(s->process->terminal && nook_strv_contains(s->process->capabilities->ambient, "CAP_KILL")
             && s->process->rlimits[0].resource == RLIMIT_NOFILE && s->root->readonly
             && streq(s->hostname, "nook") && s->n_mounts == 7 && s->linux->n_namespaces == 5,
         "default config content");
  tap_ok(nook_spec_namespace(s, NOOK_NS_NETWORK) && !nook_spec_namespace(r, NOOK_NS_NETWORK)
             && nook_spec_namespace(r, NOOK_NS_USER) && r->linux->uid_mappings[0].host_id == 1000
             && r->linux->gid_mappings[0].host_id == 1001 && r->linux->resources == NULL,
         "rootless: user namespace mapping the caller, no network namespace");
  tap_ok(streq(r->mounts[5].type, "none") && nook_strv_contains(r->mounts[5].options, "rbind")
             && !nook_strv_contains(r->mounts[2].options, "gid=5"),
         "rootless: /sys bind-mounted, devpts without gid=5");
  tap_is_str(def + strlen(def) - 2, "}\n", "default config ends with a newline");
}

static void test_syntax(void)
{
  _cleanup_error_ struct nook_error *e1 = NULL;
  _cleanup_error_ struct nook_error *e2 = NULL;
  _cleanup_error_ struct nook_error *e3 = NULL;
  struct nook_spec *s = NULL;
  static const char raw_nul[] = "{\"ociVersion\": \"1\0\"}";

  tap_ok(parse_sq("{'ociVersion': }", &e1) == NULL && e1
             && nook_has_prefix(e1->msg, "config.json: invalid JSON: ") && !strchr(e1->msg, '\n'),
         "invalid JSON: one line");
  printf("# %s\n", e1 ? e1->msg : "");
  expect_error(
      "{\n 'ociVersion': '1',\n x}",
      "config.json: invalid JSON: lexical error: invalid char in json text (line 3, column 2)");
  expect_error("", "config.json: invalid JSON: parse error: premature EOF (line 1, column 1)");
  expect_error("{'ociVersion': '1'} x",
               "config.json: invalid JSON: parse error: trailing garbage (line 1, column 21)");
  tap_ok(parse_sq("{/* c */ 'ociVersion': '1'}", &e2) == NULL && e2
             && nook_has_prefix(e2->msg, "config.json: invalid JSON: "),
         "comments are not JSON");
  tap_ok(nook_spec_parse(raw_nul, sizeof(raw_nul) - 1, &s, &e3) < 0 && s == NULL
             && nook_has_prefix(e3->msg, "config.json: invalid JSON: "),
         "a raw NUL byte is invalid JSON");
  expect_error("[]", "config.json: expected an object");
  expect_error("{}", "config.json: ociVersion: required field missing");
  expect_error("{'ociVersion': null}", "config.json: ociVersion: required field missing");
  expect_error("{'ociVersion': 1}", "config.json: ociVersion: expected a string");
}

#define W(x) "{'ociVersion': '1.2.0', " x "}"

static void test_types(void)
{
  expect_error(W("'process': 1"), "config.json: process: expected an object");
  expect_error(W("'process': {'cwd': '/', 'args': 'sh'}"),
               "config.json: process.args: expected an array of strings");
  expect_error(W("'process': {'cwd': '/', 'args': ['sh', 1]}"),
               "config.json: process.args[1]: expected a string");
  expect_error(W("'process': {'cwd': '/', 'terminal': 'yes'}"),
               "config.json: process.terminal: expected a boolean");
  expect_error(W("'process': {'cwd': '/', 'user': {'uid': '0', 'gid': 0}}"),
               "config.json: process.user.uid: expected a non-negative integer");
  expect_error(W("'process': {'cwd': '/', 'user': {'uid': 0, 'gid': 0, 'additionalGids': 5}}"),
               "config.json: process.user.additionalGids: expected an array of integers");
  expect_error(W("'mounts': {}"), "config.json: mounts: expected an array");
  expect_error(W("'mounts': [{'destination': '/a'}, 'x']"),
               "config.json: mounts[1]: expected an object");
  expect_error(W("'mounts': [{'destination': '/a'}, {'destination': '/b', 'options': [7]}]"),
               "config.json: mounts[1].options[0]: expected a string");
  expect_error(W("'linux': {'namespaces': [{'type': 5}]}"),
               "config.json: linux.namespaces[0].type: expected a string");
  expect_error(W("'linux': {'resources': {'memory': {'limit': '1G'}}}"),
               "config.json: linux.resources.memory.limit: expected an integer");
  expect_error(W("'hooks': {'prestart': [{'path': 1}]}"),
               "config.json: hooks.prestart[0].path: expected a string");
  expect_error(W("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW',"
                 " 'syscalls': [{'names': ['read'], 'action': 1}]}}"),
               "config.json: linux.seccomp.syscalls[0].action: expected a string");
  expect_error(W("'annotations': {'a.b': 1}"),
               "config.json: annotations[\"a.b\"]: expected a string");
  expect_error(W("'linux': {'sysctl': []}"), "config.json: linux.sysctl: expected an object");
  expect_error(W("'linux': {'resources': {'rdma': {'mlx': 3}}}"),
               "config.json: linux.resources.rdma[\"mlx\"]: expected an object");
  expect_error(W("'linux': {'resources': {'memory': {'disableOOMKiller': 0}}}"),
               "config.json: linux.resources.memory.disableOOMKiller: expected a boolean");
}

static void test_numbers(void)
{
  expect_error(W("'process': {'cwd': '/', 'user': {'uid': -1, 'gid': 0}}"),
               "config.json: process.user.uid: expected a non-negative integer, got `-1`");
  expect_error(W("'process': {'cwd': '/', 'user': {'uid': 4294967296, 'gid': 0}}"),
               "config.json: process.user.uid: value `4294967296` out of range [0, 4294967295]");
  expect_error(W("'process': {'cwd': '/', 'user': {'uid': 0, 'gid': 1.5}}"),
               "config.json: process.user.gid: expected an integer, got `1.5`");
  expect_error(W("'process': {'cwd': '/', 'user': {'uid': 0, 'gid': 1e3}}"),
               "config.json: process.user.gid: expected an integer, got `1e3`");
  expect_error(
      W("'process': {'cwd': '/', 'user': {'uid': 0, 'gid': 0, 'additionalGids': [1, -5]}}"),
      "config.json: process.user.additionalGids[1]: expected a non-negative integer, got `-5`");
  expect_error(W("'process': {'cwd': '/', 'oomScoreAdj': 2147483648}"),
               "config.json: process.oomScoreAdj: value `2147483648` out of range [-2147483648, "
               "2147483647]");
  expect_error(
      W("'linux': {'resources': {'memory': {'limit': 9223372036854775808}}}"),
      "config.json: linux.resources.memory.limit: value `9223372036854775808` out of range "
      "[-9223372036854775808, 9223372036854775807]");
  expect_error(
      W("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['a'],"
        " 'action': 'SCMP_ACT_ALLOW', 'args': [{'index': 0, 'value': 18446744073709551616,"
        " 'op': 'SCMP_CMP_EQ'}]}]}}"),
      "config.json: linux.seccomp.syscalls[0].args[0].value: value `18446744073709551616` "
      "out of range [0, 18446744073709551615]");
  expect_error(W("'hooks': {'poststop': [{'path': '/x', 'timeout': 0}]}"),
               "config.json: hooks.poststop[0].timeout: value `0` out of range [1, 2147483647]");
  expect_error(W("'linux': {'timeOffsets': {'monotonic': {'nanosecs': 1000000000}}}"),
               "config.json: linux.timeOffsets.monotonic.nanosecs: value `1000000000` out of range "
               "[0, 999999999]");
  expect_error(
      W("'linux': {'resources': {'blockIO': {'weight': 65536}}}"),
      "config.json: linux.resources.blockIO.weight: value `65536` out of range [0, 65535]");
}

static void test_names(void)
{
  expect_error(W("'linux': {'namespaces': [{'type': 'pid'}, {'type': 'uts'}, {'type': 'foo'}]}"),
               "config.json: linux.namespaces[2].type: unknown namespace type `foo`");
  expect_error(W("'linux': {'namespaces': [{'type': 'a`b\\nc'}]}"),
               "config.json: linux.namespaces[0].type: unknown namespace type `a\\x60b\\x0ac`");
  expect_error(
      W("'process': {'cwd': '/', 'rlimits': [{'type': 'RLIMIT_FOO', 'hard': 1, 'soft': 1}]}"),
      "config.json: process.rlimits[0].type: unknown rlimit `RLIMIT_FOO`");
  expect_error(
      W("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW',"
        " 'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_FOO'}]}}"),
      "config.json: linux.seccomp.syscalls[0].action: unknown seccomp action `SCMP_ACT_FOO`");
  expect_error(
      W("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['a'],"
        " 'action': 'SCMP_ACT_ALLOW', 'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_XX'}]}]}}"),
      "config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator `SCMP_CMP_XX`");
  expect_error(
      W("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW',"
        " 'architectures': ['SCMP_ARCH_X86', 'SCMP_ARCH_Z80']}}"),
      "config.json: linux.seccomp.architectures[1]: unknown seccomp architecture `SCMP_ARCH_Z80`");
  expect_error(W("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW',"
                 " 'syscalls': [{'names': [], 'action': 'SCMP_ACT_ALLOW'}]}}"),
               "config.json: linux.seccomp.syscalls[0].names: must not be empty");
  expect_error(W("'linux': {'devices': [{'type': 'x', 'path': '/dev/x'}]}"),
               "config.json: linux.devices[0].type: unknown device type `x`");
  expect_error(W("'linux': {'resources': {'devices': [{'allow': true, 'access': 'rwx'}]}}"),
               "config.json: linux.resources.devices[0].access: invalid access `rwx`, expected a "
               "combination of r, w and m");
  expect_error(W("'linux': {'rootfsPropagation': 'weird'}"),
               "config.json: linux.rootfsPropagation: unknown rootfs propagation `weird`");
  expect_error(
      W("'process': {'cwd': '/', 'ioPriority': {'class': 'IOPRIO_CLASS_X'}}"),
      "config.json: process.ioPriority.class: unknown I/O priority class `IOPRIO_CLASS_X`");
  expect_error(W("'process': {'cwd': '/', 'scheduler': {'policy': 'SCHED_X'}}"),
               "config.json: process.scheduler.policy: unknown scheduler policy `SCHED_X`");
  expect_error(
      W("'linux': {'resources': {'rdma': {'mlx': {}}}}"),
      "config.json: linux.resources.rdma[\"mlx\"]: one of `hcaHandles` and `hcaObjects` is "
      "required");
  expect_error(W("'linux': {'namespaces': [{'type': 'pid'}, {'type': 'network'},"
                 " {'type': 'mount'}, {'type': 'pid'}]}"),
               "config.json: linux.namespaces[3]: duplicate namespace `pid`");
  expect_error(
      W("'process': {'cwd': '/', 'rlimits': [{'type': 'RLIMIT_CORE', 'hard': 1, 'soft': 1},"
        " {'type': 'RLIMIT_CORE', 'hard': 2, 'soft': 2}]}"),
      "config.json: process.rlimits[1]: duplicate rlimit `RLIMIT_CORE`");
  expect_error(W("'process': {'cwd': '/', 'execCPUAffinity': {'initial': '0-3;rm'}}"),
               "config.json: process.execCPUAffinity.initial: invalid cpu list `0-3;rm`");
}

static void test_required(void)
{
  expect_error(W("'process': {'args': ['sh']}"),
               "config.json: process.cwd: required field missing");
  expect_error(W("'process': {'cwd': '/', 'user': {'uid': 0}}"),
               "config.json: process.user.gid: required field missing");
  expect_error(W("'process': {'cwd': '/', 'rlimits': [{'type': 'RLIMIT_CORE', 'hard': 1}]}"),
               "config.json: process.rlimits[0].soft: required field missing");
  expect_error(W("'root': {'readonly': true}"), "config.json: root.path: required field missing");
  expect_error(W("'mounts': [{'type': 'tmpfs'}]"),
               "config.json: mounts[0].destination: required field missing");
  expect_error(W("'hooks': {'createRuntime': [{'path': '/x'}, {'args': []}]}"),
               "config.json: hooks.createRuntime[1].path: required field missing");
  expect_error(W("'linux': {'namespaces': [{}]}"),
               "config.json: linux.namespaces[0].type: required field missing");
  expect_error(W("'linux': {'seccomp': {}}"),
               "config.json: linux.seccomp.defaultAction: required field missing");
  expect_error(W("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_LOG', 'syscalls': [{'action': "
                 "'SCMP_ACT_ALLOW'}]}}"),
               "config.json: linux.seccomp.syscalls[0].names: required field missing");
  expect_error(W("'linux': {'devices': [{'type': 'c', 'path': '/dev/x', 'minor': 1}]}"),
               "config.json: linux.devices[0].major: required field missing");
  expect_error(W("'linux': {'resources': {'pids': {}}}"),
               "config.json: linux.resources.pids.limit: required field missing");
  expect_error(W("'linux': {'uidMappings': [{'containerID': 0, 'hostID': 1}]}"),
               "config.json: linux.uidMappings[0].size: required field missing");
}

static void test_nulls(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_spec_ struct nook_spec *s =
      parse_sq(W("'hostname': null, 'process': null, 'linux': {'resources': null, 'seccomp': null,"
                 " 'namespaces': null}, 'annotations': null"),
               &err);

  tap_ok(s && s->hostname == NULL && s->process == NULL && s->annotations == NULL
             && s->linux->resources == NULL && s->linux->seccomp == NULL
             && s->linux->namespaces == NULL,
         "null is the same as absent");
}

static void test_nul_chars(void)
{
  _cleanup_error_ struct nook_error *err = NULL;
  _cleanup_spec_ struct nook_spec *s = NULL;

  expect_error("{'ociVersion': '1.2\\u0000.0'}", "config.json: string contains a NUL character");
  expect_error(W("'process': {'cwd': '/', 'args': ['/bin/sh\\u0000x']}"),
               "config.json: string contains a NUL character");
  expect_error(W("'annotations': {'k\\u0000': 'v'}"),
               "config.json: string contains a NUL character");
  s = parse_sq(W("'hostname': 'a\\\\u0000'"), &err);
  tap_ok(s && streq(s->hostname, "a\\u0000"), "an escaped backslash before u0000 is not a NUL");
}

/* {"ociVersion":"1","x": PAD } where PAD is depth nested arrays: the document is depth+1 deep. */
static char *nested(size_t depth)
{
  static const char head[] = "{\"ociVersion\":\"1\",\"x\":";
  char *buf = xmalloc(sizeof(head) + 2 * depth + 2);
  char *p = buf;

  memcpy(p, head, sizeof(head) - 1);
  p += sizeof(head) - 1;
  memset(p, '[', depth);
  p += depth;
  memset(p, ']', depth);
  p += depth;
  *p++ = '}';
  *p = '\0';
  return buf;
}

static int parse_raw(const char *data, size_t len, struct nook_error **err)
{
  struct nook_spec *s = NULL;
  int r = nook_spec_parse(data, len, &s, err);
  nook_spec_free(s);
  return r;
}

static void test_hostile(void)
{
  _cleanup_error_ struct nook_error *e1 = NULL;
  _cleanup_error_ struct nook_error *e2 = NULL;
  _cleanup_error_ struct nook_error *e3 = NULL;
  _cleanup_error_ struct nook_error *e4 = NULL;
  _cleanup_error_ struct nook_error *e5 = NULL;
  _cleanup_free_ char *ok63 = nested(63);
  _cleanup_free_ char *bad64 = nested(64);
  _cleanup_free_ char *deep = xmalloc(100000);
  size_t big = (size_t)10 * 1024 * 1024, huge = (size_t)16 * 1024 * 1024 + 1;
  _cleanup_free_ char *text = xmalloc(huge + 64);
  struct timespec t0, t1;
  int n;

  tap_ok(parse_raw(ok63, strlen(ok63), &e1) == 0, "64 levels of nesting are accepted");
  tap_ok(parse_raw(bad64, strlen(bad64), &e1) < 0 && e1
             && streq(e1->msg, "config.json: nesting deeper than 64 levels"),
         "65 levels of nesting are refused");
  memset(deep, '[', 100000);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tap_ok(parse_raw(deep, 100000, &e2) < 0 && e2
             && streq(e2->msg, "config.json: nesting deeper than 64 levels"),
         "100000 '[' refused without a crash");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  tap_ok(t1.tv_sec - t0.tv_sec < 2, "... and quickly");

  n = snprintf(text, 64, "{\"ociVersion\":\"1\",\"annotations\":{\"big\":\"");
  memset(text + n, 'a', big);
  memcpy(text + n + big, "\"}}", 4);
  {
    _cleanup_spec_ struct nook_spec *s = NULL;
    tap_ok(nook_spec_parse(text, strlen(text), &s, &e3) == 0
               && strlen(s->annotations[0].value) == big,
           "a 10 MiB string is accepted");
  }
  memset(text + n, 'a', huge);
  memcpy(text + n + huge, "\"}}", 4);
  tap_ok(parse_raw(text, strlen(text), &e4) < 0 && e4 && e4->errnum == EFBIG
             && streq(e4->msg, "config.json: larger than 16 MiB"),
         "more than 16 MiB is refused (EFBIG)");

  /* 1000001 values: {"x":[0,0,...]} */
  {
    size_t count = 1000001, len = 0;
    _cleanup_free_ char *many = xmalloc(2 * count + 32);
    len += (size_t)snprintf(many, 32, "{\"x\":[");
    for (size_t i = 0; i < count; i++)
      {
        many[len++] = '0';
        many[len++] = ',';
      }
    memcpy(many + len - 1, "]}", 3);
    tap_ok(parse_raw(many, strlen(many), &e5) < 0 && e5
               && streq(e5->msg, "config.json: more than 1000000 JSON values"),
           "more than a million values are refused");
  }
}

#define VALID(x)                                                                                   \
  "{'ociVersion': '1.2.0', 'process': {'args': ['sh'], 'cwd': '/'}, 'root': {'path': 'r'}, " x "}"

static void test_validate(void)
{
  expect_valid(VALID("'mounts': [{'destination': 'relative/dir'}]"),
               "a relative mount destination is accepted (deprecated, like runc)");
  expect_invalid(W("'root': {'path': 'r'}"), "config.json: process: required field missing");
  expect_invalid(VALID("'process': {'cwd': '/', 'args': []}"),
                 "config.json: process.args: must contain at least one element");
  expect_invalid(VALID("'process': {'cwd': 'home', 'args': ['sh']}"),
                 "config.json: process.cwd: must be an absolute path, got `home`");
  expect_invalid(VALID("'process': {'cwd': '/', 'args': ['sh'], 'env': ['PATH=/bin', 'JUNK']}"),
                 "config.json: process.env[1]: expected `NAME=value`, got `JUNK`");
  expect_invalid(W("'process': {'args': ['sh'], 'cwd': '/'}"),
                 "config.json: root: required field missing");
  expect_invalid(VALID("'root': {'path': ''}"), "config.json: root.path: must not be empty");
  expect_invalid(VALID("'hooks': {'poststop': [{'path': 'bin/x'}]}"),
                 "config.json: hooks.poststop[0].path: must be an absolute path, got `bin/x`");
  expect_invalid(VALID("'hostname': 'h'"),
                 "config.json: hostname: unable to set the hostname without a uts namespace");
  expect_invalid(VALID("'linux': {'uidMappings': [{'containerID': 0, 'hostID': 1, 'size': 1}]}"),
                 "config.json: linux.uidMappings: mappings specified without a user namespace");
  expect_invalid(VALID("'linux': {'namespaces': [{'type': 'user'}]}"),
                 "config.json: linux.uidMappings: required to create a user namespace");
  expect_invalid(
      VALID("'linux': {'maskedPaths': ['/proc/kcore']}"),
      "config.json: linux.maskedPaths: unable to restrict paths without a mount namespace");
  expect_invalid(
      VALID("'linux': {'namespaces': [{'type': 'mount'}], 'readonlyPaths': ['proc/sys']}"),
      "config.json: linux.readonlyPaths[0]: must be an absolute path, got `proc/sys`");
  expect_invalid(
      VALID("'linux': {'sysctl': {'vm.swappiness': '10'}}"),
      "config.json: linux.sysctl[\"vm.swappiness\"]: not in a separate kernel namespace");
  expect_invalid(
      VALID("'linux': {'sysctl': {'net/ipv4/ip_forward': '1'}}"),
      "config.json: linux.sysctl[\"net/ipv4/ip_forward\"]: not allowed without a network "
      "namespace");
  expect_invalid(VALID("'linux': {'timeOffsets': {'boottime': {'secs': 1}}}"),
                 "config.json: linux.timeOffsets: only valid when creating a time namespace");
  expect_invalid(
      VALID("'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_KILL', 'syscalls':"
            " [{'names': ['read'], 'action': 'SCMP_ACT_ALLOW', 'errnoRet': 1}]}}"),
      "config.json: linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or "
      "SCMP_ACT_TRACE");
  expect_invalid(
      VALID("'process': {'cwd': '/', 'args': ['sh'], 'scheduler': {'policy': 'SCHED_OTHER',"
            " 'nice': 20}}"),
      "config.json: process.scheduler.nice: must be between -20 and 19");
  expect_invalid(VALID("'mounts': [{'destination': '/d', 'source': '/s', 'options': ['ro'],"
                       " 'uidMappings': [{'containerID': 0, 'hostID': 1, 'size': 1}],"
                       " 'gidMappings': [{'containerID': 0, 'hostID': 1, 'size': 1}]}]"),
                 "config.json: mounts[0]: uidMappings and gidMappings need a bind mount");
  expect_invalid(
      VALID("'mounts': [{'destination': '/d', 'source': '/s', 'options': ['bind', 'idmap']}]"),
      "config.json: mounts[0]: `idmap` without uidMappings and gidMappings needs those "
      "of a user namespace in linux.uidMappings and gidMappings");
  expect_invalid(VALID("'mounts': [{'destination': '/d', 'type': 'tmpfs', 'options': ['ridmap']}]"),
                 "config.json: mounts[0]: `ridmap` needs a bind mount");
}

static void test_load_and_helpers(void)
{
  char dir[] = "/tmp/nook-test-spec-XXXXXX";
  _cleanup_free_ char *def = nook_spec_default_json(false, 0, 0);
  _cleanup_free_ char *path = NULL;
  _cleanup_free_ char *want = NULL;
  _cleanup_free_ char *raw = NULL;
  _cleanup_error_ struct nook_error *e1 = NULL;
  _cleanup_error_ struct nook_error *e2 = NULL;
  _cleanup_spec_ struct nook_spec *s = NULL;
  struct nook_spec *none = NULL;
  size_t raw_len = 0;

  if (mkdtemp(dir) == NULL)
    {
      tap_ok(0, "mkdtemp: %s", strerror(errno));
      return;
    }
  want = xasprintf("open `%s/config.json`: No such file or directory", dir);
  tap_ok(nook_spec_load(dir, &none, NULL, NULL, &e1) < 0 && none == NULL,
         "load without config.json fails");
  tap_is_str(e1 ? e1->msg : NULL, want, "... naming BUNDLE/config.json");
  path = xasprintf("%s/config.json", dir);
  {
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    nook_write_file_atomic_at(dfd, "config.json", def, strlen(def), 0644, &e2);
  }
  tap_ok(nook_spec_load(dir, &s, &raw, &raw_len, &e2) == 0 && raw_len == strlen(def)
             && streq(raw, def) && streq(s->oci_version, "1.2.0"),
         "load parses BUNDLE/config.json and returns the raw text");
  {
    _cleanup_error_ struct nook_error *e3 = NULL;
    _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    tap_ok(fd >= 0 && ftruncate(fd, (off_t)16 * 1024 * 1024 + 1) == 0
               && nook_spec_load(dir, &none, NULL, NULL, &e3) == -EFBIG && none == NULL
               && streq(e3->msg, "config.json: larger than 16 MiB"),
           "load refuses a config.json above 16 MiB");
  }
  unlink(path);
  rmdir(dir);

  tap_is_int(nook_ns_type_from_string("network"), NOOK_NS_NETWORK, "ns type from string");
  tap_is_int(nook_ns_type_from_string("bogus"), -1, "unknown ns type is -1");
  tap_is_str(nook_ns_type_to_string(NOOK_NS_TIME), "time", "ns type to string");
  tap_ok(nook_ns_type_clone_flag(NOOK_NS_PID) == CLONE_NEWPID
             && nook_ns_type_clone_flag(NOOK_NS_USER) == CLONE_NEWUSER
             && nook_ns_type_clone_flag(NOOK_NS_CGROUP) == CLONE_NEWCGROUP,
         "clone flags");
  tap_ok(s && nook_spec_namespace(s, NOOK_NS_MOUNT) && !nook_spec_namespace(s, NOOK_NS_TIME)
             && !nook_spec_namespace(NULL, NOOK_NS_PID),
         "nook_spec_namespace");
}

int main(void)
{
  test_full();
  test_defaults();
  test_syntax();
  test_types();
  test_numbers();
  test_names();
  test_required();
  test_nulls();
  test_nul_chars();
  test_hostile();
  test_validate();
  test_load_and_helpers();
  return tap_done();
}
