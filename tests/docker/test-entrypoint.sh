#!/usr/bin/env bash
# test-entrypoint.sh SRC_DIR BUILD_DIR - docker/entrypoint.sh run on this machine against the
# build's binaries and conf/ (the image's /usr/bin and examples), as the image runs it (ctest
# docker/entrypoint):
#  - `router --version`: the config is rendered from the environment and herald-router's
#    version line printed;
#  - `router` alone: --test passes, then the entrypoint execs the router (same pid), which
#    answers /health on the rendered admin port and stops with status 0 on SIGTERM;
#  - a file already in the config directory is used as it is, not rendered over;
#  - `secret FILE` writes 64 hex digits, mode 0600, once; unknown commands exit 2.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
entry=$src/docker/entrypoint.sh
scratch=$(mktemp -d /tmp/herald-test-entrypoint.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "test-entrypoint: FAIL: $*" >&2; exit 1; }

export HERALD_BIN_DIR=$build/bin HERALD_EXAMPLES=$src/conf HERALD_CONFIG_DIR=$scratch/etc
mkdir -p "$HERALD_CONFIG_DIR"
read -r p_rpc p_admin < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')

# secret
sh "$entry" secret "$scratch/secret" >/dev/null
grep -qxE '[0-9a-f]{64}' "$scratch/secret" || fail "secret: not 64 hex digits"
[ "$(stat -c %a "$scratch/secret")" = 600 ] || fail "secret: mode $(stat -c %a "$scratch/secret")"
before=$(cat "$scratch/secret")
sh "$entry" secret "$scratch/secret" >/dev/null
[ "$(cat "$scratch/secret")" = "$before" ] || fail "secret: rewritten on the second run"
export HERALD_CLUSTER_SECRET_FILE=$scratch/secret
export HERALD_RPC_LISTEN=127.0.0.1:$p_rpc HERALD_ADMIN_LISTEN=127.0.0.1:$p_admin

# router --version: rendered, then exec'd with the argument.
out=$(sh "$entry" router --version 2>"$scratch/render.err")
[[ $out == "herald-router "*" ("*")" ]] || fail "router --version printed '$out'"
conf=$HERALD_CONFIG_DIR/router.ini
grep -qx "listen = 127.0.0.1:$p_rpc" "$conf" || fail "[rpc] listen not rendered"
grep -qx "listen = 127.0.0.1:$p_admin" "$conf" || fail "[admin] listen not rendered"
grep -qx "secret_file = $scratch/secret" "$conf" || fail "[cluster] secret_file not rendered"
grep -q "render-config: \[rpc\] listen from HERALD_RPC_LISTEN" "$scratch/render.err" ||
    fail "render-config named no rendered key"

# router: --test, exec, /health, SIGTERM.
rm "$conf"
sh "$entry" router >"$scratch/router.log" 2>&1 &
pid=$!
for ((n = 0; n < 150; n++)); do
    curl -sf "http://127.0.0.1:$p_admin/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$scratch/router.log" >&2; fail "router exited"; }
    sleep 0.1
done
curl -sf "http://127.0.0.1:$p_admin/health" >/dev/null || fail "router: no /health on $p_admin"
grep -q "$conf: ok" "$scratch/router.log" || fail "no --test line before the start"
[ "$(ps -o comm= -p "$pid")" = herald-router ] || fail "the entrypoint did not exec the router"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || { cat "$scratch/router.log" >&2; fail "router exited $status on SIGTERM"; }

# A file already there is kept.
printf '[log]\nlevel = warn\n' >"$conf"
sh "$entry" router --version >/dev/null 2>&1
[ "$(cat "$conf")" = "$(printf '[log]\nlevel = warn')" ] || fail "an existing config was rendered over"

# Bad commands.
status=0
sh "$entry" no-such-daemon >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || fail "unknown command exited $status, not 2"
status=0
sh "$entry" >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || fail "no command exited $status, not 2"
echo "test-entrypoint: rendered, checked and exec'd herald-router (pid kept, /health, SIGTERM 0); existing config kept; secret once, 0600"
