/*
 * failsync: an LD_PRELOAD fault injector for the tests. While the file
 * named by FAILSYNC_FLAG exists, fsync/fdatasync of a SQLite WAL file
 * ("*-wal") fail with EIO, as a dying disk's would; every other call, and
 * every call while the flag is absent, goes to libc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);

static int failsync_now(int fd)
{
	const char *flag = getenv("FAILSYNC_FLAG");
	char link[64], target[4096];
	ssize_t n;

	if (flag == NULL || access(flag, F_OK) != 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 4)
		return 0;
	target[n] = '\0';
	return strcmp(target + n - 4, "-wal") == 0;
}

static int failsync_call(const char *name, int fd)
{
	int (*real)(int);

	if (failsync_now(fd)) {
		errno = EIO;
		return -1;
	}
	real = (int (*)(int))dlsym(RTLD_NEXT, name);
	return real != NULL ? real(fd) : -1;
}

int fsync(int fd)
{
	return failsync_call("fsync", fd);
}

int fdatasync(int fd)
{
	return failsync_call("fdatasync", fd);
}
