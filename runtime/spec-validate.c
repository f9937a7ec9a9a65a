/* The semantic checks of a parsed config.json, what the grammar in spec-tables.c cannot say:
 * nook_spec_validate() checks absolute paths, environment entries, the scheduler rules, the
 * namespaces that hostname, domainname, sysctl, id mappings, masked and read-only paths and time
 * offsets need, and the seccomp actions.  The checks for unknown or duplicate namespaces and
 * rlimits are shared with the parser, which runs them from the check functions of the process
 * and linux tables. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/spec.h"
#include "runtime/spec-internal.h"

/* ---- checks shared by the parser and nook_spec_validate() ------------------------------ */

int spec_validate_check_namespaces(const struct nook_linux *l, struct nook_error **err)
{
  bool seen[NOOK_NS_COUNT] = { false };

  for (size_t i = 0; l && i < l->n_namespaces; i++)
    {
      enum nook_ns_type t = l->namespaces[i].type;
      if ((unsigned)t >= NOOK_NS_COUNT)
        return spec_error(err, NULL, "linux.namespaces[%zu].type: unknown namespace type", i);
      if (seen[t])
        return spec_error(err, NULL, "linux.namespaces[%zu]: duplicate namespace `%s`", i,
                          nook_ns_type_to_string(t));
      seen[t] = true;
    }
  return 0;
}

int spec_validate_check_rlimits(const struct nook_process *pr, struct nook_error **err)
{
  bool seen[64] = { false };

  for (size_t i = 0; pr && i < pr->n_rlimits; i++)
    {
      int res = pr->rlimits[i].resource;
      _cleanup_free_ char *t = spec_user_text(pr->rlimits[i].type ? pr->rlimits[i].type : "");
      if (res < 0 || (size_t)res >= ARRAY_SIZE(seen))
        return spec_error(err, NULL, "process.rlimits[%zu].type: unknown rlimit `%s`", i, t);
      if (seen[res])
        return spec_error(err, NULL, "process.rlimits[%zu]: duplicate rlimit `%s`", i, t);
      seen[res] = true;
    }
  return 0;
}

/* ---- validation ------------------------------------------------------------------------ */

static bool has_ns(const struct nook_spec *spec, enum nook_ns_type t)
{
  return nook_spec_namespace(spec, t) != NULL;
}

static bool is_absolute(const char *path)
{
  return path && path[0] == '/';
}

static int error_not_absolute(const char *what, const char *path, struct nook_error **err)
{
  _cleanup_free_ char *t = spec_user_text(path ? path : "");
  return spec_error(err, NULL, "%s: must be an absolute path, got `%s`", what, t);
}

static int validate_env(char **env, struct nook_error **err)
{
  for (size_t i = 0; env && env[i]; i++)
    if (env[i][0] == '=' || strchr(env[i], '=') == NULL)
      {
        _cleanup_free_ char *t = spec_user_text(env[i]);
        return spec_error(err, NULL, "process.env[%zu]: expected `NAME=value`, got `%s`", i, t);
      }
  return 0;
}

/* The rules of sched_setattr(2), as runc checks them. */
static int validate_scheduling(const struct nook_process *p, struct nook_error **err)
{
  const struct nook_scheduler *s = &p->scheduler;
  int pol = s->policy_value;

  if (s->set && s->nice.set && (s->nice.value < -20 || s->nice.value > 19))
    return spec_error(err, NULL, "process.scheduler.nice: must be between -20 and 19");
  if (s->set && s->priority.set && s->priority.value != 0 && pol != SCHED_FIFO && pol != SCHED_RR)
    return spec_error(err, NULL,
                      "process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR");
  if (s->set && pol != SCHED_DEADLINE
      && ((s->runtime.set && s->runtime.value) || (s->deadline.set && s->deadline.value)
          || (s->period.set && s->period.value)))
    return spec_error(err, NULL,
                      "process.scheduler: runtime, deadline and period are only "
                      "valid with SCHED_DEADLINE");
  if (p->io_priority.set && (p->io_priority.priority < 0 || p->io_priority.priority > 7))
    return spec_error(err, NULL, "process.ioPriority.priority: must be between 0 and 7");
  return 0;
}

static int validate_process(const struct nook_process *p, struct nook_error **err)
{
  if (p == NULL)
    return spec_error(err, NULL, "process: required field missing");
  if (p->args == NULL || p->args[0] == NULL)
    return spec_error(err, NULL, "process.args: must contain at least one element");
  if (!is_absolute(p->cwd))
    return error_not_absolute("process.cwd", p->cwd, err);
  if (validate_env(p->env, err) < 0 || spec_validate_check_rlimits(p, err) < 0)
    return -EINVAL;
  for (size_t i = 0; i < p->n_rlimits; i++)
    if (p->rlimits[i].soft > p->rlimits[i].hard)
      return spec_error(err, NULL, "process.rlimits[%zu]: soft limit above the hard limit", i);
  return validate_scheduling(p, err);
}

static int validate_root(const struct nook_spec *spec, struct nook_error **err)
{
  if (spec->root == NULL)
    return spec_error(err, NULL, "root: required field missing");
  if (spec->root->path == NULL || spec->root->path[0] == '\0')
    return spec_error(err, NULL, "root.path: must not be empty");
  return 0;
}

static bool is_bind(const struct nook_mount *m)
{
  return nook_strv_contains(m->options, "bind") || nook_strv_contains(m->options, "rbind")
         || streq(m->type, "bind");
}

/* The idmap and ridmap options without mappings of the mount's own take the container's, so
 * there must be some (runtime-spec: an error otherwise); and only a bind can be idmapped. */
static int validate_idmap(const struct nook_spec *spec, const struct nook_mount *m, size_t i,
                          struct nook_error **err)
{
  const struct nook_linux *l = spec->linux;
  const char *opt = nook_strv_contains(m->options, "ridmap")  ? "ridmap"
                    : nook_strv_contains(m->options, "idmap") ? "idmap"
                                                              : NULL;

  if (opt == NULL)
    return 0;
  if (!is_bind(m))
    return spec_error(err, NULL, "mounts[%zu]: `%s` needs a bind mount", i, opt);
  if (m->n_uid_mappings == 0 && m->n_gid_mappings == 0
      && (l == NULL || l->n_uid_mappings == 0 || l->n_gid_mappings == 0))
    return spec_error(err, NULL,
                      "mounts[%zu]: `%s` without uidMappings and gidMappings needs those of "
                      "a user namespace in linux.uidMappings and gidMappings",
                      i, opt);
  return 0;
}

static int validate_mounts(const struct nook_spec *spec, struct nook_error **err)
{
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      const struct nook_mount *m = &spec->mounts[i];
      if (m->destination == NULL || m->destination[0] == '\0')
        return spec_error(err, NULL, "mounts[%zu].destination: must not be empty", i);
      /* Accepted like runc does, which resolves it against the container's `/`. */
      if (!is_absolute(m->destination))
        {
          _cleanup_free_ char *t = spec_user_text(m->destination);
          nook_warn("config.json: mounts[%zu].destination: relative path `%s` is deprecated, "
                    "taken as relative to `/`",
                    i, t);
        }
      if (validate_idmap(spec, m, i, err) < 0)
        return -1;
      if (m->n_uid_mappings == 0 && m->n_gid_mappings == 0)
        continue;
      if (m->n_uid_mappings == 0 || m->n_gid_mappings == 0)
        return spec_error(err, NULL, "mounts[%zu]: uidMappings and gidMappings go together", i);
      if (!is_bind(m))
        return spec_error(err, NULL, "mounts[%zu]: uidMappings and gidMappings need a bind mount",
                          i);
      if (!is_absolute(m->source))
        {
          _cleanup_free_ char *w = xasprintf("mounts[%zu].source", i);
          return error_not_absolute(w, m->source, err);
        }
    }
  return 0;
}

static int validate_hooks(const struct nook_spec *spec, struct nook_error **err)
{
  for (size_t k = 0; k < spec_tables_hooks.n; k++)
    {
      const struct field *f = &spec_tables_hooks.fields[k];
      const struct nook_hook *h = *(struct nook_hook *const *)((const char *)&spec->hooks + f->off);
      size_t n = *(const size_t *)((const char *)&spec->hooks + f->count_off);
      for (size_t i = 0; h && i < n; i++)
        if (!is_absolute(h[i].path))
          {
            _cleanup_free_ char *w = xasprintf("hooks.%s[%zu].path", f->name, i);
            return error_not_absolute(w, h[i].path, err);
          }
    }
  return 0;
}

static int validate_paths(const char *what, char **paths, struct nook_error **err)
{
  for (size_t i = 0; paths && paths[i]; i++)
    if (!is_absolute(paths[i]))
      {
        _cleanup_free_ char *w = xasprintf("%s[%zu]", what, i);
        return error_not_absolute(w, paths[i], err);
      }
  return 0;
}

/* Namespaces and what depends on them (runc's uts, security and namespaces checks). */
static int validate_namespaces(const struct nook_spec *spec, struct nook_error **err)
{
  const struct nook_linux *l = spec->linux;
  const struct nook_namespace *user = nook_spec_namespace(spec, NOOK_NS_USER);
  const struct nook_namespace *time = nook_spec_namespace(spec, NOOK_NS_TIME);

  if (spec_validate_check_namespaces(l, err) < 0)
    return -EINVAL;
  for (size_t i = 0; l && i < l->n_namespaces; i++)
    if (l->namespaces[i].path && !is_absolute(l->namespaces[i].path))
      {
        _cleanup_free_ char *w = xasprintf("linux.namespaces[%zu].path", i);
        return error_not_absolute(w, l->namespaces[i].path, err);
      }
  if (spec->hostname && *spec->hostname && !has_ns(spec, NOOK_NS_UTS))
    return spec_error(err, NULL, "hostname: unable to set the hostname without a uts namespace");
  if (spec->domainname && *spec->domainname && !has_ns(spec, NOOK_NS_UTS))
    return spec_error(err, NULL,
                      "domainname: unable to set the domainname without a uts namespace");
  if (l == NULL)
    return 0;
  if ((nook_strv_length(l->masked_paths) || nook_strv_length(l->readonly_paths))
      && !has_ns(spec, NOOK_NS_MOUNT))
    return spec_error(err, NULL, "linux.%s: unable to restrict paths without a mount namespace",
                      nook_strv_length(l->masked_paths) ? "maskedPaths" : "readonlyPaths");
  if (user == NULL && (l->n_uid_mappings || l->n_gid_mappings))
    return spec_error(err, NULL, "linux.%s: mappings specified without a user namespace",
                      l->n_uid_mappings ? "uidMappings" : "gidMappings");
  if (user && user->path == NULL && (l->n_uid_mappings == 0 || l->n_gid_mappings == 0))
    return spec_error(err, NULL, "linux.%s: required to create a user namespace",
                      l->n_uid_mappings == 0 ? "uidMappings" : "gidMappings");
  if ((l->time_monotonic.set || l->time_boottime.set) && (time == NULL || time->path))
    return spec_error(err, NULL, "linux.timeOffsets: only valid when creating a time namespace");
  return 0;
}

/* A sysctl key with `/` separators in the dotted form ("net/ipv4/conf/eth0.1/x" becomes
 * "net.ipv4.conf.eth0/1.x"), as sysctl(8) reads it. */
static char *sysctl_dotted(const char *key)
{
  char *k = xstrdup(key);
  size_t first = strcspn(k, "./");

  if (k[first] != '/')
    return k;
  for (char *c = k; *c; c++)
    *c = *c == '/' ? '.' : *c == '.' ? '/' : *c;
  return k;
}

/* runc's rule: a sysctl is allowed only if the namespace it belongs to is not the host's. */
static int validate_sysctl(const struct nook_spec *spec, struct nook_error **err)
{
  static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                          "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                          "kernel.shmmni", "kernel.shm_rmid_forced" };
  const struct nook_linux *l = spec->linux;

  for (size_t i = 0; l && i < l->n_sysctl; i++)
    {
      _cleanup_free_ char *k = sysctl_dotted(l->sysctl[i].key);
      _cleanup_free_ char *t = spec_user_text(l->sysctl[i].key);
      bool ipc = nook_has_prefix(k, "fs.mqueue.");
      const char *why = NULL;

      for (size_t j = 0; j < ARRAY_SIZE(ipc_keys); j++)
        ipc = ipc || streq(k, ipc_keys[j]);
      if (ipc)
        why = has_ns(spec, NOOK_NS_IPC) ? NULL : "not allowed without an ipc namespace";
      else if (nook_has_prefix(k, "net."))
        why = has_ns(spec, NOOK_NS_NETWORK) ? NULL : "not allowed without a network namespace";
      else if (has_ns(spec, NOOK_NS_UTS) && streq(k, "kernel.domainname"))
        why = NULL;
      else if (has_ns(spec, NOOK_NS_UTS) && streq(k, "kernel.hostname"))
        why = "not allowed, it conflicts with the `hostname` field";
      else
        why = "not in a separate kernel namespace";
      if (why)
        return spec_error(err, NULL, "linux.sysctl[\"%s\"]: %s", t, why);
    }
  return 0;
}

static bool action_takes_errno(const char *action)
{
  return streq(action, "SCMP_ACT_ERRNO") || streq(action, "SCMP_ACT_TRACE");
}

static int validate_seccomp(const struct nook_seccomp *s, struct nook_error **err)
{
  if (s == NULL)
    return 0;
  if (streq(s->default_action, "SCMP_ACT_NOTIFY"))
    return spec_error(err, NULL,
                      "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  if (s->default_errno_ret.set && !action_takes_errno(s->default_action))
    return spec_error(err, NULL,
                      "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO "
                      "or SCMP_ACT_TRACE");
  if (s->listener_metadata && s->listener_path == NULL)
    return spec_error(err, NULL, "linux.seccomp.listenerMetadata: requires listenerPath");
  for (size_t i = 0; i < s->n_syscalls; i++)
    if (s->syscalls[i].errno_ret.set && !action_takes_errno(s->syscalls[i].action))
      return spec_error(err, NULL,
                        "linux.seccomp.syscalls[%zu].errnoRet: only valid with "
                        "SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                        i);
  return 0;
}

static int validate_linux(const struct nook_linux *l, struct nook_error **err)
{
  if (l == NULL)
    return 0;
  for (size_t i = 0; i < l->n_devices; i++)
    if (!is_absolute(l->devices[i].path))
      {
        _cleanup_free_ char *w = xasprintf("linux.devices[%zu].path", i);
        return error_not_absolute(w, l->devices[i].path, err);
      }
  if (validate_paths("linux.maskedPaths", l->masked_paths, err) < 0
      || validate_paths("linux.readonlyPaths", l->readonly_paths, err) < 0)
    return -EINVAL;
  if (l->intel_rdt.set && l->intel_rdt.clos_id
      && (streq(l->intel_rdt.clos_id, ".") || streq(l->intel_rdt.clos_id, "..")
          || strchr(l->intel_rdt.clos_id, '/')))
    {
      _cleanup_free_ char *t = spec_user_text(l->intel_rdt.clos_id);
      return spec_error(err, NULL, "linux.intelRdt.closID: invalid `%s`", t);
    }
  return validate_seccomp(l->seccomp, err);
}

int nook_spec_validate(const struct nook_spec *spec, struct nook_error **err)
{
  if (validate_process(spec->process, err) < 0 || validate_root(spec, err) < 0
      || validate_mounts(spec, err) < 0 || validate_hooks(spec, err) < 0
      || validate_namespaces(spec, err) < 0 || validate_sysctl(spec, err) < 0
      || validate_linux(spec->linux, err) < 0)
    return -EINVAL;
  return 0;
}
