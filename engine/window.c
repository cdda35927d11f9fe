/* window.c - see window.h */
#include "window.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int64_t win_busy_ns(void)
{
    /* "on-cpu-ns runqueue-wait-ns timeslices": waiting for the processor
     * counts, since a loop that shares its core with other threads (or
     * processes) is as behind when it waits as when it runs */
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char b[96];
        ssize_t n = read(fd, b, sizeof b - 1);
        close(fd);
        if (n > 0) {
            b[n] = 0;
            char *end;
            long long run = strtoll(b, &end, 10);
            if (end != b && *end == ' ') {
                char *p = end;
                long long wait = strtoll(p, &end, 10);
                if (end != p) return (int64_t)(run + wait);
            }
        }
    }
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return 0;
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void win_init(win_t *w, long base_ms, long max_ms)
{
    w->base_ms = base_ms;
    w->max_ms = max_ms < base_ms ? base_ms : max_ms;
    w->ms = base_ms;
    w->t0_ns = w->busy0_ns = 0;
    w->open = 0;
    w->near_ns = 0;
}

void win_begin(win_t *w)
{
    /* the busy clock first here and last in win_end: a wait for the
     * processor between the two readings counts as busy, as it is */
    w->busy0_ns = win_busy_ns();
    w->t0_ns = mono_ns();
    w->open = 1;
}

long win_adapt(win_t *w, int64_t wall_ns, int64_t busy_ns)
{
    if (wall_ns <= 0) return w->ms;
    double busy = (double)busy_ns / (double)wall_ns;
    if (busy >= WIN_BUSY_BEHIND) {
        w->ms = w->ms > w->max_ms / 2 ? w->max_ms : w->ms * 2;
    } else if (busy < WIN_BUSY_ROOM) {
        w->ms = w->ms / 2 < w->base_ms ? w->base_ms : w->ms / 2;
    }
    return w->ms;
}

long win_end(win_t *w)
{
    if (!w->open) return w->ms;
    w->open = 0;
    int64_t wall = mono_ns() - w->t0_ns;
    return win_adapt(w, wall, win_busy_ns() - w->busy0_ns);
}

long win_length(win_t *w, int restart_near, int64_t now_ns)
{
    if (!restart_near) {
        w->near_ns = 0;
        return w->ms;
    }
    if (!w->near_ns) w->near_ns = now_ns;
    if (now_ns - w->near_ns >= WIN_RESTART_FOR_NS) return w->ms;
    return w->ms < WIN_RESTART_MS ? w->ms : WIN_RESTART_MS;
}
