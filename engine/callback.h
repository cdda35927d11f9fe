/* callback.h - what providers push back to us, parsed and checked: Alibaba
 * Cloud SMS receipts and replies, and WeChat Official Account server
 * callbacks. Pure functions: no network, no SQL, no HTTP; the caller owns
 * the request and decides what to store.
 *
 * A malformed push is refused whole (NUDGE_ERR with a message naming the
 * item and field), never half-applied, and nothing is truncated silently:
 * a value longer than its field is an error naming the field. */
#ifndef NUDGE_CALLBACK_H
#define NUDGE_CALLBACK_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* ---- Alibaba Cloud SMS, HTTP batch push mode ----
 *
 * SmsReport (delivery receipts) and SmsUp (inbound replies) both POST a
 * JSON array of items; a single object is accepted as one item. An item
 * is a report when it has "success", "err_code" or "report_time", a reply
 * when it has "content"; one with neither or both is an error. Unknown
 * fields are ignored; a known field that is null counts as absent.
 *
 * Errors name the item by its 0-based index in the array, as jq's .[3]:
 * "item 3: phone_number must be a string". */

#define CB_SMS_REPORT 1
#define CB_SMS_REPLY  2
#define CB_SMS_MAX_ITEMS 1000

typedef struct cb_sms_item {
    int kind;              /* CB_SMS_REPORT or CB_SMS_REPLY */
    char phone[32];        /* phone_number as pushed (see cb_phone_normalize) */
    /* reports */
    char out_id[256];      /* our OutId from SendSms (an idempotency key, under 256 bytes); empty when absent */
    char biz_id[96];       /* Alibaba's BizId, "932702304080415357^0" */
    int success;           /* 1 delivered; "success", or err_code DELIVERED when absent */
    char err_code[64];     /* "DELIVERED", "MK:0001", ... */
    char err_msg[256];
    /* replies */
    char content[512];     /* the text the member sent */
    char sign_name[128];   /* the signature the reply answers */
    char dest_code[32];    /* the extension number it was sent to */
    char sequence_id[32];  /* Alibaba's sequence number, digits; for deduplication */
    /* report_time of a report (send_time if it has none), send_time of a
     * reply: "2027-01-22 10:00:05", China Standard Time, no zone given */
    char at[32];
} cb_sms_item_t;

/* Parse a push body of len bytes. On NUDGE_OK *items is a heap array of *n
 * items (NULL and 0 for an empty array) the caller frees with free(). On
 * NUDGE_ERR *items is NULL, *n is 0 and err says why. At most
 * CB_SMS_MAX_ITEMS items. */
int cb_aliyun_parse(const char *body, size_t len, cb_sms_item_t **items, int *n, char *err);

/* 1 when a reply's content means "unsubscribe me", else 0.
 *
 * The whole reply must be one of these words, case-insensitive for Latin
 * letters, full-width letters (ＴＤ) counting as ASCII:
 *     T  TD  R  N  Q  T退订  TD退订  退订  退  取消  拒收  unsubscribe  stop
 * Spaces anywhere (ASCII, full-width U+3000, no-break) are ignored, and
 * so is punctuation at either end, ASCII or CJK: "TD。", " td ", "【退订】",
 * "Ｔ Ｄ！". Deliberately conservative: a longer reply is not an opt-out even
 * when it contains one of the words: "Thanks", "TDK", "退订吧？", "不要退订",
 * "T.D". Those go to a human, not to the suppression list. */
int cb_is_opt_out_reply(const char *content);

/* Normalise a phone number for matching: drop spaces, tabs and dashes;
 * a mainland mobile (11 digits starting with 1) loses a leading +86, 0086
 * or 86. Writes into out and returns NUDGE_OK for
 *   - a mainland mobile:             "+86 138-0013-8000" -> "13800138000"
 *   - an international number, a leading + or 00 then 7..15 digits:
 *                                    "00852 9123 4567" -> "+85291234567"
 *   - other digits, 7..15 of them (a landline, or the country-code-first
 *     form Alibaba uses for international numbers): kept as they are.
 * Anything else (letters, too short or long, out too small) is NUDGE_ERR
 * with out set to "". */
int cb_phone_normalize(const char *in, char *out, size_t outlen);

/* ---- WeChat Official Account server callbacks ---- */

/* The query-string check of every callback: 1 when signature is the hex
 * SHA-1 of the bytewise-sorted concatenation of token, timestamp and
 * nonce, else 0. Also 0 for an empty token, a timestamp that is not all
 * digits, or a signature that is not 40 hex digits (either case). The
 * comparison takes constant time. Freshness of timestamp is the caller's
 * to check. */
int cb_wechat_signature_ok(const char *token, const char *timestamp, const char *nonce,
                           const char *signature);

#define CB_WECHAT_MAX_BODY 65536

typedef struct cb_wechat {
    char to[64];           /* ToUserName: the account, "gh_7f083739789a" */
    char from[64];         /* FromUserName: the member's OpenID */
    int64_t create_time;   /* CreateTime, Unix seconds; 0 when absent */
    char msg_type[32];     /* MsgType: "event", "text", "image", ... */
    char event[64];        /* Event: "TEMPLATESENDJOBFINISH", "subscribe", "unsubscribe", ... */
    char msg_id[32];       /* MsgID of a template job, MsgId of a message */
    char status[128];      /* Status: "success", "failed:user block", "failed: system failed" */
    char event_key[128];   /* EventKey: "qrscene_123" on a subscribe by QR code */
} cb_wechat_t;

/* Parse a plaintext-mode push (<xml> with one child element per field) of
 * len bytes, at most CB_WECHAT_MAX_BODY. Values are trimmed of white space;
 * other children are ignored, nested elements too. FromUserName and
 * MsgType are required; a field given twice is an error. Any DOCTYPE is
 * refused, so entity declarations (billion laughs, external entities)
 * never reach expat's expansion. Safe (encrypted) mode is not supported:
 * a body with <Encrypt> is an error that says so. On NUDGE_ERR *out is
 * all zero and err says why: expat's message with its line ("line 1: not
 * well-formed (invalid token)") or the field at fault. */
int cb_wechat_parse(const char *xml, size_t len, cb_wechat_t *out, char *err);

#endif
