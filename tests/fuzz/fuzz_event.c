/* fuzz_event.c - libFuzzer target: one event (a JSONL line or an API
 * item) through evt_parse, the validator every event passes. Run by
 * `make fuzz`; a crash it finds becomes a case in tests/fuzz/regress/. */
#include "event.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tz_t *tz;
    if (!tz) tz = tz_get("Asia/Shanghai", NULL);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    event_t ev;
    char err[ERRLEN];
    if (evt_parse(&ev, text, size, tz, err) == NUDGE_OK) {
        /* what a valid event promises its readers */
        if (!ev.id || !ev.type || !ev.member || !*ev.type || !*ev.member) abort();
    } else if (!err[0]) {
        abort();   /* every refusal says why */
    }
    evt_free(&ev);
    free(text);
    return 0;
}
