#!/usr/bin/env bash
# Self-test of scripts/check-layers.py on small fake source trees in a temp dir: a clean tree
# passes, and a cycle, an upward include (both LAYERS forms), an unlisted module and includes
# across daemon folders each fail with their message. ctest lint/layers_selftest.
#   scripts/test-check-layers.sh [PYTHON3]
set -euo pipefail
python=${1:-python3}
checker="$(cd "$(dirname "$0")" && pwd)/check-layers.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# put FILE LINE...: writes the lines into $tree/FILE (creating folders).
put() {
    local f="$tree/$1"
    shift
    mkdir -p "$(dirname "$f")"
    printf '%s\n' "$@" >"$f"
}

# A tree that passes: comet in layer subfolders, logic with "<layer>: <modules>", common shared.
clean_tree() {
    tree="$tmp/$1/src"
    put comet/LAYERS "# lowest first" transport session
    put comet/transport/comet_conn.h '#include "buf.h"'
    put comet/transport/comet_conn.c '#include "comet_conn.h"'
    put comet/session/comet_keys.h '#include "comet_conn.h"'
    put comet/session/comet_keys.c '#include "comet_keys.h"' '#include <stdio.h>'
    put comet/main.c '#include "comet_keys.h"' '#include "comet_conn.h"'
    put logic/LAYERS "store: logic_a" "" "api: logic_b logic_c"
    put logic/logic_a.h '#include "buf.h"'
    put logic/logic_a.c '#include "logic_a.h"'
    put logic/logic_b.c '#include "logic_a.h"' '#include "logic_c.h"'
    put logic/logic_c.h '/* no include */'
    put logic/main.c '#include "logic_b.h"'
    put job/job_a.c '#include "job_b.h"'
    put job/job_b.h '#include "herald.pb-c.h"'
    put common/buf.h '/* shared */'
    put common/buf.c '#include "buf.h"'
}

# expect NAME RC [TEXT]: runs the checker on $tree, wants exit status RC and TEXT in its output.
expect() {
    local name=$1 want_rc=$2 text=${3:-} rc=0 out
    out=$("$python" "$checker" "$tree" 2>&1) || rc=$?
    if [ "$rc" -ne "$want_rc" ] || { [ -n "$text" ] && ! grep -qF -- "$text" <<<"$out"; }; then
        echo "FAIL $name: exit $rc (want $want_rc), output:"
        echo "$out"
        failures=$((failures + 1))
    else
        echo "ok   $name"
    fi
}

clean_tree clean
expect clean 0 "no cycle"

clean_tree cycle
put job/job_a.h '#include "job_b.h"'
put job/job_b.c '#include "job_a.h"'
expect cycle 1 "src/job: include cycle: job_a -> job_b -> job_a"

clean_tree subfolder_upward
put comet/transport/comet_conn.c '#include "comet_conn.h"' '#include "comet_keys.h"'
expect subfolder_upward 1 \
    "src/comet/transport/comet_conn.c: includes comet_keys.h of layer session from layer transport"

clean_tree listed_upward
put logic/logic_a.c '#include "logic_a.h"' '#include "logic_c.h"'
expect listed_upward 1 "src/logic/logic_a.c: includes logic_c.h of layer api from layer store"

clean_tree unlisted
put logic/logic_d.c '#include "logic_a.h"'
expect unlisted 1 "src/logic/LAYERS: module logic_d is in no layer"

clean_tree unknown_subfolder
put comet/delivery/comet_push.c '#include "comet_keys.h"'
expect unknown_subfolder 1 "subfolder delivery is not in LAYERS"

clean_tree cross_daemon
put job/job_c.c '#include "comet_conn.h"'
expect cross_daemon 1 "src/job/job_c.c: includes comet_conn.h of src/comet"

clean_tree common_includes_daemon
put common/buf.c '#include "buf.h"' '#include "logic_a.h"'
expect common_includes_daemon 1 "src/common/buf.c: includes logic_a.h of src/logic"

if [ "$failures" -ne 0 ]; then
    echo "test-check-layers: $failures case(s) failed"
    exit 1
fi
echo "test-check-layers: every case passed"
