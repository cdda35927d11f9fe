/* fuzz_csv.c - libFuzzer target: a members CSV through the RFC 4180
 * reader, and every cell of every record through member_assign under
 * its header's name, as the import reads them (dates, times, flags,
 * zones, custom attributes). Run by `make fuzz`. */
#include "csv.h"
#include "member.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tz_t *tz;
    if (!tz) tz = tz_get("Asia/Shanghai", NULL);
    if (!size) return 0;
    FILE *fp = fmemopen((void *)data, size, "r");
    if (!fp) return 0;
    csv_t *c = csv_new(fp);
    char **f, err[ERRLEN];
    size_t n, nhead = 0;
    char *head[64];
    member_t m;
    member_init(&m);
    int rc, records = 0;
    while ((rc = csv_next(c, &f, &n, err)) != 0 && records < 1000) {
        if (rc < 0) {
            if (!err[0] || csv_line(c) < 1) abort();   /* a malformed record names its line */
            continue;
        }
        if (!records++) {
            for (size_t i = 0; i < n && nhead < 64; i++) head[nhead++] = strdup(f[i]);
            continue;
        }
        member_clear(&m);
        for (size_t i = 0; i < n && i < nhead; i++) {
            err[0] = '\0';
            if (member_assign(&m, head[i], f[i], tz, err) < 0 && !err[0]) abort();
        }
        member_derive(&m);
        (void)member_fingerprint(&m);
    }
    for (size_t i = 0; i < nhead; i++) free(head[i]);
    member_free(&m);
    csv_free(c);
    fclose(fp);
    return 0;
}
