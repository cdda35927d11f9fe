/* main.c - nudge's command line: dispatches to the commands table. */
#include "cmd.h"
#include "log.h"
#include "store.h"
#include "ws.h"
#include "tmpl.h"
#include "tz.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const cmd_t *const commands[] = {&cmd_init, &cmd_import, &cmd_check, &cmd_simulate, &cmd_run, &cmd_reload, &cmd_outbox, &cmd_status};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

int cmd_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nudge: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cmd_usage(const cmd_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nudge %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nusage: nudge %s %s\n(see nudge %s --help)\n", c->name, c->usage, c->name);
    va_end(ap);
    return 2;
}

int cmd_open(const char *dir, ws_t **w, store_t **s)
{
    char err[ERRLEN], path[4200];
    *s = NULL;
    if (!(*w = ws_open(dir, err))) return cmd_fail("%s", err);
    ws_path(*w, WS_DB, path, sizeof path);
    if (!(*s = store_open(path, STORE_OPEN, err))) {
        ws_free(*w);
        *w = NULL;
        return cmd_fail("%s", err);
    }
    return 0;
}

void cmd_close(ws_t *w, store_t *s)
{
    store_close(s);
    ws_free(w);
}

int cmd_wants_help(const cmd_t *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: nudge %s %s\n\n%s\n\n%s", c->name, c->usage, c->summary, c->help);
            return 1;
        }
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: nudge COMMAND [ARGS]\n\n"
               "nudge runs member lifecycle journeys (Lua) over a brand's members and\n"
               "decides who gets which message, when, on which channel.\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nnudge COMMAND --help shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    int rc = -1;
    log_setup(LOG_INFO, stderr, 0);   /* plain lines at a terminal; nudge run chooses its own */
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) {
            rc = cmd_wants_help(commands[i], argc - 1, argv + 1) ? 0 : commands[i]->run(argc - 1, argv + 1);
            break;
        }
    if (rc < 0) {
        fprintf(stderr, "nudge: unknown command '%s'\n", argv[1]);
        usage(stderr);
        rc = 2;
    }
    tz_free_all();
    tmpl_release();
    return rc;
}
