/* util.h - allocation that never returns NULL, growable buffers, errors.
 *
 * Out-of-memory in C is not a recoverable condition for nudge: the x*
 * wrappers abort with a message instead of making every caller check.
 * Expected failures elsewhere return NUDGE_ERR and fill an error buffer. */
#ifndef NUDGE_UTIL_H
#define NUDGE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#define NUDGE_OK   0
#define NUDGE_ERR -1

#define ERRLEN 512

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* printf into a caller's error buffer; always returns NUDGE_ERR so a
 * failure path can be one line: return errf(err, "...", ...); */
int errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable byte buffer; always NUL-terminated. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);
void buf_add(buf_t *b, const char *s, size_t n);
void buf_adds(buf_t *b, const char *s);
void buf_addc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal, as "%lld" would write it */
void buf_add_i64(buf_t *b, int64_t v);
/* v as 16 lowercase hex digits, as "%016llx" would write it */
void buf_add_hex64(buf_t *b, uint64_t v);
/* s as a JSON string literal, quotes included, escaped as cJSON prints
 * strings (the short forms, \u00XX for other control characters) */
void buf_add_json_str(buf_t *b, const char *s);

/* A monotonic clock, in nanoseconds: only differences mean anything. */
int64_t mono_ns(void);

/* 64-bit FNV-1a, for content fingerprints (never for security). */
uint64_t fnv1a64(const void *p, size_t n, uint64_t seed);
#define FNV_SEED 0xcbf29ce484222325ULL

/* fopen(path, "rb") for a large file read straight through, with a
 * 1 MB stdio buffer: the default one makes a system call every 4 KB.
 * *vbuf is the buffer, the caller's to free after fclose. */
FILE *fopen_read_big(const char *path, char **vbuf);

/* Read a whole file into a NUL-terminated heap string. */
char *read_file(const char *path, size_t *len, char *err);

/* src into dst of size bytes, cut short to fit, always NUL-terminated
 * (size > 0): snprintf(dst, size, "%s", src) without the format parsing. */
void strcopy(char *dst, size_t size, const char *src);

/* The first byte from p, before end, that is not JSON white space
 * (space, tab, CR, LF); end if there is none. */
const char *skip_json_space(const char *p, const char *end);

/* Trim ASCII white space in place; returns s. */
char *strtrim(char *s);

#endif
