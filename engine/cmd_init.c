/* cmd_init.c - nudge init DIR: a new brand workspace. */
#include "cmd.h"
#include "util.h"
#include "ws.h"

#include <getopt.h>
#include <stdio.h>

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"brand", required_argument, NULL, 'b'},
                                         {"tz", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *brand = "示例品牌", *tz = "Asia/Shanghai";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') brand = optarg;
        else if (c == 't') tz = optarg;
        else return cmd_usage(&cmd_init, "unknown option");
    }
    if (argc - optind != 1) return cmd_usage(&cmd_init, "expected one workspace directory");
    char err[ERRLEN];
    if (ws_init(argv[optind], brand, tz, err) != NUDGE_OK) return cmd_fail("%s", err);
    printf("created workspace %s (brand %s, time zone %s)\n"
           "next: put journeys in %s/journeys/, templates in %s/templates/, then\n"
           "      nudge import %s members.csv && nudge check %s\n",
           argv[optind], brand, tz, argv[optind], argv[optind], argv[optind], argv[optind]);
    return 0;
}

const cmd_t cmd_init = {
    .name = "init",
    .usage = "DIR [--brand NAME] [--tz ZONE]",
    .summary = "create a workspace: nudge.conf, journeys/, templates/ and the store",
    .help = "  --brand NAME   the brand's name, used as {{brand}} in templates (default 示例品牌)\n"
            "  --tz ZONE      IANA time zone for members without one (default Asia/Shanghai)\n\n"
            "Refuses, changing nothing, when DIR already is a workspace.\n",
    .run = run,
};
