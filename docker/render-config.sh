#!/bin/sh
# render-config.sh EXAMPLE OUT - writes OUT, a copy of the herald INI file EXAMPLE in which every
# key that an environment variable HERALD_<SECTION>_<KEY> names gets that variable's value. A key
# counts when EXAMPLE has it, set ("key = v") or as a commented sample ("; key = v"), in that
# section; the first such line is replaced. Secrets (password, secret, jwt_secret, bearer_key) are
# never written into the file: the daemon reads those variables itself at start, as it reads every
# HERALD_<SECTION>_<KEY> (conf.h), so the rendered file and the running daemon agree.
# Prints the rendered keys (names only) on stderr. POSIX sh and awk: the runtime image has no
# other interpreter. Used by docker/entrypoint.sh and scripts/test-deb.sh.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: render-config.sh EXAMPLE OUT" >&2
    exit 2
fi
example=$1
out=$2
tmp="$out.tmp.$$"
awk '
function secret(k) { return k == "password" || k == "secret" || k == "jwt_secret" || k == "bearer_key" }
/^\[[a-z]+\][ \t]*$/ {
    section = substr($0, 2, index($0, "]") - 2)
    print
    next
}
{
    line = $0
    sub(/^;[ \t]*/, "", line)
    if (section != "" && match(line, /^[a-z_]+[ \t]*=/)) {
        key = substr(line, 1, RLENGTH)
        sub(/[ \t]*=$/, "", key)
        var = "HERALD_" toupper(section) "_" toupper(key)
        if ((var in ENVIRON) && !secret(key) && !((section, key) in done)) {
            done[section, key] = 1
            print key " = " ENVIRON[var]
            printf "render-config: [%s] %s from %s\n", section, key, var > "/dev/stderr"
            next
        }
    }
    print
}' "$example" >"$tmp"
mv "$tmp" "$out"
