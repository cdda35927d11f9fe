/* log.h - structured logs: one JSON object per line on stderr (ts, level,
 * module, msg, then string ids), or plain "LEVEL module: message k=v"
 * lines for interactive commands.
 *
 * Every message and id value goes through log_mask first, so mobile
 * numbers, email addresses and WeChat openids never reach a log file in
 * full. Each line is written with one fwrite and flushed, so processes
 * sharing stderr (or an O_APPEND file) do not interleave lines shorter than
 * PIPE_BUF. Output is always valid UTF-8: ill-formed sequences become U+FFFD.
 *
 * Not thread-safe (nudge runs one event loop per process); errno is kept
 * across every call, so "%m" and errno checks after a log line still work. */
#ifndef NUDGE_LOG_H
#define NUDGE_LOG_H

#include <stdarg.h>
#include <stdio.h>
#include "util.h"

/* LOG_DEBUG and LOG_INFO are also <syslog.h> macros: never include both. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* "debug", "info", "warn"/"warning", "error" (any case) into *level;
 * NUDGE_ERR (and *level untouched) for anything else. */
int log_level_parse(const char *name, int *level);

/* Lines below level are dropped; fp NULL means stderr (the stream is the
 * caller's, never closed here); json 0 selects the plain format.
 * Before any call: LOG_INFO, stderr, JSON. */
void log_setup(int level, FILE *fp, int json);

/* Whether a line at level would be written: guards costly arguments. */
int log_enabled(int level);

void log_msg(int level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* kv holds nkv_pairs key/value pairs, e.g. {"member", "M001", "journey",
 * "birthday"}, written after msg as string fields (a NULL value as null; a
 * key clashing with ts/level/module/msg gets a '_' prefix). */
void log_kv(int level, const char *module, const char *const *kv, int nkv_pairs, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void log_vkv(int level, const char *module, const char *const *kv, int nkv_pairs, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Appends in to out with personal data masked:
 *   13800138000, +8613800138000   -> 138****8000, +86138****8000
 *     (an 11-digit run starting with 1, alone or after 86/0086; longer or
 *     shorter digit runs such as order ids and timestamps stay)
 *   alice@example.com             -> a***@example.com
 *   oia2TjuEGTNoeX76QEjQNrcURxG8  -> oia2****
 *     (a word of exactly 28 [A-Za-z0-9_-] starting with 'o')
 * Bytes are copied otherwise, so UTF-8 text around the values survives.
 * Linear time; in NULL appends nothing. */
void log_mask(const char *in, buf_t *out);

#endif
