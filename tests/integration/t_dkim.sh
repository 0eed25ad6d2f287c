#!/bin/bash
# DKIM verification through a real postern: messages signed by tools outside
# this project (dkimpy's dkimsign, Mail::DKIM, OpenDKIM's milter in signing
# mode driven by miltertest, and opendkim-testmsg)
# with keys made here and published by a real unbound on loopback; rsa and
# ed25519, simple and relaxed, several signatures on one message, l=; and each
# way a signature goes wrong: a tampered header, a tampered body, a revoked
# key, an expired signature, a missing key, a bad key record, From not signed,
# a key lookup that times out. The Authentication-Results postern adds at the
# smtp-sink backend says what postern found.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks openssl dkimsign opendkim-testmsg opendkim miltertest perl

# Keys: rsa (PKCS#1, as Mail::DKIM and OpenDKIM read it) and ed25519 (dkimpy's
# base64 seed); public keys as DKIM records want them.
openssl genrsa -traditional -out "$T/rsa.key" 2048 2>/dev/null ||
	openssl genrsa -out "$T/rsa.key" 2048 2>/dev/null
openssl rsa -in "$T/rsa.key" -pubout -outform DER 2>/dev/null | base64 -w0 >"$T/rsa.pub"
openssl genpkey -algorithm ed25519 -out "$T/ed.pem"
openssl pkey -in "$T/ed.pem" -outform DER | tail -c 32 | base64 -w0 >"$T/ed.seed"
openssl pkey -in "$T/ed.pem" -pubout -outform DER | tail -c 32 | base64 -w0 >"$T/ed.pub"

# A TXT record in zone-file syntax, its text split into strings of 200 octets.
txt() {
	local name=$1 text=$2 out="$1 TXT"
	while [ -n "$text" ]; do
		out+=" \"${text:0:200}\""
		text=${text:200}
	done
	printf '%s' "$out"
}
start_unbound dns \
	"$(txt rsa._domainkey.example.test "v=DKIM1; k=rsa; p=$(cat "$T/rsa.pub")")" \
	"$(txt ed._domainkey.example.test "v=DKIM1; k=ed25519; p=$(cat "$T/ed.pub")")" \
	'revoked._domainkey.example.test. TXT "v=DKIM1; k=rsa; p="' \
	'badrec._domainkey.example.test. TXT "v=DKIM1; k=rsa; p=bm90IGEga2V5"'

start_sink sink
start_px px "$sink_port" "dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 2s, attempts: 1 }
filters:
  dkim: { timeout: 20s, accept_rsa_sha1: true }
policies:
  - name: default
    chain: [ dkim ]"

n=0
# message CASE -> an unsigned message naming its case, CRLF lines
message() {
	printf 'From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: case %s\r\n' "$1"
	printf 'Date: Wed, 02 Dec 2026 02:00:00 +0000\r\nMessage-ID: <%s@example.test>\r\n' "$1"
	printf '\r\nHello,\r\n\r\nthis is case %s.\r\n' "$1"
}
# verify CASE FILE: sends it; ar= the Authentication-Results field the backend got, unfolded
verify() {
	local out f
	out=$(swaks --server "127.0.0.1:$px_port" --from alice@example.test --to bob@example.org \
		--data "$2" 2>&1)
	check_match "$1: delivered" "$out" '<- *250 2\.0\.0 Ok'
	f=$(grep -l "Message-ID: <$1@example.test>" $(sink_files sink) 2>/dev/null | head -n 1)
	ar=
	[ -n "$f" ] && ar=$(sink_body "$f" |
		awk '/^Authentication-Results:/ { on = 1; printf "%s", $0; next }
		     on && /^[ \t]/ { printf " %s", $0; next } { on = 0 }' | tr -d '\r' | tr -s ' \t' ' ')
}

sign_py() { # CASE HCANON BCANON ALG SELECTOR KEY
	message "$1" | dkimsign --hcanon "$2" --bcanon "$3" --signalg "$4" "$5" example.test "$6"
}

sign_py py-rsa-relaxed relaxed relaxed rsa-sha256 rsa "$T/rsa.key" >"$T/m1"
verify py-rsa-relaxed "$T/m1"
check_match "dkimpy rsa relaxed/relaxed: pass" "$ar" \
	'dkim=pass header\.d=example\.test header\.s=rsa header\.a=rsa-sha256 header\.b=("[A-Za-z0-9+/]{8}"|[A-Za-z0-9+]{8})'
b=$(sed -n 's/.*[; ]b=\([^ ;]*\).*/\1/p' "$T/m1" | tr -d '\r' | head -n1 | cut -c1-8)
check_contains "header.b is the start of b= ($b)" "${ar//\"/}" "header.b=$b"

sign_py py-rsa-simple simple simple rsa-sha256 rsa "$T/rsa.key" >"$T/m2"
verify py-rsa-simple "$T/m2"
check_match "dkimpy rsa simple/simple: pass" "$ar" \
	'dkim=pass header\.d=example\.test header\.s=rsa header\.a=rsa-sha256'

sign_py py-ed relaxed simple ed25519-sha256 ed "$T/ed.seed" >"$T/m3"
verify py-ed "$T/m3"
check_match "dkimpy ed25519-sha256 (RFC 8463): pass" "$ar" \
	'dkim=pass header\.d=example\.test header\.s=ed header\.a=ed25519-sha256'

message perl-rsa | perl "$IT_DIR/dkim_sign.pl" "$T/rsa.key" example.test rsa relaxed/relaxed >"$T/m4"
verify perl-rsa "$T/m4"
check_match "Mail::DKIM rsa relaxed/relaxed: pass" "$ar" \
	'dkim=pass header\.d=example\.test header\.s=rsa header\.a=rsa-sha256'

message perl-simple | perl "$IT_DIR/dkim_sign.pl" "$T/rsa.key" example.test rsa simple/simple >"$T/m5"
verify perl-simple "$T/m5"
check_match "Mail::DKIM rsa simple/simple: pass" "$ar" \
	'dkim=pass header\.d=example\.test header\.s=rsa header\.a=rsa-sha256'

# OpenDKIM itself: the opendkim milter in signing mode (rsa-sha256,
# relaxed/simple), fed by miltertest.
od_port=$(free_port)
cp "$T/rsa.key" "$T/od.key"
chmod 600 "$T/od.key"
printf '%s\n' "Mode s" "Domain example.test" "Selector rsa" "KeyFile $T/od.key" \
	"SignatureAlgorithm rsa-sha256" "Canonicalization relaxed/simple" \
	"Socket inet:$od_port@127.0.0.1" "Background no" "Syslog no" \
	"RequireSafeKeys no" >"$T/od.conf"
opendkim -f -x "$T/od.conf" >"$T/odkim.log" 2>&1 &
peer_started opendkim odkim "$od_port" "$T" $!
message odkim-milter >"$T/m0"
OD_PORT=$od_port OD_MSG=$T/m0 miltertest -s "$IT_DIR/opendkim_sign.lua" >"$T/m0.signed" 2>>"$T/odkim.log"
verify odkim-milter "$T/m0.signed"
check_match "OpenDKIM's milter (signing mode): pass" "$ar" \
	'dkim=pass header\.d=example\.test header\.s=rsa header\.a=rsa-sha256'

# opendkim-testmsg signs with libopendkim's default, rsa-sha1 (accepted here by accept_rsa_sha1).
message odkim | opendkim-testmsg -C -d example.test -s rsa -k "$T/rsa.key" >"$T/m6"
verify odkim "$T/m6"
check_match "OpenDKIM's signer: pass" "$ar" \
	'dkim=pass header\.d=example\.test header\.s=rsa header\.a=rsa-sha1'

# Three signers one after another: three signatures, each its own result.
sign_three() { # CASE
	message "$1" | perl "$IT_DIR/dkim_sign.pl" "$T/rsa.key" example.test rsa simple/simple |
		dkimsign --signalg ed25519-sha256 ed example.test "$T/ed.seed" |
		dkimsign --hcanon relaxed --bcanon relaxed rsa example.test "$T/rsa.key"
}
sign_three several >"$T/m7"
verify several "$T/m7"
check_eq "several signatures: three results" 3 "$(grep -o 'dkim=pass' <<<"$ar" | wc -l)"
check_match "several signatures: the ed25519 one among them" "$ar" 'dkim=pass [^;]*header\.a=ed25519-sha256'

# l=: what is added after the signed length does not break the signature.
message length | "$PYTHON" "$IT_DIR/dkim_sign.py" rsa example.test "$T/rsa.key" --length >"$T/m8"
printf 'appended after signing\r\n' >>"$T/m8"
verify length "$T/m8"
check_match "l= with text appended: pass" "$ar" 'dkim=pass header\.d=example\.test'

sign_py tampered-header relaxed relaxed rsa-sha256 rsa "$T/rsa.key" |
	sed 's/^Subject: case tampered-header/Subject: case tampered-header, changed/' >"$T/m9"
verify tampered-header "$T/m9"
check_match "tampered header: fail" "$ar" \
	'dkim=fail \(signature did not verify\) header\.d=example\.test header\.s=rsa'

sign_py tampered-body relaxed relaxed rsa-sha256 rsa "$T/rsa.key" | sed 's/^this is case/this was case/' >"$T/m10"
verify tampered-body "$T/m10"
check_match "tampered body: fail" "$ar" \
	'dkim=fail \(body hash mismatch\) header\.d=example\.test header\.s=rsa'

sign_py revoked relaxed relaxed rsa-sha256 revoked "$T/rsa.key" >"$T/m11"
verify revoked "$T/m11"
check_match "revoked key (p= empty): permerror" "$ar" \
	'dkim=permerror \(key revoked\) header\.d=example\.test header\.s=revoked'

message expired | perl "$IT_DIR/dkim_sign.pl" "$T/rsa.key" example.test rsa relaxed/relaxed expired >"$T/m12"
verify expired "$T/m12"
check_match "expired signature: permerror" "$ar" \
	'dkim=permerror \(signature expired\) header\.d=example\.test header\.s=rsa'

sign_py missing relaxed relaxed rsa-sha256 absent "$T/rsa.key" >"$T/m13"
verify missing "$T/m13"
check_match "no key published: permerror" "$ar" \
	'dkim=permerror \(no key\) header\.d=example\.test header\.s=absent'

sign_py badrec relaxed relaxed rsa-sha256 badrec "$T/rsa.key" >"$T/m14"
verify badrec "$T/m14"
check_match "bad key record: permerror" "$ar" \
	'dkim=permerror \(bad key record\) header\.d=example\.test header\.s=badrec'

message nofrom | "$PYTHON" "$IT_DIR/dkim_sign.py" rsa example.test "$T/rsa.key" --headers subject,to >"$T/m15"
verify nofrom "$T/m15"
check_match "From not signed: permerror" "$ar" \
	'dkim=permerror \(From is not signed\) header\.d=example\.test header\.s=rsa'

# slow.example is outside the test zones: unbound's stub there never answers.
message timeout | dkimsign rsa slow.example "$T/rsa.key" >"$T/m16"
start=$(date +%s)
verify timeout "$T/m16"
check_match "key lookup times out: temperror" "$ar" \
	'dkim=temperror \(key lookup failed\) header\.d=slow\.example header\.s=rsa'
check_le "the timeout is dns.timeout, not libopendkim's own" 8 $(($(date +%s) - start))

message unsigned >"$T/m18"
verify unsigned "$T/m18"
check_match "unsigned message: dkim=none" "$ar" 'dkim=none'

# max_signatures: the third of three signatures is not checked.
start_px px2 "$sink_port" "dns: { servers: [ 127.0.0.1:$dns_port ] }
filters:
  dkim: { max_signatures: 2 }
policies:
  - name: default
    chain: [ dkim ]"
px_port=$px2_port
sign_three limit >"$T/m17"
verify limit "$T/m17"
check_eq "max_signatures 2: two checked" 2 "$(grep -o 'dkim=pass' <<<"$ar" | wc -l)"
check_match "max_signatures 2: the rest reported" "$ar" \
	'dkim=policy \(1 more signatures not checked: max_signatures 2\)'

# The filter's own timeout before DNS gives up: the chain goes on without it
# (on_error: continue), and the lookup still running on the worker pool
# finishes on its own later (a sanitizer build checks nothing is left over).
start_px px3 "$sink_port" "dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 3s, attempts: 1 }
filters:
  dkim: { timeout: 1s, on_error: continue }
policies:
  - name: default
    chain: [ dkim ]"
px_port=$px3_port
message slow | dkimsign rsa slow.example "$T/rsa.key" >"$T/m19"
verify slow "$T/m19"
check_contains "dkim timeout: logged" "$(cat "$px3_log")" 'event=filter_timeout filter=dkim'
check_contains "dkim timeout: the finding error=timeout" "$(cat "$px3_log")" 'dkim.error=timeout'
sleep 3 # the abandoned lookup ends (dns.timeout) before postern is stopped

it_done
