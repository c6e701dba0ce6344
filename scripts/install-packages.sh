#!/usr/bin/env bash
# install-packages.sh PACKAGE...: as root, apt-get install the Debian
# packages that are not installed yet, and say which; with all of them
# there it only says so. Used by scripts/test.sh and bench/run.sh.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: install-packages.sh PACKAGE..." >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
missing=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null |
	awk -v want="$*" '$2 == "installed" { ok[$1] = 1 }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!ok[w[i]]) print w[i] }' || true)
if [[ -z $missing ]]; then
	echo ">>> packages: all installed"
	exit 0
fi
echo ">>> installing packages: ${missing//$'\n'/ }"
apt-get update -q
apt-get install -y -q --no-install-recommends "$@"
