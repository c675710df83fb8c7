#!/usr/bin/env bash
# Installs what the test suite drives for real on a Debian machine: Redis, PostgreSQL, nginx, Caddy,
# fail2ban-regex (the shipped filters are checked with it), Chromium (the dashboard test),
# OpenSSL (test certificates), oathtool (TOTP codes from an independent implementation), Apache httpd
# with mod_auth_openidc (a relying party of the OpenID Connect provider), slapd and the LDAP tools (the
# directory user backend) and wrk (the benchmark). Safe to run again; needs root (or sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

declare -A PACKAGE_FOR=(
  [redis-server]=redis-server
  [nginx]=nginx-light
  [caddy]=caddy
  [openssl]=openssl
  [psql]=postgresql
  [pg_ctlcluster]=postgresql
  [wrk]=wrk
  [fail2ban-regex]=fail2ban
  [chromium]=chromium
  [setpriv]=util-linux
  [oathtool]=oathtool
  [apache2]=apache2
  [slapd]=slapd
  [ldapsearch]=ldap-utils
)
missing=()
for cmd in "${!PACKAGE_FOR[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
    missing+=("${PACKAGE_FOR[$cmd]}")
  fi
done
# Apache httpd with mod_auth_openidc: a second real OpenID Connect relying party
[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ] || missing+=(libapache2-mod-auth-openidc)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# the tests create and drop their own databases on the local PostgreSQL (trust auth on 127.0.0.1)
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$version" ]; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
