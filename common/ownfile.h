/* ownfile: open a file this user alone may have made, for state shared by mapping. */
#ifndef AUTH_OWNFILE_H
#define AUTH_OWNFILE_H

#include <sys/stat.h>

/*
 * Open (creating with mode 0600 when absent) a regular file at path for
 * reading and writing, never through a symlink, and only when it belongs
 * to this process's user and no one else may read or write it: another
 * local user who pre-creates the metrics segment or the epoch file must
 * not get to feed or read the state every endpoint maps. Fills *st.
 * Returns the descriptor (close-on-exec), or -1 with errno (EPERM for a
 * file that is not ours, or open's own).
 */
int ownfile_open(const char *path, struct stat *st);

#endif
