/* Opening a path inside a directory that stands for a root filesystem an image or container
 * controls: symlinks, absolute or climbing with `..`, stay inside it, and /proc magic links are
 * not jumped through. */
#ifndef NOOK_PATH_ROOT_H
#define NOOK_PATH_ROOT_H

#include <stdbool.h>

/* Opens rel (relative to rootfd, which acts as `/`) with flags (O_PATH, or O_RDONLY with
 * O_DIRECTORY and the like; O_CLOEXEC is added).  With openat2 this is RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS; on kernels without it (ENOSYS, before 5.6), or when the kernel keeps
 * answering EAGAIN (a rename or mount elsewhere during each of 32 tries at a walk with ".."), a
 * walk that reads every symlink itself and restarts absolute ones at rootfd gives the same
 * result, and the O_PATH fd it reaches is then reopened with flags.  Returns an fd, or -1 with errno (ENOENT for a missing
 * or dangling path, ELOOP for too many symlinks or a magic link). */
int nook_open_in_root(int rootfd, const char *rel, int flags);

/* The walk alone (what nook_open_in_root does without openat2): an O_PATH fd, or -1 with
 * errno.  With follow false any symlink on the way is ELOOP. */
int nook_walk_in_root(int rootfd, const char *rel, bool follow);

#endif
