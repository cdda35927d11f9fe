/* smstext.h - the rules of a mainland China SMS: the brand signature in
 * 【】 first, the opt-out text last on marketing messages, every character
 * counting one, and billing by parts (70, then 67 each; 160/153 when the
 * whole text is plain ASCII). */
#ifndef NUDGE_SMSTEXT_H
#define NUDGE_SMSTEXT_H

#include <stddef.h>
#include "util.h"

#define SMS_MAX_CHARS 500
#define SMS_DEFAULT_OPT_OUT "回T退订"
#define SMS_ALIYUN_OPT_OUT "拒收请回复R"   /* Alibaba's wording for promotional SMS */

/* Characters (UTF-8 code points) of s. */
size_t smstext_chars(const char *s);
/* Billed parts of the complete text (signature included). */
int smstext_segments(const char *text);
/* 【signature】 + body (+ opt_out when marketing) into out. */
void smstext_compose(const char *signature, const char *body, const char *opt_out, int marketing, buf_t *out);

#endif
