/* The verbs' output and input formats (see cli/verbs.h): podman's times, sizes and STATUS
 * texts, --format templates, tables, published ports, environment lists.  Pure functions, unit
 * tested in tests/unit/test-verbs.c. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/logs-reader.h"
#include "cli/verbs.h"
#include "common/json.h"
#include "common/util.h"
#include "netns/netns.h"

#define NS_PER_SEC 1000000000LL

/* ==== times, sizes, states ================================================================ */

int64_t verbs_now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t verbs_time_ns(const char *rfc3339)
{
  int64_t ns = 0;

  if (!rfc3339 || logs_time_parse_rfc3339(rfc3339, strlen(rfc3339), &ns) < 0)
    return 0;
  return ns;
}

const char *verbs_time_format(int64_t ns, char *buf, size_t size)
{
  time_t sec = (time_t)(ns / NS_PER_SEC);
  struct tm tm;
  char date[32];

  if (ns <= 0 || !gmtime_r(&sec, &tm))
    {
      snprintf(buf, size, "0001-01-01T00:00:00Z");
      return buf;
    }
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, size, "%s.%09lldZ", date, (long long)(ns % NS_PER_SEC));
  return buf;
}

const char *verbs_human_duration(int64_t ns, char *buf, size_t size)
{
  int64_t s = ns / NS_PER_SEC, m = s / 60;
  /* go-units rounds the hours (math.Round), the rest is truncated. */
  int64_t h = (ns + 1800 * NS_PER_SEC) / (3600 * NS_PER_SEC);

  if (s < 1)
    snprintf(buf, size, "Less than a second");
  else if (s == 1)
    snprintf(buf, size, "1 second");
  else if (s < 60)
    snprintf(buf, size, "%lld seconds", (long long)s);
  else if (m == 1)
    snprintf(buf, size, "About a minute");
  else if (m < 60)
    snprintf(buf, size, "%lld minutes", (long long)m);
  else if (h == 1)
    snprintf(buf, size, "About an hour");
  else if (h < 48)
    snprintf(buf, size, "%lld hours", (long long)h);
  else if (h < 24 * 7 * 2)
    snprintf(buf, size, "%lld days", (long long)(h / 24));
  else if (h < 24 * 30 * 2)
    snprintf(buf, size, "%lld weeks", (long long)(h / 24 / 7));
  else if (h < 24 * 365 * 2)
    snprintf(buf, size, "%lld months", (long long)(h / 24 / 30));
  else
    snprintf(buf, size, "%lld years", (long long)(ns / (3600 * NS_PER_SEC) / 24 / 365));
  return buf;
}

const char *verbs_human_size(double n, char *buf, size_t size)
{
  static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
  size_t i = 0;

  while (n >= 1000 && i + 1 < ARRAY_SIZE(units))
    {
      n /= 1000;
      i++;
    }
  snprintf(buf, size, "%.4g%s", n, units[i]);
  return buf;
}

bool verbs_state_running(enum ctr_state s)
{
  return s == CTR_RUNNING || s == CTR_PAUSED || s == CTR_STOPPING;
}

const char *verbs_status_text(const struct ctr_status *st, int64_t now_ns, char *buf, size_t size)
{
  char d[64];
  const char *nosup = verbs_state_running(st->state) && !st->supervisor_alive ? " (no supervisor)"
                                                                                : "";

  switch (st->state)
    {
    case CTR_CREATED: snprintf(buf, size, "Created"); break;
    case CTR_RUNNING:
      verbs_human_duration(now_ns - st->sup.started_ns, d, sizeof d);
      snprintf(buf, size, "Up %s%s", d, nosup);
      break;
    case CTR_PAUSED: snprintf(buf, size, "Paused%s", nosup); break;
    case CTR_STOPPING: snprintf(buf, size, "Stopping%s", nosup); break;
    case CTR_RESTARTING:
      verbs_human_duration(now_ns - st->sup.finished_ns, d, sizeof d);
      snprintf(buf, size, "Restarting (%d) %s ago", st->sup.exit_code, d);
      break;
    case CTR_EXITED:
      verbs_human_duration(now_ns - st->sup.finished_ns, d, sizeof d);
      snprintf(buf, size, "Exited (%d) %s ago", st->sup.exit_code, d);
      break;
    }
  return buf;
}

/* ==== --format templates ================================================================== */

yajl_val verbs_json_tree(const char *text)
{
  char msg[256];
  yajl_val v = yajl_tree_parse(text, msg, sizeof msg);

  if (!v)
    {
      fprintf(stderr, "nook: internal error: invalid JSON: %s\n", msg);
      abort();
    }
  return v;
}

static void gen_value(yajl_gen g, yajl_val v)
{
  if (!v || YAJL_IS_NULL(v))
    yajl_gen_null(g);
  else if (YAJL_IS_STRING(v))
    nook_json_str(g, v->u.string);
  else if (YAJL_IS_NUMBER(v))
    yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
  else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
    yajl_gen_bool(g, YAJL_IS_TRUE(v));
  else if (YAJL_IS_ARRAY(v))
    {
      yajl_gen_array_open(g);
      for (size_t i = 0; i < v->u.array.len; i++)
        gen_value(g, v->u.array.values[i]);
      yajl_gen_array_close(g);
    }
  else
    {
      yajl_gen_map_open(g);
      for (size_t i = 0; i < v->u.object.len; i++)
        {
          nook_json_str(g, v->u.object.keys[i]);
          gen_value(g, v->u.object.values[i]);
        }
      yajl_gen_map_close(g);
    }
}

static void print_json(yajl_val v, FILE *out)
{
  yajl_gen g = nook_json_gen_new(false);
  _cleanup_free_ char *text = NULL;

  gen_value(g, v);
  text = nook_json_gen_finish(g, NULL);
  fputs(text, out);
}

static bool strings_only(yajl_val v)
{
  for (size_t i = 0; i < v->u.array.len; i++)
    if (!YAJL_IS_STRING(v->u.array.values[i]))
      return false;
  return true;
}

static void print_value(yajl_val v, bool json, FILE *out)
{
  if (json)
    print_json(v, out);
  else if (!v || YAJL_IS_NULL(v))
    fputs("<no value>", out);
  else if (YAJL_IS_STRING(v))
    fputs(v->u.string, out);
  else if (YAJL_IS_NUMBER(v))
    fputs(v->u.number.r, out);
  else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
    fputs(YAJL_IS_TRUE(v) ? "true" : "false", out);
  else if (YAJL_IS_ARRAY(v) && strings_only(v))
    for (size_t i = 0; i < v->u.array.len; i++)
      fprintf(out, "%s%s", i ? "," : "", v->u.array.values[i]->u.string);
  else
    print_json(v, out);
}

/* The value at ".A.B" in v. */
static int lookup(yajl_val v, const char *path, size_t len, yajl_val *ret, struct nook_error **err)
{
  size_t i = 1;

  if (len == 0 || path[0] != '.')
    return nook_error_setx(err, EINVAL, "--format: `%.*s` is not a field (use {{.Name}})",
                           (int)len, path);
  while (i < len)
    {
      size_t klen = strcspn(path + i, ".");
      bool found = false;
      if (klen > len - i)
        klen = len - i;
      for (size_t k = 0; YAJL_IS_OBJECT(v) && k < v->u.object.len && !found; k++)
        if (strlen(v->u.object.keys[k]) == klen && memcmp(v->u.object.keys[k], path + i, klen) == 0)
          {
            v = v->u.object.values[k];
            found = true;
          }
      if (!found)
        return nook_error_setx(err, EINVAL, "--format: no field `%.*s`", (int)len, path);
      i += klen + 1;
    }
  *ret = v;
  return 0;
}

static int render_action(const char *a, size_t len, yajl_val v, FILE *out, struct nook_error **err)
{
  bool json = false;
  yajl_val found = NULL;
  int r;

  while (len && isspace((unsigned char)*a))
    a++, len--;
  while (len && isspace((unsigned char)a[len - 1]))
    len--;
  if (len > 5 && memcmp(a, "json ", 5) == 0)
    {
      json = true;
      a += 5;
      len -= 5;
      while (len && isspace((unsigned char)*a))
        a++, len--;
    }
  if ((r = lookup(v, a, len, &found, err)) < 0)
    return r;
  print_value(found, json, out);
  return 0;
}

int verbs_template_render(const char *tmpl, yajl_val v, FILE *out, struct nook_error **err)
{
  const char *p = tmpl;
  char last = '\0';
  int r;

  while (*p)
    {
      const char *close;
      if (p[0] == '{' && p[1] == '{')
        {
          if (!(close = strstr(p + 2, "}}")))
            return nook_error_setx(err, EINVAL, "--format `%s`: `{{` without `}}`", tmpl);
          if ((r = render_action(p + 2, (size_t)(close - p - 2), v, out, err)) < 0)
            return r;
          p = close + 2;
          last = '}';
          continue;
        }
      if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n'))
        {
          last = p[1] == 't' ? '\t' : '\n';
          p += 2;
        }
      else
        last = *p++;
      fputc(last, out);
    }
  if (last != '\n')
    fputc('\n', out);
  return 0;
}

int verbs_template_gen(const char *tmpl, yajl_gen g, FILE *out, struct nook_error **err)
{
  _cleanup_free_ char *text = nook_json_gen_finish(g, NULL);
  _cleanup_json_ yajl_val v = verbs_json_tree(text);

  return verbs_template_render(tmpl, v, out, err);
}

void verbs_output_finish(yajl_gen g, struct verbs_table *t, FILE *out)
{
  if (g)
    {
      _cleanup_free_ char *text = NULL;
      yajl_gen_array_close(g);
      text = nook_json_gen_finish(g, NULL);
      fprintf(out, "%s\n", text);
    }
  verbs_table_print(t, out);
  verbs_table_free(t);
}

char *verbs_template_header(const char *tmpl, const char **ret_body)
{
  const char *p;
  char *h, *o;

  tmpl += strspn(tmpl, " ");
  if (nook_has_prefix(tmpl, "table"))
    tmpl += 5;
  tmpl += strspn(tmpl, " ");
  *ret_body = tmpl;
  o = h = xcalloc(1, strlen(tmpl) + 1);
  for (p = tmpl; *p;)
    {
      const char *close, *key;
      if (p[0] == '{' && p[1] == '{' && (close = strstr(p + 2, "}}")))
        {
          const char *end = close;
          while (end > p + 2 && isspace((unsigned char)end[-1]))
            end--;
          for (key = end; key > p + 2 && key[-1] != '.' && !isspace((unsigned char)key[-1]); key--)
            ;
          for (; key < end; key++)
            *o++ = (char)toupper((unsigned char)*key);
          p = close + 2;
        }
      else if (p[0] == '\\' && p[1] == 't')
        {
          *o++ = '\t';
          p += 2;
        }
      else
        *o++ = *p++;
    }
  return h;
}

/* ==== tables ============================================================================== */

void verbs_table_add(struct verbs_table *t, ...)
{
  va_list ap;

  t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *t->cells);
  va_start(ap, t);
  for (size_t i = 0; i < t->ncols; i++)
    {
      const char *c = va_arg(ap, const char *);
      t->cells[t->nrows * t->ncols + i] = xstrdup(c ? c : "");
    }
  va_end(ap);
  t->nrows++;
}

void verbs_table_print(struct verbs_table *t, FILE *out)
{
  _cleanup_free_ size_t *w = xcalloc(t->ncols, sizeof *w);

  for (size_t r = 0; r < t->nrows; r++)
    for (size_t i = 0; i < t->ncols; i++)
      {
        size_t len = strlen(t->cells[r * t->ncols + i]) + 2;
        if (len > w[i])
          w[i] = len < 12 ? 12 : len;
      }
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t i = 0; i < t->ncols; i++)
      {
        const char *c = t->cells[r * t->ncols + i];
        if (i + 1 == t->ncols)
          fprintf(out, "%s\n", c);
        else
          fprintf(out, "%-*s", (int)w[i], c);
      }
}

void verbs_table_free(struct verbs_table *t)
{
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  t->cells = NULL;
  t->nrows = 0;
}

/* ==== published ports ===================================================================== */

size_t verbs_ports_parse(char *const *specs, struct verbs_port **ret)
{
  struct verbs_port *v = NULL;
  size_t n = 0;

  for (size_t i = 0; specs && specs[i]; i++)
    {
      struct nat_port p;
      if (nat_port_parse(specs[i], &p, NULL) < 0)
        continue; /* run checked them: an old record */
      v = xrealloc(v, (n + 1) * sizeof *v);
      inet_ntop(AF_INET, &p.host_ip, v[n].host_ip, sizeof v[n].host_ip);
      v[n].host_port = p.host_port;
      v[n].ctr_port = p.ctr_port;
      v[n].proto = p.proto == IPPROTO_UDP ? "udp" : "tcp";
      n++;
    }
  *ret = v;
  return n;
}

char *verbs_ports_text(char *const *specs)
{
  _cleanup_free_ struct verbs_port *v = NULL;
  size_t n = verbs_ports_parse(specs, &v);
  char *text = xstrdup("");

  for (size_t i = 0; i < n; i++)
    {
      char *next = xasprintf("%s%s%s:%u->%u/%s", text, i ? ", " : "", v[i].host_ip,
                             v[i].host_port, v[i].ctr_port, v[i].proto);
      free(text);
      text = next;
    }
  return text;
}

/* ==== environment ========================================================================= */

void verbs_env_set(char ***env, const char *kv)
{
  size_t klen = strcspn(kv, "=");

  for (size_t i = 0; *env && (*env)[i]; i++)
    if (strncmp((*env)[i], kv, klen) == 0 && (*env)[i][klen] == '=')
      {
        free((*env)[i]);
        (*env)[i] = xstrdup(kv);
        return;
      }
  nook_strv_push(env, kv);
}

int verbs_env_add(char ***env, const char *arg, const char *where, struct nook_error **err)
{
  _cleanup_free_ char *kv = NULL;
  const char *v;

  if (!*arg || *arg == '=')
    return nook_error_setx(err, EINVAL, "%s: `%s` is not KEY=VALUE", where, arg);
  if (strchr(arg, '='))
    verbs_env_set(env, arg);
  else if ((v = getenv(arg)))
    {
      kv = xasprintf("%s=%s", arg, v);
      verbs_env_set(env, kv);
    }
  return 0;
}

int verbs_env_add_file(char ***env, const char *file, struct nook_error **err)
{
  _cleanup_free_ char *text = NULL, *where = NULL;
  char *save = NULL;
  int r;

  r = nook_read_file_at(AT_FDCWD, file, 1u << 20, &text, NULL, err);
  if (r < 0)
    return nook_error_prefix(err, "--env-file");
  where = xasprintf("--env-file `%s`", file);
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      line += strspn(line, " \t");
      if (!*line || *line == '#')
        continue;
      if ((r = verbs_env_add(env, line, where, err)) < 0)
        return r;
    }
  return 0;
}
