#!/usr/bin/env bash
# sn_sendmail_lwip's command line on build/sn_sendmail in a namespace of its own: see standin.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/standin.sh" sendmail "$@"
