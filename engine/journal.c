/* journal.c - see journal.h */
#include "journal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct jnl {
    char *path, *prev_path;
    int fd;                /* the current file, appended to */
    int64_t last;          /* the last number given out */
    int64_t synced;        /* the last record on disk in the current file */
    int64_t size;          /* bytes on disk in the current file */
    int have_prev;
    int64_t prev_last, prev_size;
    buf_t pend;            /* records added since the last write */
    int npend;
    int64_t written;       /* the last record written to the current file */
    /* the sync thread (started by the first jnl_write); under mu: */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop, syncing, sync_errno;
    int64_t want;          /* written, as the thread is to sync it */
    int64_t done;          /* what the thread synced */
    int notify[2];         /* a pipe: a byte per finished sync */
    hist_t sync_lat;       /* each sync's time (under mu) */
};

/* a sync is a write of a few KB and a flush of the disk's cache: a tenth
 * of a millisecond on a quiet disk, far longer behind other writes */
static const double sync_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025, 0.05, 0.1, 0.25, 0.5, 1};

static uint64_t record_hash(const char *head, size_t nhead, const char *json, size_t len)
{
    return fnv1a64(json, len, fnv1a64(head, nhead, FNV_SEED));
}

/* One line (without its newline) as a record: 1 and the fields when it
 * checks out, 0 otherwise. */
static int parse_record(const char *line, size_t n, int64_t *seq, int64_t *at, const char **json, size_t *len)
{
    char *end;
    errno = 0;
    long long s = strtoll(line, &end, 10);
    if (errno || end == line || *end != ' ' || s <= 0) return 0;
    const char *p = end + 1;
    long long a = strtoll(p, &end, 10);
    if (errno || end == p || *end != ' ') return 0;
    size_t nhead = (size_t)(end + 1 - line);
    if (n < nhead + 17 || line[nhead + 16] != ' ') return 0;
    uint64_t h = 0;
    for (size_t i = nhead; i < nhead + 16; i++) {
        char c = line[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return 0;
        h = h << 4 | (uint64_t)v;
    }
    *json = line + nhead + 17;
    *len = n - nhead - 17;
    if (record_hash(line, nhead, *json, *len) != h) return 0;
    *seq = s;
    *at = a;
    return 1;
}

/* Reads the records of one file, calling fn (when not NULL) for those
 * after `after`. *last: the last good record's number (in: the number a
 * record must be past); *good_end: the bytes up to the end of it. 1 when
 * the file ends cleanly, 0 when a line that is not a record ends it,
 * -1 on an error (in err). */
static int scan(const char *path, int64_t after, jnl_fn fn, void *ud, int64_t *last, int64_t *good_end, char *err)
{
    *good_end = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 1;
        return errf(err, "%s: %s", path, strerror(errno)), -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int clean = 1;
    while ((n = getline(&line, &cap, f)) > 0) {
        int64_t seq, at;
        const char *json;
        size_t len;
        if (line[n - 1] != '\n' || !parse_record(line, (size_t)n - 1, &seq, &at, &json, &len) || seq <= *last) {
            clean = 0;
            break;
        }
        if (fn && seq > after) {
            /* the callback sees a NUL-terminated JSON text */
            line[n - 1] = '\0';
            if (fn(seq, at, json, len, ud, err) != NUDGE_OK) {
                free(line);
                fclose(f);
                return -1;
            }
        }
        *last = seq;
        *good_end += n;
    }
    int rc = ferror(f) ? (errf(err, "%s: %s", path, strerror(errno)), -1) : clean;
    free(line);
    fclose(f);
    return rc;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* A file's directory entry reaches the disk (a new file, a rename). */
static int sync_dir(const char *path, char *err)
{
    char *copy = xstrdup(path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? NUDGE_OK : errf(err, "%s: %s", dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(copy);
    return rc;
}

/* Appends bytes from..to of path to path.dropped, synced. */
static int keep_aside(const char *path, int64_t from, int64_t to, char *err)
{
    char aside[4096];
    snprintf(aside, sizeof aside, "%s.dropped", path);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = open(aside, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    int rc = in >= 0 && out >= 0 ? NUDGE_OK : errf(err, "%s: %s", in < 0 ? path : aside, strerror(errno));
    char buf[65536];
    while (rc == NUDGE_OK && from < to) {
        size_t want = to - from < (int64_t)sizeof buf ? (size_t)(to - from) : sizeof buf;
        ssize_t n = pread(in, buf, want, from);
        if (n <= 0 || write(out, buf, (size_t)n) != n) rc = errf(err, "%s: %s", aside, n < 0 ? strerror(errno) : "short write");
        from += n > 0 ? n : 0;
    }
    if (rc == NUDGE_OK && fdatasync(out) != 0) rc = errf(err, "%s: %s", aside, strerror(errno));
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return rc;
}

static int open_current(jnl_t *j, int flags, char *err)
{
    j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | flags, 0600);
    if (j->fd < 0) return errf(err, "%s: %s", j->path, strerror(errno));
    return NUDGE_OK;
}

jnl_t *jnl_open(const char *path, char *warn, char *err)
{
    if (warn) warn[0] = '\0';
    jnl_t *j = xcalloc(1, sizeof *j);
    j->fd = -1;
    j->path = xstrdup(path);
    size_t n = strlen(path) + 3;
    j->prev_path = xmalloc(n);
    snprintf(j->prev_path, n, "%s.1", path);
    buf_init(&j->pend);
    hist_init(&j->sync_lat, sync_bounds, (int)(sizeof sync_bounds / sizeof sync_bounds[0]));
    int64_t last = 0, end = 0;
    if (access(j->prev_path, F_OK) == 0) {
        int rc = scan(j->prev_path, 0, NULL, NULL, &last, &end, err);
        if (rc < 0) goto fail;
        if (!rc && warn)
            errf(warn, "%s: the record after number %" PRId64 " is damaged; what follows it is ignored", j->prev_path,
                 last);
        j->have_prev = 1;
        j->prev_last = last;
        j->prev_size = file_size(j->prev_path);
    }
    int rc = scan(j->path, 0, NULL, NULL, &last, &end, err);
    if (rc < 0) goto fail;
    if (open_current(j, 0, err) != NUDGE_OK) goto fail;
    int64_t size = file_size(j->path);
    if (!rc || size > end) {
        /* most likely a write a crash cut short, never answered; but the
         * bytes are kept aside, not destroyed, in case they are more */
        if (keep_aside(j->path, end, size, err) != NUDGE_OK) goto fail;
        if (ftruncate(j->fd, end) != 0 || fdatasync(j->fd) != 0) {
            errf(err, "%s: %s", j->path, strerror(errno));
            goto fail;
        }
        if (warn)
            errf(warn, "%s: %" PRId64 " bytes after record %" PRId64 " were not a whole record (a write cut short); "
                 "moved to %s.dropped", j->path, size - end, last, j->path);
    }
    j->last = j->synced = j->written = last;
    j->size = end;
    return j;
fail:
    jnl_free(j);
    return NULL;
}

void jnl_free(jnl_t *j)
{
    if (!j) return;
    if (j->started) {
        pthread_mutex_lock(&j->mu);
        j->stop = 1;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->thread, NULL);
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        close(j->notify[0]);
        close(j->notify[1]);
    }
    if (j->fd >= 0) close(j->fd);
    buf_free(&j->pend);
    free(j->path);
    free(j->prev_path);
    free(j);
}

int64_t jnl_add(jnl_t *j, int64_t at, const char *json, size_t len)
{
    int64_t seq = ++j->last;
    size_t head_at = j->pend.len;
    buf_add_i64(&j->pend, seq);
    buf_addc(&j->pend, ' ');
    buf_add_i64(&j->pend, at);
    buf_addc(&j->pend, ' ');
    size_t nhead = j->pend.len - head_at;
    uint64_t h = record_hash(j->pend.p + head_at, nhead, json, len);
    buf_add_hex64(&j->pend, h);
    buf_addc(&j->pend, ' ');
    buf_add(&j->pend, json, len);
    buf_addc(&j->pend, '\n');
    j->npend++;
    return seq;
}

int64_t jnl_last(const jnl_t *j)
{
    return j->last;
}

void jnl_continue(jnl_t *j, int64_t seq)
{
    if (seq > j->last) j->last = j->synced = j->written = seq;
}

/* Writes the records held to the current file (the kernel's cache). */
static int write_pending(jnl_t *j, char *err)
{
    if (!j->npend) return NUDGE_OK;
    size_t done = 0;
    while (done < j->pend.len) {
        ssize_t w = write(j->fd, j->pend.p + done, j->pend.len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            /* no half record stays behind to hide the ones after it */
            if (ftruncate(j->fd, j->size) != 0) e = errno;
            return errf(err, "%s: %s", j->path, strerror(e));
        }
        done += (size_t)w;
    }
    j->size += (int64_t)j->pend.len;
    j->written = j->last;
    buf_reset(&j->pend);
    j->npend = 0;
    return NUDGE_OK;
}

/* The least time between the starts of two syncs. At full load each
 * sync costs the loop's core 50-90 us of the disk driver's work: a sync
 * a millisecond cost 7 us an event at 12 k events/s, one per 2 ms 4 us,
 * for half a millisecond more before an answer on average. */
#define SYNC_GAP_US 2000

static void *sync_main(void *ud)
{
    jnl_t *j = ud;
    struct timespec next = {0, 0};   /* the earliest the next sync begins */
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stop && j->want <= j->done) pthread_cond_wait(&j->cv, &j->mu);
        if (j->stop) break;
        /* one sync a SYNC_GAP_US at most: under a light stream of
         * requests, syncing back to back would cost a sync (and its share
         * of the CPU) for every one or two of them; the records of the
         * gap share the next one */
        pthread_mutex_unlock(&j->mu);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) continue;
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_nsec += SYNC_GAP_US * 1000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&j->mu);
        if (j->stop) break;
        int64_t want = j->want;
        int fd = j->fd;
        j->syncing = 1;
        pthread_mutex_unlock(&j->mu);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = fdatasync(fd), e = errno;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_mutex_lock(&j->mu);
        hist_observe(&j->sync_lat, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        j->syncing = 0;
        if (rc == 0) j->done = want;
        else if (!j->sync_errno) j->sync_errno = e;
        pthread_cond_broadcast(&j->cv);   /* jnl_trim may wait for the descriptor */
        ssize_t ignored = write(j->notify[1], "", 1);   /* a full pipe already says it */
        (void)ignored;
        if (rc != 0) break;   /* the loop stops on it; nothing more is made durable */
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int jnl_write(jnl_t *j, char *err)
{
    if (!j->started) {
        if (pipe(j->notify) != 0) return errf(err, "%s: %s", j->path, strerror(errno));
        fcntl(j->notify[0], F_SETFL, O_NONBLOCK);
        fcntl(j->notify[1], F_SETFL, O_NONBLOCK);
        fcntl(j->notify[0], F_SETFD, FD_CLOEXEC);
        fcntl(j->notify[1], F_SETFD, FD_CLOEXEC);
        pthread_mutex_init(&j->mu, NULL);
        pthread_cond_init(&j->cv, NULL);
        j->done = j->want = j->synced;
        if (pthread_create(&j->thread, NULL, sync_main, j) != 0) {
            close(j->notify[0]);
            close(j->notify[1]);
            pthread_cond_destroy(&j->cv);
            pthread_mutex_destroy(&j->mu);
            return errf(err, "%s: cannot start the journal's sync thread", j->path);
        }
        j->started = 1;
    }
    if (write_pending(j, err) != NUDGE_OK) return NUDGE_ERR;
    pthread_mutex_lock(&j->mu);
    if (j->written > j->want) {
        j->want = j->written;
        pthread_cond_signal(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NUDGE_OK;
}

int jnl_fd(const jnl_t *j)
{
    return j->started ? j->notify[0] : -1;
}

int64_t jnl_synced(jnl_t *j, char *err)
{
    if (!j->started) return j->synced;
    char drain[64];
    while (read(j->notify[0], drain, sizeof drain) > 0) continue;
    pthread_mutex_lock(&j->mu);
    int e = j->sync_errno;
    if (j->done > j->synced) j->synced = j->done;
    pthread_mutex_unlock(&j->mu);
    if (e) return errf(err, "%s: %s", j->path, strerror(e)), -1;
    return j->synced;
}

int jnl_replay(jnl_t *j, int64_t after, jnl_fn fn, void *ud, char *err)
{
    int64_t last = 0, end;
    if (j->have_prev && scan(j->prev_path, after, fn, ud, &last, &end, err) < 0) return NUDGE_ERR;
    return scan(j->path, after, fn, ud, &last, &end, err) < 0 ? NUDGE_ERR : NUDGE_OK;
}

int jnl_trim(jnl_t *j, int64_t durable, size_t rotate_bytes, char *err)
{
    if (j->have_prev && durable >= j->prev_last) {
        if (unlink(j->prev_path) != 0 && errno != ENOENT) return errf(err, "%s: %s", j->prev_path, strerror(errno));
        j->have_prev = 0;
        j->prev_size = 0;
    }
    if (!j->size) return NUDGE_OK;
    /* the file changes under the sync thread's descriptor only between
     * its syncs */
    if (j->started) {
        pthread_mutex_lock(&j->mu);
        int busy = j->syncing || j->want > j->done;
        pthread_mutex_unlock(&j->mu);
        if (busy) return NUDGE_OK;
    }
    if (durable >= j->written) {
        /* all of it is in the store, on disk; if a crash undoes this, the
         * records are past nothing the store lacks and are skipped */
        if (ftruncate(j->fd, 0) != 0) return errf(err, "%s: %s", j->path, strerror(errno));
        j->size = 0;
        return NUDGE_OK;
    }
    if (j->have_prev || (size_t)j->size < rotate_bytes) return NUDGE_OK;
    if (rename(j->path, j->prev_path) != 0) return errf(err, "%s: %s", j->path, strerror(errno));
    close(j->fd);
    j->have_prev = 1;
    j->prev_last = j->written;
    j->prev_size = j->size;
    j->size = 0;
    /* the new file's name must be on disk before records are */
    if (open_current(j, O_TRUNC, err) != NUDGE_OK) return NUDGE_ERR;
    return sync_dir(j->path, err);
}

int64_t jnl_bytes(const jnl_t *j)
{
    return j->size + j->prev_size + (int64_t)j->pend.len;
}

void jnl_sync_hist(jnl_t *j, hist_t *out)
{
    if (j->started) pthread_mutex_lock(&j->mu);
    *out = j->sync_lat;
    if (j->started) pthread_mutex_unlock(&j->mu);
}
