/* csv.h - a streaming RFC 4180 reader that knows its line numbers.
 *
 * Quoted fields may hold commas, "" and newlines; CRLF and LF both end a
 * record; a UTF-8 BOM before the header is skipped. Blank lines are
 * skipped. Field pointers stay valid until the next csv_next call. */
#ifndef NUDGE_CSV_H
#define NUDGE_CSV_H

#include <stdio.h>
#include <stddef.h>

typedef struct csv csv_t;

csv_t *csv_new(FILE *fp);           /* does not take ownership of fp */
void csv_free(csv_t *c);

/* 1: a record is in *fields / *nfields; 0: end of input;
 * -1: malformed input (err names the line, e.g. "line 7: unterminated
 * quoted field"). After -1 the reader resyncs at the next line, so the
 * caller can report and go on. */
int csv_next(csv_t *c, char ***fields, size_t *nfields, char *err);

/* The line on which the last record returned started (1-based). */
long csv_line(const csv_t *c);
/* Bytes consumed so far (for progress). */
long long csv_offset(const csv_t *c);

#endif
