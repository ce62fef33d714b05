#!/usr/bin/env bash
# `timed.sh NAME COMMAND...`: run COMMAND, then print "[time] NAME: N s" (make test's
# phases, so every run's log says where its time went). COMMAND's exit code is kept.
name=$1
shift
started=$(date +%s)
"$@"
rc=$?
printf '[time] %s: %d s\n' "$name" $(( $(date +%s) - started ))
exit $rc
