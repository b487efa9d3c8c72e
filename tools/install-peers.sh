#!/usr/bin/env bash
# The receivers of the interop tests (SPEC §12): rsyslog (ossl and gtls drivers) and nginx
# as Debian packages, and syslog-ng unpacked beside them. rsyslog and syslog-ng conflict as
# Debian packages (both provide system-log-daemon), so syslog-ng is unpacked with `dpkg -x`
# into .build-peers/ (ignored by git): no maintainer scripts, no service. The tests start
# every receiver themselves on loopback with configs written at test time; nothing here
# starts a service or edits /etc.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo

packages=(rsyslog rsyslog-openssl rsyslog-gnutls nginx-light
          libcap2 libglib2.0-0 libivykis0 libjson-c5 libnet1 libpcre3 libwrap0 libcurl4)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  # Debian starts a package's service on install unless policy-rc.d says no: say no for
  # this install only, when the machine has no such policy of its own.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
  fi
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ -z "$policy" ] || $sudo rm -f "$policy"
fi

peers=.build-peers/syslog-ng
if [ ! -x "$peers/usr/sbin/syslog-ng" ]; then
  download=$(mktemp -d)
  ( cd "$download" && apt-get download -qq syslog-ng-core )
  mkdir -p "$peers"
  for deb in "$download"/*.deb; do dpkg -x "$deb" "$peers"; done
  rm -rf "$download"
fi
