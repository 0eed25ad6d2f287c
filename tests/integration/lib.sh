# lib.sh - the harness of postern's integration tests; sourced by each t_*.sh.
#
# Every test drives the real daemon ("$POSTERN", set by `make check`) with real
# peers on 127.0.0.1: Postfix's smtp-sink and smtp-source, swaks, a private
# throwaway Postfix instance, and smtptool.py (python3, standard library only)
# for byte-exact or hostile client input and a recording backend.
#
# A test sources this file, calls it_init, starts what it needs, makes its
# checks with the check_* helpers and ends with it_done. Peers are started on
# free ports and stopped by pid at exit (trap EXIT); temporary files live in
# $T, removed at exit unless KEEP_TMP=1. Exit status: 0 pass, 1 fail, 77 skip.
#
# Functions:
#   it_init                     set up $T, the exit trap, check the tools
#   need_cmd CMD...             skip (77) unless each command is installed
#   need_root                   skip unless running as root
#   need_postern_milter         skip unless $POSTERN_MILTER is built
#   free_port                   print a free TCP port on 127.0.0.1
#   wait_port PORT [PID]        wait until 127.0.0.1:PORT listens (PID alive)
#   wait_until SECONDS CMD...   run CMD every 0.1 s until it succeeds
#   at_least N CMD...           CMD prints a number >= N (for wait_until)
#   start_sink NAME [OPT...]    smtp-sink with dump files; sets NAME_port,
#                               NAME_dir (the dumps), NAME_pid
#   sink_count NAME             number of messages smtp-sink dumped
#   sink_body FILE              the message in a dump, as received
#   sink_digest NAME            "FROM SHA256 SIZE NRCPT" per dumped message
#   digest FILE [SENDER]        "SENDER SHA256 SIZE" of a file
#   start_rawsink NAME [OPT...] smtptool.py rawsink; sets NAME_port, NAME_dir
#   start_postfix NAME [SETTING...]
#                               a private Postfix, with more main.cf lines
#                               ("key = value"); sets NAME_port, NAME_conf,
#                               NAME_log (its maillog)
#   start_postfix_sasl NAME [SETTING...]
#                               start_postfix with AUTH (PLAIN, LOGIN) through
#                               a private Dovecot auth service on a free port;
#                               one user: alice@backend.test, password s3cret-Pw
#   postfix_queue_ids NAME      queue ids of the messages Postfix holds
#   make_certs DIR [NAME]       a throwaway CA (DIR/ca.pem) and a certificate
#                               for postern.test and backend.test signed by it
#                               (DIR/NAME.pem, DIR/NAME.key; NAME: server)
#   start_unbound NAME LINE...  unbound -d on a free port serving test zones;
#                               each LINE is a resource record in zone-file
#                               syntax ('a.test. TXT "v=spf1 -all"', put in
#                               local-data) or, when its first word ends in
#                               ':', an unbound server: option as it is
#                               ('local-zone: "a.example." static'). Names
#                               under test. (a static zone) and in such zones
#                               that have no data are NXDOMAIN; every other
#                               name is stubbed to a loopback port where
#                               nothing answers (a temporary error). Sets
#                               NAME_port, NAME_pid, NAME_conf; postern is
#                               pointed at it with --dns 127.0.0.1:$NAME_port
#                               or dns: { servers: [ 127.0.0.1:PORT ] }
#   postern_config PORT BACKEND_PORT [XCLIENT]
#                               print the hostname, listen, backend and log
#                               keys of a config (hostname postern.test)
#   start_postern NAME PORT YAML
#                               postern -c YAML (a file; call it in this shell,
#                               not in a pipeline); sets NAME_pid, NAME_log
#   start_px NAME BACKEND_PORT [YAML [XCLIENT]]
#                               postern_config + YAML on a free port, started;
#                               sets NAME_port, NAME_pid, NAME_log
#   start_spamd NAME            SpamAssassin's spamd (local tests only, no
#                               network rules, required_score 5, two
#                               children) on a free port and a unix socket,
#                               waited for until it answers PING (60 s);
#                               sets NAME_port, NAME_sock, NAME_pid, NAME_log
#   smtp PORT STEP...           smtptool.py client 127.0.0.1 PORT STEP...
#                               (each read waits up to $SMTP_TIMEOUT, 10 s;
#                               the client binds to $SMTP_BIND if set)
#   stop_pid PID                SIGTERM, wait (bounded), SIGKILL
#   check_eq DESC EXPECTED SEEN, check_contains DESC HAYSTACK NEEDLE,
#   check_not_contains DESC HAYSTACK NEEDLE, check_match DESC HAYSTACK ERE,
#   check_no_match DESC HAYSTACK ERE,
#   check_file_eq DESC EXPECTED_FILE SEEN_FILE, check_true DESC CMD...,
#   check_le DESC MAX SEEN
#   joined LINE...              the lines joined by "|" (expected reply runs)
#   it_done                     stop the posterns (each must exit 0 and have
#                               logged no sanitizer report), print the
#                               summary, exit 0 or 1

set -u
export LC_ALL=C PYTHONUNBUFFERED=1
PATH=$PATH:/usr/sbin:/sbin # smtp-sink, smtp-source, postfix

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SMTPTOOL="$IT_DIR/smtptool.py"
# The system python3 first: a version manager's shim costs 0.1 s a start.
if [ -z "${PYTHON:-}" ]; then
	PYTHON=python3
	[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
fi
POSTERN=${POSTERN:-${top_builddir:-$IT_DIR/../..}/proxy/postern}
POSTERN_MILTER=${POSTERN_MILTER:-${top_builddir:-$IT_DIR/../..}/milter/postern-milter}
IT_NAME=$(basename "$0" .sh)
IT_PASS=0
IT_FAIL=0
IT_PIDS=()
IT_POSTFIX=()
IT_LOGS=()
IT_POSTERNS=()
T=

it_log() {
	printf '%s: %s\n' "$IT_NAME" "$*" >&2
}

skip() {
	echo "SKIP: $IT_NAME: $*"
	exit 77
}

need_cmd() {
	local c
	for c; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

need_postern_milter() {
	[ -x "$POSTERN_MILTER" ] || skip "no postern-milter at $POSTERN_MILTER"
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (a private Postfix instance, smtp-sink -u)"
}

it_cleanup() {
	local i
	for ((i = ${#IT_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${IT_PIDS[i]}"
	done
	for i in "${IT_POSTFIX[@]}"; do
		postfix_stop "$i"
	done
	release_ports
	if [ "$IT_FAIL" -gt 0 ]; then
		for i in "${IT_LOGS[@]}"; do
			[ -s "$i" ] || continue
			echo "---- last lines of $i"
			tail -n 40 "$i"
		done
	fi
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "${KEEP_TMP:-0}" = 1 ]; then
			echo "kept $T"
		else
			rm -rf "$T"
		fi
	fi
}

it_init() {
	[ -x "$POSTERN" ] || skip "no postern binary at $POSTERN"
	need_cmd "$PYTHON"
	T=$(mktemp -d "${TMPDIR:-/tmp}/postern-$IT_NAME.XXXXXX") || exit 1
	chmod 755 "$T"
	trap it_cleanup EXIT
	trap 'exit 1' INT TERM
}

# Stop every postern still running: each must exit 0 on SIGTERM; and no
# postern may have logged a sanitizer report (ASan, LSan, UBSan builds).
it_check_posterns() {
	local entry name pid log i status
	for entry in "${IT_POSTERNS[@]}"; do
		read -r name pid log <<<"$entry"
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for ((i = 0; i < 100; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
			wait "$pid"
			status=$?
			check_eq "postern $name exits 0 within 10 s of SIGTERM" 0 "$status"
		fi
		check_no_match "postern $name: no sanitizer report" "$(cat "$log")" \
			'ERROR: (Address|Leak)Sanitizer|runtime error: |WARNING: .*Sanitizer'
	done
}

it_done() {
	it_check_posterns
	echo "$IT_NAME: $IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ] && exit 0
	exit 1
}

pass() {
	IT_PASS=$((IT_PASS + 1))
	echo "ok - $1"
}

fail() {
	IT_FAIL=$((IT_FAIL + 1))
	echo "FAIL - $1"
	shift
	local line
	for line; do
		printf '    %s\n' "$line"
	done
}

# Show at most 800 characters of a value in a failure report: its start and end.
it_show() {
	local s=$1
	[ ${#s} -gt 800 ] && s="${s:0:300}
...(${#1} characters in all)...
${s: -500}"
	printf '%s' "$s"
}

check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected: $(it_show "$2")" "seen:     $(it_show "$3")"
	fi
}

check_contains() {
	if [[ "$2" == *"$3"* ]]; then
		pass "$1"
	else
		fail "$1" "expected to contain: $3" "seen: $(it_show "$2")"
	fi
}

check_not_contains() {
	if [[ "$2" != *"$3"* ]]; then
		pass "$1"
	else
		fail "$1" "expected NOT to contain: $3" "seen: $(it_show "$2")"
	fi
}

check_match() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		pass "$1"
	else
		fail "$1" "expected a line matching: $3" "seen: $(it_show "$2")"
	fi
}

check_no_match() {
	local bad
	bad=$(printf '%s\n' "$2" | grep -E -- "$3")
	if [ -z "$bad" ]; then
		pass "$1"
	else
		fail "$1" "expected no line matching: $3" "seen: $(it_show "$bad")"
	fi
}

check_le() {
	if [ "$3" -le "$2" ]; then
		pass "$1"
	else
		fail "$1" "expected at most: $2" "seen: $3"
	fi
}

check_true() {
	local desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc" "command failed: $*"
	fi
}

check_file_eq() {
	if [ -f "$2" ] && [ -f "$3" ] && cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "files differ: expected $2, seen $3" \
			"$(cmp "$2" "$3" 2>&1 | head -n 1)" \
			"expected size $(wc -c <"$2" 2>/dev/null), seen size $(wc -c <"$3" 2>/dev/null)"
	fi
}

# Tests run in parallel (make -j) and a port is free only until someone binds
# it; smtp-sink even binds with SO_REUSEPORT, so two of them could share one.
# So each port handed out is also reserved, by a directory in IT_PORTS named
# after it and holding the test's pid; it_cleanup releases them, and a
# reservation whose test has died is taken over.
IT_PORTS=${TMPDIR:-/tmp}/postern-it-ports

reserve_port() {
	local dir=$IT_PORTS/$1 owner
	if ! mkdir "$dir" 2>/dev/null; then
		owner=$(cat "$dir/pid" 2>/dev/null)
		[ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && return 1
		rm -rf "$dir"
		mkdir "$dir" 2>/dev/null || return 1
	fi
	echo $$ >"$dir/pid"
}

release_ports() {
	local dir
	for dir in "$IT_PORTS"/*; do
		[ "$(cat "$dir/pid" 2>/dev/null)" = $$ ] && rm -rf "$dir"
	done
}

joined() {
	local IFS='|'
	printf '%s\n' "$*"
}

free_port() {
	local i port
	[ -d "$IT_PORTS" ] || mkdir -m 1777 "$IT_PORTS" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		port=$("$PYTHON" "$SMTPTOOL" freeport) || return 1
		if [ ! -w "$IT_PORTS" ] || reserve_port "$port"; then
			echo "$port"
			return 0
		fi
	done
	it_log "no free port could be reserved"
	return 1
}

port_listening() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# wait_port PORT [PID]: up to 10 s; fails early when PID has exited, and when
# the port is held by another process than PID (where ss shows owners).
wait_port() {
	local i users
	for ((i = 0; i < 200; i++)); do
		if port_listening "$1"; then
			[ -n "${2:-}" ] && command -v ss >/dev/null 2>&1 || return 0
			users=$(ss -Hltnp "sport = :$1" 2>/dev/null)
			[[ $users != *pid=* || $users == *"pid=$2,"* ]] && return 0
			it_log "127.0.0.1:$1 is held by another process: $users"
			return 1
		fi
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			it_log "process $2 exited before listening on port $1"
			return 1
		fi
		sleep 0.05
	done
	it_log "nothing listens on 127.0.0.1:$1 after 10 s"
	return 1
}

# wait_until SECONDS CMD...: poll every 0.1 s, at most SECONDS*10 times.
wait_until() {
	local n=$(($1 * 10)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# Record a background process so it is stopped at exit.
it_track() {
	IT_PIDS+=("$1")
}

start_sink() {
	local name=$1 port dir user=()
	shift
	need_cmd smtp-sink
	port=$(free_port) || return 1
	dir=$T/$name
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown nobody "$dir"
		user=(-u nobody)
	fi
	smtp-sink "${user[@]}" "$@" -d "$dir/m." "127.0.0.1:$port" 64 >"$T/$name.log" 2>&1 &
	peer_started smtp-sink "$name" "$port" "$dir" $!
}

# peer_started WHAT NAME PORT DIR PID: track a backend just started in the
# background, set NAME_port, NAME_dir and NAME_pid, and wait until it listens.
peer_started() {
	local what=$1 name=$2 port=$3 dir=$4 pid=$5
	it_track "$pid"
	IT_LOGS+=("$T/$name.log")
	printf -v "${name}_port" %s "$port"
	printf -v "${name}_dir" %s "$dir"
	printf -v "${name}_pid" %s "$pid"
	wait_port "$port" "$pid" || {
		fail "start $what $name" "$(cat "$T/$name.log")"
		it_done
	}
}

sink_count() {
	local dir="${1}_dir"
	find "${!dir}" -type f -name 'm.*' | wc -l
}

sink_files() {
	local dir="${1}_dir"
	find "${!dir}" -type f -name 'm.*' | sort
}

sink_body() {
	"$PYTHON" "$SMTPTOOL" sinkbody "$1"
}

sink_digest() {
	local dir="${1}_dir"
	"$PYTHON" "$SMTPTOOL" sinkdigest "${!dir}"
}

digest() {
	local sum
	sum=$(sha256sum <"$1")
	printf '%s %s %s\n' "${2:-}" "${sum%% *}" "$(wc -c <"$1")"
}

start_rawsink() {
	local name=$1 port dir
	shift
	port=$(free_port) || return 1
	dir=$T/$name
	mkdir -p "$dir"
	"$PYTHON" "$SMTPTOOL" rawsink --port "$port" --dir "$dir" "$@" >"$T/$name.log" 2>&1 &
	peer_started rawsink "$name" "$port" "$dir" $!
}

# A private Postfix instance: its own config, queue and data directories under
# $T, smtpd on 127.0.0.1:PORT only, XCLIENT allowed from loopback, local
# recipients postmaster, root and user (@localhost, @backend.test), every
# accepted message put on hold and every transport discard, so nothing leaves.
start_postfix() {
	local name=$1 port pf
	shift
	need_root
	need_cmd postfix postconf postcat postqueue
	port=$(free_port) || return 1
	pf=$T/$name
	mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
	chown postfix "$pf/data"
	cat >"$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = backend.test
mydomain = backend.test
myorigin = backend.test
mydestination = localhost, backend.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_peername_lookup = no
local_recipient_maps = inline:{ postmaster=ok, root=ok, user=ok }
alias_maps =
alias_database =
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_data_restrictions = check_client_access static:HOLD
default_transport = discard
local_transport = discard
relay_transport = discard
virtual_transport = discard
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
message_size_limit = 52428800
smtputf8_enable = yes
biff = no
smtpd_banner = \$myhostname ESMTP postfix-backend
EOF
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$pf/etc/main.cf"
	cat >"$pf/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
proxymap  unix  - - n - - proxymap
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
discard   unix  - - n - - discard
error     unix  - - n - - error
retry     unix  - - n - - error
showq     unix  n - n - - showq
flush     unix  n - n 1000? 0 flush
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix  - - n 1000? 1 tlsmgr
EOF
	IT_POSTFIX+=("$pf/etc")
	IT_LOGS+=("$pf/maillog")
	printf -v "${name}_port" %s "$port"
	printf -v "${name}_conf" %s "$pf/etc"
	printf -v "${name}_log" %s "$pf/maillog"
	if ! postfix -c "$pf/etc" start >"$T/$name.start.log" 2>&1; then
		fail "start Postfix $name" "$(cat "$T/$name.start.log")"
		it_done
	fi
	wait_port "$port" || {
		fail "start Postfix $name" "$(cat "$T/$name.start.log")"
		it_done
	}
}

start_postfix_sasl() {
	local name=$1 port dir=$T/dovecot-$1
	shift
	need_cmd dovecot
	port=$(free_port) || return 1
	mkdir -p "$dir"
	cat >"$dir/dovecot.conf" <<EOF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $port
  }
}
EOF
	printf 'alice@backend.test:{PLAIN}s3cret-Pw\n' >"$dir/passwd"
	chmod 644 "$dir/passwd"
	dovecot -F -c "$dir/dovecot.conf" >"$dir/dovecot.out" 2>&1 &
	it_track $!
	IT_LOGS+=("$dir/dovecot.log")
	wait_port "$port" $! || {
		fail "start dovecot for $name" "$(cat "$dir/dovecot.out")"
		it_done
	}
	start_postfix "$name" "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
		"smtpd_sasl_path = inet:127.0.0.1:$port" "$@"
}

postfix_stop() {
	local conf=$1 qdir pid i
	qdir=$(postconf -c "$conf" -h queue_directory 2>/dev/null) || return 0
	pid=$(tr -dc 0-9 <"$qdir/pid/master.pid" 2>/dev/null)
	postfix -c "$conf" stop >/dev/null 2>&1
	[ -n "$pid" ] || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	postfix -c "$conf" abort >/dev/null 2>&1
	kill -KILL "$pid" 2>/dev/null
	return 0
}

postfix_queue_ids() {
	local conf="${1}_conf"
	postqueue -c "${!conf}" -j 2>/dev/null | sed -n 's/.*"queue_id": *"\([0-9A-F]*\)".*/\1/p'
}

make_certs() {
	local dir=$1 name=${2:-server}
	need_cmd openssl
	mkdir -p "$dir"
	if [ ! -f "$dir/ca.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=postern test CA" \
			>/dev/null 2>&1 || return 1
	fi
	printf 'subjectAltName=DNS:postern.test,DNS:backend.test\n' >"$dir/ext"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" >/dev/null 2>&1 &&
		openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
			-CAcreateserial -out "$dir/$name.pem" -days 2 -extfile "$dir/ext" >/dev/null 2>&1
}

start_unbound() {
	local name=$1 port dead conf line
	shift
	need_cmd unbound unbound-checkconf
	port=$(free_port) || return 1
	dead=$(free_port) || return 1
	conf=$T/$name.unbound.conf
	{
		cat <<EOF
server:
  interface: 127.0.0.1
  port: $port
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$T"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  module-config: "iterator"
  do-not-query-localhost: no
  local-zone: "test." static
EOF
		for line; do
			if [[ $line =~ ^[a-z-]+: ]]; then
				printf '  %s\n' "$line"
			else
				printf "  local-data: '%s'\n" "$line"
			fi
		done
		printf 'stub-zone:\n  name: "."\n  stub-addr: 127.0.0.1@%s\n' "$dead"
	} >"$conf"
	if ! unbound-checkconf "$conf" >"$T/$name.log" 2>&1; then
		fail "unbound $name: configuration" "$(cat "$T/$name.log")" "$(cat "$conf")"
		it_done
	fi
	unbound -d -c "$conf" >>"$T/$name.log" 2>&1 &
	printf -v "${name}_conf" %s "$conf"
	peer_started unbound "$name" "$port" "$T" $!
}

postern_config() {
	cat <<EOF
hostname: postern.test
listen:
  - address: 127.0.0.1:$1
backend:
  address: 127.0.0.1:$2
  xclient: ${3:-auto}
log:
  level: ${POSTERN_LOG_LEVEL:-info}
EOF
}

start_postern() {
	local name=$1 port=$2 conf=$3 log=$T/$1.log
	"$POSTERN" -c "$conf" 2>"$log" &
	local pid=$!
	it_track "$pid"
	IT_LOGS+=("$log")
	IT_POSTERNS+=("$name $pid $log")
	printf -v "${name}_pid" %s "$pid"
	printf -v "${name}_log" %s "$log"
	wait_port "$port" "$pid" || {
		fail "start postern $name" "config:" "$(cat "$conf")" "log:" "$(cat "$log")"
		it_done
	}
}

# start_px NAME BACKEND_PORT [YAML [XCLIENT]]: postern on a free port relaying
# to 127.0.0.1:BACKEND_PORT, with YAML (more top-level keys) added to
# postern_config's; sets NAME_port, NAME_pid, NAME_log.
start_px() {
	local name=$1 port
	port=$(free_port) || return 1
	{
		postern_config "$port" "$2" "${4:-auto}"
		[ -n "${3:-}" ] && printf '%s\n' "$3"
	} >"$T/$name.yaml"
	printf -v "${name}_port" %s "$port"
	start_postern "$name" "$port" "$T/$name.yaml"
}

smtp() {
	local port=$1
	shift
	local bind=()
	[ -n "${SMTP_BIND:-}" ] && bind=(--bind "$SMTP_BIND")
	"$PYTHON" "$SMTPTOOL" client "${bind[@]}" --timeout "${SMTP_TIMEOUT:-10}" 127.0.0.1 "$port" "$@"
}

# at_least N CMD...: CMD prints a number, at least N. With wait_until, CMD
# runs again at each try (wait_until 5 test "$(cmd)" -ge N would not).
at_least() {
	local n=$1 v
	shift
	v=$("$@") || return 1
	[ "${v:-0}" -ge "$n" ]
}

# start_spamd NAME: spamd as its own process with our site config (the
# system's .pre files load the plugins; local tests only, no Bayes, no
# network lists) and no user config, listening on 127.0.0.1:NAME_port and
# the unix socket NAME_sock. It takes seconds to compile its rules, so wait
# (bounded) until it answers PING rather than until it listens.
start_spamd() {
	local name=$1 port dir=$T/$1.sa user=()
	need_cmd spamd socat
	port=$(free_port) || return 1
	mkdir -p "$dir"
	cp /etc/spamassassin/*.pre "$dir/"
	printf 'required_score 5\nuse_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\n' >"$dir/local.cf"
	[ "$(id -u)" = 0 ] && user=(-u nobody)
	spamd --listen="127.0.0.1:$port" --listen="$T/$name.sock" -L -x "${user[@]}" \
		--siteconfigpath="$dir" --max-children=2 -s stderr \
		--pidfile="$T/$name.pid" >"$T/$name.log" 2>&1 &
	it_track $!
	IT_LOGS+=("$T/$name.log")
	printf -v "${name}_pid" %s $!
	printf -v "${name}_port" %s "$port"
	printf -v "${name}_sock" %s "$T/$name.sock"
	printf -v "${name}_log" %s "$T/$name.log"
	wait_until 60 spamd_pong "$port" || {
		fail "start spamd $name: it answers PING within 60 s" "$(tail -n 20 "$T/$name.log")"
		it_done
	}
}

# spamd_pong PORT: spamd on 127.0.0.1:PORT answers PING (for start_spamd).
spamd_pong() {
	printf 'PING SPAMC/1.5\r\n\r\n' | timeout 5 socat - "TCP:127.0.0.1:$1" 2>/dev/null |
		grep -q PONG
}
