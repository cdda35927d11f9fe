/* cmd_check.c - nudge check DIR: every problem in journeys and templates. */
#include "cmd.h"
#include "engine.h"

#include <stdio.h>

static int run(int argc, char **argv)
{
    if (argc != 2) return cmd_usage(&cmd_check, "expected one workspace directory");
    ws_t *w;
    store_t *s;
    if (cmd_open(argv[1], &w, &s)) return 1;
    char err[ERRLEN];
    engine_t *e = engine_new(w, s, err);
    if (!e) {
        cmd_close(w, s);
        return cmd_fail("%s", err);
    }
    buf_t report;
    buf_init(&report);
    int problems = engine_load(e, &report);
    problems += engine_check(e, &report);
    if (report.len) fputs(report.p, stderr);
    if (problems)
        fprintf(stderr, "%d problem%s found\n", problems, problems == 1 ? "" : "s");
    else
        printf("ok: %d journeys checked\n", engine_njourneys(e));
    buf_free(&report);
    engine_free(e);
    cmd_close(w, s);
    return problems ? 1 : 0;
}

const cmd_t cmd_check = {
    .name = "check",
    .usage = "DIR",
    .summary = "load every journey and template and report each problem",
    .help = "Reports Lua errors, unknown templates and channels, templates missing a\n"
            "channel's version, unknown {{placeholders}} and member fields, each as\n"
            "FILE:LINE: message. Exit status 0 only when all is well.\n",
    .run = run,
};
