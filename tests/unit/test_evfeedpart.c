/* test_evfeedpart.c - one events file read by the parts of a simulation:
 * a line whose member can be told without parsing goes to its member's
 * part only (bad lines reported there), a line whose member cannot be
 * told (an escape, a number, not JSON) to every part (bad ones reported by
 * the part that reports for all); what is left after a stop is counted
 * once over the parts. Both ways: streamed and sorted. A line with a NUL
 * is not told by a look that would stop at it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evfeed.h"
#include "t.h"
#include "tz.h"

static const char *const lines[] = {
    /* 1 */ "{\"type\":\"order.paid\",\"member\":\"A1\",\"at\":\"2027-01-05T10:00:00+08:00\",\"order_id\":\"X1\",\"amount\":1}",
    /* 2 */ "{\"type\":\"order.paid\",\"member\" : \"B1\",\"at\":\"2027-01-06T10:00:00+08:00\",\"order_id\":\"X2\",\"amount\":2}",
    /* 3 */ "{\"type\":\"custom.visit\",\"member\":\"A\\u0031\",\"at\":\"2027-01-07T10:00:00+08:00\"}",
    /* 4 */ "{\"type\":\"order.paid\",\"member\":\"B2\",\"at\":\"2027-01-07T11:00:00+08:00\",\"amount\":3}",
    /* 5 */ "not json",
    /* 6 */ "{\"type\":\"custom.visit\",\"member\":7,\"at\":\"2027-01-08T10:00:00+08:00\"}",
};
enum { NLINES = sizeof lines / sizeof *lines };

typedef struct part {
    const char *prefix;    /* members starting with it are this part's */
    long reported[8];
    int nreported;
} part_t;

static int owns(void *ud, const char *member)
{
    const part_t *p = ud;
    return strncmp(member, p->prefix, strlen(p->prefix)) == 0;
}

static void on_reject(void *ud, long line, const char *why)
{
    (void)why;
    part_t *p = ud;
    if (p->nreported < 8) p->reported[p->nreported++] = line;
}

static void write_file(const char *path, const int *order)
{
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (!fp) return;
    for (int i = 0; i < NLINES; i++) fprintf(fp, "%s\n", lines[order[i]]);
    fclose(fp);
}

/* "line:owned" of each event the part is handed, "," separated */
static void read_all(const char *path, const tz_t *tz, part_t *p, int for_all, char *out, size_t n, long *rejected)
{
    char err[ERRLEN];
    evfeed_t *f = evfeed_open_part(path, tz, 0, on_reject, p, owns, p, for_all, err);
    CHECK(f != NULL);
    out[0] = '\0';
    if (!f) return;
    event_t ev;
    long line;
    size_t len = 0;
    while (evfeed_next(f, &ev, &line, err) == 1) {
        len += (size_t)snprintf(out + len, n - len, "%s%ld:%d", len ? "," : "", line, evfeed_owned(f));
        evt_free(&ev);
    }
    *rejected = evfeed_rejected(f);
    evfeed_free(f);
}

static long left_after_one(const char *path, const tz_t *tz, part_t *p, int for_all)
{
    char err[ERRLEN];
    evfeed_t *f = evfeed_open_part(path, tz, 0, on_reject, p, owns, p, for_all, err);
    CHECK(f != NULL);
    if (!f) return -1;
    event_t ev;
    long line;
    CHECK_EQ_INT(evfeed_next(f, &ev, &line, err), 1);
    evt_free(&ev);
    long n = evfeed_left(f);
    evfeed_free(f);
    return n;
}

/* want_a, want_b: what each part is handed; bad_json, bad_b: the lines of
 * "not json" and of B2's bad order */
static void check_file(const char *path, const tz_t *tz, const char *want_a, const char *want_b, long bad_json,
                       long bad_b)
{
    char got[256];
    long rejected;
    part_t a = {"A", {0}, 0}, b = {"B", {0}, 0};
    read_all(path, tz, &a, 1, got, sizeof got, &rejected);
    CHECK_EQ_STR(got, want_a);
    CHECK_EQ_INT(rejected, 1);
    CHECK_EQ_INT(a.nreported, 1);
    CHECK_EQ_INT(a.reported[0], bad_json);   /* not JSON: the part that reports for all */
    read_all(path, tz, &b, 0, got, sizeof got, &rejected);
    CHECK_EQ_STR(got, want_b);
    CHECK_EQ_INT(rejected, 1);
    CHECK_EQ_INT(b.nreported, 1);
    CHECK_EQ_INT(b.reported[0], bad_b);      /* B2's order without an order_id: B's */
    /* after the first event: A counts line 3 and 6 (undetermined, it
     * reports for all), B none of them */
    a.nreported = b.nreported = 0;
    CHECK_EQ_INT(left_after_one(path, tz, &a, 1), 2);
    CHECK_EQ_INT(left_after_one(path, tz, &b, 0), 2 - 2);
}

int main(void)
{
    char dir[] = "/tmp/nudge-evfeedpart.XXXXXX", path[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    const tz_t *tz = tz_get("Asia/Shanghai", NULL);

    int in_order[NLINES] = {0, 1, 2, 3, 4, 5};
    write_file(path, in_order);
    check_file(path, tz, "1:1,3:0,6:0", "2:1,3:0,6:0", 5, 4);

    /* a NUL on a line: the quick look would stop at it and see A's member
     * where the parse reads B's; the line's member is not told so */
    FILE *fp = fopen(path, "w");
    static const char nul_line[] = "{\"type\":\"custom.visit\",\"y\":{\"member\":\"A9\"},\"x\":\"\0\","
                                   "\"member\":\"B9\",\"at\":\"2027-01-05T10:00:00+08:00\"}\n";
    CHECK(fp != NULL);
    if (fp) {
        fwrite(nul_line, 1, sizeof nul_line - 1, fp);
        fclose(fp);
    }
    char got[64];
    long rejected;
    part_t a = {"A", {0}, 0}, b = {"B", {0}, 0};
    read_all(path, tz, &a, 1, got, sizeof got, &rejected);
    char got_b[64];
    read_all(path, tz, &b, 0, got_b, sizeof got_b, &rejected);
    /* handed to both, neither told it is theirs: they ask their stores */
    CHECK_EQ_STR(got, "1:0");
    CHECK_EQ_STR(got_b, "1:0");

    /* out of order: indexed and sorted, the same events to each part */
    int shuffled[NLINES] = {5, 2, 4, 0, 3, 1};
    write_file(path, shuffled);
    check_file(path, tz, "4:1,2:0,1:0", "6:1,2:0,1:0", 3, 5);

    unlink(path);
    rmdir(dir);
    tz_free_all();
    T_DONE();
}
