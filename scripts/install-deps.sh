#!/usr/bin/env bash
# Install what building and testing postern needs on Debian 12 (run as root).
#
# The test peers (unbound, spamd, rspamd, haproxy, opendkim, dovecot)
# are installed but never started as system services: every test starts its
# own instance on a free loopback port and stops it by pid.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libssl-dev libyaml-dev check libsubunit-dev
	libunbound-dev libspf2-dev libopendkim-dev libopendmarc-dev libmilter-dev
	libpcre2-dev
	postfix swaks socat python3 python3-yaml procps iproute2 openssl
	unbound spamassassin spamd rspamd haproxy
	opendkim opendkim-tools miltertest python3-dkim python3-spf libmail-dkim-perl
	dovecot-core
	clang libclang-rt-14-dev clang-format
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	# Postfix is only a test peer here: install it without configuring a system MTA.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	# Keep the packages' own services from starting (policy-rc.d: 101, not allowed).
	own_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		own_policy=1
	fi
	apt-get update -q
	apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
	[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
