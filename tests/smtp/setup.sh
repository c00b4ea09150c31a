#!/usr/bin/env bash
# tests/smtp/setup.sh: installs what tests/smtp_integration.sh needs, and
# nothing that keeps running: Debian's python3-aiosmtpd (the scripted test
# server) and postfix (run only as a private instance by tests/smtp/postfix.sh).
#
# Postfix's package asks a debconf question ("General type of mail
# configuration"). It is answered "No configuration" before the install, so
# the package writes no /etc/postfix/main.cf and the system-wide instance has
# nothing to start with: no MTA appears on port 25. If the install itself
# started one anyway (it did not on Debian 12 in our runs), it is stopped here,
# but only when this script installed the package.
# Exit 0 when everything is present; prints what it did on stderr.
set -u
cd "$(dirname "$0")/../.." || exit 1
need=()
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
command -v /usr/sbin/postfix >/dev/null 2>&1 || need+=(postfix)
[ ${#need[@]} -eq 0 ] && exit 0

asroot=()
[ "$(id -u)" -eq 0 ] || asroot=(sudo)
had_postfix=0
[ -x /usr/sbin/postfix ] && had_postfix=1
case " ${need[*]} " in *" postfix "*)
  # Preseed, before the install: no configuration, so nothing system-wide to run.
  printf '%s\n' 'postfix postfix/main_mailer_type select No configuration' \
    'postfix postfix/mailname string test.example' | "${asroot[@]}" debconf-set-selections || exit 1 ;;
esac
DEBIAN_FRONTEND=noninteractive "${asroot[@]}" env DEBIAN_FRONTEND=noninteractive tools/deps.sh "${need[@]}" >&2 || exit 1

if [ $had_postfix = 0 ] && [ -x /usr/sbin/postfix ]; then
  # The package's own instance must not stay up (port 25). Stop it only if it runs.
  if "${asroot[@]}" /usr/sbin/postfix status >/dev/null 2>&1; then
    echo "setup.sh: stopping the system-wide postfix the package started" >&2
    "${asroot[@]}" /usr/sbin/postfix stop >&2 || true
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${asroot[@]}" systemctl disable --now postfix >/dev/null 2>&1 || true
  fi
fi
/usr/bin/python3 -c 'import aiosmtpd' && [ -x /usr/sbin/postfix ]
