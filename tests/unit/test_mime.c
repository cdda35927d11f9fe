/* test_mime.c - RFC 2047 subjects: encoded words of at most 75
 * characters, never splitting a UTF-8 character, decoding to the input. */
#include "conn.h"
#include "t.h"

#include <openssl/evp.h>
#include <string.h>

/* Decodes "=?UTF-8?B?...?=" words (separated by CRLF + space) back. */
static int decode(const char *enc, buf_t *out, int *longest, int *words)
{
    *longest = 0;
    *words = 0;
    for (const char *p = enc; *p;) {
        if (strncmp(p, "=?UTF-8?B?", 10) != 0) return -1;
        const char *end = strstr(p, "?=");
        if (!end) return -1;
        int len = (int)(end + 2 - p);
        if (len > *longest) *longest = len;
        (*words)++;
        unsigned char tmp[256];
        int n = EVP_DecodeBlock(tmp, (const unsigned char *)p + 10, (int)(end - p - 10));
        if (n < 0) return -1;
        size_t b64len = (size_t)(end - p - 10);
        if (b64len >= 1 && p[10 + b64len - 1] == '=') n--;
        if (b64len >= 2 && p[10 + b64len - 2] == '=') n--;
        /* every word must hold whole characters: it may not start with a continuation byte */
        if (n > 0 && (tmp[0] & 0xC0) == 0x80) return -2;
        buf_add(out, (const char *)tmp, (size_t)n);
        p = end + 2;
        if (strncmp(p, "\r\n ", 3) == 0) p += 3;
    }
    return 0;
}

int main(void)
{
    buf_t b, d;
    buf_init(&b);
    buf_init(&d);
    conn_mime_subject("Hello", &b);
    CHECK_EQ_STR(b.p, "Hello");   /* short ASCII stays as it is */
    const char *s = "王芳，今天是悦肤会员日：全场满199减30，会员专享双倍积分，到店或小程序下单均可享受";
    buf_reset(&b);
    conn_mime_subject(s, &b);
    int longest, words;
    buf_add(&d, "", 0);
    CHECK_EQ_INT(decode(b.p, &d, &longest, &words), 0);
    CHECK_EQ_STR(d.p, s);
    CHECK(longest <= 75);
    CHECK(words >= 3);
    /* 4-byte characters are not split either */
    const char *emoji = "生日快乐🎂🎂🎂🎂🎂🎂🎂🎂🎂🎂🎂🎂🎂🎂🎂🎂";
    buf_reset(&b);
    buf_reset(&d);
    buf_add(&d, "", 0);
    conn_mime_subject(emoji, &b);
    CHECK_EQ_INT(decode(b.p, &d, &longest, &words), 0);
    CHECK_EQ_STR(d.p, emoji);
    buf_free(&b);
    buf_free(&d);
    T_DONE();
}
