/* `nook inspect`: containers as a JSON array with podman's keys where podman has them, from
 * run.json, status.json, the bundle's config.json and the network's leases. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/logs-reader.h"
#include "cli/verbs.h"
#include "common/json.h"
#include "common/util.h"
#include "images/image.h"
#include "netns/netns.h"
#include "runtime/spec.h"


static void gen_state(yajl_gen g, const struct ctr_status *st)
{
  bool running = verbs_state_running(st->state);
  char t[64];

  nook_json_str(g, "State");
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "Status", ctr_state_to_string(st->state));
  nook_json_kv_bool(g, "Running", running);
  nook_json_kv_bool(g, "Paused", st->state == CTR_PAUSED);
  nook_json_kv_bool(g, "Restarting", st->state == CTR_RESTARTING);
  nook_json_kv_bool(g, "OOMKilled", st->sup.oom_killed);
  nook_json_kv_bool(g, "Dead", false);
  nook_json_kv_int(g, "Pid", running ? st->sup.pid : 0);
  nook_json_kv_int(g, "SupervisorPid", st->supervisor_alive ? st->sup.supervisor_pid : 0);
  nook_json_kv_int(g, "ExitCode", st->sup.exit_code);
  nook_json_kv_str(g, "Error", st->sup.error);
  nook_json_kv_str(g, "StartedAt", verbs_time_format(st->sup.started_ns, t, sizeof t));
  nook_json_kv_str(g, "FinishedAt", verbs_time_format(st->sup.finished_ns, t, sizeof t));
  yajl_gen_map_close(g);
}

static void gen_config(yajl_gen g, const struct ctr *c, const struct nook_spec *spec)
{
  const struct nook_process *p = spec ? spec->process : NULL;
  const char *sig = nook_signal_name(c->stop_signal);

  nook_json_str(g, "Config");
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "Hostname", spec ? spec->hostname : NULL);
  nook_json_kv_strv(g, "Env", p ? p->env : NULL);
  nook_json_kv_strv(g, "Cmd", c->command);
  nook_json_kv_str(g, "Image", c->image);
  nook_json_kv_str(g, "WorkingDir", p ? p->cwd : NULL);
  if (p)
    {
      _cleanup_free_ char *user = xasprintf("%u:%u", p->user.uid, p->user.gid);
      nook_json_kv_str(g, "User", user);
    }
  else
    nook_json_kv_str(g, "User", "");
  nook_json_kv_bool(g, "Tty", c->tty);
  nook_json_kv_bool(g, "OpenStdin", c->interactive);
  nook_json_kv_bool(g, "AttachStdin", false);
  nook_json_kv_str(g, "StopSignal", sig ? sig : "");
  nook_json_kv_int(g, "StopTimeout", c->stop_timeout);
  nook_json_str(g, "Annotations");
  yajl_gen_map_open(g);
  for (size_t i = 0; spec && i < spec->n_annotations; i++)
    nook_json_kv_str(g, spec->annotations[i].key, spec->annotations[i].value);
  yajl_gen_map_close(g);
  yajl_gen_map_close(g);
}

/* go-units' HumanSize, as podman prints sizes: "0B", "10.5kB", "1MB". */
static void gen_size(yajl_gen g, const char *key, uint64_t n)
{
  char buf[32];

  nook_json_kv_str(g, key, verbs_human_size((double)n, buf, sizeof buf));
}

static void gen_host_config(yajl_gen g, const struct ctr *c, const char *log_path)
{
  static const char *const policies[] = {
    [NOOK_RESTART_NO] = "no", [NOOK_RESTART_ON_FAILURE] = "on-failure",
    [NOOK_RESTART_ALWAYS] = "always",
  };

  nook_json_str(g, "HostConfig");
  yajl_gen_map_open(g);
  nook_json_str(g, "RestartPolicy");
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "Name", policies[c->restart.policy]);
  nook_json_kv_int(g, "MaximumRetryCount", c->restart.max);
  yajl_gen_map_close(g);
  nook_json_str(g, "LogConfig");
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "Type", "k8s-file");
  nook_json_kv_str(g, "Path", log_path);
  gen_size(g, "Size", c->log_max_size);
  nook_json_kv_int(g, "MaxFiles", c->log_max_files);
  yajl_gen_map_close(g);
  nook_json_kv_bool(g, "AutoRemove", c->rm);
  nook_json_kv_str(g, "NetworkMode", c->network ? c->network : "none");
  yajl_gen_map_close(g);
}

/* The container's address on a bridge network, from the network's leases. */
static bool lease_find(const char *storage, const char *network, const char *id,
                       struct nook_network **ret_net, struct in_addr *ret)
{
  _cleanup_network_ struct nook_network *net = NULL;
  struct ipam_lease *leases = NULL;
  size_t n = 0;
  bool found = false;

  if (network_config_load(storage, network, &net, NULL) < 0
      || ipam_lease_list(storage, network, &leases, &n, NULL) < 0)
    return false;
  for (size_t i = 0; i < n && !found; i++)
    if (streq(leases[i].id, id))
      {
        *ret = leases[i].addr;
        found = true;
      }
  ipam_lease_list_free(leases, n);
  if (found)
    *ret_net = TAKE_PTR(net);
  return found;
}

static void gen_addresses(yajl_gen g, const struct nook_network *net, struct in_addr addr)
{
  char ip[INET_ADDRSTRLEN] = "", gw[INET_ADDRSTRLEN] = "", mac[18] = "";
  uint8_t m[6];

  if (net)
    {
      inet_ntop(AF_INET, &addr, ip, sizeof ip);
      inet_ntop(AF_INET, &net->gateway, gw, sizeof gw);
      netns_mac_from_ipv4(addr, m);
      snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    }
  nook_json_kv_str(g, "IPAddress", ip);
  nook_json_kv_int(g, "IPPrefixLen", net ? net->prefix : 0);
  nook_json_kv_str(g, "Gateway", gw);
  nook_json_kv_str(g, "MacAddress", mac);
}

static void gen_network(yajl_gen g, const struct nook_globals *gl, const struct ctr *c)
{
  _cleanup_network_ struct nook_network *net = NULL;
  _cleanup_free_ struct verbs_port *ports = NULL;
  size_t nports = verbs_ports_parse(c->ports, &ports);
  const char *name = c->network;
  struct in_addr addr = { 0 };
  bool bridge = name && !streq(name, "none") && !streq(name, "host")
                && !nook_has_prefix(name, "container:");

  if (bridge && !lease_find(gl->storage, name, c->id, &net, &addr))
    net = NULL;
  nook_json_str(g, "NetworkSettings");
  yajl_gen_map_open(g);
  gen_addresses(g, net, addr);
  nook_json_str(g, "Networks");
  yajl_gen_map_open(g);
  if (bridge)
    {
      nook_json_str(g, name);
      yajl_gen_map_open(g);
      gen_addresses(g, net, addr);
      yajl_gen_map_close(g);
    }
  yajl_gen_map_close(g);
  nook_json_str(g, "Ports");
  yajl_gen_map_open(g);
  for (size_t i = 0; i < nports; i++)
    {
      char key[32], port[16];
      snprintf(key, sizeof key, "%u/%s", ports[i].ctr_port, ports[i].proto);
      snprintf(port, sizeof port, "%u", ports[i].host_port);
      nook_json_str(g, key);
      yajl_gen_array_open(g);
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "HostIp", ports[i].host_ip);
      nook_json_kv_str(g, "HostPort", port);
      yajl_gen_map_close(g);
      yajl_gen_array_close(g);
    }
  yajl_gen_map_close(g);
  yajl_gen_map_close(g);
}

static bool is_bind(const struct nook_mount *m)
{
  if (streq(m->type, "bind"))
    return true;
  for (size_t i = 0; m->options && m->options[i]; i++)
    if (streq(m->options[i], "bind") || streq(m->options[i], "rbind"))
      return true;
  return false;
}

/* Volumes and bind mounts; not the network's files. */
static void gen_mounts(yajl_gen g, const struct nook_spec *spec, const char *volumes_dir)
{
  nook_json_str(g, "Mounts");
  yajl_gen_array_open(g);
  for (size_t i = 0; spec && i < spec->n_mounts; i++)
    {
      const struct nook_mount *m = &spec->mounts[i];
      if (!is_bind(m) || streq(m->destination, "/etc/hosts") || streq(m->destination, "/etc/hostname")
          || streq(m->destination, "/etc/resolv.conf"))
        continue;
      yajl_gen_map_open(g);
      nook_json_kv_str(g, "Type", nook_has_prefix(m->source, volumes_dir) ? "volume" : "bind");
      nook_json_kv_str(g, "Source", m->source);
      nook_json_kv_str(g, "Destination", m->destination);
      nook_json_kv_bool(g, "RW", !nook_strv_contains(m->options, "ro"));
      nook_json_kv_strv(g, "Options", m->options);
      yajl_gen_map_close(g);
    }
  yajl_gen_array_close(g);
}

static int inspect_one(const struct nook_globals *gl, struct image_store *s, const char *what,
                       yajl_gen g, struct nook_error **err)
{
  _cleanup_ctr_ struct ctr *c = NULL;
  _cleanup_free_ char *bundle = NULL, *log = NULL, *volumes = NULL;
  struct nook_spec *spec = NULL;
  struct ctr_status st;
  int r;

  if ((r = verbs_ctr_find(s, what, &c, err)) < 0 || (r = ctr_status_get(gl, s, c->id, &st, err)) < 0)
    return r;
  bundle = xasprintf("%s/containers/%s", s->path, c->id);
  log = xasprintf("%s/" LOGS_FILE, bundle);
  volumes = xasprintf("%s/volumes/", bundle);
  if (nook_spec_load(bundle, &spec, NULL, NULL, NULL) < 0)
    spec = NULL; /* what run.json says is still worth showing */
  yajl_gen_map_open(g);
  nook_json_kv_str(g, "Id", c->id);
  nook_json_kv_str(g, "Created", c->created);
  nook_json_kv_str(g, "Path", c->command ? c->command[0] : "");
  nook_json_kv_strv(g, "Args", c->command && c->command[0] ? c->command + 1 : NULL);
  gen_state(g, &st);
  nook_json_kv_str(g, "Image", c->image_id);
  nook_json_kv_str(g, "ImageName", c->image);
  nook_json_kv_str(g, "Rootfs", "");
  nook_json_kv_str(g, "Name", c->name);
  nook_json_kv_int(g, "RestartCount", st.sup.restart_count);
  nook_json_kv_str(g, "Driver", "overlay");
  nook_json_kv_str(g, "BundlePath", bundle);
  gen_mounts(g, spec, volumes);
  gen_config(g, c, spec);
  gen_host_config(g, c, log);
  gen_network(g, gl, c);
  yajl_gen_map_close(g);
  nook_spec_free(spec);
  return 0;
}

int cmd_nook_inspect(const struct nook_globals *gl, int argc, char **argv)
{
  static const struct option opts[] = {
    { "format", required_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  _cleanup_image_store_ struct image_store *s = NULL;
  _cleanup_free_ char *text = NULL;
  _cleanup_json_ yajl_val all = NULL;
  struct nook_error *err = NULL;
  const char *format = "json";
  yajl_gen g;
  int opt, rc = 0;

  while ((opt = verbs_getopt(argc, argv, "f:h", opts, "inspect")) != -1)
    switch (opt)
      {
      case 'f': format = optarg; break;
      case 'h':
        fputs("usage: nook inspect [--format json|TEMPLATE] CONTAINER...\n\n"
              "Print the containers' configuration and state as a JSON array (podman's keys),\n"
              "or a template for each: '{{.State.Status}}', '{{.NetworkSettings.IPAddress}}'.\n",
              stdout);
        return 0;
      default: return NOOK_EXIT_ERROR;
      }
  if (optind >= argc)
    return cli_nook_usage("inspect", "missing CONTAINER");
  if (image_store_open(gl->storage, &s, &err) < 0)
    return cli_nook_fail(err);
  g = nook_json_gen_new(true);
  yajl_gen_array_open(g);
  for (int i = optind; i < argc; i++)
    if (inspect_one(gl, s, argv[i], g, &err) < 0)
      {
        rc = cli_nook_fail(err);
        err = NULL;
      }
  yajl_gen_array_close(g);
  text = nook_json_gen_finish(g, NULL);
  if (streq(format, "json"))
    {
      printf("%s\n", text);
      return rc;
    }
  all = verbs_json_tree(text);
  for (size_t i = 0; i < all->u.array.len; i++)
    if (verbs_template_render(format, all->u.array.values[i], stdout, &err) < 0)
      return cli_nook_fail(err);
  return rc;
}
