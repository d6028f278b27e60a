/*
 * prefork: what php-cgi does with PHP_FCGI_CHILDREN, for our endpoints.
 * spawn-fcgi binds the socket and starts one master per endpoint; the
 * master forks the workers after everything read-only (config, keys,
 * dummy hash, metrics mapping) is loaded, so they share those pages, and
 * respawns any worker that dies. Database connections are opened by each
 * worker after the fork, never shared. An endpoint may give the master a
 * duty besides: then each worker gets a channel to it (a SOCK_SEQPACKET
 * socketpair) and the master answers the messages waiting on all channels
 * together, which is how refresh batches its commits (common/batch.c).
 */
#include "prefork.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PREFORK_MAX 64
#define PREFORK_GRACE_MS 4000

struct prefork_slot {
	pid_t pid;                   /* <= 0: to be (re)started at respawn_at */
	time_t started;
	time_t respawn_at;
	int fd;                      /* the master's end of the channel, or -1 */
};

struct prefork {
	struct prefork_slot slots[PREFORK_MAX];
	int n;
	int sfd;                     /* signalfd of the master's signals */
	sigset_t orig;
	pid_t master;
	const struct prefork_duty *duty;
};

/* In a new worker: drop what belongs to the master. */
static void prefork_become_worker(struct prefork *pf, int channel, int *out)
{
	int i;

	sigprocmask(SIG_SETMASK, &pf->orig, NULL);
	/* A worker must not outlive its master. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != pf->master)
		_exit(0);
	close(pf->sfd);
	for (i = 0; i < pf->n; i++)
		if (pf->slots[i].fd >= 0)
			close(pf->slots[i].fd);
	*out = channel;
}

/* Start the worker of slot i; returns 0 in the worker, 1 in the master. */
static int prefork_spawn(struct prefork *pf, int i, int *channel)
{
	struct prefork_slot *slot = &pf->slots[i];
	int sv[2] = { -1, -1 };
	pid_t pid;

	slot->pid = -1;
	slot->respawn_at = time(NULL) + 1;
	if (pf->duty != NULL && socketpair(AF_UNIX, SOCK_SEQPACKET |
	    SOCK_CLOEXEC, 0, sv) != 0) {
		log_event(LOG_ERROR, "worker_channel_failed",
		    LOG_INT("errno", errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		log_event(LOG_ERROR, "worker_fork_failed", LOG_INT("errno", errno));
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		return 1;
	}
	if (pid == 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		prefork_become_worker(pf, sv[1], channel);
		return 0;
	}
	if (sv[1] >= 0)
		close(sv[1]);
	slot->fd = sv[0];
	slot->pid = pid;
	slot->started = time(NULL);
	log_event(LOG_INFO, "worker_started", LOG_INT("worker", pid));
	return 1;
}

/*
 * The master's ends of the live workers' channels, for poll; slot[k] is
 * the slot of pfd[k].
 */
static int prefork_channels(const struct prefork *pf, struct pollfd *pfd,
    int *slot)
{
	int i, n = 0;

	for (i = 0; i < pf->n; i++) {
		if (pf->slots[i].pid > 0 && pf->slots[i].fd >= 0) {
			pfd[n].fd = pf->slots[i].fd;
			pfd[n].events = POLLIN;
			slot[n++] = i;
		}
	}
	return n;
}

/*
 * Hand the channels poll found with a message to the duty. A channel
 * whose worker hung up is closed: it would poll ready until reaped.
 */
static void prefork_dispatch(struct prefork *pf, const struct pollfd *pfd,
    const int *slot, int n)
{
	int ready[PREFORK_MAX];
	int i, nready = 0;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents & POLLIN) {
			ready[nready++] = pfd[i].fd;
		} else if (pfd[i].revents & (POLLHUP | POLLERR)) {
			close(pf->slots[slot[i]].fd);
			pf->slots[slot[i]].fd = -1;
		}
	}
	if (nready > 0)
		pf->duty->serve(pf->duty->ctx, ready, nready);
}

/* Milliseconds since *since (CLOCK_MONOTONIC). */
static long prefork_ms_since(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000L +
	    (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/*
 * Pass sig to every worker and reap them, answering their channels
 * meanwhile (a request in flight completes); one still alive after
 * PREFORK_GRACE_MS (stuck in a request) is killed.
 */
static void prefork_stop(struct prefork *pf, int sig)
{
	struct timespec start;
	int i, alive, killed = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < pf->n; i++)
		if (pf->slots[i].pid > 0)
			kill(pf->slots[i].pid, sig);
	do {
		alive = 0;
		for (i = 0; i < pf->n; i++) {
			struct prefork_slot *s = &pf->slots[i];
			pid_t r;

			if (s->pid <= 0)
				continue;
			r = waitpid(s->pid, NULL, WNOHANG);
			if (r == s->pid || (r < 0 && errno == ECHILD))
				s->pid = -1;
			else
				alive = 1;
		}
		if (alive && !killed && prefork_ms_since(&start) >=
		    PREFORK_GRACE_MS) {
			for (i = 0; i < pf->n; i++)
				if (pf->slots[i].pid > 0)
					kill(pf->slots[i].pid, SIGKILL);
			killed = 1;
		}
		if (alive) {
			/* Without a duty there are no channels: a 10 ms pause. */
			struct pollfd pfd[PREFORK_MAX];
			int slot[PREFORK_MAX];
			int n = prefork_channels(pf, pfd, slot);

			if (poll(pfd, (nfds_t)n, 10) > 0)
				prefork_dispatch(pf, pfd, slot, n);
		}
	} while (alive);
}

/* Reap exited workers; a slot whose worker lived under a second waits one. */
static void prefork_reap(struct prefork *pf)
{
	pid_t pid;
	int status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < pf->n; i++) {
			struct prefork_slot *s = &pf->slots[i];

			if (s->pid != pid)
				continue;
			log_event(LOG_WARN, "worker_exited", LOG_INT("worker", pid),
			    LOG_INT("status", WIFEXITED(status) ?
			    WEXITSTATUS(status) : -1), LOG_INT("signal",
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0));
			if (s->fd >= 0)
				close(s->fd);
			s->fd = -1;
			s->pid = -1;
			s->respawn_at = time(NULL) - s->started < 1 ?
			    time(NULL) + 1 : time(NULL);
		}
	}
}

/*
 * SIGUSR1 (a log rotation): reopen the master's log, then pass the signal
 * to every worker, which reopens its own between two requests.
 */
static void prefork_reopen(struct prefork *pf)
{
	int i, n = 0;

	(void)log_reopen();
	for (i = 0; i < pf->n; i++)
		if (pf->slots[i].pid > 0 && kill(pf->slots[i].pid, SIGUSR1) == 0)
			n++;
	log_event(LOG_INFO, "log_reopened", LOG_INT("workers", n));
}

/* One signal from the signalfd: 1 stop, 2 reload, 0 go on. */
static int prefork_signal(struct prefork *pf)
{
	struct signalfd_siginfo si;

	if (read(pf->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	if (si.ssi_signo == SIGCHLD) {
		prefork_reap(pf);
		return 0;
	}
	if (si.ssi_signo == SIGUSR1) {
		prefork_reopen(pf);
		return 0;
	}
	log_event(LOG_INFO, si.ssi_signo == SIGHUP ? "reload" : "stop",
	    LOG_INT("workers", pf->n));
	return si.ssi_signo == SIGHUP ? 2 : 1;
}

/*
 * Wait for a signal or channel messages; hand the channels that have one
 * to the duty. Returns 0 in a (re)spawned worker, 1 stop, 2 reload.
 */
static int prefork_loop(struct prefork *pf, int *channel)
{
	for (;;) {
		struct pollfd pfd[PREFORK_MAX + 1];
		int slot[PREFORK_MAX];
		int i, n, timeout = -1, rc;
		time_t now;

		pfd[0].fd = pf->sfd;
		pfd[0].events = POLLIN;
		n = prefork_channels(pf, pfd + 1, slot);
		for (i = 0; i < pf->n; i++)
			if (pf->slots[i].pid <= 0)
				timeout = 1000;    /* a respawn is due */
		if (poll(pfd, (nfds_t)n + 1, timeout) < 0) {
			if (errno != EINTR)
				return 1;
			continue;
		}
		prefork_dispatch(pf, pfd + 1, slot, n);
		if ((pfd[0].revents & POLLIN) && (rc = prefork_signal(pf)) != 0)
			return rc;
		now = time(NULL);
		for (i = 0; i < pf->n; i++) {
			if (pf->slots[i].pid > 0 || now < pf->slots[i].respawn_at)
				continue;
			/*
			 * A child must not inherit an open SQLite connection:
			 * the library's per-process lock bookkeeping would be
			 * copied without the locks themselves. The duty closes
			 * its resources around the fork and opens them again.
			 */
			if (pf->duty != NULL)
				pf->duty->close(pf->duty->ctx);
			if (prefork_spawn(pf, i, channel) == 0)
				return 0;
			/* A failure is the duty's to log and to retry. */
			if (pf->duty != NULL)
				(void)pf->duty->open(pf->duty->ctx);
		}
	}
}

int prefork_run(int children, const struct prefork_duty *duty, int *channel)
{
	struct prefork pf;
	sigset_t set;
	int i, started = 0, rc = -1;

	*channel = -1;
	if (children < 1 || children > PREFORK_MAX)
		return -1;
	pf.n = children;
	pf.duty = duty;
	pf.master = getpid();
	for (i = 0; i < children; i++) {
		pf.slots[i].pid = -1;
		pf.slots[i].fd = -1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &pf.orig);
	/* A reload re-executes with SIGHUP still blocked (below); workers
	 * start from the mask as it was before any of this. */
	sigdelset(&pf.orig, SIGHUP);
	/* Except SIGUSR1, whose default action kills: blocked for good, so a
	 * worker that gets it before its handler is set (http.c takes it
	 * between requests), or a master re-executing for a reload, keeps
	 * it pending rather than dies of it. */
	sigaddset(&pf.orig, SIGUSR1);
	pf.sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (pf.sfd < 0)
		goto out;
	for (i = 0; i < children; i++) {
		if (prefork_spawn(&pf, i, channel) == 0)
			return 0;
		started += pf.slots[i].pid > 0;
	}
	if (started > 0) {
		/* A failure is the duty's to log and to retry (as on respawn). */
		if (duty != NULL)
			(void)duty->open(duty->ctx);
		rc = prefork_loop(&pf, channel);
	}
	if (rc == 0)
		return 0;               /* a respawned worker */
	prefork_stop(&pf, SIGTERM);
	if (duty != NULL && started > 0)
		duty->close(duty->ctx);
	for (i = 0; i < children; i++)
		if (pf.slots[i].fd >= 0)
			close(pf.slots[i].fd);
	close(pf.sfd);
out:
	if (rc == 2) {
		/* Reload: a second SIGHUP before the re-executed master has
		 * its handlers again must wait for it, not kill it. */
		sigset_t keep = pf.orig;

		sigaddset(&keep, SIGHUP);
		sigprocmask(SIG_SETMASK, &keep, NULL);
	} else {
		sigprocmask(SIG_SETMASK, &pf.orig, NULL);
	}
	return rc;
}
