#!/usr/bin/env bash
# Install what building and testing postern needs on Debian 12 (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libssl-dev libyaml-dev check libsubunit-dev
	postfix swaks socat python3 procps iproute2
	clang libclang-rt-14-dev clang-format
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	# Postfix is only a test peer here: install it without configuring a system MTA.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
