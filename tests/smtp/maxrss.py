#!/usr/bin/python3
"""maxrss.py OUT COMMAND [ARGS...]: runs COMMAND, writes its peak resident set
size in KiB (ru_maxrss, children included) to OUT, and exits with its status
(128 + N when killed by signal N)."""
import resource
import subprocess
import sys

rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc if rc >= 0 else 128 - rc)
