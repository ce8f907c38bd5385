#!/usr/bin/env bash
# The CI passes beyond the plain test suite. scripts/test.sh runs them after the suite when
# CI=true (or with --extra); run alone, they need what scripts/install-deps.sh installs.
#   scripts/ci-extra.sh [PASS...]     default: every pass, in this order
#     sanitize   unit + integration tests in an ASan+UBSan build (halt on the first finding)
#     tsan       comet's tests (ctest -R unit/comet: its worker threads) in a TSan build
#     fuzz       every tests/fuzz target for HERALD_FUZZ_TIME seconds (default 15) from its corpus
#     format     clang-format --dry-run --Werror over every .c/.h of src/, tests/, bench/
#     cppcheck   cppcheck over src/ with the include directories of the plain build
# Build directories: <build>-asan, <build>-tsan, <build>-fuzz next to <build>
# (${HERALD_BUILD_DIR:-build}); cppcheck reads <build>/compile_commands.json. Every pass runs even
# when an earlier one failed; each prints its wall time; the exit status is 1 if any failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HERALD_BUILD_DIR:-$root/build}
fuzz_time=${HERALD_FUZZ_TIME:-15}
jobs=$(nproc)
type=${HERALD_BUILD_TYPE:-RelWithDebInfo}

# configure DIR CMAKE_ARGS...: configures quietly (incremental when DIR exists).
configure() {
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DHERALD_WERROR=ON "$@" >/dev/null
}

pass_sanitize() {
    local dir=$build-asan
    configure "$dir" -DHERALD_ASAN=ON -DHERALD_UBSAN=ON
    cmake --build "$dir" -j"$jobs"
    # Leaks fail a test too; the daemons the integration tests start inherit these settings.
    ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --test-dir "$dir" --output-on-failure --timeout 600 -L '^(unit|integration)$'
}

pass_tsan() {
    local dir=$build-tsan targets
    configure "$dir" -DHERALD_TSAN=ON
    # Only what the comet tests need: test unit/comet/test_x is target unit_comet_test_x.
    targets=$(ctest --test-dir "$dir" -N -R '^unit/comet/' | sed -n 's|.*Test *#[0-9]*: unit/comet/|unit_comet_|p')
    if [ -z "$targets" ]; then
        echo "ci-extra: no unit/comet test found" >&2
        return 1
    fi
    # shellcheck disable=SC2086 # one target per word
    cmake --build "$dir" -j"$jobs" --target $targets
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        ctest --test-dir "$dir" --output-on-failure --timeout 600 -R '^unit/comet/'
}

pass_fuzz() {
    local dir=$build-fuzz failed=0 corpus t work targets
    CC=clang configure "$dir" -DHERALD_FUZZ=ON -DHERALD_TESTS=OFF
    # The targets only (a target is named after its file), not the daemons' binaries.
    targets=$(cd "$root/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
    # shellcheck disable=SC2086 # one target per word
    cmake --build "$dir" -j"$jobs" --target $targets
    mkdir -p "$dir/fuzz-artifacts"
    for corpus in "$root"/tests/fuzz/corpus/*/; do
        t=$(basename "$corpus")
        # New inputs go to a scratch corpus: the checked-in one stays as it is.
        work=$(mktemp -d)
        if "$dir/tests/$t" -max_total_time="$fuzz_time" -print_final_stats=0 \
            -artifact_prefix="$dir/fuzz-artifacts/$t-" "$work" "$corpus" >"$dir/fuzz-$t.log" 2>&1; then
            echo "ci-extra: fuzz $t: $(grep -o 'Done [0-9]* runs' "$dir/fuzz-$t.log" | tail -1 ||
                echo ok)"
        else
            echo "ci-extra: fuzz $t FAILED (inputs in $dir/fuzz-artifacts/):" >&2
            tail -40 "$dir/fuzz-$t.log" >&2
            failed=1
        fi
        rm -rf "$work"
    done
    for t in "$root"/tests/fuzz/fuzz_*.c; do
        if [ ! -d "$root/tests/fuzz/corpus/$(basename "$t" .c)" ]; then
            echo "ci-extra: $(basename "$t") has no corpus in tests/fuzz/corpus/" >&2
            failed=1
        fi
    done
    return $failed
}

pass_format() {
    local bad
    cd "$root"
    # Tracked and new files (not ignored ones), so a file about to be added is checked too.
    bad=$(git ls-files --cached --others --exclude-standard -- 'src/*.[ch]' 'tests/*.[ch]' \
        'bench/*.[ch]' | sort -u | while read -r f; do
        [ ! -f "$f" ] || clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
    done)
    if [ -n "$bad" ]; then
        echo "ci-extra: not formatted as .clang-format says (clang-format -i FILE):" >&2
        echo "$bad" >&2
        return 1
    fi
}

pass_cppcheck() {
    local pbc
    if [ ! -f "$build/compile_commands.json" ]; then
        configure "$build"
    fi
    # The generated proto header must exist for the files that include it.
    cmake --build "$build" --target herald_proto >/dev/null
    # cppcheck does not read system headers, so herald.pb-c.h's version check and its
    # declaration macros would stop every file including it: give it protobuf-c's own values.
    pbc="$(pkg-config --variable=includedir libprotobuf-c)/protobuf-c/protobuf-c.h"
    cppcheck --project="$build/compile_commands.json" --file-filter="$root/src/*" \
        --enable=warning,performance,portability --error-exitcode=1 --inline-suppr -q \
        -j"$jobs" --cppcheck-build-dir="$(mkdir -p "$build/cppcheck" && echo "$build/cppcheck")" \
        -DPROTOBUF_C_VERSION_NUMBER="$(awk '/#define PROTOBUF_C_VERSION_NUMBER/ {print $3}' "$pbc")" \
        -DPROTOBUF_C_MIN_COMPILER_VERSION="$(awk '/#define PROTOBUF_C_MIN_COMPILER_VERSION/ {print $3}' "$pbc")" \
        -DPROTOBUF_C__BEGIN_DECLS= -DPROTOBUF_C__END_DECLS=
}

passes=("$@")
if [ ${#passes[@]} -eq 0 ]; then passes=(sanitize tsan fuzz format cppcheck); fi
failed=()
for p in "${passes[@]}"; do
    if ! declare -F "pass_$p" >/dev/null; then
        echo "ci-extra: unknown pass '$p' (sanitize tsan fuzz format cppcheck)" >&2
        exit 2
    fi
done
for p in "${passes[@]}"; do
    echo "ci-extra: $p ..."
    start=$(date +%s)
    # Not inside an if or ||: there bash ignores set -e, and a failing step would not end the pass.
    set +e
    (
        set -e
        "pass_$p"
    )
    rc=$?
    set -e
    if [ $rc -eq 0 ]; then status=passed; else status=FAILED; failed+=("$p"); fi
    echo "ci-extra: $p $status in $(($(date +%s) - start)) s"
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "ci-extra: failed: ${failed[*]}" >&2
    exit 1
fi
echo "ci-extra: every pass passed"
