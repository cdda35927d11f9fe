/* test_event.c - one event a line, its identity exact: text after the
 * object, an id, member or order_id that is true or too large a number to
 * be exact, and an amount strtod would read but a person would not write
 * (hex, exponent, spaces) are rejected, naming the field. */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "t.h"
#include "tz.h"

static const tz_t *tz;

/* NUDGE_OK, or the reason in why. */
static int parse(const char *line, char *why)
{
    event_t ev;
    why[0] = '\0';
    int rc = evt_parse(&ev, line, strlen(line), tz, why);
    evt_free(&ev);
    return rc;
}

static void rejected(const char *line, const char *reason_part)
{
    char why[ERRLEN];
    CHECK(parse(line, why) != NUDGE_OK);
    if (!strstr(why, reason_part)) fprintf(stderr, "'%s': reason '%s' lacks '%s'\n", line, why, reason_part);
    CHECK(strstr(why, reason_part) != NULL);
}

static void accepted(const char *line)
{
    char why[ERRLEN];
    int rc = parse(line, why);
    if (rc != NUDGE_OK) fprintf(stderr, "'%s': %s\n", line, why);
    CHECK_EQ_INT(rc, NUDGE_OK);
}

#define AT "\"at\":\"2027-01-05T10:00:00+08:00\""

int main(void)
{
    tz = tz_get("Asia/Shanghai", NULL);
    CHECK(tz != NULL);

    accepted("{\"type\":\"order.paid\",\"member\":\"A1\"," AT ",\"order_id\":\"O1\",\"amount\":\"99.50\"}  \r");
    rejected("{\"type\":\"order.paid\",\"member\":\"A1\"," AT ",\"order_id\":\"O1\",\"amount\":10} "
             "{\"type\":\"order.paid\",\"member\":\"A2\"," AT ",\"order_id\":\"O2\",\"amount\":20}",
             "one event a line");
    rejected("{\"type\":\"x\",\"member\":\"A1\"," AT "} trailing", "at byte 61");

    /* ids and members: strings, or whole numbers that are exact */
    event_t ev;
    char why[ERRLEN];
    const char *big = "{\"id\":9007199254740991,\"type\":\"x\",\"member\":1234567890123456," AT "}";
    CHECK_EQ_INT(evt_parse(&ev, big, strlen(big), tz, why), NUDGE_OK);
    CHECK_EQ_STR(ev.id, "9007199254740991");
    CHECK_EQ_STR(ev.member, "1234567890123456");
    evt_free(&ev);
    rejected("{\"id\":9007199254740993,\"type\":\"x\",\"member\":\"A1\"," AT "}", "id is a number");
    rejected("{\"type\":\"x\",\"member\":12345678901234567890," AT "}", "give it as a string");
    rejected("{\"id\":true,\"type\":\"x\",\"member\":\"A1\"," AT "}", "id must be a string or a number");
    rejected("{\"type\":\"x\",\"member\":true," AT "}", "member must be a string or a number");
    rejected("{\"type\":\"x\",\"member\":null," AT "}", "member must be a string or a number");
    rejected("{\"type\":\"x\",\"member\":[1]," AT "}", "member must be a string or a number");
    rejected("{\"type\":\"order.paid\",\"member\":\"A1\"," AT ",\"order_id\":false,\"amount\":1}",
             "order_id must be a string or a number");
    accepted("{\"type\":\"order.paid\",\"member\":\"A1\"," AT ",\"order_id\":88001,\"amount\":1}");

    /* amounts as text: plain decimals only */
    static const char *const bad_amounts[] = {"0x1p4", " 12", "12 ", "1e3", "-5", "+5", "1.2.3", ".", "", "inf"};
    for (size_t i = 0; i < sizeof bad_amounts / sizeof *bad_amounts; i++) {
        char line[256];
        snprintf(line, sizeof line, "{\"type\":\"order.paid\",\"member\":\"A1\"," AT ",\"order_id\":\"O1\",\"amount\":\"%s\"}",
                 bad_amounts[i]);
        rejected(line, "amount must be a number >= 0");
    }
    accepted("{\"type\":\"order.paid\",\"member\":\"A1\"," AT ",\"order_id\":\"O1\",\"amount\":\"12\"}");
    accepted("{\"type\":\"order.paid\",\"member\":\"A1\"," AT ",\"order_id\":\"O1\",\"amount\":\"0.5\"}");
    T_DONE();
}
