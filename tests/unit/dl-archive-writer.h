/* The unit tests write layers and archives with libarchive, loaded as nook loads it
 * (images/dl-archive.h), so that the test programs, like nook, link no libarchive: the
 * functions nook has in its table, and these writer functions it does not need. */
#ifndef NOOK_TEST_DL_ARCHIVE_WRITER_H
#define NOOK_TEST_DL_ARCHIVE_WRITER_H

#include <stdio.h>
#include <stdlib.h>

#include "images/dl-archive.h"

static DLSYM_PROTOTYPE(archive_entry_copy_hardlink);
static DLSYM_PROTOTYPE(archive_entry_copy_pathname);
static DLSYM_PROTOTYPE(archive_entry_copy_symlink);
static DLSYM_PROTOTYPE(archive_entry_set_gid);
static DLSYM_PROTOTYPE(archive_entry_set_rdev);
static DLSYM_PROTOTYPE(archive_entry_set_symlink);
static DLSYM_PROTOTYPE(archive_entry_set_uid);
static DLSYM_PROTOTYPE(archive_entry_sparse_add_entry);
static DLSYM_PROTOTYPE(archive_entry_xattr_add_entry);
static DLSYM_PROTOTYPE(archive_write_add_filter_gzip);
static DLSYM_PROTOTYPE(archive_write_add_filter_zstd);
static DLSYM_PROTOTYPE(archive_write_open2);
static DLSYM_PROTOTYPE(archive_write_open_filename);
static DLSYM_PROTOTYPE(archive_write_set_bytes_in_last_block);
static DLSYM_PROTOTYPE(archive_write_set_format);

/* Loads libarchive and the writer functions; bails out of the test program when it cannot. */
static void archive_writer_load(void)
{
  static void *dl;
  _cleanup_error_ struct nook_error *err = NULL;
  int r;

  r = dl_libarchive_load(&err);
  /* one symbol a line */
  // clang-format off
  if (r >= 0)
    r = dl_open_many(&dl, NOOK_LIBARCHIVE_SONAME, &err,
                     DLSYM_ARG(archive_entry_copy_hardlink),
                     DLSYM_ARG(archive_entry_copy_pathname),
                     DLSYM_ARG(archive_entry_copy_symlink),
                     DLSYM_ARG(archive_entry_set_gid),
                     DLSYM_ARG(archive_entry_set_rdev),
                     DLSYM_ARG(archive_entry_set_symlink),
                     DLSYM_ARG(archive_entry_set_uid),
                     DLSYM_ARG(archive_entry_sparse_add_entry),
                     DLSYM_ARG(archive_entry_xattr_add_entry),
                     DLSYM_ARG(archive_write_add_filter_gzip),
                     DLSYM_ARG(archive_write_add_filter_zstd),
                     DLSYM_ARG(archive_write_open2),
                     DLSYM_ARG(archive_write_open_filename),
                     DLSYM_ARG(archive_write_set_bytes_in_last_block),
                     DLSYM_ARG(archive_write_set_format),
                     NULL);
  // clang-format on
  if (r < 0)
    {
      printf("Bail out! %s\n", err->msg);
      exit(1);
    }
}

#endif
