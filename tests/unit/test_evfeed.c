/* test_evfeed.c - simulate's --events, handed out in time order: each
 * event keeps its own id and member after the next one is read (a number,
 * or the fingerprint of an event without an id, lives in the event
 * itself); bad lines are counted and skipped; what is left after a stop
 * is counted, bad lines there rejected. Both ways: a file in time order
 * (streamed) and one out of order (indexed and sorted). A time written
 * with an escaped key counts; a directory or a pipe is an error. */
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

    evfeed_t *f = evfeed_open(path, tz, 0, NULL, NULL, err);
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
    evfeed_t *f = evfeed_open(path, tz, 0, NULL, NULL, err);
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
    f = evfeed_open(path, tz, 0, NULL, NULL, err);
    CHECK(f != NULL);
    evfeed_free(f);

    /* a bad line after where the run stopped is rejected, not counted as
     * an event left, as in a sorted file */
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fprintf(fp, "%s\n%s\nnot an event\n%s\n", lines[0], lines[2], lines[4]);
        fclose(fp);
    }
    f = evfeed_open(path, tz, 0, NULL, NULL, err);
    CHECK(f != NULL);
    if (f) {
        event_t ev;
        long line;
        CHECK_EQ_INT(evfeed_next(f, &ev, &line, err), 1);
        evt_free(&ev);
        CHECK_EQ_INT(evfeed_left(f), 2);
        CHECK_EQ_INT(evfeed_rejected(f), 1);
        evfeed_free(f);
    }

    /* a key written with an escape is still that key: "\u0061t" is the
     * event's time (March), not the nested "at" (January), so the file is
     * out of order and its February event comes first */
    fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fprintf(fp, "{\"type\":\"x\",\"member\":\"A1\",\"\\u0061t\":\"2027-03-01T10:00:00+08:00\","
                    "\"meta\":{\"at\":\"2027-01-01T10:00:00+08:00\"}}\n"
                    "{\"type\":\"x\",\"member\":\"A2\",\"at\":\"2027-02-01T10:00:00+08:00\"}\n");
        fclose(fp);
    }
    f = evfeed_open(path, tz, 0, NULL, NULL, err);
    CHECK(f != NULL);
    if (f) {
        event_t ev;
        long line = 0;
        CHECK_EQ_INT(evfeed_next(f, &ev, &line, err), 1);
        CHECK_EQ_INT(line, 2);
        CHECK_EQ_STR(ev.member, "A2");
        evt_free(&ev);
        evfeed_free(f);
    }

    /* what cannot be read, or read twice, is an error, not an empty feed */
    CHECK(evfeed_open(dir, tz, 0, NULL, NULL, err) == NULL);
    CHECK(strstr(err, "Is a directory") != NULL);
    int fds[2];
    CHECK_EQ_INT(pipe(fds), 0);
    CHECK(write(fds[1], lines[0], strlen(lines[0])) > 0);
    close(fds[1]);
    char pipe_path[64];
    snprintf(pipe_path, sizeof pipe_path, "/proc/self/fd/%d", fds[0]);
    err[0] = '\0';
    CHECK(evfeed_open(pipe_path, tz, 0, NULL, NULL, err) == NULL);
    CHECK(strstr(err, "cannot be read a second time") != NULL);
    close(fds[0]);

    unlink(path);
    rmdir(dir);
    T_DONE();
}
