/* cmd_reload.c - nudge reload: asks the workspace's nudge run to load its
 * journeys, templates and policy again (SIGHUP), waits for the answer
 * the daemon leaves in the store and prints it. */
#include "cmd.h"
#include "store.h"
#include "ws.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RELOAD_WAIT_SECS 15
#define RESULT_MAX 16384

static int run(int argc, char **argv)
{
    if (argc != 2) return cmd_usage(&cmd_reload, "expected one workspace directory");
    ws_t *w;
    store_t *s;
    if (cmd_open(argv[1], &w, &s)) return 1;
    int status = 1;
    char *before = calloc(2, RESULT_MAX), *now = before + RESULT_MAX;
    long pid = ws_running_pid(w);
    if (!before) {
        cmd_fail("out of memory");
    } else if (!pid) {
        cmd_fail("no nudge run is running %s: nothing to reload (the next start reads the files)", w->dir);
    } else {
        store_meta_get(s, "reload_result", before, RESULT_MAX);
        if (kill((pid_t)pid, SIGHUP) != 0) {
            cmd_fail("cannot signal nudge run (pid %ld)", pid);
        } else {
            struct timespec nap = {0, 50 * 1000000L};
            int answered = 0;
            for (int i = 0; i < RELOAD_WAIT_SECS * 20 && !answered; i++) {
                nanosleep(&nap, NULL);
                now[0] = '\0';
                answered = store_meta_get(s, "reload_result", now, RESULT_MAX) && strcmp(now, before) != 0;
            }
            if (!answered) {
                cmd_fail("nudge run (pid %ld) did not answer within %d s; see its log", pid, RELOAD_WAIT_SECS);
            } else {
                /* "SEQ PROBLEMS TEXT": PROBLEMS -1 refused, 0 all loaded */
                char *p = strchr(now, ' ');
                int problems = p ? atoi(p + 1) : -1;
                const char *text = p && strchr(p + 1, ' ') ? strchr(p + 1, ' ') + 1 : "";
                if (problems == 0) {
                    printf("reloaded: every journey and template loaded\n");
                    status = 0;
                } else if (problems > 0) {
                    fprintf(stderr, "%s%d problem%s: those files keep running their previous version\n", text,
                            problems, problems == 1 ? "" : "s");
                } else {
                    cmd_fail("reload refused, nothing changed: %s", text);
                }
            }
        }
    }
    free(before);
    cmd_close(w, s);
    return status;
}

const cmd_t cmd_reload = {
    .name = "reload",
    .usage = "DIR",
    .summary = "load journeys, templates and the policy again in the running nudge run",
    .help = "Signals the workspace's nudge run (SIGHUP) and prints what its reload\n"
            "found. A journey or template that fails to load keeps running its\n"
            "previous version; members waiting at a step that was removed leave the\n"
            "journey, with the reason recorded; the others go on at their step.\n"
            "Provider settings ([wechat], [sms], [edm]) are reloaded too; [api]\n"
            "settings take effect at the next start.\n"
            "Exit status 0 when everything loaded, 1 otherwise.\n",
    .run = run,
};
