#!/usr/bin/env bash
# EDM through a real SMTP server from Debian's packages (python3-aiosmtpd),
# on 127.0.0.1: the message that arrives is parsed and checked: headers,
# the decoded RFC 2047 subject, both parts, the one-click unsubscribe.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { bad "python3-aiosmtpd is not installed (make deps)"; finish; exit 1; }
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/maildir/tmp" "$T/maildir/new" "$T/maildir/cur"
$PY -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$T/maildir" 2>"$T/smtpd.err" &
SMTPD=$!
trap 'kill $SMTPD 2>/dev/null; kill -9 $RUNPID 2>/dev/null' EXIT
for _ in $(seq 50); do $PY -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" 2>/dev/null && break; sleep 0.1; done

W=$(new_ws edm Asia/Shanghai)
cp "$ROOT/rules-examples/templates/member_day.lua" "$W/templates/"
printf 'id,name,email,tier\nE1,王芳,wang.fang@example.com,gold\n' > "$T/m.csv"
"$NUDGE" import "$W" "$T/m.csv" >/dev/null
cat >> "$W/nudge.conf" <<EOF2

[edm]
url = smtp://127.0.0.1:$PORT
starttls = no
from = 悦肤会员中心 <member@yuefu.example>
unsubscribe_url = https://yuefu.example/u?t={token}
unsubscribe_secret = env:NUDGE_TEST_UNSUB_SECRET
backoff_ms = 200
EOF2
at=$(date -u -d '+2 sec' +%Y-%m-%dT%H:%M:%SZ)
cat > "$W/journeys/news.lua" <<EOF2
return journey "news" {
  trigger = once("$at"), quiet_hours = false,
  steps = { send { id = "go", template = "member_day", channels = { "edm" } } },
}
EOF2
NUDGE_TEST_UNSUB_SECRET=s3cret "$NUDGE" run "$W" 2>"$T/run.log" &
RUNPID=$!
for _ in $(seq 150); do [ -n "$(ls "$T/maildir/new" 2>/dev/null)" ] && break; sleep 0.1; done
sleep 0.5
kill -TERM $RUNPID; wait $RUNPID
check_status "run exits 0" 0 $?
check_eq "one message arrived" 1 "$(ls "$T/maildir/new" | wc -l)"
check_eq "the outbox says sent" 1 "$("$NUDGE" outbox "$W" --status sent | tail -n +2 | wc -l)"
$PY - "$T/maildir" > "$T/parsed.txt" <<'PYEOF'
import mailbox, sys, email.header, email.policy
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
for key in box.keys():
    raw = box.get_bytes(key)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    print("from:", msg["From"])
    print("to:", msg["To"])
    print("subject:", str(msg["Subject"]))
    print("raw-subject-encoded:", "=?UTF-8?B?" in raw.decode("ascii", "replace"))
    print("message-id:", msg["Message-ID"])
    print("unsub:", msg["List-Unsubscribe"])
    print("unsub-post:", msg["List-Unsubscribe-Post"])
    print("type:", msg.get_content_type())
    for part in msg.iter_parts():
        print("part:", part.get_content_type(), part.get_content().strip().replace("\n", "|"))
PYEOF
P=$(cat "$T/parsed.txt")
check_contains "from, with its display name" "$P" "from: 悦肤会员中心 <member@yuefu.example>"
check_contains "to" "$P" "to: wang.fang@example.com"
check_contains "subject decoded" "$P" "subject: 王芳，今天是悦肤会员日："
check_contains "subject was RFC 2047 encoded" "$P" "raw-subject-encoded: True"
check_contains "Message-ID from the idempotency key" "$P" "message-id: <n"
check_contains "one-click unsubscribe URL with an opaque token" "$P" "unsub: <https://yuefu.example/u?t="
check_eq "the token is not the member id" "" "$(grep '^unsub:' "$T/parsed.txt" | grep E1)"
check_contains "one-click post header" "$P" "unsub-post: List-Unsubscribe=One-Click"
check_contains "multipart/alternative" "$P" "type: multipart/alternative"
check_contains "text part" "$P" "part: text/plain 王芳您好："
check_contains "html part" "$P" "part: text/html <html><body><p>王芳您好：</p>"
finish
