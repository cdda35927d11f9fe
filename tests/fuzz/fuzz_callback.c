/* fuzz_callback.c - libFuzzer target: what providers push back (Alibaba
 * SMS receipts and replies as JSON, WeChat's XML pushes), the opt-out
 * words and phone normalisation. These bodies come from the network; the
 * first byte picks the parser. Run by `make fuzz`. */
#include "callback.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int which = data[0] % 3;
    data++, size--;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[ERRLEN] = "";
    if (which == 0) {
        cb_sms_item_t *items;
        int n;
        if (cb_aliyun_parse(text, size, &items, &n, err) == NUDGE_OK) {
            /* what a parsed push promises its reader */
            if (n < 0 || n > CB_SMS_MAX_ITEMS || (n && !items)) abort();
            for (int i = 0; i < n; i++) {
                if (items[i].kind != CB_SMS_REPORT && items[i].kind != CB_SMS_REPLY) abort();
                if (!items[i].phone[0]) abort();
                if (items[i].kind == CB_SMS_REPLY) cb_is_opt_out_reply(items[i].content);
                char phone[40];
                cb_phone_normalize(items[i].phone, phone, sizeof phone);
            }
            free(items);
        } else if (!err[0]) {
            abort();   /* every refusal says why */
        }
    } else if (which == 1) {
        cb_wechat_t w;
        if (cb_wechat_parse(text, size, &w, err) == NUDGE_OK) {
            if (!w.from[0] || !w.msg_type[0]) abort();
        } else if (!err[0]) {
            abort();
        }
    } else {
        cb_is_opt_out_reply(text);
        char phone[40];
        if (cb_phone_normalize(text, phone, sizeof phone) == NUDGE_OK && !phone[0]) abort();
    }
    free(text);
    return 0;
}
