/* Unit tests for the registry client's parsers: WWW-Authenticate challenges and token answers
 * (images/registry-auth.c), and the registry's error bodies (images/registry-http.c). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "images/registry-internal.h"
#include "tests/unit/tap.h"

struct parsed
{
  struct registry_challenge *c;
  size_t n;
  int r;
};

static struct parsed parse(const char *header)
{
  _cleanup_error_ struct nook_error *err = NULL;
  struct parsed p = { 0 };

  p.r = registry_challenges_parse(header, &p.c, &p.n, &err);
  if (p.r < 0 && (!err || !strstr(err->msg, "WWW-Authenticate")))
    printf("# error without the header's name: %s\n", err ? err->msg : "(none)");
  return p;
}

static const char *param(const struct parsed *p, size_t i, const char *name)
{
  return i < p->n ? registry_challenge_param(&p->c[i], name) : NULL;
}

static void test_docker_hub(void)
{
  struct parsed p =
      parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
            "scope=\"repository:library/busybox:pull\"");

  tap_ok(p.r == 0 && p.n == 1, "docker hub: one challenge");
  tap_is_str(p.n ? p.c[0].scheme : NULL, "bearer", "docker hub: scheme, lowercase");
  tap_is_str(param(&p, 0, "realm"), "https://auth.docker.io/token", "docker hub: realm");
  tap_is_str(param(&p, 0, "service"), "registry.docker.io", "docker hub: service");
  tap_is_str(param(&p, 0, "scope"), "repository:library/busybox:pull", "docker hub: scope");
  tap_ok(param(&p, 0, "error") == NULL, "docker hub: an absent parameter is NULL");
  registry_challenges_free(p.c, p.n);
}

static void test_quoting(void)
{
  struct parsed p;

  p = parse("Bearer realm=\"https://r/token\",scope=\"repository:a/b:pull,push\",service=\"s\"");
  tap_is_str(param(&p, 0, "scope"), "repository:a/b:pull,push", "a comma inside quotes stays");
  tap_is_str(param(&p, 0, "service"), "s", "the parameter after it is found");
  registry_challenges_free(p.c, p.n);

  p = parse("Bearer realm=\"a\\\"b\\\\c\"");
  tap_is_str(param(&p, 0, "realm"), "a\"b\\c", "quoted-pair escapes are undone");
  registry_challenges_free(p.c, p.n);

  p = parse("  BEARER   Realm = \"r\" ,  SERVICE=s ,scope=\"\"  ");
  tap_ok(p.r == 0 && p.n == 1, "spaces around = and commas");
  tap_is_str(p.n ? p.c[0].scheme : NULL, "bearer", "an uppercase scheme is lowercased");
  tap_is_str(param(&p, 0, "realm"), "r", "parameter names are case-insensitive");
  tap_is_str(param(&p, 0, "service"), "s", "an unquoted token value");
  tap_is_str(param(&p, 0, "scope"), "", "an empty quoted value");
  registry_challenges_free(p.c, p.n);

  p = parse("Bearer realm=https://r:5001/token,service=reg");
  tap_is_str(param(&p, 0, "realm"), "https://r:5001/token", "an unquoted URL (lenient)");
  tap_is_str(param(&p, 0, "service"), "reg", "and the next parameter");
  registry_challenges_free(p.c, p.n);
}

static void test_several(void)
{
  struct parsed p;

  p = parse("Basic realm=\"Registry Realm\", Bearer realm=\"https://a/t\", service=\"x,y\"");
  tap_ok(p.r == 0 && p.n == 2, "two challenges in one header");
  tap_is_str(p.n == 2 ? p.c[0].scheme : NULL, "basic", "the first is basic");
  tap_is_str(param(&p, 0, "realm"), "Registry Realm", "with its realm");
  tap_is_str(p.n == 2 ? p.c[1].scheme : NULL, "bearer", "the second is bearer");
  tap_is_str(param(&p, 1, "service"), "x,y", "with its own parameters");
  registry_challenges_free(p.c, p.n);

  p = parse("Negotiate, Basic dXNlcjpwYXNz==, Bearer realm=\"r\"");
  tap_ok(p.r == 0 && p.n == 3, "a bare scheme and a token68 between challenges");
  tap_is_str(param(&p, 1, ""), "dXNlcjpwYXNz==", "the token68 is kept");
  tap_is_str(param(&p, 2, "realm"), "r", "the challenge after it is parsed");
  registry_challenges_free(p.c, p.n);

  p = parse("Bearer realm=");
  tap_is_str(param(&p, 0, ""),
             "realm=", "`realm=` without a value is a token68, as the grammar says");
  registry_challenges_free(p.c, p.n);

  p = parse("");
  tap_ok(p.r == 0 && p.n == 0, "an empty header has no challenge");
  registry_challenges_free(p.c, p.n);
}

static void test_malformed(void)
{
  static const char *const bad[] = {
    "Bearer realm=\"unterminated", "Bearer realm=\"x\\", "=x",
    "Bearer realm=\"a\"junk",      "Bearer a=b c",       "Bear\"er realm=x",
  };

  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    {
      struct parsed p = parse(bad[i]);
      tap_ok(p.r == -EINVAL, "malformed header refused: %s", bad[i]);
      registry_challenges_free(p.c, p.n);
    }
}

static void test_tokens(void)
{
  static const struct
  {
    const char *json, *want;
  } cases[] = {
    { "{\"token\":\"abc.def-ghi\",\"expires_in\":300}", "abc.def-ghi" },
    { "{\"access_token\":\"oauth\"}", "oauth" },
    { "{\"token\":\"\",\"access_token\":\"second\"}", "second" },
    { "{\"token\":\"tok\",\"access_token\":\"other\"}", "tok" },
    { "{}", NULL },
    { "{\"token\":\"a b\"}", NULL },
    { "{\"token\":\"a\\r\\nX-Evil: 1\"}", NULL },
    { "{\"token\":42}", NULL },
    { "not json", NULL },
  };

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
    {
      _cleanup_error_ struct nook_error *err = NULL;
      _cleanup_free_ char *token = NULL;
      int r = registry_token_parse(cases[i].json, strlen(cases[i].json), &token, &err);
      if (cases[i].want)
        tap_ok(r == 0 && streq(token, cases[i].want), "token from %s", cases[i].json);
      else
        tap_ok(r < 0 && token == NULL && err, "no token from %s", cases[i].json);
    }
}

static void test_status_errors(void)
{
  static const char body[] = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
                             "unknown\",\"detail\":{}}]}";
  static const char code_only[] = "{\"errors\":[{\"code\":\"DENIED\"}]}";
  struct registry_resp r = { .status = 404,
                             .errbody = (char *)body,
                             .errbody_len = sizeof body - 1 };
  struct nook_error *err = NULL;
  int rc;

  rc = registry_status_error(&r, &err);
  tap_ok(rc == -ENOENT && err && streq(err->msg, "manifest unknown (404)"),
         "the registry's message and the status: %s", err ? err->msg : "");
  nook_error_freep(&err);
  r.status = 403;
  r.errbody = (char *)code_only;
  r.errbody_len = sizeof code_only - 1;
  rc = registry_status_error(&r, &err);
  tap_ok(rc == -EACCES && err && streq(err->msg, "DENIED (403)"),
         "the code when there is no message");
  nook_error_freep(&err);
  r.status = 502;
  r.errbody = (char *)"<html>bad gateway</html>";
  r.errbody_len = strlen(r.errbody);
  rc = registry_status_error(&r, &err);
  tap_ok(rc == -EIO && err && streq(err->msg, "server error (502)"), "a body that is not JSON");
  nook_error_freep(&err);
}

int main(void)
{
  test_docker_hub();
  test_quoting();
  test_several();
  test_malformed();
  test_tokens();
  test_status_errors();
  return tap_done();
}
