/*
 * NAME
 *	log - one line per event, key=value, to stderr or syslog
 * SYNOPSIS
 *	log_open(ident, use_syslog, facility)
 *	log_set_level(level)
 *	log_msg(level, fmt, ...), log_err/log_warn/log_info/log_debug(fmt, ...)
 *	fatal(fmt, ...)
 * DESCRIPTION
 *	log_msg() writes one line. Callers format key=value pairs themselves
 *	(log_info("event=accept client=%s", ip)); values that may hold spaces
 *	are quoted by the caller with log_quote().
 *
 *	log_quote() copies a value into buf as a double-quoted string, escaping
 *	quotes, backslashes and control characters, truncating to fit. It returns
 *	buf, so it can be used inside the argument list of log_msg().
 *	log_escape() does the same without the quotes (for from=<...>).
 *
 *	fatal() logs at error level and exits 1; it is for start-up problems and
 *	allocation failure only, never for anything a peer can cause.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_open(const char *ident, int use_syslog, int facility);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *log_quote(char *buf, size_t size, const char *value, size_t len);
const char *log_escape(char *buf, size_t size, const char *value, size_t len);

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
