/* ownfile: the owner and mode check of files the endpoints map (see ownfile.h). */
#include "ownfile.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int ownfile_open(const char *path, struct stat *st)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY, 0600);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st->st_mode) || st->st_uid != geteuid() ||
	    (st->st_mode & 077) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}
