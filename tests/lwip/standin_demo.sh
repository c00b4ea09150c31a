#!/usr/bin/env bash
# sn_demo_lwip's command line on build/sn_demo in a namespace of its own: see standin.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/standin.sh" demo "$@"
