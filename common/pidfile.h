/* pidfile: pid files that name a process, not just a number that can be reused. */
#ifndef AUTH_PIDFILE_H
#define AUTH_PIDFILE_H

#include <sys/types.h>

/*
 * The kernel's start time of pid (clock ticks since boot, field 22 of
 * /proc/PID/stat) into *out: with the pid, it names one process for the
 * life of the machine. 0, or -1 when there is no such process.
 */
int pidfile_starttime(pid_t pid, unsigned long long *out);

/*
 * Write "pid\n", or "pid starttime\n" with with_start, to path through a
 * temporary file and a rename, so a reader never sees half a file.
 * Returns 0 or -1.
 */
int pidfile_write(const char *path, pid_t pid, int with_start);

#endif
