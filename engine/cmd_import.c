/* cmd_import.c - nudge import DIR FILE...: members CSV and events JSONL. */
#include "cmd.h"
#include "import.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int run(int argc, char **argv)
{
    if (argc < 3) return cmd_usage(&cmd_import, "expected a workspace and at least one file");
    ws_t *w;
    store_t *s;
    if (cmd_open(argv[1], &w, &s)) return 1;
    char err[ERRLEN];
    int status = 0, tty = isatty(2);
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i];
        import_stats_t st;
        int rc, members = ends_with(f, ".csv");
        if (members) rc = import_members(s, w, f, tty, stderr, &st, err);
        else if (ends_with(f, ".jsonl") || ends_with(f, ".ndjson") || ends_with(f, ".json"))
            rc = import_events(s, w, f, tty, stderr, &st, err);
        else {
            cmd_fail("%s: unknown kind of file (members are .csv, events are .jsonl)", f);
            status = 1;
            continue;
        }
        if (rc != NUDGE_OK) {
            cmd_fail("%s", err);
            status = 1;
            continue;
        }
        if (members)
            printf("%s: %lld rows read, %lld inserted, %lld updated, %lld unchanged, %lld rejected\n", f, st.read,
                   st.inserted, st.updated, st.unchanged, st.rejected);
        else
            printf("%s: %lld events read, %lld applied, %lld already known, %lld rejected\n", f, st.read, st.inserted,
                   st.duplicates, st.rejected);
        if (st.rejected) status = 1;
    }
    cmd_close(w, s);
    return status;
}

const cmd_t cmd_import = {
    .name = "import",
    .usage = "DIR FILE...",
    .summary = "load members (.csv) and events (.jsonl) into a workspace",
    .help = "Members CSV: a header row naming the columns (only id is required); other\n"
            "columns become custom attributes. Events JSONL: one event object a line.\n"
            "Bad rows are reported as FILE:LINE: reason and skipped; the rest is loaded.\n"
            "Importing the same file again changes nothing. Imported events are history:\n"
            "they change member state but do not trigger journeys.\n"
            "Exit status 1 when any row was rejected.\n",
    .run = run,
};
