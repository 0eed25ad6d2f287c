/*
 * NAME
 *	log - one line per event, key=value, to stderr or syslog (see log.h)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/log.h"

static const char *log_ident = "postern";
static int log_to_syslog;
static enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int level_priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void
log_open(const char *ident, int use_syslog, int facility)
{
	log_ident = ident;
	if (log_to_syslog)
		closelog();
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

int
log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_to_syslog) {
		syslog(level_priorities[level], "level=%s %s", level_names[level], line);
		return;
	}
	/* One fprintf, so concurrent writers (workers, later) never interleave a line. */
	struct timespec now;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s: level=%s %s\n", stamp, now.tv_nsec / 1000000, log_ident,
	        level_names[level], line);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *
log_escape(char *buf, size_t size, const char *value, size_t len)
{
	size_t o = 0;

	if (size == 0)
		return buf;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		char esc[5];
		size_t n;

		if (c == '"' || c == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		else {
			esc[0] = (char)c;
			n = 1;
		}
		if (o + n + 1 > size)
			break;
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

const char *
log_quote(char *buf, size_t size, const char *value, size_t len)
{
	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[0] = '"';
	log_escape(buf + 1, size - 2, value, len);
	strcat(buf, "\"");
	return buf;
}
