#!/bin/sh
# entrypoint.sh DAEMON [ARGS...] - the herald image's entrypoint (docker/Dockerfile).
#
#   comet | logic | router | job   renders ${HERALD_CONFIG_DIR}/<daemon>.ini from the packaged
#                                  example and the environment (render-config.sh: every
#                                  HERALD_<SECTION>_<KEY> the example names), checks it with
#                                  --test when no ARGS are given, then execs
#                                  herald-<daemon> --config FILE ARGS
#   kafka-dev | cli | bench        execs herald-<name> ARGS
#   secret FILE                    writes a new random cluster secret to FILE unless it exists
#                                  (docker-compose.yml's one-shot "secret" service)
#   --help | -h                    this text
#
# A file already at ${HERALD_CONFIG_DIR}/<daemon>.ini (mounted, or rendered at an earlier start
# of the same container) is used as it is. Environment:
#   HERALD_CONFIG_DIR   where the rendered file goes (default /etc/herald)
#   HERALD_EXAMPLES     the example files (default /usr/share/doc/herald/examples)
#   HERALD_BIN_DIR      the binaries (default /usr/bin)
# The daemon also reads every HERALD_<SECTION>_<KEY> itself, secrets included (those are never
# written into the file).
set -eu
config_dir=${HERALD_CONFIG_DIR:-/etc/herald}
examples=${HERALD_EXAMPLES:-/usr/share/doc/herald/examples}
bin=${HERALD_BIN_DIR:-/usr/bin}
here=$(cd "$(dirname "$0")" && pwd)

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
what=$1
shift
case $what in
comet | logic | router | job)
    conf=$config_dir/$what.ini
    if [ ! -e "$conf" ]; then
        sh "$here/render-config.sh" "$examples/$what.ini" "$conf"
    fi
    if [ $# -eq 0 ]; then
        "$bin/herald-$what" --config "$conf" --test
    fi
    exec "$bin/herald-$what" --config "$conf" "$@"
    ;;
kafka-dev | cli | bench)
    exec "$bin/herald-$what" "$@"
    ;;
secret)
    [ $# -eq 1 ] || { usage >&2; exit 2; }
    if [ ! -s "$1" ]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1.tmp" && mv "$1.tmp" "$1")
        echo "entrypoint: new cluster secret in $1"
    fi
    ;;
-h | --help)
    usage
    ;;
*)
    echo "entrypoint: unknown command '$what'" >&2
    usage >&2
    exit 2
    ;;
esac
