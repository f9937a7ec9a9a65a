/* libarchive, loaded at first use (dl.h): layer unpack, image archives, export.  Call
 * sites write sym_archive_read_new() where they would write archive_read_new(). */
#ifndef NOOK_DL_ARCHIVE_H
#define NOOK_DL_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "images/dl.h"

extern DLSYM_PROTOTYPE(archive_entry_atime);
extern DLSYM_PROTOTYPE(archive_entry_atime_is_set);
extern DLSYM_PROTOTYPE(archive_entry_atime_nsec);
extern DLSYM_PROTOTYPE(archive_entry_filetype);
extern DLSYM_PROTOTYPE(archive_entry_free);
extern DLSYM_PROTOTYPE(archive_entry_gid);
extern DLSYM_PROTOTYPE(archive_entry_hardlink);
extern DLSYM_PROTOTYPE(archive_entry_mtime);
extern DLSYM_PROTOTYPE(archive_entry_mtime_nsec);
extern DLSYM_PROTOTYPE(archive_entry_new);
extern DLSYM_PROTOTYPE(archive_entry_pathname);
extern DLSYM_PROTOTYPE(archive_entry_perm);
extern DLSYM_PROTOTYPE(archive_entry_rdev);
extern DLSYM_PROTOTYPE(archive_entry_set_filetype);
extern DLSYM_PROTOTYPE(archive_entry_set_mtime);
extern DLSYM_PROTOTYPE(archive_entry_set_pathname);
extern DLSYM_PROTOTYPE(archive_entry_set_perm);
extern DLSYM_PROTOTYPE(archive_entry_set_size);
extern DLSYM_PROTOTYPE(archive_entry_size);
extern DLSYM_PROTOTYPE(archive_entry_symlink);
extern DLSYM_PROTOTYPE(archive_entry_uid);
extern DLSYM_PROTOTYPE(archive_entry_xattr_next);
extern DLSYM_PROTOTYPE(archive_entry_xattr_reset);
extern DLSYM_PROTOTYPE(archive_errno);
extern DLSYM_PROTOTYPE(archive_error_string);
extern DLSYM_PROTOTYPE(archive_filter_bytes);
extern DLSYM_PROTOTYPE(archive_read_data);
extern DLSYM_PROTOTYPE(archive_read_data_block);
extern DLSYM_PROTOTYPE(archive_read_free);
extern DLSYM_PROTOTYPE(archive_read_new);
extern DLSYM_PROTOTYPE(archive_read_next_header);
extern DLSYM_PROTOTYPE(archive_read_open);
extern DLSYM_PROTOTYPE(archive_read_open_fd);
extern DLSYM_PROTOTYPE(archive_read_support_filter_gzip);
extern DLSYM_PROTOTYPE(archive_read_support_filter_zstd);
extern DLSYM_PROTOTYPE(archive_read_support_format_tar);
extern DLSYM_PROTOTYPE(archive_set_error);
extern DLSYM_PROTOTYPE(archive_write_close);
extern DLSYM_PROTOTYPE(archive_write_data);
extern DLSYM_PROTOTYPE(archive_write_free);
extern DLSYM_PROTOTYPE(archive_write_header);
extern DLSYM_PROTOTYPE(archive_write_new);
extern DLSYM_PROTOTYPE(archive_write_open_fd);
extern DLSYM_PROTOTYPE(archive_write_set_format_pax_restricted);

/* Loads libarchive (the soname configure found, e.g. libarchive.so.13) and fills the sym_
 * pointers above; 0 at once when it is loaded already.  ELIBACC when the library is not
 * installed ("libarchive.so.13: cannot open shared object file: No such file or directory"),
 * ELIBBAD when it lacks a function. */
int dl_libarchive_load(struct nook_error **err);

#endif
