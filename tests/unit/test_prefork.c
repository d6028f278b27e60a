/*
 * test_prefork: the master process that keeps N workers alive. Each test
 * forks a "master" child that calls prefork_run(2) on a socket at fd 0;
 * its workers report their pid on a pipe and wait for a signal, and the
 * master reports prefork_run's return value on another. Every wait is
 * bounded, so a broken master fails the test instead of hanging it.
 */
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "prefork.h"
#include "fixture.h"

#define WAIT_MS 5000          /* for any one message */
#define STOP_MS 10000         /* for the master to return (grace is 4 s) */

/* What the master reports when prefork_run returns there. */
struct master_report {
	int rc;                   /* prefork_run's return value */
	int mask_restored;        /* 1 when SIGCHLD, SIGTERM, SIGINT are not blocked */
	int hup_blocked;          /* 1 when SIGHUP still is (a reload) */
	int sock_kept;            /* 1 when fd 0 is still the socket */
};

/* A worker's message: its pid when started, -pid when it got SIGTERM. */
struct worker_msg {
	pid_t pid;
	int sock;                 /* 1 when fd 0 is the inherited socket */
	int echo;                 /* 1 master answered on the channel, 0 none */
	int usr1_held;            /* 1 when it started with SIGUSR1 blocked */
	int usr1;                 /* 1: this message says it got SIGUSR1 */
};

struct master {
	pid_t pid;
	int workers_rd;           /* worker_msg stream */
	int report_rd;            /* master_report */
	int log_fd;
	int with_duty;
};

static volatile sig_atomic_t worker_stop, worker_usr1;

static void worker_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void worker_on_usr1(int sig)
{
	(void)sig;
	worker_usr1 = 1;
}

/* Leave a forked child; exit() under coverage so its counts are kept. */
static void child_exit(int rc)
{
	if (__gcov_merge_add != NULL)
		exit(rc);
	_exit(rc);
}

static int fd0_is_socket(void)
{
	struct stat st;

	return fstat(0, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The duty of a master under test: answer each worker's pid with pid + 1;
 * open and close are logged so that a test can count them.
 */
static int echo_open(void *ctx)
{
	(void)ctx;
	log_event(LOG_INFO, "echo_open", LOG_INT("pid", getpid()));
	return 0;
}

static void echo_close(void *ctx)
{
	(void)ctx;
	log_event(LOG_INFO, "echo_close", LOG_INT("pid", getpid()));
}

static void echo_serve(void *ctx, const int *fds, int n)
{
	int i;

	(void)ctx;
	for (i = 0; i < n; i++) {
		pid_t v;

		if (recv(fds[i], &v, sizeof(v), MSG_DONTWAIT) != sizeof(v))
			continue;
		v++;
		(void)send(fds[i], &v, sizeof(v), MSG_NOSIGNAL);
	}
}

/* One round trip on the worker's channel: 1 answered right, 0 no channel. */
static int echo_round(int channel)
{
	pid_t v = getpid(), back = 0;

	if (channel < 0)
		return 0;
	if (send(channel, &v, sizeof(v), MSG_NOSIGNAL) != sizeof(v))
		return -1;
	while (recv(channel, &back, sizeof(back), 0) < 0 && errno == EINTR)
		;
	return back == v + 1 ? 1 : -1;
}

/*
 * A worker: say hello, wait for SIGTERM, say goodbye; say so on each
 * SIGUSR1 meanwhile. With a channel, each message first does a round
 * trip to the master: the goodbye one proves the master still answers
 * while it stops its workers.
 */
static void worker_main(int wfd, int channel)
{
	struct sigaction sa;
	struct worker_msg msg;
	sigset_t block, wait_mask;

	memset(&sa, 0, sizeof(sa));
	memset(&msg, 0, sizeof(msg));
	sa.sa_handler = worker_on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = worker_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	msg.usr1_held = sigismember(&wait_mask, SIGUSR1) == 1;
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGUSR1);
	msg.pid = getpid();
	msg.sock = fd0_is_socket();
	msg.echo = echo_round(channel);
	if (write_all(wfd, &msg, sizeof(msg)) != 0)
		child_exit(5);
	while (!worker_stop) {
		sigsuspend(&wait_mask);
		if (worker_usr1 && !worker_stop) {
			worker_usr1 = 0;
			msg.usr1 = 1;
			if (write_all(wfd, &msg, sizeof(msg)) != 0)
				child_exit(6);
			msg.usr1 = 0;
		}
	}
	msg.pid = -getpid();
	msg.echo = echo_round(channel);
	(void)write_all(wfd, &msg, sizeof(msg));
	child_exit(0);
}

/* The master child: fd 0 a socket, then prefork_run(children). */
static void master_main(int children, int wfd, int rfd, int log_fd,
    int with_duty)
{
	static const struct prefork_duty echo = { echo_open, echo_close,
	    echo_serve, NULL };
	struct master_report rep;
	sigset_t cur;
	int sv[2], rc, channel;

	alarm(60);                /* a stuck master dies; its workers follow */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || dup2(sv[0], 0) < 0)
		child_exit(120);
	close(sv[0]);
	if (dup2(log_fd, 2) < 0)
		child_exit(121);
	rc = prefork_run(children, with_duty ? &echo : NULL, &channel);
	if (rc == 0)
		worker_main(wfd, channel);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	rep.rc = rc;
	rep.mask_restored = !sigismember(&cur, SIGCHLD) &&
	    !sigismember(&cur, SIGTERM) && !sigismember(&cur, SIGINT);
	rep.hup_blocked = sigismember(&cur, SIGHUP) == 1;
	rep.sock_kept = fd0_is_socket();
	if (write_all(rfd, &rep, sizeof(rep)) != 0)
		child_exit(122);
	child_exit(0);
}

/* Start a master of `children` workers, logging into log_path. */
static void master_start(struct master *m, int children, const char *log_path,
    int with_duty)
{
	int wp[2], rp[2];

	memset(m, 0, sizeof(*m));
	m->with_duty = with_duty;
	assert_int_equal(pipe(wp), 0);
	assert_int_equal(pipe(rp), 0);
	m->log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
	    0600);
	assert_true(m->log_fd >= 0);
	fflush(stdout);
	fflush(stderr);
	m->pid = fork();
	assert_true(m->pid >= 0);
	if (m->pid == 0) {
		close(wp[0]);
		close(rp[0]);
		master_main(children, wp[1], rp[1], m->log_fd, with_duty);
	}
	close(wp[1]);
	close(rp[1]);
	m->workers_rd = wp[0];
	m->report_rd = rp[0];
}

/* Read exactly len bytes within ms; 0, or -1 on timeout or EOF. */
static int read_within(int fd, void *buf, size_t len, int ms)
{
	struct timespec start, now;
	char *p = buf;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (len > 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = ms - ((now.tv_sec - start.tv_sec) * 1000L +
		    (now.tv_nsec - start.tv_nsec) / 1000000L);
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static pid_t next_worker(struct master *m, int ms)
{
	struct worker_msg msg;

	if (read_within(m->workers_rd, &msg, sizeof(msg), ms) != 0)
		fail_msg("no worker message within %d ms", ms);
	/* Every worker shares the master's socket at fd 0. */
	assert_int_equal(msg.sock, 1);
	/* With a duty every round trip is answered; without, no channel. */
	assert_int_equal(msg.echo, m->with_duty);
	/* SIGUSR1 waits, blocked, until the worker chooses to take it. */
	assert_int_equal(msg.usr1_held, 1);
	assert_int_equal(msg.usr1, 0);
	return msg.pid;
}

/* Wait for the master to exit (bounded; killed otherwise); its status. */
static int master_reap(struct master *m, int ms)
{
	int status = 0, waited = 0;
	pid_t r;

	for (;;) {
		r = waitpid(m->pid, &status, WNOHANG);
		if (r == m->pid)
			break;
		if (r < 0 && errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
		if (waited >= ms) {
			kill(m->pid, SIGKILL);
			waitpid(m->pid, &status, 0);
			m->pid = 0;
			fail_msg("master did not exit within %d ms", ms);
		}
		usleep(10000);
		waited += 10;
	}
	m->pid = 0;
	return status;
}

static void master_close(struct master *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
	if (m->workers_rd > 0)
		close(m->workers_rd);
	if (m->report_rd > 0)
		close(m->report_rd);
	if (m->log_fd > 0)
		close(m->log_fd);
	m->workers_rd = m->report_rd = m->log_fd = -1;
}

static int gone(pid_t pid)
{
	return kill(pid, 0) == -1 && errno == ESRCH;
}

/* Number of log lines of the master's log holding needle. */
static int log_count(const char *log_path, const char *needle)
{
	char *text = fx_read_file(log_path, NULL), *p;
	int n = 0;

	assert_non_null(text);
	for (p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

struct pf {
	struct fx fx;
	char log[FX_PATH_MAX + 16];
	struct master m;
};

static int pf_setup(void **state)
{
	struct pf *t = calloc(1, sizeof(*t));

	if (t == NULL || fx_init(&t->fx) != 0) {
		free(t);
		return -1;
	}
	snprintf(t->log, sizeof(t->log), "%s/master.log", t->fx.dir);
	t->m.pid = 0;
	*state = t;
	return 0;
}

static int pf_teardown(void **state)
{
	struct pf *t = *state;

	master_close(&t->m);
	fx_fini(&t->fx);
	free(t);
	return 0;
}

/*
 * Start the two workers; wait for both goodbyes and the master's report
 * after sending it sig; checks everything said on the way.
 */
static void stop_and_check(struct pf *t, pid_t w1, pid_t w2, int sig,
    int want_rc)
{
	struct master_report rep;
	pid_t bye1, bye2;
	int status;

	assert_int_equal(kill(t->m.pid, sig), 0);
	/* The workers got SIGTERM and left before the master returned. */
	bye1 = next_worker(&t->m, STOP_MS);
	bye2 = next_worker(&t->m, STOP_MS);
	assert_true(bye1 < 0 && bye2 < 0);
	assert_true((-bye1 == w1 && -bye2 == w2) || (-bye1 == w2 && -bye2 == w1));
	if (read_within(t->m.report_rd, &rep, sizeof(rep), STOP_MS) != 0)
		fail_msg("master reported nothing within %d ms", STOP_MS);
	assert_int_equal(rep.rc, want_rc);
	assert_int_equal(rep.mask_restored, 1);
	/* A reload re-executes with SIGHUP blocked: a second one waits for
	 * the new master instead of killing it half-way. */
	assert_int_equal(rep.hup_blocked, want_rc == 2);
	assert_int_equal(rep.sock_kept, 1);
	status = master_reap(&t->m, STOP_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Both reaped by the master, none left over. */
	assert_true(gone(w1));
	assert_true(gone(w2));
}

/* Start a master of two workers; their pids, checked distinct. */
static void start_two(struct pf *t, int with_duty, pid_t *w1, pid_t *w2)
{
	master_start(&t->m, 2, t->log, with_duty);
	*w1 = next_worker(&t->m, WAIT_MS);
	*w2 = next_worker(&t->m, WAIT_MS);
	assert_true(*w1 > 0 && *w2 > 0 && *w1 != *w2);
}

static void test_start_respawn_term(void **state)
{
	struct pf *t = *state;
	pid_t w1, w2, w3;

	start_two(t, 0, &w1, &w2);
	assert_true(w1 != t->m.pid && w2 != t->m.pid);
	assert_int_equal(kill(w1, 0), 0);
	assert_int_equal(kill(w2, 0), 0);

	/* A worker dies: the master starts another in its place. */
	assert_int_equal(kill(w1, SIGKILL), 0);
	w3 = next_worker(&t->m, WAIT_MS);
	assert_true(w3 > 0);
	assert_true(w3 != w1 && w3 != w2);
	assert_true(gone(w1));              /* reaped by the master */
	assert_int_equal(kill(w2, 0), 0);
	/* Only one replacement. */
	{
		struct worker_msg extra;

		assert_int_equal(read_within(t->m.workers_rd, &extra,
		    sizeof(extra), 300), -1);
	}

	stop_and_check(t, w2, w3, SIGTERM, 1);
	assert_int_equal(log_count(t->log, "\"event\":\"worker_started\""), 3);
	assert_int_equal(log_count(t->log, "\"event\":\"worker_exited\""), 1);
	assert_int_equal(log_count(t->log, "\"signal\":9"), 1);
	assert_int_equal(log_count(t->log, "\"event\":\"stop\""), 1);
}

static void test_sighup_reload(void **state)
{
	struct pf *t = *state;
	pid_t w1, w2;

	start_two(t, 0, &w1, &w2);
	stop_and_check(t, w1, w2, SIGHUP, 2);
	assert_int_equal(log_count(t->log, "\"event\":\"reload\""), 1);
	assert_int_equal(log_count(t->log, "\"event\":\"worker_exited\""), 0);
}

/*
 * SIGUSR1 to the master (a log rotation): it reopens AUTH_LOG_FILE,
 * says so there, and passes the signal to each worker; it goes on.
 */
static void test_sigusr1_reopens_and_forwards(void **state)
{
	struct pf *t = *state;
	struct worker_msg msg;
	char renamed[FX_PATH_MAX + 32];
	pid_t w1, w2, got[2];
	int i, n;

	snprintf(renamed, sizeof(renamed), "%s.1", t->log);
	assert_int_equal(setenv("AUTH_LOG_FILE", t->log, 1), 0);
	start_two(t, 0, &w1, &w2);
	assert_int_equal(unsetenv("AUTH_LOG_FILE"), 0);
	assert_int_equal(rename(t->log, renamed), 0);
	assert_int_equal(kill(t->m.pid, SIGUSR1), 0);
	for (i = 0; i < 2; i++) {
		if (read_within(t->m.workers_rd, &msg, sizeof(msg), WAIT_MS) != 0)
			fail_msg("worker %d got no SIGUSR1 within %d ms", i,
			    WAIT_MS);
		assert_int_equal(msg.usr1, 1);
		got[i] = msg.pid;
	}
	assert_true((got[0] == w1 && got[1] == w2) ||
	    (got[0] == w2 && got[1] == w1));
	/* The master's own line lands in the new file, not the renamed. */
	for (n = 0; n < WAIT_MS / 10 && access(t->log, F_OK) != 0; n++)
		usleep(10000);
	for (n = 0; n < WAIT_MS / 10 &&
	    log_count(t->log, "\"event\":\"log_reopened\"") == 0; n++)
		usleep(10000);
	assert_int_equal(log_count(t->log, "\"event\":\"log_reopened\","
	    "\"workers\":2"), 1);
	assert_int_equal(log_count(renamed, "log_reopened"), 0);
	assert_int_equal(log_count(renamed, "worker_started"), 2);
	/* It still serves, and stops as ever. */
	stop_and_check(t, w1, w2, SIGTERM, 1);
}

static void test_sigint_stops(void **state)
{
	struct pf *t = *state;
	pid_t w1, w2;

	start_two(t, 0, &w1, &w2);
	stop_and_check(t, w1, w2, SIGINT, 1);
}

static void test_master_death_stops_workers(void **state)
{
	struct pf *t = *state;
	struct master_report rep;
	pid_t w1, w2, bye1, bye2;
	int status;

	start_two(t, 0, &w1, &w2);
	/* The master is killed outright: each worker gets SIGTERM anyway. */
	assert_int_equal(kill(t->m.pid, SIGKILL), 0);
	status = master_reap(&t->m, STOP_MS);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	bye1 = next_worker(&t->m, STOP_MS);
	bye2 = next_worker(&t->m, STOP_MS);
	assert_true((-bye1 == w1 && -bye2 == w2) || (-bye1 == w2 && -bye2 == w1));
	/* No report: the master never returned. */
	assert_int_equal(read_within(t->m.report_rd, &rep, sizeof(rep), 100),
	    -1);
}

/*
 * A master with a duty: every worker, a respawned one too, has a channel
 * the master answers, also while it stops them; the duty is closed around
 * each fork and at the end, and opened again after each.
 */
static void test_duty(void **state)
{
	struct pf *t = *state;
	pid_t w1, w2, w3;

	start_two(t, 1, &w1, &w2);
	assert_int_equal(kill(w1, SIGKILL), 0);
	w3 = next_worker(&t->m, WAIT_MS);
	assert_true(w3 > 0 && w3 != w1 && w3 != w2);
	stop_and_check(t, w2, w3, SIGTERM, 1);
	assert_int_equal(log_count(t->log, "\"echo_open\""), 2);
	assert_int_equal(log_count(t->log, "\"echo_close\""), 2);
}

static void test_bad_counts(void **state)
{
	sigset_t before, after;
	int channel = 0;

	(void)state;
	sigprocmask(SIG_SETMASK, NULL, &before);
	assert_int_equal(prefork_run(0, NULL, &channel), -1);
	assert_int_equal(prefork_run(-1, NULL, &channel), -1);
	assert_int_equal(prefork_run(65, NULL, &channel), -1);
	assert_int_equal(prefork_run(1 << 20, NULL, &channel), -1);
	assert_int_equal(channel, -1);
	/* Nothing was forked and the mask is untouched. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	sigprocmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&after, SIGCHLD),
	    sigismember(&before, SIGCHLD));
	assert_int_equal(sigismember(&after, SIGTERM),
	    sigismember(&before, SIGTERM));
	assert_int_equal(sigismember(&after, SIGHUP),
	    sigismember(&before, SIGHUP));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, pf_setup, pf_teardown)
	const struct CMUnitTest prefork[] = {
		cmocka_unit_test(test_bad_counts),
		T(test_start_respawn_term),
		T(test_sighup_reload),
		T(test_sigint_stops),
		T(test_sigusr1_reopens_and_forwards),
		T(test_master_death_stops_workers),
		T(test_duty),
	};
#undef T

	return cmocka_run_group_tests(prefork, NULL, NULL);
}
