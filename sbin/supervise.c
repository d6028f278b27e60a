/*
 * supervise RUN_DIR: the one process that starts every other process of a
 * node (each endpoint's master, and the front), and starts again any that
 * dies, however it died (kill -9 by the OOM killer included).
 *
 * What to run comes from RUN_DIR/supervise.tab (written by start.sh), one
 * process a line, fields separated by tabs:
 *     name  socket  stderr  reopen  argv0  argv1 ...
 * socket is a unix socket path the supervisor binds once and hands to
 * every incarnation as fd 0 ("-": none); stderr is the file the process
 * appends its log to ("-": the supervisor's own stderr, e.g. the
 * journal), named to it in AUTH_LOG_FILE; reopen is the signal that
 * makes the process reopen its logs after a rotation: USR1 (our
 * endpoints, common/log.c; nginx), HUP (lighttpd) or "-". Because the
 * supervisor keeps the listening socket, a restart loses no connection:
 * while a master is down, the front's connections wait in the socket's
 * backlog instead of failing.
 *
 * SIGUSR1 to the supervisor (scripts/reopen-logs.sh): it reopens its own
 * log (AUTH_LOG_FILE) and passes each process its reopen signal.
 *
 * A process that dies is started again at once; one that keeps dying
 * within PROC_QUICK_S of its start waits 1, 2, 4 ... 32 s between tries
 * (30 s at most), and says so. Every death and restart is a log line and is counted in
 * /metrics (auth_process_restarts_total). The supervisor records itself
 * in RUN_DIR/supervise.pid as "pid starttime" (the kernel's start time
 * of the process, so that a recycled pid is never taken for it) and each
 * process in RUN_DIR/<name>.pid. SIGTERM or SIGINT stops everything:
 * the children get SIGTERM (masters let their workers finish), then
 * SIGKILL after PROC_GRACE_MS. Children also get SIGTERM from the kernel
 * if the supervisor itself is killed (PR_SET_PDEATHSIG), so a node never
 * leaves orphans behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "pidfile.h"

#define PROC_MAX 20                /* metrics.c counts the restarts of as many */
#define PROC_ARGS 16
#define PROC_QUICK_S 2           /* died sooner than this: back off */
#define PROC_BACKOFF_MAX_MS 30000
#define PROC_GRACE_MS 10000      /* masters give workers 4 s */

struct proc {
	char name[32];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char errlog[PATH_MAX];       /* "": keep the supervisor's stderr */
	int reopen_sig;              /* 0: none */
	char *argv[PROC_ARGS + 1];
	int listen_fd;               /* -1: none */
	pid_t pid;                   /* 0: not running */
	long long started_ms;
	long long due_ms;            /* when to start it again */
	unsigned quick_deaths;       /* in a row */
};

struct sup {
	struct proc procs[PROC_MAX];
	int n;
	const char *run_dir;
	struct metrics *metrics;
	sigset_t orig;
	int sfd;
	char *tab;                   /* supervise.tab, argv strings point here */
};

static long long sup_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the whole of path into a NUL-terminated malloc'd buffer. */
static char *sup_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	if (buf != NULL)
		len = fread(buf, 1, 65535, f);
	if (buf != NULL && (ferror(f) || len == 65535)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Parse supervise.tab into s->procs; -1 with a message on stderr. */
static int sup_parse(struct sup *s, const char *path)
{
	char *line, *save = NULL;

	s->tab = sup_slurp(path);
	if (s->tab == NULL) {
		fprintf(stderr, "supervise: cannot read %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	for (line = strtok_r(s->tab, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct proc *p = &s->procs[s->n];
		char *field[4 + PROC_ARGS], *fs = NULL, *f;
		int nf = 0, i, sig = -1;

		if (*line == '#' || *line == '\0')
			continue;
		if (s->n == PROC_MAX) {
			fprintf(stderr, "supervise: more than %d processes\n",
			    PROC_MAX);
			return -1;
		}
		for (f = strtok_r(line, "\t", &fs); f != NULL && nf < 4 + PROC_ARGS;
		    f = strtok_r(NULL, "\t", &fs))
			field[nf++] = f;
		if (nf >= 4)
			sig = strcmp(field[3], "USR1") == 0 ? SIGUSR1 :
			    strcmp(field[3], "HUP") == 0 ? SIGHUP :
			    strcmp(field[3], "-") == 0 ? 0 : -1;
		if (nf < 5 || f != NULL || sig < 0 ||
		    strlen(field[0]) >= sizeof(p->name) ||
		    strlen(field[1]) >= sizeof(p->sock) ||
		    strlen(field[2]) >= sizeof(p->errlog)) {
			fprintf(stderr, "supervise: bad line %d of %s\n", s->n + 1,
			    path);
			return -1;
		}
		memset(p, 0, sizeof(*p));
		/* Lengths checked above. */
		snprintf(p->name, sizeof(p->name), "%s", field[0]);
		snprintf(p->sock, sizeof(p->sock), "%s",
		    strcmp(field[1], "-") == 0 ? "" : field[1]);
		snprintf(p->errlog, sizeof(p->errlog), "%s",
		    strcmp(field[2], "-") == 0 ? "" : field[2]);
		p->reopen_sig = sig;
		for (i = 4; i < nf; i++)
			p->argv[i - 4] = field[i];
		p->argv[nf - 4] = NULL;
		p->listen_fd = -1;
		s->n++;
	}
	return s->n > 0 ? 0 : -1;
}

/*
 * Bind p's unix socket, owner-only, listening with a deep backlog: the
 * front's connections wait there while the master restarts.
 */
static int sup_listen(struct proc *p)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, p->sock, strlen(p->sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)unlink(p->sock);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(p->sock, 0600) != 0 || listen(fd, SOMAXCONN) != 0) {
		close(fd);
		return -1;
	}
	p->listen_fd = fd;
	return 0;
}

/* In the child: become p's process. Never returns. */
static void sup_exec(struct sup *s, struct proc *p, pid_t parent)
{
	sigset_t mask = s->orig;
	int fd;

	/* An endpoint (a process with a socket) that reopens on SIGUSR1
	 * starts with it blocked (kept across exec) until it takes it: one
	 * that arrives while the program loads waits instead of killing it.
	 * Not a front: nginx never unblocks what it inherits, and would
	 * never see its SIGUSR1. */
	if (p->reopen_sig == SIGUSR1 && p->sock[0] != '\0')
		sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(111);
	if (p->errlog[0] != '\0') {
		fd = open(p->errlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOCTTY, 0600);
		if (fd >= 0) {
			(void)dup2(fd, STDERR_FILENO);
			(void)dup2(fd, STDOUT_FILENO);
		}
		/* What log_reopen opens again after a rotation. */
		if (setenv("AUTH_LOG_FILE", p->errlog, 1) != 0)
			_exit(111);
	}
	if (p->listen_fd >= 0)
		(void)dup2(p->listen_fd, STDIN_FILENO);   /* clears CLOEXEC */
	else if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		(void)dup2(fd, STDIN_FILENO);
	execv(p->argv[0], p->argv);
	fprintf(stderr, "supervise: cannot run %s: %s\n", p->argv[0],
	    strerror(errno));
	_exit(127);
}

static void sup_write_pid(const struct sup *s, const struct proc *p)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s.pid", s->run_dir, p->name) <
	    (int)sizeof(path))
		(void)pidfile_write(path, p->pid, 0);
}

static void sup_start(struct sup *s, struct proc *p, int restart)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0)
		sup_exec(s, p, parent);
	p->started_ms = sup_now_ms();
	if (pid < 0) {
		log_event(LOG_ERROR, "process_start_failed",
		    LOG_STR("process", p->name), LOG_INT("errno", errno));
		p->due_ms = p->started_ms + 1000;
		return;
	}
	p->pid = pid;
	sup_write_pid(s, p);
	if (restart) {
		metrics_restarted(s->metrics, p->name);
		log_event(LOG_WARN, "process_restarted",
		    LOG_STR("process", p->name), LOG_INT("new_pid", pid));
	}
}

/* Reap every child that exited and schedule its restart. */
static void sup_reap(struct sup *s, int stopping)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < s->n; i++) {
			struct proc *p = &s->procs[i];
			long long now = sup_now_ms(), lived = now - p->started_ms;
			long long delay = 0;

			if (p->pid != pid)
				continue;
			p->pid = 0;
			if (stopping)
				break;
			/* The first quick death may be bad luck (killed just
			 * after a restart): started again at once. */
			if (lived < PROC_QUICK_S * 1000LL) {
				p->quick_deaths++;
				if (p->quick_deaths > 1)
					delay = 1000LL << (p->quick_deaths < 7 ?
					    p->quick_deaths - 2 : 5);
				if (delay > PROC_BACKOFF_MAX_MS)
					delay = PROC_BACKOFF_MAX_MS;
			} else {
				p->quick_deaths = 0;
			}
			p->due_ms = now + delay;
			log_event(LOG_ERROR, "process_died",
			    LOG_STR("process", p->name), LOG_INT("old_pid", pid),
			    LOG_INT("status", WIFEXITED(status) ?
			    WEXITSTATUS(status) : -1),
			    LOG_INT("signal", WIFSIGNALED(status) ?
			    WTERMSIG(status) : 0),
			    LOG_INT("lived_ms", lived),
			    LOG_INT("restart_in_ms", delay));
			if (delay > 0)
				log_event(LOG_WARN, "process_backoff",
				    LOG_STR("process", p->name),
				    LOG_INT("deaths_in_a_row", p->quick_deaths),
				    LOG_STR("reason", "it keeps dying within 2 s "
				    "of its start; see its log lines above"));
		}
	}
}

/* SIGTERM to every child, SIGKILL to any left after the grace time. */
static void sup_stop(struct sup *s)
{
	long long until = sup_now_ms() + PROC_GRACE_MS;
	int i, alive;

	for (i = 0; i < s->n; i++)
		if (s->procs[i].pid > 0)
			kill(s->procs[i].pid, SIGTERM);
	do {
		struct pollfd pfd = { s->sfd, POLLIN, 0 };
		struct signalfd_siginfo si;

		if (poll(&pfd, 1, 50) > 0 &&
		    read(s->sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
			break;
		sup_reap(s, 1);
		for (i = 0, alive = 0; i < s->n; i++)
			alive += s->procs[i].pid > 0;
		if (alive && sup_now_ms() >= until) {
			for (i = 0; i < s->n; i++)
				if (s->procs[i].pid > 0)
					kill(s->procs[i].pid, SIGKILL);
			until = LLONG_MAX;
		}
	} while (alive);
}

/* SIGUSR1: reopen our log, then have every process reopen its own. */
static void sup_reopen(struct sup *s)
{
	int i, n = 0;

	(void)log_reopen();
	for (i = 0; i < s->n; i++) {
		const struct proc *p = &s->procs[i];

		if (p->pid > 0 && p->reopen_sig != 0 &&
		    kill(p->pid, p->reopen_sig) == 0)
			n++;
	}
	log_event(LOG_INFO, "log_reopened", LOG_INT("processes", n));
}

/* Until SIGTERM/SIGINT: wait for deaths and due restarts. */
static void sup_loop(struct sup *s)
{
	for (;;) {
		struct pollfd pfd = { s->sfd, POLLIN, 0 };
		struct signalfd_siginfo si;
		long long now = sup_now_ms(), next = LLONG_MAX;
		int i, timeout;

		for (i = 0; i < s->n; i++) {
			struct proc *p = &s->procs[i];

			if (p->pid == 0 && p->due_ms <= now)
				sup_start(s, p, 1);
			if (p->pid == 0 && p->due_ms < next)
				next = p->due_ms;
		}
		timeout = next == LLONG_MAX ? -1 :
		    (int)(next - now > 0 ? next - now : 0);
		if (poll(&pfd, 1, timeout) <= 0)
			continue;
		if (read(s->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGCHLD) {
			sup_reap(s, 0);
			continue;
		}
		if (si.ssi_signo == SIGUSR1) {
			sup_reopen(s);
			continue;
		}
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_event(LOG_INFO, "stop", LOG_INT("processes", s->n));
			return;
		}
	}
}

int main(int argc, char **argv)
{
	struct sup s;
	char path[PATH_MAX];
	sigset_t set;
	int i, rc = 1;

	memset(&s, 0, sizeof(s));
	s.sfd = -1;
	log_set_endpoint("supervise");
	if (argc != 2) {
		fprintf(stderr, "usage: supervise RUN_DIR\n");
		return 2;
	}
	s.run_dir = argv[1];
	umask(077);
	if (snprintf(path, sizeof(path), "%s/supervise.tab", s.run_dir) >=
	    (int)sizeof(path) || sup_parse(&s, path) != 0)
		goto out;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);     /* taken and ignored: not a stop */
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &s.orig);
	s.sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (s.sfd < 0)
		goto out;
	for (i = 0; i < s.n; i++) {
		if (s.procs[i].sock[0] != '\0' && sup_listen(&s.procs[i]) != 0) {
			fprintf(stderr, "supervise: cannot listen on %s: %s\n",
			    s.procs[i].sock, strerror(errno));
			goto out;
		}
	}
	if (snprintf(path, sizeof(path), "%s/supervise.pid", s.run_dir) >=
	    (int)sizeof(path) || pidfile_write(path, getpid(), 1) != 0) {
		fprintf(stderr, "supervise: cannot write %s\n", path);
		goto out;
	}
	s.metrics = metrics_open(s.run_dir, NULL);
	for (i = 0; i < s.n; i++)
		sup_start(&s, &s.procs[i], 0);
	sup_loop(&s);
	sup_stop(&s);
	rc = 0;
out:
	for (i = 0; i < s.n; i++) {
		if (s.procs[i].listen_fd >= 0) {
			close(s.procs[i].listen_fd);
			(void)unlink(s.procs[i].sock);
		}
		if (rc == 0 && snprintf(path, sizeof(path), "%s/%s.pid",
		    s.run_dir, s.procs[i].name) < (int)sizeof(path))
			(void)unlink(path);
	}
	if (rc == 0 && snprintf(path, sizeof(path), "%s/supervise.pid",
	    s.run_dir) < (int)sizeof(path))
		(void)unlink(path);
	metrics_close(s.metrics);
	if (s.sfd >= 0)
		close(s.sfd);
	free(s.tab);
	return rc;
}
