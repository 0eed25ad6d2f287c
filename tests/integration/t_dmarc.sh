#!/bin/bash
# DMARC through a real postern: policy records and DKIM keys served by
# unbound on loopback, messages signed by dkimpy. DKIM aligned and unaligned
# (relaxed, and strict with adkim=s), p=none, p=quarantine, p=reject, a
# subdomain under sp=, pct=0, no record, no From and two From domains; each
# with the action postern takes (550 5.7.1, quarantine, delivery) and the
# dmarc= result in the Authentication-Results the backend gets. With the spf
# filter: SPF aligned and unaligned, and an SPF fail that waits for DMARC:
# forgiven when an aligned DKIM signature passes, refused (SPF's 550 5.7.23)
# at the end of the message when none does.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks openssl dkimsign
[ -r /usr/share/publicsuffix/public_suffix_list.dat ] || skip "no public suffix list (publicsuffix)"

openssl genrsa -out "$T/rsa.key" 2048 2>/dev/null
pub=$(openssl rsa -in "$T/rsa.key" -pubout -outform DER 2>/dev/null | base64 -w0)
key() { # DOMAIN -> its rsa._domainkey record
	printf 'rsa._domainkey.%s. TXT "v=DKIM1; k=rsa; p=%s" "%s"' "$1" "${pub:0:200}" "${pub:200}"
}
start_unbound dns \
	'_dmarc.reject.test. TXT "v=DMARC1; p=reject"' \
	'_dmarc.quarantine.test. TXT "v=DMARC1; p=quarantine"' \
	'_dmarc.none.test. TXT "v=DMARC1; p=none"' \
	'_dmarc.parent.test. TXT "v=DMARC1; p=none; sp=reject"' \
	'_dmarc.strict.test. TXT "v=DMARC1; p=reject; adkim=s"' \
	'_dmarc.sample.test. TXT "v=DMARC1; p=reject; pct=0"' \
	'_dmarc.several.test. TXT "v=DMARC1; p=reject"' \
	'_dmarc.several.test. TXT "v=DMARC1; p=none"' \
	'helo.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"' \
	'bounce.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"' \
	'spfok.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"' '_dmarc.spfok.test. TXT "v=DMARC1; p=reject"' \
	'spfbad.test. TXT "v=spf1 -all"' '_dmarc.spfbad.test. TXT "v=DMARC1; p=reject"' \
	"$(key reject.test)" "$(key other.test)" "$(key parent.test)" "$(key strict.test)" \
	"$(key spfbad.test)"

start_sink sink
start_px px "$sink_port" "dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 2s }
filters:
  dkim: {}
  dmarc: {}
policies:
  - name: default
    chain: [ dkim, dmarc ]"

# message CASE FROM -> an unsigned message from FROM ("" for no From field)
message() {
	[ -n "$2" ] && printf 'From: %s\r\n' "$2"
	printf 'To: bob@example.org\r\nSubject: case %s\r\nDate: Wed, 02 Dec 2026 02:00:00 +0000\r\n' "$1"
	printf 'Message-ID: <%s@dmarc.test>\r\n\r\nDMARC case %s.\r\n' "$1" "$1"
}
signed() { # CASE FROM DOMAIN
	message "$1" "$2" | dkimsign rsa "$3" "$T/rsa.key"
}
# send CASE FILE [ENVELOPE_FROM] -> sets reply (the reply to the message) and ar (the backend's
# Authentication-Results, unfolded; empty when nothing was delivered)
send() {
	local f
	reply=$(swaks --server "127.0.0.1:$px_port" --helo helo.test --from "${3:-bounce@example.org}" \
		--to bob@example.org --data "$2" 2>&1 | grep -E '^<[-*]+ +[0-9]{3} ' | tail -n 2 | head -n 1)
	f=$(grep -l "Message-ID: <$1@dmarc.test>" $(sink_files sink) 2>/dev/null | head -n 1)
	ar=
	headers=
	[ -z "$f" ] && return
	headers=$(sink_body "$f" | tr -d '\r' | sed '/^$/q')
	ar=$(awk '/^Authentication-Results:/ { on = 1; printf "%s", $0; next }
	     on && /^[ \t]/ { printf " %s", $0; next } { on = 0 }' <<<"$headers" | tr -s ' \t' ' ')
}

signed aligned 'Alice <alice@reject.test>' reject.test >"$T/m1"
send aligned "$T/m1"
check_match "aligned DKIM, p=reject: delivered" "$reply" '250 2\.0\.0 Ok'
check_match "aligned DKIM: dmarc=pass" "$ar" 'dmarc=pass \(p=reject dis=none\) header\.from=reject\.test'

message unsigned alice@reject.test >"$T/m2"
send unsigned "$T/m2"
check_match "no signature, p=reject: 550 5.7.1, the domain named" "$reply" \
	'550 5\.7\.1 DMARC policy of reject\.test: reject'
check_eq "no signature, p=reject: nothing delivered" "" "$ar"

signed unaligned alice@reject.test other.test >"$T/m3"
send unaligned "$T/m3"
check_match "unaligned DKIM (d=other.test), p=reject: 550 5.7.1" "$reply" '550 5\.7\.1'
check_contains "the transaction log names DMARC" "$(cat "$px_log")" 'dmarc.dmarc_policy=reject'

message quarantine alice@quarantine.test >"$T/m4"
send quarantine "$T/m4"
check_match "p=quarantine: accepted" "$reply" '250 2\.0\.0 Ok'
check_match "p=quarantine: dmarc=fail" "$ar" 'dmarc=fail \(p=quarantine dis=quarantine\) header\.from=quarantine\.test'
check_contains "p=quarantine: quarantined (no quarantine store: tagged)" "$headers" \
	'X-Postern-Action: quarantine (dmarc_policy=quarantine)'

message none alice@none.test >"$T/m5"
send none "$T/m5"
check_match "p=none: delivered" "$reply" '250 2\.0\.0 Ok'
check_match "p=none: dmarc=fail, nothing done" "$ar" 'dmarc=fail \(p=none dis=none\) header\.from=none\.test'
check_not_contains "p=none: no action header" "$headers" 'X-Postern-Action'

message subdomain alice@mail.parent.test >"$T/m6"
send subdomain "$T/m6"
check_match "subdomain under sp=reject: 550 5.7.1" "$reply" '550 5\.7\.1'

signed subdomain-aligned alice@mail.parent.test parent.test >"$T/m7"
send subdomain-aligned "$T/m7"
check_match "subdomain, d= the organizational domain: delivered" "$reply" '250 2\.0\.0 Ok'
check_match "subdomain, relaxed alignment: dmarc=pass" "$ar" 'dmarc=pass .*header\.from=mail\.parent\.test'

signed strict alice@mail.strict.test strict.test >"$T/m8"
send strict "$T/m8"
check_match "adkim=s, d= the parent: not aligned, 550 5.7.1" "$reply" '550 5\.7\.1'

message sample alice@sample.test >"$T/m9"
send sample "$T/m9"
check_match "p=reject pct=0: the next milder policy, accepted" "$reply" '250 2\.0\.0 Ok'
check_match "p=reject pct=0: dis=quarantine" "$ar" 'dmarc=fail \(p=reject dis=quarantine\) header\.from=sample\.test'

message norecord alice@norecord.test >"$T/m10"
send norecord "$T/m10"
check_match "no DMARC record: delivered" "$reply" '250 2\.0\.0 Ok'
check_match "no DMARC record: dmarc=none" "$ar" 'dmarc=none header\.from=norecord\.test'

message twofrom 'alice@reject.test, eve@none.test' >"$T/m11"
send twofrom "$T/m11"
check_match "two From domains: dmarc=permerror" "$ar" 'dmarc=permerror \(several From addresses\)'

signed quoted-comma '"Doe, Alice" <alice@reject.test> (work, mostly)' reject.test >"$T/m20"
send quoted-comma "$T/m20"
check_match "a display name and a comment with commas: one address, dmarc=pass" "$ar" \
	'dmarc=pass .*header\.from=reject\.test'

message nofrom "" >"$T/m12"
send nofrom "$T/m12"
check_match "no From field: dmarc=permerror" "$ar" 'dmarc=permerror \(no From field\)'

message tworecords alice@several.test >"$T/m13"
send tworecords "$T/m13"
check_match "two DMARC records: no policy (RFC 7489 6.6.3)" "$ar" 'dmarc=none header\.from=several\.test'

# The default rules give way to a policy's own: dmarc_policy: { reject: tag }.
start_px px2 "$sink_port" "dns: { servers: [ 127.0.0.1:$dns_port ] }
filters:
  dkim: {}
  dmarc: {}
policies:
  - name: default
    chain: [ dkim, dmarc ]
    dmarc_policy: { reject: tag }"
px_port=$px2_port
message own-rules alice@reject.test >"$T/m14"
send own-rules "$T/m14"
check_match "dmarc_policy: { reject: tag }: delivered" "$reply" '250 2\.0\.0 Ok'
check_contains "dmarc_policy: { reject: tag }: tagged" "$headers" 'X-Postern-Action: tag (dmarc_policy=reject)'

# The dmarc filter's timeout while its query is unanswered: cancelled, on_error applies.
start_px px4 "$sink_port" "dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 3s, attempts: 1 }
filters:
  dmarc: { timeout: 1s, on_error: tempfail }
policies:
  - name: default
    chain: [ dmarc ]"
px_port=$px4_port
message slow alice@slow.example >"$T/m19"
send slow "$T/m19"
check_match "dmarc timeout, on_error tempfail: 451" "$reply" '451 4\.7\.1'
check_contains "dmarc timeout: logged" "$(cat "$px4_log")" 'event=filter_timeout filter=dmarc'

# With SPF: the shipped order, spf then dkim then dmarc, and SPF fail refused.
start_px px3 "$sink_port" "dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 2s }
filters:
  spf: {}
  dkim: {}
  dmarc: {}
policies:
  - name: default
    chain: [ spf, dkim, dmarc ]
    spf: { fail: reject }"
px_port=$px3_port
message spf-aligned alice@spfok.test >"$T/m15"
send spf-aligned "$T/m15" bounce@spfok.test
check_match "SPF pass, aligned (no DKIM), p=reject: delivered" "$reply" '250 2\.0\.0 Ok'
check_match "SPF pass, aligned: dmarc=pass" "$ar" 'spf=pass smtp\.mailfrom=spfok\.test.*dmarc=pass .*header\.from=spfok\.test'

message spf-unaligned alice@reject.test >"$T/m16"
send spf-unaligned "$T/m16" someone@bounce.test
check_match "SPF pass, not aligned, p=reject: 550 5.7.1" "$reply" '550 5\.7\.1'

signed spf-forgiven alice@spfbad.test spfbad.test >"$T/m17"
send spf-forgiven "$T/m17" someone@spfbad.test
check_match "SPF fail, aligned DKIM passes: forgiven, delivered" "$reply" '250 2\.0\.0 Ok'
check_match "SPF fail forgiven: both results in the header" "$ar" \
	'spf=fail smtp\.mailfrom=spfbad\.test.*dkim=pass header\.d=spfbad\.test.*dmarc=pass'

message spf-refused alice@spfbad.test >"$T/m18"
out=$(swaks --server "127.0.0.1:$px_port" --helo helo.test --from someone@spfbad.test \
	--to bob@example.org --data "$T/m18" 2>&1)
check_match "SPF fail, no DKIM: MAIL accepted (SPF waits for DMARC)" "$out" '<- +250 2\.1\.0'
check_match "SPF fail, no DKIM: refused at the end of data with SPF's reply" "$out" \
	'<\*\* +550 5\.7\.23 SPF fail for spfbad\.test'

it_done
