/* cmd.h - the command-line commands. Each command is one cmd_*.c file
 * with one entry; main.c gathers them in a table. */
#ifndef NUDGE_CMD_H
#define NUDGE_CMD_H

typedef struct cmd {
    const char *name;
    const char *usage;       /* after "nudge NAME " */
    const char *summary;     /* one line */
    const char *help;        /* the rest of --help */
    int (*run)(int argc, char **argv);
} cmd_t;

extern const cmd_t cmd_init, cmd_import, cmd_check, cmd_simulate, cmd_status, cmd_outbox, cmd_run, cmd_reload;

/* Prints "nudge: message" to stderr; returns the exit status 1. */
int cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: names the problem and the command's usage; exit status 2. */
int cmd_usage(const cmd_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct ws;
struct store;
/* Opens workspace dir and its store; on failure prints why and returns
 * the exit status (1), else 0. Close with cmd_close. */
int cmd_open(const char *dir, struct ws **w, struct store **s);
void cmd_close(struct ws *w, struct store *s);

/* 1 when argv holds -h or --help (and prints the help). */
int cmd_wants_help(const cmd_t *c, int argc, char **argv);

#endif
