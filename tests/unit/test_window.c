/* test_window.c - the store's window of accepted events: it doubles while
 * the loop is behind, up to its most, comes back by halves once the loop
 * has room, never below [api] commit_ms, and stays put in between; the
 * busy clock counts a spinning thread's time and not a sleeping one's. */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "util.h"
#include "window.h"

#define MS 1000000LL   /* nanoseconds */

static void spin_ms(int ms)
{
    volatile unsigned long x = 0;
    int64_t end = mono_ns() + ms * MS;
    while (mono_ns() < end) x++;
}

static void sleep_ms(int ms)
{
    struct timespec t = {0, ms * MS};
    while (nanosleep(&t, &t) != 0) continue;
}

static void rules(void)
{
    win_t w;
    win_init(&w, 100, 400);
    CHECK_EQ_INT(w.ms, 100);
    /* behind: it doubles up to the most, and stays there */
    CHECK_EQ_INT(win_adapt(&w, 100 * MS, 95 * MS), 200);
    CHECK_EQ_INT(win_adapt(&w, 200 * MS, 200 * MS), 400);
    CHECK_EQ_INT(win_adapt(&w, 400 * MS, 390 * MS), 400);
    /* between room and behind: it stays put either way */
    CHECK_EQ_INT(win_adapt(&w, 400 * MS, 340 * MS), 400);
    /* room again: it halves, and never goes below commit_ms */
    CHECK_EQ_INT(win_adapt(&w, 400 * MS, 100 * MS), 200);
    CHECK_EQ_INT(win_adapt(&w, 200 * MS, 20 * MS), 100);
    CHECK_EQ_INT(win_adapt(&w, 100 * MS, 0), 100);
    /* a window of no length says nothing */
    CHECK_EQ_INT(win_adapt(&w, 0, 0), 100);
    /* the thresholds themselves: 90% is behind, 80% is not yet room */
    CHECK_EQ_INT(win_adapt(&w, 1000 * MS, 900 * MS), 200);
    CHECK_EQ_INT(win_adapt(&w, 1000 * MS, 800 * MS), 200);
    CHECK_EQ_INT(win_adapt(&w, 1000 * MS, 799 * MS), 100);

    /* a most that is not a power of two times commit_ms is reached exactly */
    win_init(&w, 100, 300);
    CHECK_EQ_INT(win_adapt(&w, MS, MS), 200);
    CHECK_EQ_INT(win_adapt(&w, MS, MS), 300);
    CHECK_EQ_INT(win_adapt(&w, MS, MS), 300);
    CHECK_EQ_INT(win_adapt(&w, MS, 0), 150);
    CHECK_EQ_INT(win_adapt(&w, MS, 0), 100);

    /* a most below commit_ms is commit_ms: the window never moves */
    win_init(&w, 100, 50);
    CHECK_EQ_INT(w.max_ms, 100);
    CHECK_EQ_INT(win_adapt(&w, MS, MS), 100);

    /* no stretch at all (commit_max_ms = commit_ms) */
    win_init(&w, 250, 250);
    CHECK_EQ_INT(win_adapt(&w, MS, MS), 250);
}

static void clocks(void)
{
    /* where the kernel tells the run queue's wait, the busy clock counts
     * it; elsewhere it is the thread's processor time */
    int fd = open("/proc/thread-self/schedstat", O_RDONLY);
    int schedstat = fd >= 0;
    if (fd >= 0) close(fd);
    fprintf(stderr, "busy clock: %s\n", schedstat ? "schedstat (run + wait)" : "thread cpu time");

    /* the running time may lag by a scheduler tick (up to 10 ms) at
     * either reading: 200 ms makes that small beside the figures */
    int64_t b0 = win_busy_ns(), t0 = mono_ns();
    spin_ms(200);
    int64_t spun = win_busy_ns() - b0, wall = mono_ns() - t0;
    CHECK(spun > 0);
    CHECK(spun <= wall + 20 * MS);
    if (schedstat) CHECK(spun >= wall * 9 / 10 - 20 * MS);   /* run or waiting to: all of it */
    else CHECK(spun >= 20 * MS);                              /* some of it, even on a crowded machine */

    b0 = win_busy_ns();
    sleep_ms(60);
    CHECK(win_busy_ns() - b0 < 20 * MS);

    /* a window of spinning stretches, one of sleeping brings it back */
    win_t w;
    win_init(&w, 100, 400);
    CHECK_EQ_INT(win_end(&w), 100);   /* none open: nothing to learn */
    win_begin(&w);
    spin_ms(200);   /* long beside a scheduler tick, by which the running time may lag */
    if (schedstat) CHECK_EQ_INT(win_end(&w), 200);
    else CHECK(win_end(&w) >= 100);
    win_init(&w, 100, 400);
    w.ms = 400;
    win_begin(&w);
    sleep_ms(60);
    CHECK_EQ_INT(win_end(&w), 200);
    CHECK_EQ_INT(win_end(&w), 200);   /* ended already */
}

/* near the WAL's restart: short windows, for a while, then as before */
static void restart_near(void)
{
    const int64_t S = 1000000000LL;
    win_t w;
    win_init(&w, 100, 400);
    CHECK_EQ_INT(win_length(&w, 0, 5 * S), 100);
    CHECK_EQ_INT(win_length(&w, 1, 10 * S), WIN_RESTART_MS);
    w.ms = 400;   /* stretched: still short */
    CHECK_EQ_INT(win_length(&w, 1, 11 * S), WIN_RESTART_MS);
    CHECK_EQ_INT(win_length(&w, 1, 10 * S + WIN_RESTART_FOR_NS - 1), WIN_RESTART_MS);
    /* the checkpointer did not catch up in time: as before */
    CHECK_EQ_INT(win_length(&w, 1, 10 * S + WIN_RESTART_FOR_NS), 400);
    CHECK_EQ_INT(win_length(&w, 1, 20 * S), 400);
    /* the WAL started over; the next time it is near, short again */
    CHECK_EQ_INT(win_length(&w, 0, 21 * S), 400);
    CHECK_EQ_INT(win_length(&w, 1, 22 * S), WIN_RESTART_MS);
    /* a commit_ms shorter than that stays as it is */
    win_init(&w, 5, 20);
    CHECK_EQ_INT(win_length(&w, 1, 30 * S), 5);
    CHECK_EQ_INT(win_length(&w, 0, 31 * S), 5);
}

int main(void)
{
    rules();
    clocks();
    restart_near();
    T_DONE();
}
