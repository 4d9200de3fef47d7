#!/bin/sh
# tests/fuzz/run.sh: runs libFuzzer targets for FUZZ_SECONDS each (make
# fuzz; docs/fuzzing.md).
#
#   FUZZ_SECONDS=N run.sh ./fuzz_NAME...
#
# Each target starts from a scratch copy of its checked-in corpus
# (fuzz-work/NAME/corpus, kept between runs; the checked-in one is never
# written), with its dictionary when it has one, and writes its log and
# any reproducer to fuzz-work/NAME/.  The exit status is 1 when a target
# found a crash, a leak or a timeout; each is named with its reproducer.
# FUZZ_ARGS adds libFuzzer options (e.g. -jobs=2).

srcdir=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-60}
work=${FUZZ_WORK:-fuzz-work}
failed=

dict_of() {
    case $1 in
    request) echo http.dict ;;
    config) echo conf.dict ;;
    jwt) echo jwt.dict ;;
    rest_body) echo json.dict ;;
    template) echo template.dict ;;
    esac
}

for prog in "$@"; do
    case $prog in
    */*) ;;
    *) prog=./$prog ;;
    esac
    name=$(basename "$prog")
    name=${name#fuzz_}
    dir=$work/$name
    mkdir -p "$dir/corpus"
    cp -p "$srcdir/corpus/$name"/* "$dir/corpus/" 2>/dev/null
    rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
          "$dir"/slow-unit-*

    set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
           -print_final_stats=1 -artifact_prefix="$dir/"
    d=$(dict_of "$name")
    if [ -n "$d" ]; then
        set -- "$@" -dict="$srcdir/$d"
    fi

    echo "fuzz: $name for ${seconds}s (log: $dir/log)"
    # shellcheck disable=SC2086
    nice "$prog" "$@" $FUZZ_ARGS "$dir/corpus" > "$dir/log" 2>&1
    rc=$?

    stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
    echo "fuzz: $name: ${execs:-?} execs; ${stats:-no final stats}"

    found=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
            2>/dev/null)
    if [ $rc -ne 0 ] || [ -n "$found" ]; then
        echo "fuzz: $name FAILED (status $rc)" >&2
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$dir/log" \
            | head -n 5 >&2
        for f in $found; do
            echo "fuzz: $name: reproducer $f" >&2
            echo "      (run: $prog $f)" >&2
        done
        failed="$failed $name"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
echo "fuzz: no crash, leak or timeout"
