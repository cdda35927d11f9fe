/* csv.c - see csv.h
 *
 * Input is read in 64 KiB blocks and scanned a span at a time: member
 * exports run to hundreds of megabytes, and a per-byte getc() would
 * dominate an import. A record's field bytes are appended, each field
 * NUL-terminated, to one growable buffer; the field pointers are made
 * only when the record is complete, since the buffer may move while it
 * grows. */
#include "csv.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef CSV_BLOCK
#define CSV_BLOCK 65536 /* overridable so tests can force tiny blocks */
#endif
#if CSV_BLOCK < 4
#error "CSV_BLOCK must hold a BOM plus one byte"
#endif

enum state {
    S_FIELD,    /* at the start of a field */
    S_PLAIN,    /* inside an unquoted field */
    S_QUOTED,   /* inside a quoted field */
    S_QUOTE,    /* just after a quote inside a quoted field */
    S_QUOTE_CR  /* a CR after a closing quote; only LF may follow */
};

struct csv {
    FILE *fp;
    char *in;          /* CSV_BLOCK bytes of input */
    size_t pos, len;   /* unread input is in[pos..len) */
    long long base;    /* file offset of in[0] */
    int eof, started;
    long line;         /* physical line of in[pos] */
    long rec_line;     /* line the last returned record started on */

    char *rec;         /* field bytes, each field NUL-terminated */
    size_t rlen, rcap;
    size_t field_start;   /* offset in rec of the field being read */
    int plain_cr;      /* the field ended at a line end outside quotes */
    size_t *starts;    /* offset in rec of each finished field */
    char **fields;
    size_t nfields, fcap;
};

csv_t *csv_new(FILE *fp)
{
    csv_t *c = xcalloc(1, sizeof *c);
    c->fp = fp;
    c->in = xmalloc(CSV_BLOCK);
    c->line = 1;
    c->rcap = 256;
    c->rec = xmalloc(c->rcap);
    c->fcap = 16;
    c->starts = xmalloc(c->fcap * sizeof *c->starts);
    c->fields = xmalloc(c->fcap * sizeof *c->fields);
    return c;
}

void csv_free(csv_t *c)
{
    if (!c) return;
    free(c->in);
    free(c->rec);
    free(c->starts);
    free(c->fields);
    free(c);
}

long csv_line(const csv_t *c)
{
    return c->rec_line;
}

long long csv_offset(const csv_t *c)
{
    return c->base + (long long)c->pos;
}

/* Makes at least n (small) unread bytes available, keeping the unread
 * tail so a CR at the end of a block can still see the LF after it.
 * 1 when n bytes are there, 0 when input ends first (a read error sets
 * c->eof to 2). */
static int need(csv_t *c, size_t n)
{
    if (c->len - c->pos >= n) return 1;
    if (c->eof) return 0;
    size_t keep = c->len - c->pos;
    memmove(c->in, c->in + c->pos, keep);
    c->base += (long long)c->pos;
    c->pos = 0;
    c->len = keep;
    while (c->len < n) {
        size_t got = fread(c->in + c->len, 1, CSV_BLOCK - c->len, c->fp);
        c->len += got;
        if (got == 0) {
            c->eof = ferror(c->fp) ? 2 : 1;
            return 0;
        }
    }
    return 1;
}

static int fill(csv_t *c)
{
    return need(c, 1);
}

static void rec_add(csv_t *c, const char *s, size_t n)
{
    if (c->rlen + n + 1 > c->rcap) {
        while (c->rlen + n + 1 > c->rcap) c->rcap *= 2;
        c->rec = xrealloc(c->rec, c->rcap);
    }
    memcpy(c->rec + c->rlen, s, n);
    c->rlen += n;
}

static void end_field(csv_t *c)
{
    /* A CR right before the LF is part of the line ending, not the field. */
    if (c->plain_cr && c->rlen > c->field_start && c->rec[c->rlen - 1] == '\r') c->rlen--;
    c->plain_cr = 0;
    rec_add(c, "", 1);
    if (c->nfields == c->fcap) {
        c->fcap *= 2;
        c->starts = xrealloc(c->starts, c->fcap * sizeof *c->starts);
        c->fields = xrealloc(c->fields, c->fcap * sizeof *c->fields);
    }
    c->starts[c->nfields++] = c->field_start;
    c->field_start = c->rlen;
}

static int finish(csv_t *c, char ***fields, size_t *nfields)
{
    for (size_t i = 0; i < c->nfields; i++) c->fields[i] = c->rec + c->starts[i];
    *fields = c->fields;
    *nfields = c->nfields;
    return 1;
}

/* After a malformed record: drop the rest of the physical line so the
 * next call starts clean on the line after it. */
static void skip_line(csv_t *c)
{
    while (fill(c)) {
        char *nl = memchr(c->in + c->pos, '\n', c->len - c->pos);
        if (nl) {
            c->pos = (size_t)(nl - c->in) + 1;
            c->line++;
            return;
        }
        c->pos = c->len;
    }
}

static void skip_bom(csv_t *c)
{
    c->started = 1;
    if (need(c, 3) && memcmp(c->in + c->pos, "\xEF\xBB\xBF", 3) == 0)
        c->pos += 3;
}

/* Skips empty lines (LF or CRLF) before a record. */
static void skip_blank(csv_t *c)
{
    while (fill(c)) {
        if (c->in[c->pos] == '\n') {
            c->pos++;
        } else if (c->in[c->pos] != '\r') {
            return;
        } else if (need(c, 2)) {
            if (c->in[c->pos + 1] != '\n') return; /* a field starting with CR */
            c->pos += 2;
        } else {
            c->pos++; /* a lone CR as the very last byte */
        }
        c->line++;
    }
}

static int read_error(csv_t *c, char *err)
{
    return errf(err, "line %ld: read error: %s", c->line, strerror(errno));
}

int csv_next(csv_t *c, char ***fields, size_t *nfields, char *err)
{
    if (!c->started) skip_bom(c);
    skip_blank(c);
    c->rlen = c->field_start = 0;
    c->nfields = 0;
    c->plain_cr = 0;
    c->rec_line = c->line;
    *fields = NULL;
    *nfields = 0;

    enum state st = S_FIELD;
    for (;;) {
        if (!fill(c)) break;
        const char *p = c->in + c->pos, *e = c->in + c->len;
        switch (st) {
        case S_FIELD:
            if (*p == '"') {
                c->pos++;
                st = S_QUOTED;
            } else {
                st = S_PLAIN;
            }
            break;

        case S_PLAIN: {
            const char *q = p;
            while (q < e && *q != ',' && *q != '\n') q++;
            rec_add(c, p, (size_t)(q - p));
            c->pos = (size_t)(q - c->in);
            if (q == e) break;
            c->pos++;
            if (*q == ',') {
                end_field(c);
                st = S_FIELD;
            } else {
                c->plain_cr = 1;
                end_field(c);
                c->line++;
                return finish(c, fields, nfields);
            }
            break;
        }

        case S_QUOTED: {
            const char *q = p;
            while (q < e && *q != '"') {
                if (*q == '\n') c->line++;
                q++;
            }
            rec_add(c, p, (size_t)(q - p));
            c->pos = (size_t)(q - c->in);
            if (q < e) {
                c->pos++;
                st = S_QUOTE;
            }
            break;
        }

        case S_QUOTE:
            c->pos++;
            if (*p == '"') {
                rec_add(c, "\"", 1);
                st = S_QUOTED;
            } else if (*p == ',') {
                end_field(c);
                st = S_FIELD;
            } else if (*p == '\n') {
                end_field(c);
                c->line++;
                return finish(c, fields, nfields);
            } else if (*p == '\r') {
                st = S_QUOTE_CR;
            } else {
                c->pos--;
                goto junk;
            }
            break;

        case S_QUOTE_CR:
            if (*p != '\n') goto junk;
            c->pos++;
            end_field(c);
            c->line++;
            return finish(c, fields, nfields);
        }
    }

    /* End of input. */
    if (c->eof == 2) return read_error(c, err);
    switch (st) {
    case S_FIELD:
        if (c->nfields == 0) return 0;
        end_field(c); /* "a," at EOF: a trailing empty field */
        break;
    case S_PLAIN:
        c->plain_cr = 1; /* a final "a\r" without LF still ends a line */
        end_field(c);
        break;
    case S_QUOTED:
        return errf(err, "line %ld: unterminated quoted field", c->rec_line);
    case S_QUOTE:
    case S_QUOTE_CR:
        end_field(c);
        break;
    }
    return finish(c, fields, nfields);

junk:
    errf(err, "line %ld: unexpected character after closing quote", c->line);
    skip_line(c);
    return -1;
}
