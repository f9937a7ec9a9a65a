/* Fuzz target for what a registry sends back (images/registry-auth.c, registry-http.c), without
 * a network: each input is used four ways.
 *   - a WWW-Authenticate value: registry_challenges_parse() (cut at the first NUL or line end);
 *   - a token server's answer: registry_token_parse();
 *   - the header lines of a response (split after each LF) through registry_xfer_header(),
 *     libcurl's header callback, then the challenges it kept are parsed too;
 *   - the body of an error answer: registry_status_error(), with a status from the input.
 * Checked: no memory error, no leak, no undefined behaviour; failures are one printable line;
 * a token holds no space or control character (it goes into a header line); a parsed
 * challenge has a lowercase scheme and parameter names; a kept Content-Type has no
 * parameters. */
#include "config.h"

#include <string.h>

#include "common/util.h"
#include "images/registry-internal.h"
#include "tests/fuzz/fuzz.h"

static void check_challenges(const char *header)
{
  struct registry_challenge *c = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  size_t n = 0;
  int r = registry_challenges_parse(header, &c, &n, &err);

  fuzz_check_error(r, err, "invalid WWW-Authenticate header");
  for (size_t i = 0; i < n; i++)
    {
      for (const char *p = c[i].scheme; *p; p++)
        fuzz_check(!(*p >= 'A' && *p <= 'Z'), "a scheme not in lowercase", c[i].scheme);
      for (size_t j = 0; j < c[i].n_params; j++)
        {
          fuzz_check(c[i].params[j].name && c[i].params[j].value, "a parameter without value",
                     c[i].scheme);
          for (const char *p = c[i].params[j].name; *p; p++)
            fuzz_check(!(*p >= 'A' && *p <= 'Z'), "a parameter name not in lowercase",
                       c[i].params[j].name);
        }
      (void)registry_challenge_param(&c[i], "realm");
    }
  registry_challenges_free(c, n);
}

static void check_token(const char *data, size_t size)
{
  _cleanup_free_ char *token = NULL;
  _cleanup_error_ struct nook_error *err = NULL;
  int r = registry_token_parse(data, size, &token, &err);

  fuzz_check_error(r, err, "token");
  for (const char *p = r == 0 ? token : ""; *p; p++)
    fuzz_check((unsigned char)*p > ' ' && *p != 0x7f, "a token that would break its header line",
               NULL);
}

static void check_response(const char *data, size_t size)
{
  struct registry_xfer x = { 0 };
  _cleanup_error_ struct nook_error *err = NULL;
  size_t off = 0;
  int r;

  while (off < size)
    {
      const char *nl = memchr(data + off, '\n', size - off);
      size_t len = nl ? (size_t)(nl - data - off) + 1 : size - off;
      fuzz_check(registry_xfer_header(&x, data + off, len) == len, "a header line refused", NULL);
      off += len;
    }
  fuzz_check(!x.resp.content_type || !strpbrk(x.resp.content_type, "; \t\r\n"),
             "a content type with parameters", x.resp.content_type);
  for (size_t i = 0; x.resp.challenges && x.resp.challenges[i]; i++)
    check_challenges(x.resp.challenges[i]);
  /* the same text as the body of an error answer */
  x.resp.status = 400 + (size ? data[0] % 200 : 0);
  free(x.resp.errbody);
  x.resp.errbody = xstrndup(data, size);
  x.resp.errbody_len = strlen(x.resp.errbody);
  r = registry_status_error(&x.resp, &err);
  fuzz_check(r < 0, "an error answer that is no error", NULL);
  fuzz_check_error(r, err, NULL);
  registry_resp_clear(&x.resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  _cleanup_free_ char *line = xstrndup(text, size);

  line[strcspn(line, "\r\n")] = '\0';
  check_challenges(line);
  check_token(text, size);
  check_response(text, size);
  return 0;
}
