/* test_callback.c - provider callbacks: Alibaba SmsReport / SmsUp pushes
 * (bodies shaped like the examples of Alibaba's HTTP batch push
 * documentation), opt-out replies, phone numbers, the WeChat query-string
 * signature and WeChat XML pushes, hostile ones included. */
#include "callback.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static int sms(const char *body, cb_sms_item_t **items, int *n, char *err)
{
    err[0] = '\0';
    return cb_aliyun_parse(body, strlen(body), items, n, err);
}

/* a refused body: the message, and nothing handed back */
#define SMS_ERR(body, want) do { \
    cb_sms_item_t *_it = (cb_sms_item_t *)1; int _n = -1; char _e[ERRLEN]; \
    CHECK_EQ_INT(sms((body), &_it, &_n, _e), NUDGE_ERR); \
    CHECK_EQ_STR(_e, (want)); \
    CHECK(_it == NULL); CHECK_EQ_INT(_n, 0); \
} while (0)

#define REPORT1 "{\"phone_number\":\"13800138000\",\"send_time\":\"2027-01-22 10:00:01\"," \
    "\"report_time\":\"2027-01-22 10:00:05\",\"success\":true,\"err_code\":\"DELIVERED\"," \
    "\"err_msg\":\"用户接收成功\",\"sms_size\":\"1\",\"biz_id\":\"932702304080415357^0\",\"out_id\":\"12345\"}"
#define REPORT2 "{\"phone_number\":\"13900139000\",\"send_time\":\"2027-01-22 10:00:01\"," \
    "\"report_time\":\"2027-01-22 10:00:09\",\"success\":false,\"err_code\":\"MK:0001\"," \
    "\"err_msg\":\"空号\",\"sms_size\":\"2\",\"biz_id\":\"932702304080415357^0\",\"out_id\":\"12346\"}"
#define REPLY1 "{\"phone_number\":\"13800138000\",\"send_time\":\"2027-01-22 10:05:00\",\"content\":\"TD\"," \
    "\"sign_name\":\"品牌\",\"dest_code\":\"1234\",\"sequence_id\":1234567}"

static void aliyun_good(void)
{
    cb_sms_item_t *it;
    int n;
    char err[ERRLEN];

    CHECK_EQ_INT(sms("[" REPORT1 "," REPORT2 "]", &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_INT(it[0].kind, CB_SMS_REPORT);
        CHECK_EQ_STR(it[0].phone, "13800138000");
        CHECK_EQ_STR(it[0].out_id, "12345");
        CHECK_EQ_STR(it[0].biz_id, "932702304080415357^0");
        CHECK_EQ_INT(it[0].success, 1);
        CHECK_EQ_STR(it[0].err_code, "DELIVERED");
        CHECK_EQ_STR(it[0].err_msg, "用户接收成功");
        CHECK_EQ_STR(it[0].at, "2027-01-22 10:00:05");   /* report_time, not send_time */
        CHECK_EQ_STR(it[0].content, "");
        CHECK_EQ_INT(it[1].kind, CB_SMS_REPORT);
        CHECK_EQ_INT(it[1].success, 0);
        CHECK_EQ_STR(it[1].err_code, "MK:0001");
        CHECK_EQ_STR(it[1].out_id, "12346");
    }
    free(it);

    CHECK_EQ_INT(sms("[" REPLY1 "]", &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(it[0].kind, CB_SMS_REPLY);
        CHECK_EQ_STR(it[0].phone, "13800138000");
        CHECK_EQ_STR(it[0].content, "TD");
        CHECK_EQ_STR(it[0].sign_name, "品牌");
        CHECK_EQ_STR(it[0].dest_code, "1234");
        CHECK_EQ_STR(it[0].sequence_id, "1234567");
        CHECK_EQ_STR(it[0].at, "2027-01-22 10:05:00");
        CHECK_EQ_STR(it[0].out_id, "");
        CHECK_EQ_INT(it[0].success, 0);
    }
    free(it);

    /* one object, not an array; white space around it is fine */
    CHECK_EQ_INT(sms("\n " REPORT2 " \r\n", &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(it[0].kind, CB_SMS_REPORT);
        CHECK_EQ_STR(it[0].phone, "13900139000");
    }
    free(it);

    /* a mixed batch keeps its order */
    CHECK_EQ_INT(sms("[" REPLY1 "," REPORT1 "," REPLY1 "]", &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(it[0].kind, CB_SMS_REPLY);
        CHECK_EQ_INT(it[1].kind, CB_SMS_REPORT);
        CHECK_EQ_INT(it[2].kind, CB_SMS_REPLY);
    }
    free(it);

    /* an OutId is a whole idempotency key: up to 255 bytes come back */
    char key[300], one[600];
    memset(key, 'k', 255);
    key[255] = '\0';
    memcpy(key, "points_expiry_reminder:remind_7d:M000123456:", 44);
    snprintf(one, sizeof one, "{\"phone_number\":\"1\",\"success\":true,\"report_time\":\"2027-01-22 10:00:05\","
             "\"out_id\":\"%s\"}", key);
    CHECK_EQ_INT(sms(one, &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_STR(it[0].out_id, key);
    free(it);

    /* an empty batch is no items, not an error */
    CHECK_EQ_INT(sms("[]", &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 0);
    CHECK(it == NULL);

    /* no "success": DELIVERED decides; null is absent; report_time absent: send_time */
    CHECK_EQ_INT(sms("[{\"phone_number\":\"1\",\"err_code\":\"DELIVERED\",\"out_id\":null,"
                     "\"send_time\":\"2027-01-22 10:00:01\"},"
                     "{\"phone_number\":\"2\",\"err_code\":\"UNDELIV\"}]", &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_INT(it[0].success, 1);
        CHECK_EQ_STR(it[0].out_id, "");
        CHECK_EQ_STR(it[0].at, "2027-01-22 10:00:01");
        CHECK_EQ_INT(it[1].success, 0);
        CHECK_EQ_STR(it[1].at, "");
    }
    free(it);

    /* sequence_id as a string, a big number, an empty reply */
    CHECK_EQ_INT(sms("[{\"phone_number\":\"1\",\"content\":\"\",\"sequence_id\":\"98765432109876543210\"},"
                     "{\"phone_number\":\"1\",\"content\":\"hi\",\"sequence_id\":9007199254740991}]",
                     &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_STR(it[0].sequence_id, "98765432109876543210");
        CHECK_EQ_STR(it[0].content, "");
        CHECK_EQ_INT(it[0].kind, CB_SMS_REPLY);
        CHECK_EQ_STR(it[1].sequence_id, "9007199254740991");
    }
    free(it);

    /* the cap is inclusive: 1000 items pass */
    buf_t b;
    buf_init(&b);
    buf_addc(&b, '[');
    for (int i = 0; i < CB_SMS_MAX_ITEMS; i++) buf_adds(&b, i ? "," REPORT1 : REPORT1);
    buf_addc(&b, ']');
    CHECK_EQ_INT(sms(b.p, &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n, CB_SMS_MAX_ITEMS);
    free(it);
    /* and 1001 do not */
    b.len--;
    buf_adds(&b, "," REPORT1 "]");
    SMS_ERR(b.p, "too many items (1001; at most 1000)");
    buf_free(&b);

    /* a field that fits exactly: biz_id holds 95 bytes */
    char body[512];
    snprintf(body, sizeof body, "{\"phone_number\":\"1\",\"success\":true,\"biz_id\":\"%095d\"}", 7);
    CHECK_EQ_INT(sms(body, &it, &n, err), NUDGE_OK);
    CHECK_EQ_INT(n == 1 ? (int)strlen(it[0].biz_id) : -1, 95);
    free(it);
}

static void aliyun_bad(void)
{
    SMS_ERR("", "not valid JSON (near byte 1)");
    SMS_ERR("[{\"phone_number\":", "not valid JSON (near byte 17)");
    /* the x is byte 237: REPORT1 is 234 bytes of UTF-8 */
    SMS_ERR("[" REPORT1 "] x", "not valid JSON (trailing data at byte 237)");
    SMS_ERR("\"13800138000\"", "the body must be a JSON array of items (or one item object)");
    SMS_ERR("42", "the body must be a JSON array of items (or one item object)");
    SMS_ERR("[" REPORT1 ",\"x\"]", "item 1: must be a JSON object");
    SMS_ERR("[" REPORT1 ",[]]", "item 1: must be a JSON object");
    SMS_ERR("[" REPORT1 "," REPORT1 "," REPORT1 ",{\"phone_number\":13800138000,\"success\":true}]",
            "item 3: phone_number must be a string");
    SMS_ERR("[{\"success\":true}]", "item 0: phone_number is missing");
    SMS_ERR("[{\"phone_number\":null,\"success\":true}]", "item 0: phone_number must be a string");
    SMS_ERR("[{\"phone_number\":\"\",\"success\":true}]", "item 0: phone_number is empty");
    SMS_ERR("{\"phone_number\":\"1\",\"success\":\"true\"}", "item 0: success must be true or false");
    SMS_ERR("{\"phone_number\":\"1\",\"success\":1}", "item 0: success must be true or false");
    SMS_ERR("{\"phone_number\":\"1\",\"err_code\":0}", "item 0: err_code must be a string");
    SMS_ERR("{\"phone_number\":\"1\",\"success\":true,\"out_id\":12345}", "item 0: out_id must be a string");
    SMS_ERR("{\"phone_number\":\"1\",\"success\":true,\"report_time\":1700000000}",
            "item 0: report_time must be a string");
    SMS_ERR("{\"phone_number\":\"1\",\"content\":[\"TD\"]}", "item 0: content must be a string");
    SMS_ERR("{\"phone_number\":\"1\",\"content\":\"TD\",\"sequence_id\":1.5}",
            "item 0: sequence_id must be a whole number");
    SMS_ERR("{\"phone_number\":\"1\",\"content\":\"TD\",\"sequence_id\":\"12a\"}",
            "item 0: sequence_id must be a whole number");
    SMS_ERR("{\"phone_number\":\"1\",\"content\":\"TD\",\"sequence_id\":true}",
            "item 0: sequence_id must be a whole number");
    SMS_ERR("[" REPORT1 ",{\"phone_number\":\"1\",\"send_time\":\"2027-01-22 10:00:01\"}]",
            "item 1: neither a delivery report (success, err_code, report_time) nor a reply (content)");
    SMS_ERR("{\"phone_number\":\"1\",\"content\":\"TD\",\"success\":true}",
            "item 0: has both report fields and content");

    /* nothing is cut to fit */
    char body[2048];
    snprintf(body, sizeof body, "{\"phone_number\":\"1\",\"success\":true,\"biz_id\":\"%096d\"}", 7);
    SMS_ERR(body, "item 0: biz_id is too long (96 bytes; at most 95)");
    snprintf(body, sizeof body, "{\"phone_number\":\"1\",\"success\":true,\"out_id\":\"%0256d\"}", 7);
    SMS_ERR(body, "item 0: out_id is too long (256 bytes; at most 255)");
    snprintf(body, sizeof body, "{\"phone_number\":\"%032d\",\"success\":true}", 1);
    SMS_ERR(body, "item 0: phone_number is too long (32 bytes; at most 31)");
    char longtext[600];
    memset(longtext, 'x', 512);
    longtext[512] = '\0';
    snprintf(body, sizeof body, "[" REPLY1 ",{\"phone_number\":\"1\",\"content\":\"%s\"}]", longtext);
    SMS_ERR(body, "item 1: content is too long (512 bytes; at most 511)");
    /* 170 three-byte characters: the limit is bytes of UTF-8 */
    buf_t b;
    buf_init(&b);
    buf_adds(&b, "{\"phone_number\":\"1\",\"success\":false,\"err_msg\":\"");
    for (int i = 0; i < 86; i++) buf_adds(&b, "错");
    buf_adds(&b, "\"}");
    SMS_ERR(b.p, "item 0: err_msg is too long (258 bytes; at most 255)");
    buf_free(&b);
}

static void opt_out(void)
{
    static const char *const yes[] = {
        "T", "t", "TD", "td", "Td", " TD ", "TD。", "TD.", "TD!!!", "\tTD\r\n",
        "ＴＤ", "ｔｄ", "Ｔ Ｄ！", "\xe3\x80\x80TD\xe3\x80\x80" /* full-width spaces */, "T D",
        "R", "r", "N", "Q", "退订", "退订。", "【退订】", "“退订”", "退", "取消", "拒收！",
        "TD退订", "T退订", "td 退订", "unsubscribe", "UNSUBSCRIBE", "Stop", "stop!", "STOP.",
    };
    static const char *const no[] = {
        "Thanks", "TDK", "退订吧？", "不要退订", "T.D", "TDTD", "TD TD", "stop it", "Yes", "好的",
        "退订了吗", "请退订", "1", "0000", "", "。", "   ", "！？", "T\xe9" /* not UTF-8 */, "\xff",
        "\xc0\xd4" /* overlong 'T' */,
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!cb_is_opt_out_reply(yes[i])) fprintf(stderr, "  expected an opt-out: \"%s\"\n", yes[i]);
        CHECK_EQ_INT(cb_is_opt_out_reply(yes[i]), 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        if (cb_is_opt_out_reply(no[i])) fprintf(stderr, "  not an opt-out: \"%s\"\n", no[i]);
        CHECK_EQ_INT(cb_is_opt_out_reply(no[i]), 0);
    }
    CHECK_EQ_INT(cb_is_opt_out_reply(NULL), 0);
    /* a reply longer than 256 bytes is never one word */
    char big[300];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[150] = 'T';
    CHECK_EQ_INT(cb_is_opt_out_reply(big), 0);
    big[256] = '\0';   /* 256 bytes: still read */
    CHECK_EQ_INT(cb_is_opt_out_reply(big), 1);
}

static void phones(void)
{
    static const struct { const char *in, *want; } ok[] = {
        {"13800138000", "13800138000"},
        {"+8613800138000", "13800138000"},
        {"+86 138 0013 8000", "13800138000"},
        {"0086-138-0013-8000", "13800138000"},
        {"8613800138000", "13800138000"},
        {"138-0013-8000", "13800138000"},
        {" 13800138000\t", "13800138000"},
        {"+852 9123 4567", "+85291234567"},
        {"00852 9123 4567", "+85291234567"},
        {"+1 415 555 0100", "+14155550100"},
        {"+86 10 1234 5678", "+861012345678"},   /* Beijing landline: not a mobile, kept whole */
        {"021-12345678", "02112345678"},
        {"85291234567", "85291234567"},          /* Alibaba's country-code-first form */
    };
    char out[32];
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        strcpy(out, "junk");
        CHECK_EQ_INT(cb_phone_normalize(ok[i].in, out, sizeof out), NUDGE_OK);
        CHECK_EQ_STR(out, ok[i].want);
    }
    static const char *const bad[] = {
        "", "   ", "abc", "138001380OO", "123456", "1234567890123456", "+", "++8613800138000",
        "138+00138000", "+0086 138 0013 8000", "(010) 12345678", "13800138000 ext 5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strcpy(out, "junk");
        if (cb_phone_normalize(bad[i], out, sizeof out) == NUDGE_OK)
            fprintf(stderr, "  accepted \"%s\" as \"%s\"\n", bad[i], out);
        CHECK_EQ_INT(cb_phone_normalize(bad[i], out, sizeof out), NUDGE_ERR);
        CHECK_EQ_STR(out, "");
    }
    /* out must hold the digits and the NUL */
    CHECK_EQ_INT(cb_phone_normalize("+86 138 0013 8000", out, 11), NUDGE_ERR);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(cb_phone_normalize("+86 138 0013 8000", out, 12), NUDGE_OK);
    CHECK_EQ_STR(out, "13800138000");
    CHECK_EQ_INT(cb_phone_normalize(NULL, out, sizeof out), NUDGE_ERR);
}

static void signature(void)
{
    /* sorted bytewise: "1700000000" < "42" < "nudgetoken", so
     *   printf '%s' 170000000042nudgetoken | sha1sum
     *   29f51fa233233e325c17ec7b3cd3ad3b852e9104 */
    const char *good = "29f51fa233233e325c17ec7b3cd3ad3b852e9104";
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42", good), 1);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42",
                                        "29F51FA233233E325C17EC7B3CD3AD3B852E9104"), 1);
    /* the last digit changed */
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42",
                                        "29f51fa233233e325c17ec7b3cd3ad3b852e9105"), 0);
    /* a replayed signature on a changed timestamp; that one would need
     *   printf '%s' 170000000142nudgetoken | sha1sum
     *   cb8ddcdbf8bc8bab8fe7e1821ae08e083394b579 */
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000001", "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000001", "42",
                                        "cb8ddcdbf8bc8bab8fe7e1821ae08e083394b579"), 1);
    /* the unsorted concatenation is not the signature:
     *   printf '%s' nudgetoken170000000042 | sha1sum */
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42",
                                        "b0052bb3d72aa44b642cf0571931dea37c410022"), 0);
    /* another token, nonce, the right signature for the wrong token */
    CHECK_EQ_INT(cb_wechat_signature_ok("othertoken", "1700000000", "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "43", good), 0);
    /* timestamps that are not all digits, whatever the signature */
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "", "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "-1700000000", "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000 ", "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "17000000x0", "42", good), 0);
    /* signatures of the wrong shape */
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42", ""), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42",
                                        "29f51fa233233e325c17ec7b3cd3ad3b852e910"), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42",
                                        "29f51fa233233e325c17ec7b3cd3ad3b852e91044"), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42",
                                        "29f51fa233233e325c17ec7b3cd3ad3b852e910g"), 0);
    /* no token configured, or parameters missing */
    CHECK_EQ_INT(cb_wechat_signature_ok("", "1700000000", "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok(NULL, "1700000000", "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", NULL, "42", good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", NULL, good), 0);
    CHECK_EQ_INT(cb_wechat_signature_ok("nudgetoken", "1700000000", "42", NULL), 0);
}

static int wx(const char *xml, cb_wechat_t *w, char *err)
{
    err[0] = '\0';
    return cb_wechat_parse(xml, strlen(xml), w, err);
}

#define WX_ERR(xml, want) do { \
    cb_wechat_t _w; char _e[ERRLEN]; \
    memset(&_w, 'x', sizeof _w); \
    CHECK_EQ_INT(wx((xml), &_w, _e), NUDGE_ERR); \
    CHECK_EQ_STR(_e, (want)); \
    CHECK(_w.from[0] == '\0' && _w.msg_type[0] == '\0' && _w.create_time == 0); \
} while (0)

static void wechat_good(void)
{
    cb_wechat_t w;
    char err[ERRLEN];

    CHECK_EQ_INT(wx("<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
                    "<FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName>"
                    "<CreateTime>1395658920</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                    "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID>"
                    "<Status><![CDATA[success]]></Status></xml>", &w, err), NUDGE_OK);
    CHECK_EQ_STR(w.to, "gh_7f083739789a");
    CHECK_EQ_STR(w.from, "oia2TjuEGTNoeX76QEjQNrcURxG8");
    CHECK_EQ_INT(w.create_time, 1395658920);
    CHECK_EQ_STR(w.msg_type, "event");
    CHECK_EQ_STR(w.event, "TEMPLATESENDJOBFINISH");
    CHECK_EQ_STR(w.msg_id, "200163836");
    CHECK_EQ_STR(w.status, "success");
    CHECK_EQ_STR(w.event_key, "");

    /* pretty-printed, with a declaration; the status keeps its inner space */
    CHECK_EQ_INT(wx("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>\n"
                    "  <ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>\n"
                    "  <FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName>\n"
                    "  <CreateTime>\n    1395658920\n  </CreateTime>\n"
                    "  <MsgType><![CDATA[event]]></MsgType>\n"
                    "  <Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>\n"
                    "  <MsgID>200163836</MsgID>\n"
                    "  <Status><![CDATA[failed: system failed]]></Status>\n</xml>\n", &w, err), NUDGE_OK);
    CHECK_EQ_INT(w.create_time, 1395658920);
    CHECK_EQ_STR(w.status, "failed: system failed");
    CHECK_EQ_INT(wx("<xml><FromUserName>o1</FromUserName><MsgType>event</MsgType>"
                    "<Event>TEMPLATESENDJOBFINISH</Event><Status>failed:user block</Status></xml>",
                    &w, err), NUDGE_OK);
    CHECK_EQ_STR(w.status, "failed:user block");
    CHECK_EQ_INT(w.create_time, 0);   /* absent */

    /* subscribe through a QR code: EventKey and Ticket (ignored) */
    CHECK_EQ_INT(wx("<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
                    "<FromUserName><![CDATA[oUser1]]></FromUserName><CreateTime>1700000000</CreateTime>"
                    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
                    "<EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket></xml>",
                    &w, err), NUDGE_OK);
    CHECK_EQ_STR(w.event, "subscribe");
    CHECK_EQ_STR(w.event_key, "qrscene_123123");
    CHECK_EQ_STR(w.from, "oUser1");

    CHECK_EQ_INT(wx("<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
                    "<FromUserName><![CDATA[oUser1]]></FromUserName><CreateTime>1700000100</CreateTime>"
                    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event>"
                    "<EventKey><![CDATA[]]></EventKey></xml>", &w, err), NUDGE_OK);
    CHECK_EQ_STR(w.event, "unsubscribe");
    CHECK_EQ_STR(w.event_key, "");
    CHECK_EQ_INT(w.create_time, 1700000100);

    /* an ordinary message: MsgId (lower-case d), no Event */
    CHECK_EQ_INT(wx("<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
                    "<FromUserName><![CDATA[oUser2]]></FromUserName><CreateTime>1348831860</CreateTime>"
                    "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[TD &amp; <b>]]></Content>"
                    "<MsgId>1234567890123456</MsgId></xml>", &w, err), NUDGE_OK);
    CHECK_EQ_STR(w.msg_type, "text");
    CHECK_EQ_STR(w.event, "");
    CHECK_EQ_STR(w.msg_id, "1234567890123456");

    /* nested elements are skipped, entities in plain text decoded */
    CHECK_EQ_INT(wx("<xml><FromUserName>o&amp;3</FromUserName><MsgType>event</MsgType>"
                    "<Event>scancode_push</Event><EventKey>k</EventKey>"
                    "<ScanCodeInfo><ScanType>qrcode</ScanType><FromUserName>nested</FromUserName></ScanCodeInfo>"
                    "</xml>", &w, err), NUDGE_OK);
    CHECK_EQ_STR(w.from, "o&3");
    CHECK_EQ_STR(w.event_key, "k");

    /* a field that fits exactly: 63 bytes of FromUserName */
    char body[256];
    snprintf(body, sizeof body, "<xml><FromUserName>%063d</FromUserName><MsgType>text</MsgType></xml>", 5);
    CHECK_EQ_INT(wx(body, &w, err), NUDGE_OK);
    CHECK_EQ_INT(strlen(w.from), 63);

    /* exactly 64 KB is allowed */
    buf_t b;
    buf_init(&b);
    buf_adds(&b, "<xml><FromUserName>o</FromUserName><MsgType>text</MsgType>");
    while (b.len < CB_WECHAT_MAX_BODY - 6) buf_addc(&b, ' ');
    buf_adds(&b, "</xml>");
    CHECK_EQ_INT(b.len, CB_WECHAT_MAX_BODY);
    CHECK_EQ_INT(cb_wechat_parse(b.p, b.len, &w, err), NUDGE_OK);
    /* one byte more is not, before expat sees it */
    buf_addc(&b, '\n');
    CHECK_EQ_INT(cb_wechat_parse(b.p, b.len, &w, err), NUDGE_ERR);
    CHECK_EQ_STR(err, "body too large (65537 bytes; at most 65536)");
    buf_free(&b);
}

static void wechat_bad(void)
{
    WX_ERR("", "line 1: no element found");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType>", "line 1: no element found");
    WX_ERR("<xml>&</xml>", "line 1: not well-formed (invalid token)");
    WX_ERR("<xml>\n<FromUserName>o</FromUserName>\n<MsgType>text</Msgtype>\n</xml>", "line 3: mismatched tag");
    WX_ERR("{\"FromUserName\":\"o\"}", "line 1: not well-formed (invalid token)");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType></xml><xml/>",
           "line 1: junk after document element");
    /* an undeclared entity is not looked up anywhere */
    WX_ERR("<xml><FromUserName>&xxe;</FromUserName><MsgType>text</MsgType></xml>", "line 1: undefined entity");
    WX_ERR("<root><FromUserName>o</FromUserName><MsgType>text</MsgType></root>",
           "line 1: the root element is <root>, not <xml>");

    /* billion laughs, external entities, even a bare DOCTYPE: refused */
    WX_ERR("<?xml version=\"1.0\"?>\n"
           "<!DOCTYPE xml [\n"
           " <!ENTITY a \"aaaaaaaaaa\">\n"
           " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
           " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
           " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
           "]>\n"
           "<xml><FromUserName>&d;</FromUserName><MsgType>text</MsgType></xml>",
           "line 2: a DOCTYPE is not allowed");
    WX_ERR("<!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
           "<xml><FromUserName>&xxe;</FromUserName><MsgType>text</MsgType></xml>",
           "line 1: a DOCTYPE is not allowed");
    WX_ERR("<!DOCTYPE xml><xml><FromUserName>o</FromUserName><MsgType>text</MsgType></xml>",
           "line 1: a DOCTYPE is not allowed");

    WX_ERR("<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType></xml>", "FromUserName is missing or empty");
    WX_ERR("<xml><FromUserName><![CDATA[ ]]></FromUserName><MsgType>text</MsgType></xml>",
           "FromUserName is missing or empty");
    WX_ERR("<xml><FromUserName>o</FromUserName></xml>", "MsgType is missing or empty");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><FromUserName>p</FromUserName></xml>",
           "FromUserName is given twice");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><MsgID>1</MsgID><MsgId>2</MsgId></xml>",
           "MsgId is given twice");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><CreateTime>17e8</CreateTime></xml>",
           "CreateTime must be a whole number of seconds");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><CreateTime>-1</CreateTime></xml>",
           "CreateTime must be a whole number of seconds");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><CreateTime></CreateTime></xml>",
           "CreateTime must be a whole number of seconds");
    WX_ERR("<xml><FromUserName>o</FromUserName><MsgType>text</MsgType>"
           "<CreateTime>1234567890123456789</CreateTime></xml>",
           "CreateTime must be a whole number of seconds");
    WX_ERR("<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
           "<Encrypt><![CDATA[bXNn]]></Encrypt></xml>",
           "the body is encrypted (safe mode); only plaintext mode is supported");

    char body[1024];
    snprintf(body, sizeof body, "<xml><FromUserName>%064d</FromUserName><MsgType>text</MsgType></xml>", 5);
    WX_ERR(body, "FromUserName is too long (64 bytes; at most 63)");
    snprintf(body, sizeof body, "<xml><FromUserName>o</FromUserName><MsgType>event</MsgType>"
             "<EventKey>%0200d</EventKey></xml>", 5);
    WX_ERR(body, "EventKey is too long (200 bytes; at most 127)");

    /* the 64 KB cap holds for hostile bodies too */
    buf_t b;
    buf_init(&b);
    buf_adds(&b, "<xml><FromUserName>");
    while (b.len < 200000) buf_adds(&b, "oooooooooooooooooooo");
    buf_adds(&b, "</FromUserName><MsgType>text</MsgType></xml>");
    cb_wechat_t w;
    char err[ERRLEN];
    CHECK_EQ_INT(cb_wechat_parse(b.p, b.len, &w, err), NUDGE_ERR);
    CHECK(strncmp(err, "body too large (", 16) == 0);
    buf_free(&b);
}

int main(void)
{
    aliyun_good();
    aliyun_bad();
    opt_out();
    phones();
    signature();
    wechat_good();
    wechat_bad();
    T_DONE();
}
