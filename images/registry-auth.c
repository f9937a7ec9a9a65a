/* WWW-Authenticate challenges (RFC 7235) and the token server's answer.
 *
 * A registry that wants a token answers 401 with a header such as
 *   WWW-Authenticate: Bearer realm="https://a.example/token",service="r",scope="repository:x:pull"
 * and the client asks the realm for a token.  The header is parsed with the RFC's grammar, not
 * by splitting on commas: a scope may hold commas ("repository:x:pull,push") inside quotes,
 * one header may carry several challenges, and servers differ in spaces and quoting. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/util.h"
#include "images/registry-internal.h"

/* RFC 7230 tchar */
static bool is_tchar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(char c)
{
  return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
  while (is_ows(*p))
    p++;
  return p;
}

static char *lower_dup(const char *s, size_t n)
{
  char *r = xstrndup(s, n);

  for (char *p = r; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return r;
}

/* A quoted-string at *pp (which points at the opening quote); unescapes quoted-pairs. */
static int parse_quoted(const char **pp, char **ret)
{
  const char *p = *pp + 1;
  _cleanup_free_ char *out = xmalloc(strlen(p) + 1);
  size_t n = 0;

  for (; *p && *p != '"'; p++)
    {
      if (*p == '\\')
        {
          if (!p[1])
            return -1;
          p++;
        }
      out[n++] = *p;
    }
  if (*p != '"')
    return -1;
  out[n] = '\0';
  *pp = p + 1;
  *ret = TAKE_PTR(out);
  return 0;
}

/* A parameter value: a quoted-string, or a token (leniently: anything up to a comma or space,
 * since servers send unquoted URLs). */
static int parse_value(const char **pp, char **ret)
{
  const char *p = *pp, *start = p;

  if (*p == '"')
    return parse_quoted(pp, ret);
  while (*p && *p != ',' && !is_ows(*p))
    p++;
  if (p == start)
    return -1;
  *ret = xstrndup(start, (size_t)(p - start));
  *pp = p;
  return 0;
}

static void challenge_add_param(struct registry_challenge *c, char *name, char *value)
{
  c->params = xrealloc(c->params, (c->n_params + 1) * sizeof *c->params);
  c->params[c->n_params].name = name;
  c->params[c->n_params].value = value;
  c->n_params++;
}

/* At P: `token BWS "="` that is not a token68's trailing "=" padding, i.e. an auth-param. */
static bool at_param(const char *p)
{
  const char *q = p;

  while (is_tchar(*q))
    q++;
  if (q == p)
    return false;
  q = skip_ows(q);
  if (*q != '=')
    return false;
  q = skip_ows(q + 1);
  return *q && *q != '=' && *q != ',';
}

/* The parameters (or token68) of one challenge, after its scheme; stops before the comma that
 * starts the next challenge. */
static int parse_params(const char **pp, struct registry_challenge *c)
{
  const char *p = skip_ows(*pp);

  if (*p && *p != ',' && !at_param(p))
    {
      /* token68 (Basic's credentials form): kept whole under the name "" */
      const char *start = p;
      while (*p && *p != ',' && !is_ows(*p))
        p++;
      challenge_add_param(c, xstrdup(""), xstrndup(start, (size_t)(p - start)));
      *pp = skip_ows(p);
      return 0;
    }
  for (;;)
    {
      const char *name;
      char *value = NULL;
      size_t name_len;

      while (*p == ',' || is_ows(*p))
        p++;
      if (!*p || !at_param(p))
        break;
      name = p;
      while (is_tchar(*p))
        p++;
      name_len = (size_t)(p - name);
      p = skip_ows(skip_ows(p) + 1);
      if (parse_value(&p, &value) < 0)
        return -1;
      challenge_add_param(c, lower_dup(name, name_len), value);
      p = skip_ows(p);
      if (*p && *p != ',')
        return -1;
    }
  *pp = p;
  return 0;
}

int registry_challenges_parse(const char *header, struct registry_challenge **challenges, size_t *n,
                              struct nook_error **err)
{
  const char *p = header;

  for (;;)
    {
      struct registry_challenge *c;
      const char *scheme;

      while (*p == ',' || is_ows(*p))
        p++;
      if (!*p)
        return 0;
      scheme = p;
      while (is_tchar(*p))
        p++;
      if (p == scheme || (*p && !is_ows(*p) && *p != ','))
        return nook_error_setx(err, EINVAL, "invalid WWW-Authenticate header `%s`", header);
      *challenges = xrealloc(*challenges, (*n + 1) * sizeof **challenges);
      c = &(*challenges)[(*n)++];
      memset(c, 0, sizeof *c);
      c->scheme = lower_dup(scheme, (size_t)(p - scheme));
      if (parse_params(&p, c) < 0)
        return nook_error_setx(err, EINVAL, "invalid WWW-Authenticate header `%s`", header);
    }
}

const char *registry_challenge_param(const struct registry_challenge *c, const char *name)
{
  for (size_t i = 0; i < c->n_params; i++)
    if (strcasecmp(c->params[i].name, name) == 0)
      return c->params[i].value;
  return NULL;
}

void registry_challenges_free(struct registry_challenge *c, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      for (size_t j = 0; j < c[i].n_params; j++)
        {
          free(c[i].params[j].name);
          free(c[i].params[j].value);
        }
      free(c[i].params);
      free(c[i].scheme);
    }
  free(c);
}

int registry_token_parse(const char *json, size_t len, char **ret, struct nook_error **err)
{
  _cleanup_json_ yajl_val tree = NULL;
  const char *token;
  int r;

  r = nook_json_parse_untrusted(json, len, IMAGE_JSON_MAX, "token", &tree, err);
  if (r < 0)
    return r;
  token = nook_json_get_str(tree, "token");
  if (!token || !*token)
    token = nook_json_get_str(tree, "access_token");
  if (!token || !*token)
    return nook_error_setx(err, EINVAL, "token: the answer has no `token`");
  /* It goes into a header line: refuse what would end or split it. */
  for (const char *p = token; *p; p++)
    if ((unsigned char)*p < 0x21 || *p == 0x7f)
      return nook_error_setx(err, EINVAL, "token: the token holds a control character or space");
  *ret = xstrdup(token);
  return 0;
}
