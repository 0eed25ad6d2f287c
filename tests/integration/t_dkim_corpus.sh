#!/bin/bash
# The DKIM material in ../shared/testdata/dkim, verified by postern's dkim
# filter as shipped (postern --explain, keys from a real unbound on loopback):
# the RFC 8463 example messages (dkimpy's test data) must pass; each file of
# the Mail::DKIM corpus gets the result expected-results.tsv names (pass,
# fail, invalid), except where libopendkim and RFC 8301 differ from Mail::DKIM,
# listed with the reason in dkim_corpus_deviations.txt: those must differ for
# exactly that reason. Prints one line per file and "N passed, N failed".
# Skipped (77) when the test data is not there.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd unbound
# TESTDATA overrides where the shared test data is (a worktree elsewhere).
D=${TESTDATA:-${top_srcdir:-$IT_DIR/../..}/../shared/testdata}/dkim
[ -f "$D/mail-dkim/expected-results.tsv" ] || skip "no $D (the shared test data)"
DEVIATIONS=$IT_DIR/dkim_corpus_deviations.txt

# A TXT record in zone-file syntax, its text split into strings of 200 octets.
txt() {
	local out="$1 TXT" text=$2
	[ -z "$text" ] && out+=' ""'
	while [ -n "$text" ]; do
		out+=" \"${text:0:200}\""
		text=${text:200}
	done
	printf '%s' "$out"
}

# FAKE_DNS.dat: "name value"; NXDOMAIN, a timeout and SERVFAIL as they say.
zone=('local-zone: "football.example.com." static'
	"$(txt test._domainkey.football.example.com. "$(tr -d '\r\n' <"$D/test.txt")")"
	'brisbane._domainkey.football.example.com. TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="')
declare -A zones=()
while read -r name value; do
	case $name in '#'* | '') continue ;; esac
	domain=${name#*._domainkey.}
	case $value in
	'~~'*) zones[$domain]=transparent ;; # asked onwards: to a port where nothing answers
	NXDOMAIN) zones[$domain]=${zones[$domain]:-static} ;;
	*)
		zones[$domain]=${zones[$domain]:-static}
		[ "$value" = '""' ] && value=
		zone+=("$(txt "$name." "$value")")
		;;
	esac
done < <(tr -d '\r' <"$D/mail-dkim/FAKE_DNS.dat")
for domain in "${!zones[@]}"; do
	zone+=("local-zone: \"$domain.\" ${zones[$domain]}")
done
start_unbound dns "${zone[@]}"

cat >"$T/px.yaml" <<EOF
dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 2s, attempts: 1 }
filters:
  dkim: { timeout: 30s }
policies:
  - name: default
    chain: [ dkim ]
EOF

# explain FILE -> the dkim findings, one "RESULT (detail)" a line
explain() {
	"$POSTERN" -c "$T/px.yaml" --explain "$1" --from a@example.org --rcpt b@example.org 2>&1 |
		tee -a "$T/explain.log" | sed -n 's/^ *finding: [^ ]* dkim=//p'
}
# Mail::DKIM's word for a message: its best signature.
verdict() {
	if grep -q '^pass' <<<"$1"; then
		echo pass
	elif grep -q '^fail' <<<"$1"; then
		echo fail
	elif grep -qE '^(permerror|temperror|policy|neutral)' <<<"$1"; then
		echo invalid
	else
		echo none
	fi
}
# Why libopendkim and RFC 8301 differ from Mail::DKIM here, as the findings say.
reason_of() {
	case $1 in
	*'rsa-sha1 is not accepted'*) echo rsa-sha1 ;;
	*'key too small'*) echo short-key ;;
	*'(version missing)'* | *'(unsupported signature version)'*) echo pre-rfc-draft ;;
	none*) grep -qi '^DomainKey-Signature:' "$2" && echo domainkeys-only || echo none ;;
	*) echo other ;;
	esac
}

for f in rfc6376.signed.msg rfc6376.signed.rsa.msg; do
	found=$(explain "$D/$f")
	printf '%s: %s\n' "$f" "$(tr '\n' ';' <<<"$found")"
	check_eq "$f: every signature passes" "$(grep -c . <<<"$found")" "$(grep -c '^pass' <<<"$found")"
done
check_match "rfc6376.signed.msg: the ed25519 signature" "$(explain "$D/rfc6376.signed.msg")" \
	'^pass .*header\.s=brisbane header\.a=ed25519-sha256'

passed=0 failed=0 deviated=0
while IFS=$'\t' read -r file expected _; do
	case $file in '#'* | '') continue ;; esac
	found=$(explain "$D/mail-dkim/corpus/$file")
	got=$(verdict "$found")
	listed=$(awk -F'\t' -v f="$file" '$1 == f { print $2 }' "$DEVIATIONS")
	if [ "$got" = "$expected" ]; then
		passed=$((passed + 1))
		printf '%-28s expected %-7s got %-7s ok\n' "$file" "$expected" "$got"
		[ -n "$listed" ] && fail "$file: listed as a deviation ($listed) but agrees now"
		continue
	fi
	failed=$((failed + 1))
	reason=$(reason_of "$found" "$D/mail-dkim/corpus/$file")
	printf '%-28s expected %-7s got %-7s deviation: %s (%s)\n' "$file" "$expected" "$got" \
		"$reason" "$(head -n 1 <<<"$found")"
	if [ "$listed" = "$reason" ]; then
		deviated=$((deviated + 1))
	else
		fail "$file: expected $expected, got $got ($reason), listed: ${listed:-no}" "$found"
	fi
done <"$D/mail-dkim/expected-results.tsv"
echo "$passed passed, $failed failed ($deviated of them documented deviations)"
check_eq "every difference from Mail::DKIM is a documented deviation" "$failed" "$deviated"
check_no_match "postern --explain: no sanitizer report" "$(cat "$T/explain.log")" \
	'ERROR: (Address|Leak)Sanitizer|runtime error: |WARNING: .*Sanitizer'

it_done
