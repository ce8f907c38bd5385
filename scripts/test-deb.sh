#!/usr/bin/env bash
# test-deb.sh BUILD_DIR - builds the .deb from BUILD_DIR (cpack -G DEB) and checks it without
# touching the host (ctest: package/deb):
#
#  1. the control file: Depends names the Debian 12 runtime libraries herald links;
#  2. the files (dpkg-deb -x into a scratch root): the seven binaries in /usr/bin, the systemd
#     units, the sysusers entry, the sample configs, the web console and the docs;
#  3. every binary from that root prints "<prog> <version> (<rev>)" for --version;
#  4. the units' hardening: systemd-analyze security --offline scores each at most 2.5 ("OK");
#  5. when run as root and overlayfs works in a private mount namespace (unshare -m): a real
#     `dpkg -i` into a throwaway copy-on-write copy of this machine's root (an overlay: every
#     write lands in the scratch directory and the mounts vanish with the namespace). There the
#     postinst creates the herald user and /etc/herald, `systemd-analyze verify` accepts the
#     units, and redis-server, herald-kafka-dev and the units' own ExecStart lines (router,
#     logic, job, herald-comet@1 and @2, each as user herald in its WorkingDirectory) run a
#     cluster on free ports: logic serves the web console from the packaged files, and a push
#     reaches a herald-cli client. Without root or overlayfs step 5 is reported as not run.
#     (No systemd runs as PID 1 here, so the units are executed from their ExecStart lines.)
set -euo pipefail
case ${1:-} in
-h | --help) sed -n '2,/^set -euo pipefail$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -eq 1 ] || { echo "usage: scripts/test-deb.sh BUILD_DIR (--help: what it checks)" >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
for tool in cpack dpkg-deb dpkg-shlibdeps fakeroot; do
    command -v "$tool" >/dev/null || { echo "test-deb: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done
scratch=$(mktemp -d /tmp/herald-test-deb.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }

version=$(sed -n 's/^#define HERALD_VERSION "\(.*\)"$/\1/p' "$build/generated/herald_version.h")
[ -n "$version" ] || fail "no version in $build/generated/herald_version.h"

# 1. Build and read the control file.
(cd "$build" && cpack -G DEB -B "$scratch/cpack" >"$scratch/cpack.log" 2>&1) ||
    { cat "$scratch/cpack.log" >&2; fail "cpack -G DEB"; }
deb=$(ls "$scratch"/cpack/herald_"$version"_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "test-deb: $(basename "$deb"): Depends: $depends"
for lib in libc6 libuv1 librdkafka1 libhiredis0.14 libmicrohttpd12 libssl3 libsodium23 \
    libprotobuf-c1 libjansson4 libcurl4 libwslay1 adduser; do
    [[ ", $depends," == *", $lib "* || ", $depends," == *", $lib,"* ]] || fail "Depends lacks $lib"
done
[[ $depends != *-dev* ]] || fail "Depends names a -dev package"

# 2. The files.
root=$scratch/root
dpkg-deb -x "$deb" "$root"
bins=(herald-comet herald-logic herald-router herald-job herald-kafka-dev herald-cli herald-bench)
units=(herald-router.service herald-logic.service herald-job.service herald-comet@.service)
for f in "${bins[@]/#/usr/bin/}" "${units[@]/#/usr/lib/systemd/system/}" \
    usr/lib/sysusers.d/herald.conf usr/share/herald/web/index.html usr/share/herald/web/app.js \
    usr/share/doc/herald/README.md usr/share/doc/herald/internals.md \
    usr/share/doc/herald/examples/{comet,logic,router,job}.ini; do
    [ -e "$root/$f" ] || fail "the package has no /$f"
done
[ ! -e "$root/etc" ] || fail "the package ships files in /etc (examples belong in /usr/share/doc)"
grep -q '^ExecStart=/usr/bin/herald-comet --config /etc/herald/comet-%i.ini$' \
    "$root/usr/lib/systemd/system/herald-comet@.service" || fail "herald-comet@.service ExecStart"
grep -q '^User=herald$' "$root/usr/lib/systemd/system/herald-router.service" || fail "User="

# 3. --version from the package's files.
for b in "${bins[@]}"; do
    out=$("$root/usr/bin/$b" --version) || fail "$b --version exited $?"
    [[ $out == "$b $version ("*")" ]] || fail "$b --version printed '$out'"
done
echo "test-deb: the 7 binaries from the package print their version ($version)"

# 4. Hardening of every unit (exposure 0..10; threshold in tenths).
for u in "${units[@]}"; do
    systemd-analyze security --offline=yes --root="$root" --threshold=25 "$u" >"$scratch/sec.log" 2>&1 ||
        { tail -n 30 "$scratch/sec.log" >&2; fail "$u: systemd-analyze security above 2.5"; }
    echo "test-deb: $u: $(grep -o 'exposure level.*' "$scratch/sec.log")"
done

# 5. dpkg -i and a running cluster in a throwaway root.
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
    echo "test-deb: not root or no mount namespaces: dpkg -i and the daemons' start were NOT checked"
    exit 0
fi
if ! unshare -m sh -c "mkdir -p '$scratch/ov/u' '$scratch/ov/w' '$scratch/ov/m' &&
        mount -t overlay overlay -o lowerdir=/,upperdir='$scratch/ov/u',workdir='$scratch/ov/w' \
        '$scratch/ov/m'" 2>/dev/null; then
    echo "test-deb: overlayfs unavailable: dpkg -i and the daemons' start were NOT checked"
    exit 0
fi
cp "$deb" "$scratch/herald.deb"
cp "$src/docker/render-config.sh" "$scratch/render-config.sh"
# The namespace's part, run by bash inside it: see install-and-run below.
unshare -m --propagation private env SCRATCH="$scratch" bash "$src/scripts/test-deb-root.sh"
