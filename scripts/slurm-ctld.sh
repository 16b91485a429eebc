#!/usr/bin/env bash
# Stop or start this machine's slurmctld (the one scripts/slurm-up.sh set up), for failover
# tests: `stop` ends the daemon and waits until it is gone; `start` starts it (recovering its
# saved state: jobs queued or running before the stop are still known) and waits until it
# answers. Both are no-ops when the daemon is already in the wanted state.
set -euo pipefail
PIDFILE=/run/slurmctld.pid

alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  stop)
    if alive; then
      pid="$(cat "$PIDFILE")"
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    fi
    ;;
  start)
    if ! alive; then /usr/sbin/slurmctld; fi
    for _ in $(seq 150); do
      if timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; then exit 0; fi
      sleep 0.2
    done
    echo "slurm-ctld: slurmctld did not come up; see /var/log/slurm/slurmctld.log" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 stop|start" >&2
    exit 2
    ;;
esac
