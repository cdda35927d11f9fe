/* test_aliyun.c - the Alibaba Cloud RPC v1 signature, checked against the
 * worked example of the SendSms documentation (AccessKeyId testId, secret
 * testSecret): Signature = zJDF+Lrzhj/ThnlvIToysFRq6t4=; and what each
 * SendSms answer means for the message. */
#include "conn.h"
#include "t.h"

#include <string.h>

static int verdict(long http, const char *body, conn_result_t *r)
{
    store_msg_t m;
    store_msg_init(&m);
    m.segments = 2;
    conn_aliyun.classify(NULL, &m, http, body, http ? NULL : "Operation timed out", r);
    store_msg_free(&m);
    return r->verdict;
}

static void answers(void)
{
    conn_result_t r;
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"OK\",\"Message\":\"OK\",\"BizId\":\"900619746936498440^0\","
                              "\"RequestId\":\"F655A8D5\"}", &r), CONN_SENT);
    CHECK_EQ_STR(r.provider_id, "900619746936498440^0");
    CHECK_EQ_INT(r.segments, 2);
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"isv.BUSINESS_LIMIT_CONTROL\",\"Message\":\"触发分钟级流控\"}", &r),
                 CONN_RETRY);
    CHECK(strstr(r.reason, "isv.BUSINESS_LIMIT_CONTROL") != NULL);
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"isp.SYSTEM_ERROR\"}", &r), CONN_RETRY);
    CHECK_EQ_INT(verdict(400, "{\"Code\":\"Throttling.User\"}", &r), CONN_RETRY);
    CHECK_EQ_INT(verdict(0, "", &r), CONN_RETRY);
    CHECK(strstr(r.reason, "timed out") != NULL);
    CHECK_EQ_INT(verdict(503, "<html>busy</html>", &r), CONN_RETRY);
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"isv.DAY_LIMIT_CONTROL\"}", &r), CONN_PAUSE);
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"isv.AMOUNT_NOT_ENOUGH\"}", &r), CONN_PAUSE);
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"isv.MOBILE_NUMBER_ILLEGAL\"}", &r), CONN_MEMBER);
    CHECK_EQ_INT(r.unsubscribed, 0);   /* a bad number is not an opt-out */
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"isv.TEMPLATE_MISSING_PARAMETERS\"}", &r), CONN_FATAL);
    CHECK_EQ_INT(verdict(200, "{\"Code\":\"isv.SMS_SIGNATURE_ILLEGAL\"}", &r), CONN_FATAL);
    CHECK_EQ_INT(verdict(400, "not json", &r), CONN_FATAL);
}

int main(void)
{
    answers();
    conn_kv_t p[] = {
        {"TemplateParam", "{\"customer\":\"test\"}"},   /* deliberately unsorted */
        {"AccessKeyId", "testId"},
        {"Action", "SendSms"},
        {"Format", "XML"},
        {"OutId", "123"},
        {"PhoneNumbers", "15300000001"},
        {"RegionId", "cn-hangzhou"},
        {"SignName", "阿里云短信测试专用"},
        {"SignatureMethod", "HMAC-SHA1"},
        {"SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"},
        {"SignatureVersion", "1.0"},
        {"TemplateCode", "SMS_71390007"},
        {"Timestamp", "2017-07-12T02:42:19Z"},
        {"Version", "2017-05-25"},
    };
    buf_t q, sig;
    buf_init(&q);
    buf_init(&sig);
    conn_aliyun_sign(p, (int)(sizeof p / sizeof *p), "GET", "testSecret", &q, &sig);
    CHECK_EQ_STR(sig.p, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
    /* the query: the signature percent-encoded first, then the sorted parameters */
    const char *head = "Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&Action=SendSms&";
    CHECK(strncmp(q.p, head, strlen(head)) == 0);
    CHECK(strstr(q.p, "&SignName=%E9%98%BF%E9%87%8C%E4%BA%91") != NULL);   /* UTF-8 bytes, upper-case hex */
    CHECK(strstr(q.p, "&TemplateParam=%7B%22customer%22%3A%22test%22%7D&") != NULL);
    CHECK(strstr(q.p, "Timestamp=2017-07-12T02%3A42%3A19Z") != NULL);
    /* a different secret signs differently */
    conn_aliyun_sign(p, (int)(sizeof p / sizeof *p), "GET", "otherSecret", &q, &sig);
    CHECK(strcmp(sig.p, "zJDF+Lrzhj/ThnlvIToysFRq6t4=") != 0);
    buf_free(&q);
    buf_free(&sig);
    T_DONE();
}
