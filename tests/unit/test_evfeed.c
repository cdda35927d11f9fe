/* test_evfeed.c - simulate's --events, handed out in time order: each
 * event keeps its own id and member after the next one is read (a number,
 * or the fingerprint of an event without an id, lives in the event
 * itself); bad lines are counted and skipped; what is left after a stop
 * is counted. Both ways: a file in time order (streamed) and one out of
 * order (indexed and sorted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evfeed.h"
#include "t.h"
#include "tz.h"

static const char *const lines[] = {
    "{\"type\":\"order.paid\",\"member\":1,\"at\":\"2027-01-05T10:00:00+08:00\",\"order_id\":\"X1\",\"amount\":10}",
    "this is not JSON",
    "{\"type\":\"order.paid\",\"member\":2,\"at\":\"2027-01-06T10:00:00+08:00\",\"order_id\":\"X2\",\"amount\":20}",
    "",
    "{\"id\":7,\"type\":\"custom.visit\",\"member\":\"M3\",\"at\":\"2027-01-07T10:00:00+08:00\"}",
    "{\"type\":\"custom.visit\",\"member\":\"M4\",\"at\":\"2027-01-08T10:00:00+08:00\"}",
};
enum { NLINES = sizeof lines / sizeof *lines };

/* The id evt_parse gives line i on its own. */
static void id_of(int i, const tz_t *tz, char *out, size_t n)
{
    event_t ev;
    char err[ERRLEN];
    CHECK_EQ_INT(evt_parse(&ev, lines[i], strlen(lines[i]), tz, err), NUDGE_OK);
    snprintf(out, n, "%s", ev.id);
    evt_free(&ev);
}

static void write_file(const char *path, const int *order, int n)
{
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (!fp) return;
    for (int i = 0; i < n; i++) fprintf(fp, "%s\n", lines[order[i]]);
    fclose(fp);
}

static void check_feed(const char *path, const tz_t *tz, long first_line, long second_line)
{
    char err[ERRLEN] = "", id1[32], id3[32];
    id_of(0, tz, id1, sizeof id1);
    id_of(2, tz, id3, sizeof id3);
    CHECK(strncmp(id1, "h:", 2) == 0);
    CHECK(strcmp(id1, id3) != 0);

    evfeed_t *f = evfeed_open(path, tz, err);
    CHECK(f != NULL);
    if (!f) return;
    event_t a, b;
    long line = 0;
    CHECK_EQ_INT(evfeed_next(f, &a, &line, err), 1);
    CHECK_EQ_INT(line, first_line);
    CHECK_EQ_STR(a.member, "1");
    CHECK_EQ_STR(a.id, id1);
    CHECK_EQ_INT(evfeed_peek(f), 1799200800);   /* 2027-01-06T10:00+08:00 */
    CHECK_EQ_INT(evfeed_next(f, &b, &line, err), 1);
    CHECK_EQ_INT(line, second_line);
    CHECK_EQ_STR(b.member, "2");
    CHECK_EQ_STR(b.id, id3);
    /* the first event is the caller's: the second did not take its place */
    CHECK_EQ_STR(a.member, "1");
    CHECK_EQ_STR(a.id, id1);
    CHECK_EQ_INT(evfeed_rejected(f), 1);
    CHECK_EQ_INT(evfeed_left(f), 2);
    evt_free(&a);
    evt_free(&b);
    evfeed_free(f);
}

int main(void)
{
    char dir[] = "/tmp/nudge-evfeed.XXXXXX", path[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    const tz_t *tz = tz_get("Asia/Shanghai", NULL);
    CHECK(tz != NULL);

    /* in time order: streamed */
    static const int in_order[] = {0, 1, 2, 3, 4, 5};
    write_file(path, in_order, NLINES);
    check_feed(path, tz, 1, 3);

    /* out of order: the same events, sorted */
    static const int shuffled[] = {4, 2, 1, 0, 5, 3};
    write_file(path, shuffled, NLINES);
    check_feed(path, tz, 4, 2);

    /* read to the end, and stopped early with events left unread */
    write_file(path, in_order, NLINES);
    char err[ERRLEN] = "";
    evfeed_t *f = evfeed_open(path, tz, err);
    CHECK(f != NULL);
    if (f) {
        event_t ev;
        long line, n = 0;
        while (evfeed_next(f, &ev, &line, err) == 1) {
            n++;
            evt_free(&ev);
        }
        CHECK_EQ_INT(n, 4);
        CHECK_EQ_INT(evfeed_peek(f), TIME_NONE);
        CHECK_EQ_INT(evfeed_left(f), 0);
        evfeed_free(f);
    }
    f = evfeed_open(path, tz, err);
    CHECK(f != NULL);
    evfeed_free(f);

    unlink(path);
    rmdir(dir);
    T_DONE();
}
