/* test_member.c - a member's custom attributes as templates read them:
 * found whole, never by a part of another key or of a value, and found
 * when the stored JSON writes the key with escapes. */
#include "member.h"
#include "t.h"
#include "util.h"
#include <string.h>

static const char *attr(const char *attrs, const char *name)
{
    static buf_t out;
    member_t m;
    member_init(&m);
    m.s[MS_ATTRS] = attrs;
    buf_reset(&out);
    buf_add(&out, "", 0);
    int rc = member_attr_text(&m, name, &out);
    member_free(&m);
    return rc == 0 ? out.p : NULL;
}

int main(void)
{
    CHECK_EQ_STR(attr("{\"city\":\"上海\",\"level\":3}", "city"), "上海");
    CHECK_EQ_STR(attr("{\"city\":\"上海\",\"level\":3}", "level"), "3");
    CHECK(attr("{\"city\":\"上海\",\"level\":3}", "brand") == NULL);
    /* part of a longer key, or a longer key's start: not the attribute */
    CHECK(attr("{\"city_code\":\"021\"}", "city") == NULL);
    CHECK(attr("{\"xcity\":\"021\"}", "city") == NULL);
    /* the name as a value: looked at, and still not an attribute */
    CHECK(attr("{\"note\":\"city\"}", "city") == NULL);
    CHECK_EQ_STR(attr("{\"note\":\"city\",\"city\":\"杭州\"}", "city"), "杭州");
    /* a key written with escapes is still the key */
    CHECK_EQ_STR(attr("{\"\\u0063ity\":\"苏州\"}", "city"), "苏州");
    CHECK_EQ_STR(attr("{\"a\\\"b\":\"q\"}", "a\"b"), "q");
    /* no attributes, empty ones, or JSON that does not parse */
    CHECK(attr(NULL, "city") == NULL);
    CHECK(attr("{}", "city") == NULL);
    CHECK(attr("{\"city\":", "city") == NULL);
    /* values that are neither text nor numbers are not rendered */
    CHECK(attr("{\"city\":null}", "city") == NULL);
    T_DONE();
}
