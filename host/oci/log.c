/*
 * Errors where engines look for them: runc prints a failure on stderr and
 * also logs it to --log in --log-format, and conmon and containerd's shim
 * read that log (the last error in it) to say why a call failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "oci.h"

static FILE *log_file;
static int log_json;

int oci_log_open(const char *path, const char *format)
{
	if (format && strcmp(format, "text") && strcmp(format, "json")) {
		fprintf(stderr, "pier-oci: --log-format %s: expected text or json\n", format);
		return -1;
	}
	log_json = format && strcmp(format, "json") == 0;
	if (!path)
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || !(log_file = fdopen(fd, "a"))) {
		fprintf(stderr, "pier-oci: --log %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

void oci_now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

static void log_line(const char *level, const char *msg)
{
	if (!log_file)
		return;
	char when[40];
	oci_now_rfc3339(when, sizeof(when));
	if (log_json) {
		json_t *j = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (text)
			fprintf(log_file, "%s\n", text);
		free(text);
		json_decref(j);
	} else {
		fprintf(log_file, "time=\"%s\" level=%s msg=\"", when, level);
		for (const char *p = msg; *p; p++)
			fprintf(log_file, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		fprintf(log_file, "\"\n");
	}
	fflush(log_file);
}

static void report(const char *level, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strcmp(level, "error") == 0)
		fprintf(stderr, "pier-oci: %s\n", msg);
	log_line(level, msg);
}

void oci_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("error", fmt, ap);
	va_end(ap);
}

void oci_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("warning", fmt, ap);
	va_end(ap);
}
