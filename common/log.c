/*
 * log: one JSON object per line on stderr (spawn-fcgi and start.sh route
 * it to the log file). The line is assembled in memory and written with a
 * single write(2) so lines of concurrent processes never interleave.
 */
#include "log.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The endpoint name is process-wide identity, written once in main. */
static const char *log_endpoint = "auth";

static const char *const log_level_names[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info",
	[LOG_WARN] = "warn", [LOG_ERROR] = "error",
};

void log_set_endpoint(const char *endpoint)
{
	log_endpoint = endpoint;
}

void log_event(enum log_level level, const char *event, ...)
{
	struct json_object *o = json_object_new_object();
	char ts[64];
	struct timespec now;
	struct tm tm;
	const char *line, *key;
	size_t len;
	va_list ap;

	if (o == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L);
	json_object_object_add(o, "time", json_object_new_string(ts));
	json_object_object_add(o, "level",
	    json_object_new_string(log_level_names[level]));
	json_object_object_add(o, "endpoint",
	    json_object_new_string(log_endpoint));
	json_object_object_add(o, "event", json_object_new_string(event));
	va_start(ap, event);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);
		if (val != NULL)
			json_object_object_add(o, key,
			    json_object_new_string(val));
	}
	va_end(ap);
	line = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (line != NULL) {
		char buf[4096];
		if (len + 1 < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\n';
			/* A lost log line must not fail the request. */
			if (write(STDERR_FILENO, buf, len + 1) < 0)
				(void)0;
		}
	}
	json_object_put(o);
}
