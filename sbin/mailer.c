/*
 * mailer: the delivery loop of the mail outbox (DESIGN.md Part 2, "Mail
 * and other background work"), a process of its own under the
 * supervisor, outside every request path. Every MAIL_POLL_MS it takes
 * the due messages one by one (each leased in the database, so mailers
 * of several nodes never take one message at once) and delivers it:
 *   MAIL_COMMAND set: the message on the stdin of `/bin/sh -c
 *     MAIL_COMMAND` (e.g. "/usr/sbin/sendmail -t -i"), in a process
 *     group of its own, killed after MAIL_TIMEOUT seconds;
 *   else: a file MAIL_DIR/<created>-<id>.eml (default RUN_DIR/mail),
 *     written whole under a temporary name, then renamed.
 * Only a delivery that succeeded (exit 0, or the file in place) deletes
 * the row; a failure, a timeout or a missing command is logged and the
 * message tried again after MAIL_RETRY_BASE seconds, doubling up to
 * MAIL_RETRY_MAX. A crash between delivery and delete delivers again:
 * at least once, never zero times. Message text (it carries a token)
 * is never logged. SIGTERM/SIGINT: stop after the current message;
 * SIGUSR1: reopen the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "store.h"

#define MAILER_ERR_MAX 200

static volatile sig_atomic_t mailer_stop;

static void mailer_on_stop(int sig)
{
	(void)sig;
	mailer_stop = 1;
}

static void mailer_on_usr1(int sig)
{
	(void)sig;
	log_reopen_request();
}

static long long mailer_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of buf to fd; -1 on error. */
static int mailer_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The development outbox: dir/<created>-<id>.eml. 0, or -1 with why. */
static int mailer_to_file(const char *dir, const struct store_mail *m,
    char *why, size_t whylen)
{
	char tmp[CONFIG_PATH_MAX + 64], path[CONFIG_PATH_MAX + 64];
	int fd, rc = -1;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "MAIL_DIR: %s", strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%lld-%lld.tmp", dir,
	    (long long)m->created_at, (long long)m->id);
	snprintf(path, sizeof(path), "%s/%lld-%lld.eml", dir,
	    (long long)m->created_at, (long long)m->id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "MAIL_DIR: %s", strerror(errno));
		return -1;
	}
	if (mailer_write_all(fd, m->message, m->len) == 0 && fsync(fd) == 0)
		rc = 0;
	else
		snprintf(why, whylen, "MAIL_DIR: %s", strerror(errno));
	if (close(fd) != 0 && rc == 0) {
		snprintf(why, whylen, "MAIL_DIR: %s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		snprintf(why, whylen, "MAIL_DIR: %s", strerror(errno));
		rc = -1;
	}
	if (rc != 0)
		(void)unlink(tmp);
	return rc;
}

/*
 * Pipe m into `/bin/sh -c cmd`, waiting timeout_s at most; then its
 * whole process group is killed. 0 when it exited 0; else -1 with why.
 */
static int mailer_to_command(const char *cmd, long timeout_s,
    const struct store_mail *m, char *why, size_t whylen)
{
	long long deadline = mailer_ms() + timeout_s * 1000LL;
	int in[2], status = 0, rc = -1;
	pid_t pid, w = 0;

	if (pipe2(in, O_CLOEXEC) != 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* Its own group, so a timeout kills whatever it started. */
		(void)setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || null < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	(void)setpgid(pid, pid);
	close(in[0]);
	/* A message is far smaller than a pipe's buffer: this never blocks
	 * on a command that does not read; EPIPE when it exited at once. */
	(void)mailer_write_all(in[1], m->message, m->len);
	close(in[1]);
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
	    mailer_ms() < deadline && !mailer_stop)
		poll(NULL, 0, 20);
	if (w == 0) {
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		snprintf(why, whylen, mailer_stop ? "stopped while delivering" :
		    "MAIL_COMMAND timed out after %ld s", timeout_s);
		return -1;
	}
	if (w < 0)
		snprintf(why, whylen, "waitpid: %s", strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		snprintf(why, whylen, "MAIL_COMMAND not found (exit 127)");
	else if (WIFEXITED(status))
		snprintf(why, whylen, "MAIL_COMMAND exited %d",
		    WEXITSTATUS(status));
	else
		snprintf(why, whylen, "MAIL_COMMAND killed by signal %d",
		    WTERMSIG(status));
	/* Anything it left running in its group goes too. */
	(void)kill(-pid, SIGKILL);
	return rc;
}

/* Seconds until the next try after attempts failures (1-based). */
static long mailer_backoff(const struct config *cfg, int64_t attempts)
{
	long wait = cfg->mail_retry_base;

	while (--attempts > 0 && wait < cfg->mail_retry_max)
		wait *= 2;
	return wait < cfg->mail_retry_max ? wait : cfg->mail_retry_max;
}

/* Deliver every due message; returns how many were taken. */
static int mailer_round(const struct config *cfg, struct store *st,
    const char *dir)
{
	static struct store_mail m;
	int taken = 0;

	while (!mailer_stop) {
		char why[MAILER_ERR_MAX] = "";
		int64_t now = (int64_t)time(NULL);
		enum auth_err rc = store_outbox_claim(st, now,
		    now + cfg->mail_timeout + 30, &m);
		int sent;

		if (rc == AUTH_ENOTFOUND)
			break;
		if (rc != AUTH_OK) {
			log_event(LOG_WARN, "mail_outbox_unavailable",
			    LOG_STR("reason", auth_strerror(rc)));
			break;
		}
		taken++;
		sent = cfg->mail_command[0] != '\0' ?
		    mailer_to_command(cfg->mail_command, cfg->mail_timeout, &m,
		    why, sizeof(why)) :
		    mailer_to_file(dir, &m, why, sizeof(why));
		if (sent == 0) {
			rc = store_outbox_done(st, m.id);
			log_event(rc == AUTH_OK ? LOG_INFO : LOG_WARN, "mail_sent",
			    LOG_INT("id", m.id), LOG_INT("attempts", m.attempts + 1),
			    LOG_STR("deleted", rc == AUTH_OK ? "yes" : "no"));
		} else {
			long wait = mailer_backoff(cfg, m.attempts + 1);

			rc = store_outbox_retry(st, m.id,
			    (int64_t)time(NULL) + wait, why);
			/* Not recorded: the lease still defers it. */
			log_event(LOG_WARN, "mail_failed", LOG_INT("id", m.id),
			    LOG_INT("attempts", m.attempts + 1),
			    LOG_STR("reason", why), LOG_INT("retry_in", wait),
			    LOG_STR("recorded", rc == AUTH_OK ? "yes" : "no"));
		}
		explicit_bzero(m.message, m.len);
	}
	return taken;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	struct sigaction sa;
	char err[512], dir[CONFIG_PATH_MAX + 8];
	int check = argc > 1 && strcmp(argv[1], "--check-config") == 0;

	log_set_endpoint("mailer");
	if (config_load(&cfg, err, sizeof(err)) != 0)
		goto fail;
	if (cfg.mail_dir[0] != '\0')
		snprintf(dir, sizeof(dir), "%s", cfg.mail_dir);
	else
		snprintf(dir, sizeof(dir), "%s/mail", cfg.run_dir);
	if (store_open(&st, cfg.db_engine, cfg.db_path, cfg.db_busy_timeout_ms,
	    err, sizeof(err)) != 0)
		goto fail;
	if (check) {
		store_close(st);
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mailer_on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = mailer_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_event(LOG_INFO, "mailer_started", LOG_STR("delivery",
	    cfg.mail_command[0] != '\0' ? "command" : "directory"));
	while (!mailer_stop) {
		log_reopen_if_requested();
		(void)mailer_round(&cfg, st, dir);
		if (!mailer_stop)
			poll(NULL, 0, (int)cfg.mail_poll_ms);
	}
	store_close(st);
	return 0;
fail:
	fprintf(stderr, "auth-svc mailer: %s\n", err);
	store_close(st);
	return 2;
}
