/* tmpl.h - message templates: one per name, with a variant per channel,
 * and {{placeholder}} rendering.
 *
 * wechat: template_id, url and data fields (the template message's
 * keywords); sms: text; edm: subject, text and HTML. A placeholder's value
 * comes from a resolver the engine supplies (step data, the occasion, the
 * member, journey parameters, the workspace). */
#ifndef NUDGE_TMPL_H
#define NUDGE_TMPL_H

#include "member.h"
#include "util.h"

typedef struct tmpl_field {
    char *key, *text, *color;
} tmpl_field_t;

typedef struct tmpl {
    char *name;
    char *file;
    int has[CH_COUNT];
    char *wechat_template_id, *wechat_url;
    tmpl_field_t *wechat_data;      /* sorted by key */
    int nwechat_data;
    char *sms_text;
    char *sms_code;                 /* the provider's approved template (Alibaba TemplateCode) */
    char *edm_subject, *edm_text, *edm_html;
} tmpl_t;

/* Appends the value of placeholder name[0..len) to out; returns 0 when
 * known, -1 when nothing has that name. */
typedef int (*tmpl_resolve_fn)(const char *name, size_t len, buf_t *out, void *ud);

tmpl_t *tmpl_new(void);
void tmpl_free(tmpl_t *t);

/* How an SMS is framed: 【signature】 first, the opt-out text last on
 * marketing messages; after rendering, its characters and billed parts. */
typedef struct tmpl_sms {
    const char *signature, *opt_out;
    int marketing;
    int chars, segments;       /* out */
} tmpl_sms_t;

/* Renders channel's variant as the JSON value of a dispatch line's
 * "content": a string for sms (framed by sms when not NULL), an object
 * for wechat and edm. An sms variant with a template code renders as
 * {"text", "template_code", "params"}: params holds each placeholder's
 * value by name, for providers that fill their own approved template. Unknown placeholders render empty and are named in
 * *missing (may be NULL). */
void tmpl_render(const tmpl_t *t, int channel, tmpl_resolve_fn fn, void *ud, tmpl_sms_t *sms, buf_t *out,
                 buf_t *missing);

/* Calls fn for every placeholder in channel's variant. */
void tmpl_placeholders(const tmpl_t *t, int channel,
                       void (*fn)(const char *name, size_t len, void *ud), void *ud);

/* Frees the calling thread's scratch memory of the renderer (at exit,
 * and at the end of a thread that rendered). */
void tmpl_release(void);

/* Expands placeholders of one string (used by tmpl_render); with fn NULL
 * they expand to nothing. */
void tmpl_expand(const char *text, tmpl_resolve_fn fn, void *ud, buf_t *out, buf_t *missing);

#endif
