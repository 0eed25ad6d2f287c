#!/bin/bash
# The spamd filter against a real SpamAssassin spamd on loopback (local
# tests only, no network rules): GTUBE is rejected with 550 5.7.1,
# sample-nonspam.txt is delivered with its score in X-Spam-Score; spamd over
# a unix socket; a message above max_size is not sent; spamd down follows
# on_error (tempfail, continue); a spamd that never answers hits the
# filter's timeout.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd spamd swaks smtp-sink socat

examples=/usr/share/doc/spamassassin/examples
for f in sample-spam.txt sample-nonspam.txt; do
	if [ -f "$examples/$f" ]; then
		cp "$examples/$f" "$T/$f"
	elif [ -f "$examples/$f.gz" ]; then
		zcat "$examples/$f.gz" >"$T/$f"
	else
		skip "no $examples/$f"
	fi
done

start_spamd spamd

# A spamd that accepts and never answers, and a port where nothing listens.
mute_port=$(free_port)
socat -t 60 "TCP-LISTEN:$mute_port,bind=127.0.0.1,reuseaddr,fork" SYSTEM:'sleep 60' &
it_track $!
wait_port "$mute_port"
dead_port=$(free_port)

start_sink sink
start_px px "$sink_port" "
filters:
  sa: { type: spamd, address: 127.0.0.1:$spamd_port, timeout: 30s, user: nobody }
  sa_unix: { type: spamd, address: $spamd_sock, command: report, timeout: 30s }
  sa_small: { type: spamd, address: 127.0.0.1:$spamd_port, max_size: 512 }
  sa_down: { type: spamd, address: 127.0.0.1:$dead_port, on_error: tempfail }
  sa_down_ok: { type: spamd, address: 127.0.0.1:$dead_port, on_error: continue }
  sa_mute: { type: spamd, address: 127.0.0.1:$mute_port, timeout: 2s, on_error: tempfail }
policies:
  - name: default
    chain: [ sa ]
    spam: { tag: 5, reject: 10 }
  - { name: unix, match: { rcpt_domain: unix.test }, chain: [ sa_unix ], spam: { reject: 10 } }
  - { name: small, match: { rcpt_domain: small.test }, chain: [ sa_small ], spam: { reject: 10 } }
  - { name: down, match: { rcpt_domain: down.test }, chain: [ sa_down ] }
  - { name: down_ok, match: { rcpt_domain: downok.test }, chain: [ sa_down_ok ] }
  - { name: mute, match: { rcpt_domain: mute.test }, chain: [ sa_mute ] }"

send() { # FILE RCPT -> the server's replies
	swaks --server "127.0.0.1:$px_port" --from a@client.test --to "$2" --data "$1" 2>&1 |
		grep -E '^<'
}
last_message() { # the newest dump
	cat "$(ls -t "$sink_dir"/m.* | head -n 1)"
}

n=$(sink_count sink)
out=$(send "$T/sample-spam.txt" b@sink.test)
check_match "GTUBE: 550 5.7.1" "$out" '^<\*\* 550 5\.7\.1 '
check_eq "GTUBE: nothing reached the backend" "$n" "$(sink_count sink)"
check_match "GTUBE: the transaction log names spamd's score" "$(cat "$px_log")" \
	'action=reject findings=sa\.spam=spam\(1000\.0\)'

out=$(send "$T/sample-nonspam.txt" b@sink.test)
check_match "sample-nonspam: delivered" "$out" '^<-  250 2\.0\.0 Ok'
check_eq "sample-nonspam: at the backend" $((n + 1)) "$(sink_count sink)"
msg=$(last_message)
check_match "sample-nonspam: X-Spam-Score header" "$msg" '^X-Spam-Score: -?[0-9]+\.[0-9]'
check_match "sample-nonspam: X-Spam-Status No, with spamd's finding" "$msg" \
	'^X-Spam-Status: No, score=-?[0-9.]+ tag=5\.0 reject=10\.0 tests=sa\.ham\('
check_contains "sample-nonspam: the message itself unchanged" "$msg" 'TBTF ping for 2001-04-20'

out=$(send "$T/sample-spam.txt" b@unix.test)
check_match "unix socket, REPORT: GTUBE 550" "$out" '^<\*\* 550 5\.7\.1 '
check_match "unix socket, REPORT: rule names from the report" "$(cat "$px_log")" \
	'findings=sa_unix\.spam=spam\(1000\.0\)'

n=$(sink_count sink)
out=$(send "$T/sample-spam.txt" b@small.test)
check_match "above max_size: not scanned, delivered" "$out" '^<-  250 2\.0\.0 Ok'
check_eq "above max_size: at the backend" $((n + 1)) "$(sink_count sink)"
check_match "above max_size: logged" "$(cat "$px_log")" 'event=spam_skipped filter=sa_small size=[0-9]+ max_size=512'

out=$(send "$T/sample-nonspam.txt" b@down.test)
check_match "spamd down, on_error tempfail: 451" "$out" '^<\*\* 451 4\.7\.1 '
check_match "spamd down: logged" "$(cat "$px_log")" \
	"event=spamd_error filter=sa_down address=127\.0\.0\.1:$dead_port reason=spamd-unavailable"
n=$(sink_count sink)
out=$(send "$T/sample-nonspam.txt" b@downok.test)
check_match "spamd down, on_error continue: delivered" "$out" '^<-  250 2\.0\.0 Ok'
check_eq "spamd down, on_error continue: at the backend" $((n + 1)) "$(sink_count sink)"
check_not_contains "spamd down: no score header" "$(last_message)" 'X-Spam-Score'
check_match "spamd down: the error is a finding" "$(cat "$px_log")" \
	'policy=down_ok action=accept findings=sa_down_ok\.error=spamd-unavailable'

start=$(date +%s)
out=$(send "$T/sample-nonspam.txt" b@mute.test)
check_match "spamd mute, timeout 2s, on_error tempfail: 451" "$out" '^<\*\* 451 4\.7\.1 '
check_le "spamd mute: answered within 10 s" 10 $(($(date +%s) - start))
check_match "spamd mute: the timeout is logged" "$(cat "$px_log")" 'event=filter_timeout filter=sa_mute'

it_done
