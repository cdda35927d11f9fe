/* test_aliyun.c - the Alibaba Cloud RPC v1 signature, checked against the
 * worked example of the SendSms documentation (AccessKeyId testId, secret
 * testSecret): Signature = zJDF+Lrzhj/ThnlvIToysFRq6t4=. */
#include "conn.h"
#include "t.h"

#include <string.h>

int main(void)
{
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
