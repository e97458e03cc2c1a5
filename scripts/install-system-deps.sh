#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: mosquitto (external-broker tests), chromium
# (dashboard tests), postgresql (the PostgreSQL store: tests run a throwaway server of their own) and
# systemd's systemd-analyze (the agent's unit file) and prometheus's promtool (checks /metrics and the alert rules). Idempotent and quiet; a no-op
# when all are present. `npm test` runs it first (the root package.json's pretest), so a fresh machine
# needs only `npm install && npm test`; it says what it installs, and what it could not.
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
# systemd-analyze checks the single-file agent's unit (scripts/test/build-agent.test.ts); nothing is started
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# the server binaries (initdb, pg_ctl, postgres) live in /usr/lib/postgresql/<version>/bin, off the PATH
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# promtool lints /metrics and hub/monitoring/alerts.yml (hub/test/monitoring.test.ts); the server is not run
command -v promtool >/dev/null 2>&1 || need+=(prometheus)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO="sudo"
  else
    # no root and no password-less sudo: say what is missing and let the suite run; the tests that
    # need these packages fail with their own messages
    echo "install-system-deps: missing ${need[*]}; install them as root (apt-get install ${need[*]}) — the tests that need them will fail until then" >&2
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing ${need[*]} and no apt-get here (the suite expects Debian or Ubuntu); install them by hand" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: ${need[*]} missing; installing from Debian packages"
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package enables a system-wide mosquitto service on port 1883; tests start their own
# broker on a free port, so stop the packaged one where a service manager exists.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
# Likewise the postgresql package creates and starts a cluster on port 5432; nothing here uses it (tests
# initdb their own in a temp dir), so stop it and keep it from starting at boot.
# The prometheus package starts a server (and its node exporter) on 9090/9100; only promtool is used here.
if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
if [[ " ${need[*]} " == *" postgresql "* ]]; then
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true; fi
  if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r ver name _; do
      $SUDO pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
      [ -f "/etc/postgresql/$ver/$name/start.conf" ] && echo manual | $SUDO tee "/etc/postgresql/$ver/$name/start.conf" >/dev/null
    done < <(pg_lsclusters -h 2>/dev/null)
  fi
fi
echo "install-system-deps: done"
