/*
 * metrics: one fixed-layout segment per node, a file under RUN_DIR mapped
 * MAP_SHARED by every process. Updates are relaxed atomic adds on 64-bit
 * words: no lock on the request path, and a process killed mid-request
 * loses at most its own unfinished update. The header (magic, layout
 * version, size) is checked at map time; the version is also in the file
 * name so that a build with another layout never reads this one.
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ownfile.h"

#define METRICS_MAGIC 0x4d54454d48545541ULL   /* "AUTHMETM" little-endian */
#define METRICS_LAYOUT 4
#define METRICS_PROCS 20                    /* supervised processes */
#define METRICS_HANDLERS 24
#define METRICS_METHODS 3
#define METRICS_CLASSES 5                   /* 1xx .. 5xx */
#define METRICS_BUCKETS 12                  /* 11 bounds + Inf */

static const char *const metrics_handler_names[] = {
	"/auth/register", "/auth/login", "/auth/refresh", "/auth/me",
	"/auth/logout", "/auth/logout-all", "/auth/sessions",
	"/auth/sessions/{id}", "/healthz", "/readyz", "/metrics",
	"/.well-known/jwks.json", "/.well-known/openid-configuration",
	"/auth/verify", "/auth/password", "/auth/password/forgot",
	"/auth/password/reset", "/auth/email/verify", "/auth/email/resend",
	"/auth/mfa/totp/enroll", "/auth/mfa/totp/confirm",
	"/auth/mfa/totp/disable", "/auth/mfa/verify",
};
#define METRICS_NAMED (sizeof(metrics_handler_names) / sizeof(char *))

/* What the supervisor runs: every endpoint's master, and the front. */
static const char *const metrics_proc_names[] = {
	"register", "login", "refresh", "me", "logout", "logout_all",
	"sessions", "jwks", "healthz", "readyz", "metrics", "front",
	"discovery", "verify", "account", "mailer", "mfa",
};
#define METRICS_PROC_NAMED (sizeof(metrics_proc_names) / sizeof(char *))

static const char *const metrics_method_names[METRICS_METHODS] = {
	"GET", "POST", "DELETE",
};

static const double metrics_bounds[METRICS_BUCKETS - 1] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

static const struct {
	const char *family;
	const char *label;    /* NULL for an unlabelled counter */
} metrics_counter_names[METRICS_COUNTER__MAX] = {
	[METRICS_LOGIN_SUCCESS] = {"auth_logins_total", "success"},
	[METRICS_LOGIN_FAILURE] = {"auth_logins_total", "failure"},
	[METRICS_LOGIN_THROTTLED] = {"auth_logins_total", "throttled"},
	[METRICS_REGISTRATION] = {"auth_registrations_total", NULL},
	[METRICS_REFRESH_ROTATED] = {"auth_refresh_total", "rotated"},
	[METRICS_REFRESH_INVALID] = {"auth_refresh_total", "invalid"},
	[METRICS_REFRESH_REPLAY] = {"auth_refresh_total", "replay"},
};

struct metrics_seg {
	uint64_t magic;
	uint32_t layout;
	uint32_t size;
	uint64_t requests[METRICS_HANDLERS][METRICS_METHODS][METRICS_CLASSES];
	uint64_t buckets[METRICS_HANDLERS][METRICS_METHODS][METRICS_BUCKETS];
	uint64_t sum_ns[METRICS_HANDLERS][METRICS_METHODS];
	uint64_t counters[METRICS_COUNTER__MAX];
	uint64_t restarts[METRICS_PROCS];
	struct log_shared log;     /* lines dropped, a line cut short */
};

struct metrics {
	struct metrics_seg *seg;   /* NULL when disabled */
	int handler;
};

_Static_assert(METRICS_NAMED <= METRICS_HANDLERS, "handler table too big");
_Static_assert(METRICS_PROC_NAMED <= METRICS_PROCS, "process table too big");

static int metrics_handler_index(const char *handler)
{
	size_t i;

	for (i = 0; handler != NULL && i < METRICS_NAMED; i++)
		if (strcmp(metrics_handler_names[i], handler) == 0)
			return (int)i;
	return -1;
}

void metrics_set_handler(struct metrics *m, const char *handler)
{
	if (m != NULL)
		m->handler = metrics_handler_index(handler);
}

/* Map path, initializing it when new. NULL (with a reason) on failure. */
static struct metrics_seg *metrics_map(const char *path, const char **why)
{
	struct metrics_seg *seg = NULL;
	struct stat st;
	int fd;

	fd = ownfile_open(path, &st);
	if (fd < 0) {
		*why = errno == EPERM ? "not a file of ours with mode 0600" :
		    strerror(errno);
		return NULL;
	}
	/* Only start-up takes this lock, to make creation race-free. */
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		*why = strerror(errno);
		goto out;
	}
	if (st.st_size == 0 &&
	    ftruncate(fd, (off_t)sizeof(struct metrics_seg)) != 0) {
		*why = strerror(errno);
		goto out;
	}
	if (st.st_size != 0 && st.st_size != (off_t)sizeof(struct metrics_seg)) {
		*why = "segment has another size";
		goto out;
	}
	seg = mmap(NULL, sizeof(*seg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (seg == MAP_FAILED) {
		seg = NULL;
		*why = strerror(errno);
		goto out;
	}
	/* New, or sized by a creator that died before writing the header
	 * (nobody else can have used it: a zero header is always refused). */
	if (st.st_size == 0 ||
	    (__atomic_load_n(&seg->magic, __ATOMIC_ACQUIRE) == 0 &&
	    seg->layout == 0 && seg->size == 0)) {
		seg->layout = METRICS_LAYOUT;
		seg->size = (uint32_t)sizeof(*seg);
		__atomic_store_n(&seg->magic, METRICS_MAGIC, __ATOMIC_RELEASE);
	} else if (__atomic_load_n(&seg->magic, __ATOMIC_ACQUIRE) != METRICS_MAGIC ||
	    seg->layout != METRICS_LAYOUT || seg->size != sizeof(*seg)) {
		munmap(seg, sizeof(*seg));
		seg = NULL;
		*why = "segment header does not match this build";
	}
out:
	/* Explicitly: the mapping holds the open file, so close() alone
	 * would keep the lock for the life of the process. */
	flock(fd, LOCK_UN);
	close(fd);
	return seg;
}

struct metrics *metrics_open(const char *run_dir, const char *handler)
{
	struct metrics *m = calloc(1, sizeof(*m));
	const char *why = "RUN_DIR too long";
	char path[4096];
	int n;

	if (m == NULL)
		return NULL;
	m->handler = metrics_handler_index(handler);
	n = snprintf(path, sizeof(path), "%s/metrics-v%d.shm", run_dir,
	    METRICS_LAYOUT);
	if (n > 0 && (size_t)n < sizeof(path))
		m->seg = metrics_map(path, &why);
	if (m->seg == NULL)
		log_event(LOG_WARN, "metrics_unavailable", LOG_STR("reason", why),
		    LOG_STR("path", path));
	else
		log_set_shared(&m->seg->log);
	return m;
}

void metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->seg != NULL && log_get_shared() == &m->seg->log)
		log_set_shared(NULL);
	if (m->seg != NULL)
		munmap(m->seg, sizeof(*m->seg));
	free(m);
}

int metrics_enabled(const struct metrics *m)
{
	return m != NULL && m->seg != NULL;
}

static int metrics_method_index(enum http_method method)
{
	switch (method) {
	case HTTP_GET:
		return 0;
	case HTTP_POST:
		return 1;
	case HTTP_DELETE:
		return 2;
	case HTTP_OTHER:
		break;        /* PUT, PATCH...: only /auth/verify takes them */
	}
	return -1;
}

void metrics_observe(struct metrics *m, enum http_method method, int status,
    double seconds)
{
	int mi = metrics_method_index(method), cls = status / 100 - 1, b;

	if (!metrics_enabled(m) || m->handler < 0 || mi < 0 || cls < 0 ||
	    cls >= METRICS_CLASSES)
		return;
	for (b = 0; b < METRICS_BUCKETS - 1; b++)
		if (seconds <= metrics_bounds[b])
			break;
	__atomic_fetch_add(&m->seg->requests[m->handler][mi][cls], 1,
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->seg->buckets[m->handler][mi][b], 1,
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->seg->sum_ns[m->handler][mi],
	    (uint64_t)(seconds * 1e9), __ATOMIC_RELAXED);
}

void metrics_count(struct metrics *m, enum metrics_counter c)
{
	if (metrics_enabled(m) && (int)c >= 0 && c < METRICS_COUNTER__MAX)
		__atomic_fetch_add(&m->seg->counters[c], 1, __ATOMIC_RELAXED);
}

int metrics_restarted(struct metrics *m, const char *process)
{
	size_t i;

	for (i = 0; process != NULL && i < METRICS_PROC_NAMED; i++) {
		if (strcmp(metrics_proc_names[i], process) != 0)
			continue;
		if (metrics_enabled(m))
			__atomic_fetch_add(&m->seg->restarts[i], 1,
			    __ATOMIC_RELAXED);
		return 0;
	}
	return -1;
}

static uint64_t metrics_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void metrics_render_requests(const struct metrics_seg *s, FILE *f)
{
	size_t h;
	int mi, c;

	fputs("# HELP http_requests_total Total number of requests by method, "
	    "status and handler.\n# TYPE http_requests_total counter\n", f);
	for (h = 0; h < METRICS_NAMED; h++)
		for (mi = 0; mi < METRICS_METHODS; mi++)
			for (c = 0; c < METRICS_CLASSES; c++) {
				uint64_t v = metrics_load(&s->requests[h][mi][c]);
				if (v > 0)
					fprintf(f, "http_requests_total{handler=\"%s\","
					    "method=\"%s\",status=\"%dxx\"} %llu\n",
					    metrics_handler_names[h],
					    metrics_method_names[mi], c + 1,
					    (unsigned long long)v);
			}
}

static void metrics_render_durations(const struct metrics_seg *s, FILE *f)
{
	size_t h;
	int mi, b;

	fputs("# HELP http_request_duration_seconds Latency of requests by "
	    "handler and method.\n"
	    "# TYPE http_request_duration_seconds histogram\n", f);
	for (h = 0; h < METRICS_NAMED; h++)
		for (mi = 0; mi < METRICS_METHODS; mi++) {
			uint64_t counts[METRICS_BUCKETS], total = 0;

			for (b = 0; b < METRICS_BUCKETS; b++) {
				counts[b] = metrics_load(&s->buckets[h][mi][b]);
				total += counts[b];
			}
			if (total == 0)
				continue;
			/* Cumulative buckets; the count is their sum, so the
			 * series is consistent even under concurrent updates. */
			total = 0;
			for (b = 0; b < METRICS_BUCKETS; b++) {
				total += counts[b];
				if (b < METRICS_BUCKETS - 1)
					fprintf(f, "http_request_duration_seconds_bucket"
					    "{handler=\"%s\",method=\"%s\",le=\"%g\"} "
					    "%llu\n", metrics_handler_names[h],
					    metrics_method_names[mi],
					    metrics_bounds[b], (unsigned long long)total);
				else
					fprintf(f, "http_request_duration_seconds_bucket"
					    "{handler=\"%s\",method=\"%s\",le=\"+Inf\"} "
					    "%llu\n", metrics_handler_names[h],
					    metrics_method_names[mi],
					    (unsigned long long)total);
			}
			fprintf(f, "http_request_duration_seconds_sum{handler=\"%s\","
			    "method=\"%s\"} %.6f\n", metrics_handler_names[h],
			    metrics_method_names[mi],
			    (double)metrics_load(&s->sum_ns[h][mi]) / 1e9);
			fprintf(f, "http_request_duration_seconds_count{handler="
			    "\"%s\",method=\"%s\"} %llu\n",
			    metrics_handler_names[h], metrics_method_names[mi],
			    (unsigned long long)total);
		}
}

static void metrics_render_counters(const struct metrics_seg *s, FILE *f)
{
	static const char *const help[] = {
		"auth_logins_total", "Login attempts by result.",
		"auth_registrations_total", "Accounts created.",
		"auth_refresh_total", "Refresh attempts by result.",
	};
	size_t i;
	int c;

	for (i = 0; i < sizeof(help) / sizeof(help[0]); i += 2) {
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", help[i],
		    help[i + 1], help[i]);
		for (c = 0; c < METRICS_COUNTER__MAX; c++) {
			uint64_t v = s ? metrics_load(&s->counters[c]) : 0;

			if (strcmp(metrics_counter_names[c].family, help[i]) != 0)
				continue;
			if (metrics_counter_names[c].label != NULL)
				fprintf(f, "%s{result=\"%s\"} %llu\n", help[i],
				    metrics_counter_names[c].label,
				    (unsigned long long)v);
			else
				fprintf(f, "%s %llu\n", help[i],
				    (unsigned long long)v);
		}
	}
}

static void metrics_render_log(const struct metrics_seg *s, FILE *f)
{
	fprintf(f, "# HELP auth_log_dropped_total Log lines dropped because "
	    "the log did not take them at once (a full disk, a stalled "
	    "journal).\n# TYPE auth_log_dropped_total counter\n"
	    "auth_log_dropped_total %llu\n",
	    (unsigned long long)(s ? metrics_load(&s->log.dropped) : 0));
}

static void metrics_render_restarts(const struct metrics_seg *s, FILE *f)
{
	size_t i;

	fputs("# HELP auth_process_restarts_total Endpoint masters and the "
	    "front started again by the supervisor after they died.\n"
	    "# TYPE auth_process_restarts_total counter\n", f);
	for (i = 0; i < METRICS_PROC_NAMED; i++)
		fprintf(f, "auth_process_restarts_total{process=\"%s\"} %llu\n",
		    metrics_proc_names[i],
		    (unsigned long long)(s ? metrics_load(&s->restarts[i]) : 0));
}

int metrics_render(const struct metrics *m, const struct metrics_gauge *g,
    size_t ngauges, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);
	const struct metrics_seg *s = metrics_enabled(m) ? m->seg : NULL;
	size_t i;

	if (f == NULL)
		return -1;
	if (s != NULL) {
		metrics_render_requests(s, f);
		metrics_render_durations(s, f);
	}
	metrics_render_counters(s, f);
	metrics_render_restarts(s, f);
	metrics_render_log(s, f);
	for (i = 0; i < ngauges; i++)
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", g[i].name,
		    g[i].help, g[i].name, g[i].name, (long long)g[i].value);
	fprintf(f, "# HELP auth_metrics_shared Whether node-wide counters are "
	    "kept (0: the segment could not be mapped).\n"
	    "# TYPE auth_metrics_shared gauge\nauth_metrics_shared %d\n",
	    s != NULL);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
