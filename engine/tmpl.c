/* tmpl.c - see tmpl.h */
#include "tmpl.h"
#include "smstext.h"

#include <stdlib.h>
#include <string.h>

tmpl_t *tmpl_new(void)
{
    return xcalloc(1, sizeof(tmpl_t));
}

void tmpl_free(tmpl_t *t)
{
    if (!t) return;
    free(t->name);
    free(t->file);
    free(t->wechat_template_id);
    free(t->wechat_url);
    for (int i = 0; i < t->nwechat_data; i++) {
        free(t->wechat_data[i].key);
        free(t->wechat_data[i].text);
        free(t->wechat_data[i].color);
    }
    free(t->wechat_data);
    free(t->sms_text);
    free(t->sms_code);
    free(t->edm_subject);
    free(t->edm_text);
    free(t->edm_html);
    free(t);
}

/* Walks "{{ name }}" occurrences; calls emit for literal runs and names. */
static void scan(const char *s, void (*lit)(const char *, size_t, void *),
                 void (*name)(const char *, size_t, void *), void *ud)
{
    while (*s) {
        const char *o = strstr(s, "{{");
        if (!o) break;
        const char *c = strstr(o + 2, "}}");
        if (!c) break;
        if (lit) lit(s, (size_t)(o - s), ud);
        const char *b = o + 2, *e = c;
        while (b < e && (*b == ' ' || *b == '\t')) b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
        name(b, (size_t)(e - b), ud);
        s = c + 2;
    }
    if (lit && *s) lit(s, strlen(s), ud);
}

struct expand {
    tmpl_resolve_fn fn;
    void *ud;
    buf_t *out, *missing;
};

static void ex_lit(const char *s, size_t n, void *ud)
{
    buf_add(((struct expand *)ud)->out, s, n);
}

static void ex_name(const char *s, size_t n, void *ud)
{
    struct expand *x = ud;
    if (!x->fn) return;   /* no resolver: placeholders render empty */
    if (x->fn(s, n, x->out, x->ud) != 0 && x->missing) {
        if (x->missing->len) buf_adds(x->missing, ", ");
        buf_add(x->missing, s, n);
    }
}

void tmpl_expand(const char *text, tmpl_resolve_fn fn, void *ud, buf_t *out, buf_t *missing)
{
    struct expand x = {fn, ud, out, missing};
    if (text) scan(text, ex_lit, ex_name, &x);
}

/* One scratch buffer a thread for all its renders (rendering is on the
 * hot path); a thread that renders calls tmpl_release before it ends. */
static _Thread_local buf_t scratch;

static void add_expanded_json(buf_t *out, const char *text, tmpl_resolve_fn fn, void *ud, buf_t *missing)
{
    buf_reset(&scratch);
    buf_add(&scratch, "", 0);
    tmpl_expand(text, fn, ud, &scratch, missing);
    buf_add_json_str(out, scratch.p);
}

void tmpl_release(void)
{
    buf_free(&scratch);
}

/* {"name":"value",...} of every distinct placeholder of text */
struct params {
    tmpl_resolve_fn fn;
    void *ud;
    buf_t *out, names;
    int n;
};

static void param_name(const char *s, size_t n, void *ud)
{
    struct params *p = ud;
    /* names are kept as "\0name\0" so each is found whole */
    buf_t probe;
    buf_init(&probe);
    buf_addc(&probe, '\0');
    buf_add(&probe, s, n);
    buf_addc(&probe, '\0');
    int seen = 0;
    for (size_t i = 0; i + probe.len <= p->names.len && !seen; i++) seen = memcmp(p->names.p + i, probe.p, probe.len) == 0;
    if (!seen) {
        buf_add(&p->names, probe.p, probe.len);
        buf_t v;
        buf_init(&v);
        buf_add(&v, "", 0);
        if (p->fn) p->fn(s, n, &v, p->ud);
        buf_addc(&v, '\0');
        if (p->n++) buf_addc(p->out, ',');
        buf_add_json_str(p->out, probe.p + 1);
        buf_addc(p->out, ':');
        buf_add_json_str(p->out, v.p);
        buf_free(&v);
    }
    buf_free(&probe);
}

void tmpl_render(const tmpl_t *t, int ch, tmpl_resolve_fn fn, void *ud, tmpl_sms_t *sms, buf_t *out,
                 buf_t *missing)
{
    switch (ch) {
    case CH_SMS:
        if (!sms) {
            add_expanded_json(out, t->sms_text, fn, ud, missing);
            break;
        }
        buf_reset(&scratch);
        buf_add(&scratch, "", 0);
        tmpl_expand(t->sms_text, fn, ud, &scratch, missing);
        buf_t framed;
        buf_init(&framed);
        smstext_compose(sms->signature, scratch.p, sms->opt_out, sms->marketing, &framed);
        sms->chars = (int)smstext_chars(framed.p);
        sms->segments = smstext_segments(framed.p);
        if (t->sms_code) {
            buf_adds(out, "{\"text\":");
            buf_add_json_str(out, framed.p);
            buf_adds(out, ",\"template_code\":");
            buf_add_json_str(out, t->sms_code);
            buf_adds(out, ",\"params\":{");
            struct params p = {fn, ud, out, {0}, 0};
            buf_init(&p.names);
            scan(t->sms_text, NULL, param_name, &p);
            buf_free(&p.names);
            buf_adds(out, "}}");
        } else {
            buf_add_json_str(out, framed.p);
        }
        buf_free(&framed);
        break;
    case CH_WECHAT:
        buf_adds(out, "{\"template_id\":");
        add_expanded_json(out, t->wechat_template_id, fn, ud, missing);
        if (t->wechat_url) {
            buf_adds(out, ",\"url\":");
            add_expanded_json(out, t->wechat_url, fn, ud, missing);
        }
        buf_adds(out, ",\"data\":{");
        for (int i = 0; i < t->nwechat_data; i++) {
            const tmpl_field_t *f = &t->wechat_data[i];
            if (i) buf_addc(out, ',');
            buf_add_json_str(out, f->key);
            buf_adds(out, ":{\"value\":");
            add_expanded_json(out, f->text, fn, ud, missing);
            if (f->color) {
                buf_adds(out, ",\"color\":");
                buf_add_json_str(out, f->color);
            }
            buf_addc(out, '}');
        }
        buf_adds(out, "}}");
        break;
    case CH_EDM:
        buf_adds(out, "{\"subject\":");
        add_expanded_json(out, t->edm_subject, fn, ud, missing);
        buf_adds(out, ",\"text\":");
        add_expanded_json(out, t->edm_text, fn, ud, missing);
        buf_adds(out, ",\"html\":");
        add_expanded_json(out, t->edm_html, fn, ud, missing);
        buf_addc(out, '}');
        break;
    }
}

void tmpl_placeholders(const tmpl_t *t, int ch, void (*fn)(const char *name, size_t len, void *ud), void *ud)
{
    const char *texts[8];
    int n = 0;
    switch (ch) {
    case CH_SMS: texts[n++] = t->sms_text; break;
    case CH_WECHAT:
        texts[n++] = t->wechat_template_id;
        texts[n++] = t->wechat_url;
        for (int i = 0; i < t->nwechat_data; i++) {
            if (t->wechat_data[i].text) scan(t->wechat_data[i].text, NULL, fn, ud);
        }
        break;
    case CH_EDM:
        texts[n++] = t->edm_subject;
        texts[n++] = t->edm_text;
        texts[n++] = t->edm_html;
        break;
    }
    for (int i = 0; i < n; i++)
        if (texts[i]) scan(texts[i], NULL, fn, ud);
}
