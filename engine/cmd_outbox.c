/* cmd_outbox.c - nudge outbox: what the engine decided to send, and what
 * became of it; re-queueing dead letters. */
#include "cmd.h"
#include "store.h"
#include "tz.h"
#include "ws.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const statuses[] = {"held", "queued", "sending", "sent", "retry", "dead", "dropped", NULL};

static void row(const store_msg_t *m, void *ud)
{
    int *n = ud;
    char iso[40];
    const tz_t *z = tz_get(m->zone[0] ? m->zone : "UTC", NULL);
    tz_format_iso(z ? z : tz_get("UTC", NULL), m->at, iso);
    if (!(*n)++)
        printf("%-8s %-8s %-7s %-25s %-12s %-32s %3s  %s\n", "id", "status", "channel", "at", "member",
               "journey/step", "try", "reason");
    char js[200];
    snprintf(js, sizeof js, "%s/%s", m->journey, m->step);
    printf("%-8lld %-8s %-7s %-25s %-12s %-32s %3d  %s\n", (long long)m->id, m->status,
           m->channel[0] ? m->channel : "-", iso, m->member_id, js, m->attempts, m->reason);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"status", required_argument, NULL, 's'},
                                         {"all-dead", no_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    const char *status = NULL;
    int all_dead = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's') status = optarg;
        else if (c == 'a') all_dead = 1;
        else return cmd_usage(&cmd_outbox, "unknown option");
    }
    if (optind >= argc) return cmd_usage(&cmd_outbox, "expected a workspace directory");
    const char *dir = argv[optind++];
    int retry = optind < argc && strcmp(argv[optind], "retry") == 0;
    if (retry) optind++;
    int64_t id = 0;
    if (retry && !all_dead) {
        char *end;
        if (optind >= argc || (id = strtoll(argv[optind], &end, 10)) <= 0 || *end)
            return cmd_usage(&cmd_outbox, "retry takes a message id (a number) or --all-dead");
        optind++;
    }
    if (optind < argc) return cmd_usage(&cmd_outbox, "unexpected '%s'", argv[optind]);
    if (all_dead && !retry) return cmd_usage(&cmd_outbox, "--all-dead goes with retry");
    if (status) {
        int ok = 0;
        for (int i = 0; statuses[i]; i++) ok |= strcmp(statuses[i], status) == 0;
        if (!ok)
            return cmd_usage(&cmd_outbox, "--status %s: one of held, queued, sending, sent, retry, dead, dropped",
                             status);
    }
    ws_t *w;
    store_t *s;
    if (cmd_open(dir, &w, &s)) return 1;
    char err[ERRLEN];
    int rc = 0;
    if (retry) {
        int n = store_outbox_retry(s, id, (int64_t)time(NULL), err);
        if (n < 0) rc = cmd_fail("%s", err);
        else if (n == 0 && id) rc = cmd_fail("message %lld is not dead or waiting to retry", (long long)id);
        else printf("%d message%s queued again\n", n, n == 1 ? "" : "s");
    } else {
        int n = 0;
        if (store_outbox_list(s, status, row, &n, err) != NUDGE_OK) rc = cmd_fail("%s", err);
        else if (!n) printf("no messages%s%s\n", status ? " with status " : "", status ? status : "");
    }
    cmd_close(w, s);
    return rc;
}

const cmd_t cmd_outbox = {
    .name = "outbox",
    .usage = "DIR [--status STATUS] | DIR retry ID | DIR retry --all-dead",
    .summary = "list the outbox, or queue dead messages again",
    .help = "Lists every message the engine decided, oldest first, with its status:\n"
            "held (waiting for quiet hours to end), queued, sending, sent, retry\n"
            "(failed, tried again later), dead (failed for good; the reason says why)\n"
            "or dropped (never sent: suppressed, capped, quiet hours expired).\n"
            "  --status STATUS   only messages with that status\n"
            "  retry ID          queue a dead message again, due now\n"
            "  retry --all-dead  queue every dead message again\n",
    .run = run,
};
