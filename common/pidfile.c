/*
 * pidfile: see pidfile.h. A pid file outlives its process (a crash, a
 * reboot with the run directory on disk), and the kernel hands its number
 * to the next process that asks; a pid file that also records the start
 * time lets stop.sh and start.sh tell ours from an innocent bystander.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pidfile_starttime(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024], *p, *end = NULL;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields after it start at the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || p[1] < '0' || p[1] > '9')
		return -1;
	errno = 0;
	*out = strtoull(p + 1, &end, 10);
	return errno == 0 && (*end == ' ' || *end == '\n' || *end == '\0') ?
	    0 : -1;
}

int pidfile_write(const char *path, pid_t pid, int with_start)
{
	unsigned long long start = 0;
	char tmp[4096];
	FILE *f;
	int ok;

	if (with_start && pidfile_starttime(pid, &start) != 0)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "we");
	if (f == NULL)
		return -1;
	if (with_start)
		ok = fprintf(f, "%d %llu\n", (int)pid, start) > 0;
	else
		ok = fprintf(f, "%d\n", (int)pid) > 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}
