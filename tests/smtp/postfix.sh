#!/usr/bin/env bash
# tests/smtp/postfix.sh start|stop|status DIR PORT_SUBMISSION PORT_SMTPS CERT KEY
#   (stop and status need only DIR)
#
# A private Postfix instance for the mail tests, nothing system-wide:
#   DIR/etc       its config_directory (main.cf, master.cf, the mailbox table)
#   DIR/spool     its queue_directory;  DIR/data its data_directory
#   DIR/log       maillog_file (postlogd; no syslog needed)
#   DIR/mail      the mailboxes: virtual(8) Maildirs, one per recipient
# It listens on loopback only (127.0.0.1:PORT_SUBMISSION with STARTTLS required,
# 127.0.0.1:PORT_SMTPS in wrapper mode, i.e. implicit TLS) and nowhere else: no
# port 25, no pickup from a system sendmail. It accepts mail for the domain
# test.example only, for the users alice, bob and carol; any other user there is
# refused with 550 5.1.1, any other domain with 554 5.7.1 (relay access denied),
# and nothing ever leaves (relayhost empty, default_transport = error).
#
# How the test reads delivered mail: each accepted message becomes one file in
#   DIR/mail/<user>/new/   (Maildir; e.g. DIR/mail/alice/new/1700000000.V801I...)
# with Postfix's Return-Path and Delivered-To headers and its Received line
# (which names the TLS protocol, e.g. "(using TLSv1.3 with cipher ...)") prepended
# to the client's message. Delivery is asynchronous: poll that directory
# (a second or less on loopback); DIR/log says why when nothing arrives.
#
# Needs root (Postfix's master starts as root, daemons drop to mail_owner
# postfix; mailboxes are written as nobody). Start waits for both ports,
# at most 20 s; stop waits for the master to exit, at most 10 s.
set -u
cmd=${1:-} DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,3p' "$0" >&2; exit 2; }
mkdir -p "$DIR" && DIR=$(cd "$DIR" && pwd) || exit 1
PF=/usr/sbin/postfix

case "$cmd" in
stop)
  [ -f "$DIR/etc/main.cf" ] || exit 0
  $PF -c "$DIR/etc" stop 2>/dev/null
  for _ in $(seq 1 100); do
    $PF -c "$DIR/etc" status >/dev/null 2>&1 || exit 0
    sleep 0.1
  done
  # The master did not go: abort it (its PID is in its own pid file only).
  $PF -c "$DIR/etc" abort 2>/dev/null
  exit 1 ;;
status)
  exec $PF -c "$DIR/etc" status ;;
start) ;;
*) echo "usage: $0 start|stop|status DIR ..." >&2; exit 2 ;;
esac

SUB=${3:?PORT_SUBMISSION} SMTPS=${4:?PORT_SMTPS} CERT=${5:?CERT} KEY=${6:?KEY}
CERT=$(cd "$(dirname "$CERT")" && pwd)/$(basename "$CERT")
KEY=$(cd "$(dirname "$KEY")" && pwd)/$(basename "$KEY")
[ -x $PF ] || { echo "postfix.sh: $PF missing (tests/smtp/setup.sh installs it)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "postfix.sh: a Postfix instance needs root" >&2; exit 1; }
id postfix >/dev/null 2>&1 || { echo "postfix.sh: no user postfix" >&2; exit 1; }

mkdir -p "$DIR/etc" "$DIR/spool" "$DIR/data" "$DIR/mail" || exit 1
# Postfix's daemons run as postfix (and nobody): every directory above DIR must let them
# through (a mktemp -d is 0700, a CI home directory is often 0750).
if command -v runuser >/dev/null && ! runuser -u postfix -- test -x "$DIR"; then
  echo "postfix.sh: user postfix cannot reach $DIR (a parent directory is not o+x); use a directory under /tmp" >&2
  exit 1
fi
chmod 755 "$DIR" "$DIR/etc" "$DIR/spool"
chown postfix:postfix "$DIR/data" && chmod 700 "$DIR/data"
chown nobody:nogroup "$DIR/mail" && chmod 755 "$DIR/mail"
: >"$DIR/log"
chown postfix "$DIR/log" 2>/dev/null

cat >"$DIR/etc/vmailbox" <<'MAP'
alice@test.example alice/
bob@test.example bob/
carol@test.example carol/
MAP

cat >"$DIR/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $DIR/spool
data_directory = $DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $DIR
maillog_file = $DIR/log
myhostname = mx.test.example
mydomain = test.example
myorigin = test.example
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Nothing local, nothing relayed, nothing leaves.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
default_transport = error:the test instance delivers nowhere else
relay_transport = error:the test instance delivers nowhere else
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
# test.example: one Maildir per user under DIR/mail, written as nobody.
virtual_mailbox_domains = test.example
virtual_mailbox_base = $DIR/mail
virtual_mailbox_maps = texthash:$DIR/etc/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
message_size_limit = 20480000
smtpd_tls_chain_files = $KEY, $CERT
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_banner = \$myhostname ESMTP securenet test instance
# The test runs on loopback: no DNS, no waiting.
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
smtpd_client_connection_rate_limit = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100
CF

# Every daemon unchrooted (the queue is not /var/spool/postfix); the two listeners
# are explicit loopback addresses on the test's ports; no "smtp inet" on port 25.
cat >"$DIR/etc/master.cf" <<MC
127.0.0.1:$SUB   inet  n - n - - smtpd
  -o syslog_name=postfix-test/submission
  -o smtpd_tls_security_level=encrypt
127.0.0.1:$SMTPS inet  n - n - - smtpd
  -o syslog_name=postfix-test/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
MC

if $PF -c "$DIR/etc" status >/dev/null 2>&1; then $PF -c "$DIR/etc" stop >/dev/null 2>&1; sleep 1; fi
# Postfix writes its own errors to stderr only when that is a terminal (else to
# syslog, absent here): on failure, run it again under script(1) to show them.
why() { script -qec "$PF -c '$DIR/etc' $1" /dev/null 2>&1 | tail -n 5 >&2; tail -n 5 "$DIR/log" >&2; }
$PF -c "$DIR/etc" check >>"$DIR/start.log" 2>&1 || { echo "postfix.sh: postfix check failed:" >&2; why check; exit 1; }
$PF -c "$DIR/etc" start >>"$DIR/start.log" 2>&1 || { echo "postfix.sh: postfix start failed:" >&2; why start; exit 1; }
for _ in $(seq 1 200); do
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SUB && exec 4<>/dev/tcp/127.0.0.1/$SMTPS" 2>/dev/null; then
    exit 0
  fi
  sleep 0.1
done
echo "postfix.sh: Postfix did not listen on 127.0.0.1:$SUB and :$SMTPS within 20 s" >&2
tail -n 5 "$DIR/log" >&2
$PF -c "$DIR/etc" stop >/dev/null 2>&1
exit 1
