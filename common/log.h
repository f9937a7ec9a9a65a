/* Diagnostics: to stderr, and to the --log file in runc's text or JSON format, which engines
 * (conmon, containerd) read back to show a runtime's errors. */
#ifndef NOOK_LOG_H
#define NOOK_LOG_H

#include <stdbool.h>
#include "common/cleanup.h"

enum nook_log_level
{
  NOOK_LOG_ERROR,
  NOOK_LOG_WARNING,
  NOOK_LOG_INFO,
  NOOK_LOG_DEBUG,
};

/* path may be NULL (stderr only); json selects {"level":..,"msg":..,"time":..} lines.
 * Returns < 0 with errno set when the log file cannot be opened. */
int nook_log_init(const char *path, bool json, enum nook_log_level level);
/* The log fd, or -1: kept across the fork of a container's init so that it can report too. */
int nook_log_fd(void);
void nook_log(enum nook_log_level level, const char *fmt, ...) _printf_(2, 3);

#define nook_error_log(...) nook_log(NOOK_LOG_ERROR, __VA_ARGS__)
#define nook_warn(...) nook_log(NOOK_LOG_WARNING, __VA_ARGS__)
#define nook_debug(...) nook_log(NOOK_LOG_DEBUG, __VA_ARGS__)

#endif
