/*
 * prefork: what php-cgi does with PHP_FCGI_CHILDREN, for our endpoints.
 * spawn-fcgi binds the socket and starts one master per endpoint; the
 * master forks the workers after everything read-only (config, keys,
 * dummy hash, metrics mapping) is loaded, so they share those pages, and
 * respawns any worker that dies. Database connections are opened by each
 * worker after the fork, never shared.
 */
#include "prefork.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PREFORK_MAX 64
#define PREFORK_GRACE_MS 4000

struct prefork_slot {
	pid_t pid;
	time_t started;
};

/* Start one worker in slot; returns 0 in the worker, 1 in the master. */
static int prefork_spawn(struct prefork_slot *slot, const sigset_t *orig,
    pid_t master)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_event(LOG_ERROR, "worker_fork_failed", LOG_INT("errno", errno));
		slot->pid = -1;
		return 1;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, orig, NULL);
		/* A worker must not outlive its master. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != master)
			_exit(0);
		return 0;
	}
	slot->pid = pid;
	slot->started = time(NULL);
	log_event(LOG_INFO, "worker_started", LOG_INT("worker", pid));
	return 1;
}

/*
 * Pass sig to every worker and reap them; one still alive after
 * PREFORK_GRACE_MS (stuck in a request) is killed.
 */
static void prefork_stop(struct prefork_slot *slots, int n, int sig)
{
	const struct timespec tick = { 0, 10L * 1000 * 1000 };
	int i, alive, waited = 0;

	for (i = 0; i < n; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
	do {
		alive = 0;
		for (i = 0; i < n; i++) {
			pid_t r;

			if (slots[i].pid <= 0)
				continue;
			r = waitpid(slots[i].pid, NULL, WNOHANG);
			if (r == slots[i].pid || (r < 0 && errno == ECHILD))
				slots[i].pid = -1;
			else if (waited >= PREFORK_GRACE_MS)
				kill(slots[i].pid, SIGKILL);
			else
				alive = 1;
		}
		if (alive) {
			nanosleep(&tick, NULL);
			waited += 10;
		}
	} while (alive);
}

int prefork_run(int children)
{
	struct prefork_slot slots[PREFORK_MAX];
	sigset_t set, orig;
	pid_t master = getpid();
	int i, started = 0;

	if (children < 1 || children > PREFORK_MAX)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &orig);
	for (i = 0; i < children; i++) {
		if (prefork_spawn(&slots[i], &orig, master) == 0)
			return 0;
		started += slots[i].pid > 0;
	}
	if (started == 0) {
		sigprocmask(SIG_SETMASK, &orig, NULL);
		return -1;
	}
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info), status;
		pid_t pid;

		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			log_event(LOG_INFO, sig == SIGHUP ? "reload" : "stop",
			    LOG_INT("workers", children));
			prefork_stop(slots, children, SIGTERM);
			sigprocmask(SIG_SETMASK, &orig, NULL);
			return sig == SIGHUP ? 2 : 1;
		}
		if (sig != SIGCHLD)
			continue;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < children; i++) {
				if (slots[i].pid != pid)
					continue;
				log_event(LOG_WARN, "worker_exited",
				    LOG_INT("worker", pid), LOG_INT("status",
				    WIFEXITED(status) ? WEXITSTATUS(status) : -1),
				    LOG_INT("signal", WIFSIGNALED(status) ?
				    WTERMSIG(status) : 0));
				if (time(NULL) - slots[i].started < 1)
					sleep(1);
				if (prefork_spawn(&slots[i], &orig, master) == 0)
					return 0;
			}
		}
	}
}
