/* ingest_client.c - a constant-rate (open-loop) HTTP client for the event
 * ingest benchmark (bench/ingest.sh): POSTs one order.paid event per
 * request to nudge run's /v1/events on a fixed schedule and records each
 * request's latency.
 *
 *   ingest_client --url http://127.0.0.1:PORT/v1/events --token TOKEN
 *                 --rate R --secs S --members N --run ID
 *                 [--conns C] [--warmup W] [--samples FILE] [--sample-every K]
 *
 * Request i is due at t0 + i/R (checked every 0.5 ms, so requests go out
 * in small bursts). It is sent on an idle keep-alive connection of a pool
 * of C (libevent evhttp client, one request per connection at a time); when
 * none is idle it waits in a backlog until one is. Latency is measured from
 * the time the request was due (so time spent in the backlog counts: no
 * coordinated omission) to the complete response, and separately from the
 * time it was handed to a connection. Only requests due after the W-second
 * warm-up count. A request not answered by the end of the run (the
 * backlog left over when S seconds have passed and 5 s of grace after it)
 * counts as slower than any answered one.
 *
 * Every event has a unique id ("e<run>-<i>") and order_id ("O<run>-<i>"),
 * member B%07d drawn uniformly from 1..N, at = the wall-clock time it was
 * sent, amount 199.00. An answer counts as accepted when it is HTTP 200
 * with "accepted":1 in its body.
 *
 * --samples writes every K-th measured request as
 *   <event id> <member> <sent, unix s> <answered, unix s>
 * (wall clock, fractions of a second), so the bench can compare the
 * messages' decided_at with the request's time.
 *
 * Prints RESULT lines on stdout (latencies in ms with 2 decimals),
 * diagnostics on stderr. Only the URL given is contacted; it must be a
 * loopback address (127.0.0.0/8 or localhost). */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define TICK_US 500
#define GRACE_S 5.0
#define UNANSWERED 1e30

typedef struct conn {
    struct evhttp_connection *c;
    struct conn *next_idle;
    long slot; /* the request it carries */
} conn_t;

typedef struct slot {       /* one scheduled request */
    double due, sent, done; /* monotonic seconds; done < 0: not answered */
    double wall_sent, wall_done;
    uint32_t member;
} slot_t;

static struct {
    struct event_base *base;
    struct event *tick;
    const char *host, *path, *token, *run;
    int port, conns, sample_every;
    double rate, secs, warmup, t0, c0, stop_at;
    long members;
    conn_t *pool, *idle;
    slot_t *slots;
    long nslots, next_due, next_send; /* scheduled so far; first not yet sent */
    long inflight, ok2xx, accepted, non2xx, errors, backlogged, waited_upto;
    uint64_t rng;
    FILE *samples;
    int stopping;
} G;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static uint64_t rng_next(uint64_t *s) /* xorshift64* */
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

static void on_done(struct evhttp_request *req, void *arg);

static void send_one(conn_t *cn, long i)
{
    slot_t *s = &G.slots[i];
    cn->slot = i;
    struct evhttp_request *req = evhttp_request_new(on_done, cn);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char auth[256], at[32];
    snprintf(auth, sizeof auth, "Bearer %s", G.token);
    evhttp_add_header(h, "Host", G.host);
    evhttp_add_header(h, "Authorization", auth);
    evhttp_add_header(h, "Content-Type", "application/json");
    s->wall_sent = wall_s();
    s->sent = mono_s();
    time_t now = (time_t)s->wall_sent;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    evbuffer_add_printf(evhttp_request_get_output_buffer(req),
                        "{\"id\":\"e%s-%ld\",\"type\":\"order.paid\",\"member\":\"B%07u\",\"at\":\"%s\","
                        "\"order_id\":\"O%s-%ld\",\"amount\":199.00}",
                        G.run, i, s->member, at, G.run, i);
    if (evhttp_make_request(cn->c, req, EVHTTP_REQ_POST, G.path) != 0) {
        G.errors++;
        s->done = -1;
        cn->next_idle = G.idle;
        G.idle = cn;
        return;
    }
    G.inflight++;
}

/* send what is due and waiting, oldest first, while connections are idle */
static void pump(void)
{
    while (G.idle && G.next_send < G.next_due) {
        conn_t *cn = G.idle;
        G.idle = cn->next_idle;
        send_one(cn, G.next_send++);
    }
}

static void finish(void)
{
    if (G.stopping == 2) return;
    G.stopping = 2;
    event_base_loopbreak(G.base);
}

static void on_done(struct evhttp_request *req, void *arg)
{
    conn_t *cn = arg;
    long i = cn->slot;
    slot_t *s = &G.slots[i];
    G.inflight--;
    s->done = mono_s();
    s->wall_done = wall_s();
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 0) {          /* no answer: the connection failed (libevent reconnects on next use) */
        G.errors++;
        s->done = -1;
    } else if (code >= 200 && code < 300) {
        G.ok2xx++;
        struct evbuffer_ptr p = evbuffer_search(evhttp_request_get_input_buffer(req), "\"accepted\":1", 12, NULL);
        if (code == 200 && p.pos >= 0) G.accepted++;
    } else {
        G.non2xx++;
        s->done = -1;
    }
    cn->next_idle = G.idle;
    G.idle = cn;
    if (G.samples && G.sample_every > 0 && i % G.sample_every == 0 && s->due - G.t0 >= G.warmup && s->done >= 0)
        fprintf(G.samples, "e%s-%ld B%07u %.6f %.6f\n", G.run, i, s->member, s->wall_sent, s->wall_done);
    if (!G.stopping) pump();
    if (G.stopping && G.inflight == 0) finish();
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    double now = mono_s();
    if (!G.stopping) {
        double until = now < G.stop_at ? now : G.stop_at;
        long due = (long)((until - G.t0) * G.rate) + 1;
        if (due > G.nslots) due = G.nslots;
        for (; G.next_due < due; G.next_due++) {
            slot_t *s = &G.slots[G.next_due];
            s->due = G.t0 + (double)G.next_due / G.rate;
            s->done = -1;
            s->member = (uint32_t)(1 + rng_next(&G.rng) % (uint64_t)G.members);
        }
        pump();
        /* those still waiting had no idle connection when they came due */
        long from = G.next_send > G.waited_upto ? G.next_send : G.waited_upto;
        if (G.next_due > from) G.backlogged += G.next_due - from;
        if (G.next_due > G.waited_upto && G.next_send < G.next_due) G.waited_upto = G.next_due;
        if (now >= G.stop_at) {
            G.stopping = 1; /* the backlog left is not sent */
            if (G.inflight == 0) finish();
        }
    } else if (now >= G.stop_at + GRACE_S) {
        fprintf(stderr, "ingest_client: %ld requests still unanswered %.0f s after the end\n", G.inflight, GRACE_S);
        finish();
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
    if (n == 0) return 0;
    long k = (long)((p / 100.0) * (double)n + 0.999999) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k];
}

static void print_ms(const char *name, const char *what, double v)
{
    if (v >= UNANSWERED) printf("RESULT %s.%s unanswered (requests due were left unanswered: the server fell behind)\n", name, what);
    else printf("RESULT %s.%s %.2f ms\n", name, what, v * 1e3);
}

static void usage(void)
{
    fprintf(stderr, "usage: ingest_client --url http://127.0.0.1:PORT/v1/events --token TOKEN --rate R --secs S\n"
                    "       --members N --run ID [--conns C] [--warmup W] [--name NAME]\n"
                    "       [--samples FILE] [--sample-every K]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *url = NULL, *samples = NULL, *name = "ingest_cr";
    G.conns = 256;
    G.warmup = 1;
    G.sample_every = 100;
    G.run = "cr";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--token")) G.token = v;
        else if (!strcmp(a, "--rate")) G.rate = atof(v);
        else if (!strcmp(a, "--secs")) G.secs = atof(v);
        else if (!strcmp(a, "--members")) G.members = atol(v);
        else if (!strcmp(a, "--run")) G.run = v;
        else if (!strcmp(a, "--conns")) G.conns = atoi(v);
        else if (!strcmp(a, "--warmup")) G.warmup = atof(v);
        else if (!strcmp(a, "--samples")) samples = v;
        else if (!strcmp(a, "--sample-every")) G.sample_every = atoi(v);
        else if (!strcmp(a, "--name")) name = v;
        else usage();
        i++;
    }
    if (!url || !G.token || G.rate <= 0 || G.secs <= 0 || G.members <= 0 || G.conns <= 0 || G.warmup < 0 ||
        G.warmup >= G.secs)
        usage();
    struct evhttp_uri *u = evhttp_uri_parse(url);
    if (!u || !evhttp_uri_get_host(u) || evhttp_uri_get_port(u) <= 0) {
        fprintf(stderr, "ingest_client: %s: expected http://127.0.0.1:PORT/PATH\n", url);
        return 2;
    }
    G.host = evhttp_uri_get_host(u);
    if (strncmp(G.host, "127.", 4) != 0 && strcmp(G.host, "localhost") != 0) {
        fprintf(stderr, "ingest_client: %s is not a loopback address; refusing\n", G.host);
        return 2;
    }
    G.port = evhttp_uri_get_port(u);
    G.path = evhttp_uri_get_path(u) && *evhttp_uri_get_path(u) ? evhttp_uri_get_path(u) : "/";
    if (samples && !(G.samples = fopen(samples, "w"))) {
        perror(samples);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    G.nslots = (long)(G.rate * G.secs) + 2;
    G.slots = calloc((size_t)G.nslots, sizeof *G.slots);
    G.pool = calloc((size_t)G.conns, sizeof *G.pool);
    if (!G.slots || !G.pool) return 1;
    G.rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)strlen(G.run) * 1315423911u;
    for (const char *p = G.run; *p; p++) G.rng = G.rng * 131 + (unsigned char)*p;
    if (!G.rng) G.rng = 1;
    /* timerfd: the 0.5 ms schedule tick is not rounded up to epoll's 1 ms */
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    G.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    for (int k = G.conns - 1; k >= 0; k--) {
        G.pool[k].c = evhttp_connection_base_new(G.base, NULL, G.host, (unsigned short)G.port);
        evhttp_connection_set_timeout(G.pool[k].c, 30);
        G.pool[k].next_idle = G.idle;
        G.idle = &G.pool[k];
    }
    G.t0 = mono_s();
    G.c0 = cpu_s();
    G.stop_at = G.t0 + G.secs;
    G.tick = event_new(G.base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, TICK_US};
    event_add(G.tick, &tv);
    event_base_dispatch(G.base);
    double t1 = mono_s(), c1 = cpu_s();

    /* latencies of the requests due after the warm-up */
    long n = 0, answered = 0, unsent = 0;
    double *lat = malloc(sizeof(double) * (size_t)(G.next_due + 1));
    double *lat_sent = malloc(sizeof(double) * (size_t)(G.next_due + 1));
    long ns = 0, in_window = 0; /* answers received between the warm-up's end and the stop */
    for (long i = 0; i < G.next_due; i++) {
        slot_t *s = &G.slots[i];
        if (s->done >= 0 && s->done >= G.t0 + G.warmup && s->done <= G.stop_at) in_window++;
        if (s->due - G.t0 < G.warmup) continue;
        if (i >= G.next_send) unsent++;
        if (s->done >= 0) {
            lat[n++] = s->done - s->due;
            lat_sent[ns++] = s->done - s->sent;
            answered++;
        } else {
            lat[n++] = UNANSWERED;
        }
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    qsort(lat_sent, (size_t)ns, sizeof *lat_sent, cmp_double);
    double span = G.secs - G.warmup;
    fprintf(stderr,
            "ingest_client: %ld scheduled at %.0f/s over %.1f s (%.1f s warm-up not counted), %ld sent, "
            "%ld answered 2xx (%ld accepted), %ld non-2xx, %ld errors, %ld sends waited for a connection, "
            "%ld never sent; cpu %.0f%%\n",
            G.next_due, G.rate, G.secs, G.warmup, G.next_send, G.ok2xx, G.accepted, G.non2xx, G.errors,
            G.backlogged, unsent, 100 * (c1 - G.c0) / (t1 - G.t0));
    printf("RESULT %s.target_rate %.0f req/s\n", name, G.rate);
    printf("RESULT %s.rate %.0f req/s (answers received after the warm-up)\n", name,
           span > 0 ? (double)in_window / span : 0);
    printf("RESULT %s.requests %ld sent, %ld 2xx, %ld accepted, %ld non2xx, %ld errors, %ld never sent\n", name,
           G.next_send, G.ok2xx, G.accepted, G.non2xx, G.errors, unsent);
    printf("RESULT %s.unanswered %ld of %ld requests due after the warm-up (%.1f%%)\n", name, n - answered, n,
           n ? 100.0 * (double)(n - answered) / (double)n : 0.0);
    print_ms(name, "p50", pct(lat, n, 50));
    print_ms(name, "p90", pct(lat, n, 90));
    print_ms(name, "p99", pct(lat, n, 99));
    print_ms(name, "p999", pct(lat, n, 99.9));
    print_ms(name, "max", n ? lat[n - 1] : 0);
    print_ms(name, "p99_from_send", pct(lat_sent, ns, 99));
    printf("RESULT %s.client_cpu %.0f %%cpu\n", name, 100 * (c1 - G.c0) / (t1 - G.t0));
    if (G.samples) fclose(G.samples);
    for (int k = 0; k < G.conns; k++) evhttp_connection_free(G.pool[k].c);
    event_free(G.tick);
    event_base_free(G.base);
    evhttp_uri_free(u);
    free(lat);
    free(lat_sent);
    free(G.slots);
    free(G.pool);
    return G.non2xx || G.errors ? 1 : 0;
}
