/* smstext.c - see smstext.h */
#include "smstext.h"

#include <string.h>

size_t smstext_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) n++;   /* count lead bytes, not continuations */
    return n;
}

int smstext_segments(const char *text)
{
    size_t n = smstext_chars(text);
    int ascii = 1;
    for (const unsigned char *p = (const unsigned char *)text; *p && ascii; p++) ascii = *p < 0x80;
    size_t one = ascii ? 160 : 70, part = ascii ? 153 : 67;
    if (n <= one) return 1;
    return (int)((n + part - 1) / part);
}

void smstext_compose(const char *signature, const char *body, const char *opt_out, int marketing, buf_t *out)
{
    buf_adds(out, "【");
    buf_adds(out, signature);
    buf_adds(out, "】");
    buf_adds(out, body);
    if (marketing && opt_out && *opt_out) buf_adds(out, opt_out);
}
