/* The reader of container logs in the k8s-file format (cli/logs-reader.c), for `nook logs`.
 *
 * The supervisor (runtime/supervisor.h) writes the container's output to ctr.log in the
 * format that podman's k8s-file driver and Kubernetes use, one record a line:
 *
 *   2024-01-02T03:04:05.123456789Z stdout F hello
 *   2024-01-02T03:04:05.123456790Z stderr P a line without its end, contin
 *   2024-01-02T03:04:05.123456791Z stderr F ued here
 *
 * F ends a line of the container's output (its newline is the record's own), P is a part of
 * a line that the next record of the same stream continues.  At --log-max-size ctr.log is
 * renamed to ctr.log.1 (ctr.log.1 to ctr.log.2, ...) and a new ctr.log begins: the oldest
 * output is in the highest number.
 *
 * A logs_reader turns the bytes of those files into whole lines (P records reassembled per
 * stream); a logs_cursor reads the files in order and then follows ctr.log across
 * rotations. */
#ifndef NOOK_CLI_LOGS_READER_H
#define NOOK_CLI_LOGS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define LOGS_FILE "ctr.log"
/* The most rotated files looked for (ctr.log.1 .. ctr.log.LOGS_MAX_FILES). */
#define LOGS_MAX_FILES 999

enum logs_stream
{
  LOGS_STDOUT = 1,
  LOGS_STDERR = 2,
};

/* One record, pointing into the parsed line. */
struct logs_record
{
  int64_t ts_ns;   /* since the epoch */
  const char *ts;  /* the timestamp as written */
  size_t ts_len;
  enum logs_stream stream;
  bool partial;    /* P */
  const char *text;
  size_t len;
};

/* Parses one line (without its '\n').  -EINVAL when it is not a record. */
int logs_record_parse(const char *line, size_t len, struct logs_record *ret);

/* RFC 3339, with or without a fraction of a second, Z or a +hh:mm / -hh:mm offset, into
 * nanoseconds since the epoch.  -EINVAL when it is not that. */
int logs_time_parse_rfc3339(const char *s, size_t len, int64_t *ret_ns);

/* A --since / --until value, as podman takes it: RFC 3339 ("2024-01-02T03:04:05Z"), the same
 * without a zone (local time), a date ("2024-01-02", local midnight), seconds since the epoch
 * ("1700000000", a fraction allowed), or a duration before now ("10s", "5m", "1h30m", "250ms").
 * The error names the option and the value. */
int logs_time_parse_arg(const char *opt, const char *s, int64_t now_ns, int64_t *ret_ns,
                        struct nook_error **err);

/* A line of output, reassembled. */
struct logs_line
{
  int64_t ts_ns;   /* the time of its first record */
  const char *ts;  /* that record's timestamp, as written (NUL-terminated) */
  enum logs_stream stream;
  const char *text; /* without the newline; not NUL-terminated */
  size_t len;
  bool newline;    /* false: the output ended without one (a last P record) */
};

/* Called for each line; a negative return stops the reader and is returned by the feeding
 * call. */
typedef int (*logs_line_fn)(const struct logs_line *l, void *data);

struct logs_reader;

struct logs_reader *logs_reader_new(logs_line_fn fn, void *data);
void logs_reader_free(struct logs_reader *r);
static inline void logs_reader_freep(struct logs_reader **r) { logs_reader_free(*r); }
#define _cleanup_logs_reader_ _cleanup_(logs_reader_freep)

/* Feeds bytes of a log file in order; calls fn for each complete line.  An incomplete last
 * record (a writer in the middle of a line) is kept for the next call. */
int logs_reader_feed(struct logs_reader *r, const char *buf, size_t len);
/* The end of one file: an incomplete last record is dropped, as no more can come to it.
 * Partial lines (P records) carry on into the next file. */
void logs_reader_file_end(struct logs_reader *r);
/* The end of the log: the lines still open (P records without their F) are passed on with
 * newline false. */
int logs_reader_finish(struct logs_reader *r);
/* Lines that were not records and were skipped. */
size_t logs_reader_bad_lines(const struct logs_reader *r);

/* A position in the log of one container directory. */
struct logs_cursor
{
  int dirfd;  /* the container's directory (not owned) */
  int fd;     /* ctr.log as it was opened; -1 while there is none */
  dev_t dev;
  ino_t ino;
};

/* Reads ctr.log.N .. ctr.log.1 and ctr.log to their ends into r and leaves c on ctr.log (fd
 * -1 when there is no log yet).  A negative return of the reader's line function is returned
 * as it is, without an error. */
int logs_cursor_open(int dirfd, struct logs_reader *r, struct logs_cursor *c,
                     struct nook_error **err);
/* Reads what was written since.  When ctr.log was rotated meanwhile: the rest of the file c
 * was on, the files rotated after it (found by its inode), then the new ctr.log. */
int logs_cursor_advance(struct logs_cursor *c, struct logs_reader *r, struct nook_error **err);
void logs_cursor_close(struct logs_cursor *c);

#endif
