#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static int log_fd = -1;
static bool log_json;
static enum nook_log_level log_level = NOOK_LOG_WARNING;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int nook_log_init(const char *path, bool json, enum nook_log_level level)
{
  log_level = level;
  log_json = json;
  if (path && *path)
    {
      int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0)
        return -1;
      log_fd = fd;
    }
  return 0;
}

int nook_log_fd(void) { return log_fd; }

/* Escapes a message as a JSON string body; control characters as \u00XX. */
static void json_escape(FILE *f, const char *s)
{
  for (; *s; s++)
    {
      unsigned char c = (unsigned char)*s;
      if (c == '"' || c == '\\')
        fprintf(f, "\\%c", c);
      else if (c == '\n')
        fputs("\\n", f);
      else if (c == '\t')
        fputs("\\t", f);
      else if (c < 0x20)
        fprintf(f, "\\u%04x", c);
      else
        fputc(c, f);
    }
}

void nook_log(enum nook_log_level level, const char *fmt, ...)
{
  _cleanup_free_ char *msg = NULL;
  va_list ap;
  int saved = errno;

  if (level > log_level)
    return;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  if (msg == NULL)
    return;

  if (log_fd >= 0)
    {
      _cleanup_free_ char *line = NULL;
      _cleanup_free_ char *now = nook_time_rfc3339();
      size_t len = 0;
      FILE *f = open_memstream(&line, &len);
      if (f)
        {
          if (log_json)
            {
              fprintf(f, "{\"level\":\"%s\",\"msg\":\"", level_names[level]);
              json_escape(f, msg);
              fprintf(f, "\",\"time\":\"%s\"}\n", now);
            }
          else
            fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", now, level_names[level], msg);
          fclose(f);
          if (nook_write_all(log_fd, line, len) < 0)
            { /* nowhere left to report it */
            }
        }
    }
  /* Errors always reach stderr; engines that pass --log read the file, people read stderr. */
  if (level == NOOK_LOG_ERROR || log_fd < 0)
    {
      _cleanup_free_ char *line =
          level == NOOK_LOG_ERROR ? xasprintf("nook: %s\n", msg)
                                  : xasprintf("nook: %s: %s\n", level_names[level], msg);
      if (nook_write_all(STDERR_FILENO, line, strlen(line)) < 0)
        { /* nowhere left to report it */
        }
    }
  errno = saved;
}
