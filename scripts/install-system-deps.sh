#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: mosquitto (external-broker tests), chromium
# (dashboard tests) and systemd's systemd-analyze (the agent's unit file). Idempotent and quiet; a no-op
# when all are present.
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
# systemd-analyze checks the single-file agent's unit (scripts/test/build-agent.test.ts); nothing is started
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: installing ${need[*]}"
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package enables a system-wide mosquitto service on port 1883; tests start their own
# broker on a free port, so stop the packaged one where a service manager exists.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
echo "install-system-deps: done"
