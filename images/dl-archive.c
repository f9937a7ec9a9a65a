/* libarchive's table of function pointers (dl-archive.h). */
#include "config.h"

#include "images/dl-archive.h"

static void *libarchive_dl;

DLSYM_PROTOTYPE(archive_entry_atime);
DLSYM_PROTOTYPE(archive_entry_atime_is_set);
DLSYM_PROTOTYPE(archive_entry_atime_nsec);
DLSYM_PROTOTYPE(archive_entry_filetype);
DLSYM_PROTOTYPE(archive_entry_free);
DLSYM_PROTOTYPE(archive_entry_gid);
DLSYM_PROTOTYPE(archive_entry_hardlink);
DLSYM_PROTOTYPE(archive_entry_mtime);
DLSYM_PROTOTYPE(archive_entry_mtime_nsec);
DLSYM_PROTOTYPE(archive_entry_new);
DLSYM_PROTOTYPE(archive_entry_pathname);
DLSYM_PROTOTYPE(archive_entry_perm);
DLSYM_PROTOTYPE(archive_entry_rdev);
DLSYM_PROTOTYPE(archive_entry_set_filetype);
DLSYM_PROTOTYPE(archive_entry_set_mtime);
DLSYM_PROTOTYPE(archive_entry_set_pathname);
DLSYM_PROTOTYPE(archive_entry_set_perm);
DLSYM_PROTOTYPE(archive_entry_set_size);
DLSYM_PROTOTYPE(archive_entry_size);
DLSYM_PROTOTYPE(archive_entry_symlink);
DLSYM_PROTOTYPE(archive_entry_uid);
DLSYM_PROTOTYPE(archive_entry_xattr_next);
DLSYM_PROTOTYPE(archive_entry_xattr_reset);
DLSYM_PROTOTYPE(archive_errno);
DLSYM_PROTOTYPE(archive_error_string);
DLSYM_PROTOTYPE(archive_filter_bytes);
DLSYM_PROTOTYPE(archive_read_data);
DLSYM_PROTOTYPE(archive_read_data_block);
DLSYM_PROTOTYPE(archive_read_free);
DLSYM_PROTOTYPE(archive_read_new);
DLSYM_PROTOTYPE(archive_read_next_header);
DLSYM_PROTOTYPE(archive_read_open);
DLSYM_PROTOTYPE(archive_read_open_fd);
DLSYM_PROTOTYPE(archive_read_support_filter_gzip);
DLSYM_PROTOTYPE(archive_read_support_filter_zstd);
DLSYM_PROTOTYPE(archive_read_support_format_tar);
DLSYM_PROTOTYPE(archive_set_error);
DLSYM_PROTOTYPE(archive_write_close);
DLSYM_PROTOTYPE(archive_write_data);
DLSYM_PROTOTYPE(archive_write_free);
DLSYM_PROTOTYPE(archive_write_header);
DLSYM_PROTOTYPE(archive_write_new);
DLSYM_PROTOTYPE(archive_write_open_fd);
DLSYM_PROTOTYPE(archive_write_set_format_pax_restricted);

/* one symbol a line */
// clang-format off
int dl_libarchive_load(struct nook_error **err)
{
  return dl_open_many(&libarchive_dl, NOOK_LIBARCHIVE_SONAME, err,
                      DLSYM_ARG(archive_entry_atime),
                      DLSYM_ARG(archive_entry_atime_is_set),
                      DLSYM_ARG(archive_entry_atime_nsec),
                      DLSYM_ARG(archive_entry_filetype),
                      DLSYM_ARG(archive_entry_free),
                      DLSYM_ARG(archive_entry_gid),
                      DLSYM_ARG(archive_entry_hardlink),
                      DLSYM_ARG(archive_entry_mtime),
                      DLSYM_ARG(archive_entry_mtime_nsec),
                      DLSYM_ARG(archive_entry_new),
                      DLSYM_ARG(archive_entry_pathname),
                      DLSYM_ARG(archive_entry_perm),
                      DLSYM_ARG(archive_entry_rdev),
                      DLSYM_ARG(archive_entry_set_filetype),
                      DLSYM_ARG(archive_entry_set_mtime),
                      DLSYM_ARG(archive_entry_set_pathname),
                      DLSYM_ARG(archive_entry_set_perm),
                      DLSYM_ARG(archive_entry_set_size),
                      DLSYM_ARG(archive_entry_size),
                      DLSYM_ARG(archive_entry_symlink),
                      DLSYM_ARG(archive_entry_uid),
                      DLSYM_ARG(archive_entry_xattr_next),
                      DLSYM_ARG(archive_entry_xattr_reset),
                      DLSYM_ARG(archive_errno),
                      DLSYM_ARG(archive_error_string),
                      DLSYM_ARG(archive_filter_bytes),
                      DLSYM_ARG(archive_read_data),
                      DLSYM_ARG(archive_read_data_block),
                      DLSYM_ARG(archive_read_free),
                      DLSYM_ARG(archive_read_new),
                      DLSYM_ARG(archive_read_next_header),
                      DLSYM_ARG(archive_read_open),
                      DLSYM_ARG(archive_read_open_fd),
                      DLSYM_ARG(archive_read_support_filter_gzip),
                      DLSYM_ARG(archive_read_support_filter_zstd),
                      DLSYM_ARG(archive_read_support_format_tar),
                      DLSYM_ARG(archive_set_error),
                      DLSYM_ARG(archive_write_close),
                      DLSYM_ARG(archive_write_data),
                      DLSYM_ARG(archive_write_free),
                      DLSYM_ARG(archive_write_header),
                      DLSYM_ARG(archive_write_new),
                      DLSYM_ARG(archive_write_open_fd),
                      DLSYM_ARG(archive_write_set_format_pax_restricted),
                      NULL);
}
// clang-format on
