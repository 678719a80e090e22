#!/usr/bin/env bash
# Redis's own Tcl test units against mapcache and against redis-server, same tags.
#
#   .ci/redis-tcl-units.sh REDIS_SRC [MAPCACHE_BIN]
#
# REDIS_SRC: a checkout of Redis 7.0.15's source (e.g. `git -C redis archive 7.0.15 |
# tar -x -C /tmp/redis-src`); it is copied, never changed. MAPCACHE_BIN defaults to
# target/debug/mapcache. Needs tclsh (Debian: tcl) and redis-server.
# Prints one line per unit: passed / failed / aborted for each server.
#
# Tags excluded as for any external server: needs:repl, needs:debug (DEBUG is
# Redis's own), needs:config-maxmemory. Until FUNCTION exists in mapcache, the
# harness's `r function flush` (run before every unit) is wrapped in `catch` in the
# copy, for both servers alike.
set -euo pipefail
src=${1:?usage: $0 REDIS_SRC [MAPCACHE_BIN]}
bin=${2:-target/debug/mapcache}
units=${UNITS:-"unit/introspection unit/introspection-2 unit/info unit/keyspace unit/type/hash unit/multi unit/dump"}
work=$(mktemp -d)
trap 'kill $rpid $mpid 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$src/tests" "$src/runtest" "$work/"
mkdir -p "$work/src" && touch "$work/src/redis-server" "$work/src/redis-cli"
sed -i 's/^    r function flush$/    catch {r function flush}/' "$work/tests/support/server.tcl"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port); mport=$(free_port); hport=$(free_port)
(cd "$work" && exec redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1) & rpid=$!
(cd "$work" && exec "$(realpath "$bin")" --port "$mport" --http-port "$hport" --log-level error >/dev/null 2>&1) & mpid=$!
sleep 1
count() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -c "^\[$2\]" || true; }
printf '%-22s %8s %8s %8s   %8s %8s %8s\n' unit redis:ok err abort mapcache:ok err abort
for u in $units; do
  line=$(printf '%-22s' "$u")
  for port in "$rport" "$mport"; do
    log="$work/$(basename "$u")-$port.log"
    (cd "$work" && timeout 900 ./runtest --host 127.0.0.1 --port "$port" --single "$u" --clients 1 \
      --tags -needs:repl --tags -needs:debug --tags -needs:config-maxmemory >"$log" 2>&1) || true
    line+=$(printf ' %8s %8s %8s  ' "$(count "$log" ok)" "$(count "$log" err)" "$(count "$log" exception)")
    if [ -n "${KEEP_LOGS:-}" ]; then cp "$log" "$KEEP_LOGS/"; fi
  done
  echo "$line"
done
