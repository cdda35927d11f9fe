/* test_util.c - the growable buffer's writers and strcopy: each must write
 * exactly what the printf format it replaces writes. */
#include "t.h"
#include "util.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void check_i64(int64_t v)
{
    char want[32];
    snprintf(want, sizeof want, "%" PRId64, v);
    buf_t b;
    buf_init(&b);
    buf_adds(&b, "x");
    buf_add_i64(&b, v);
    CHECK_EQ_STR(b.p + 1, want);
    CHECK_EQ_INT(b.len, 1 + strlen(want));
    buf_free(&b);
}

static void check_hex(uint64_t v)
{
    char want[32];
    snprintf(want, sizeof want, "%016" PRIx64, v);
    buf_t b;
    buf_init(&b);
    buf_add_hex64(&b, v);
    CHECK_EQ_STR(b.p, want);
    CHECK_EQ_INT(b.len, 16);
    buf_free(&b);
}

int main(void)
{
    const int64_t ints[] = {0, 1, -1, 9, 10, -10, 199, 1234567890123LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) check_i64(ints[i]);
    const uint64_t hexes[] = {0, 1, 0xabcdefULL, 0x0123456789abcdefULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof hexes / sizeof hexes[0]; i++) check_hex(hexes[i]);

    /* buf_printf formats in place when it fits, and grows when it does not:
     * both give the same text, whatever the room left */
    buf_t b;
    buf_init(&b);
    char want[4096] = "";
    for (int i = 0; i < 200; i++) {
        buf_printf(&b, "%d:%s;", i, i % 7 ? "ab" : "a longer piece of text to cross a capacity");
        size_t n = strlen(want);
        snprintf(want + n, sizeof want - n, "%d:%s;", i, i % 7 ? "ab" : "a longer piece of text to cross a capacity");
        if (strcmp(b.p, want) != 0 || b.len != strlen(want)) break;
    }
    CHECK_EQ_STR(b.p, want);
    CHECK_EQ_INT(b.len, strlen(want));
    CHECK_EQ_INT(b.p[b.len], '\0');
    /* exactly as long as the room left (64 bytes are the first capacity):
     * in place there would be no byte for its NUL */
    buf_t e;
    buf_init(&e);
    for (size_t fill = 1; fill < 64; fill++) {
        char text[80];
        memset(text, 'a', sizeof text);
        buf_reset(&e);
        buf_add(&e, text, fill);
        text[64 - fill] = '\0';
        buf_printf(&e, "%s", text);
        if (e.len != 64 || strspn(e.p, "a") != 64) break;
    }
    CHECK_EQ_INT(e.len, 64);
    CHECK_EQ_INT(strspn(e.p, "a"), 64);
    buf_free(&e);
    buf_reset(&b);
    buf_printf(&b, "%s", "");
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_STR(b.p, "");
    buf_free(&b);

    /* strcopy: whole when it fits, cut to size - 1 bytes when not */
    char d[6];
    strcopy(d, sizeof d, "abc");
    CHECK_EQ_STR(d, "abc");
    strcopy(d, sizeof d, "abcdef");
    CHECK_EQ_STR(d, "abcde");
    strcopy(d, sizeof d, "");
    CHECK_EQ_STR(d, "");
    memset(d, 'z', sizeof d);
    strcopy(d, 1, "abc");
    CHECK_EQ_INT(d[0], '\0');
    CHECK_EQ_INT(d[1], 'z');
    T_DONE();
}
