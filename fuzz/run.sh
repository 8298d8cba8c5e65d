#!/usr/bin/env bash
# Runs the libFuzzer harnesses of fuzz/ (built by `make fuzz-build` into
# BUILD, default build/fuzz). Output is TAP, one line per harness.
#   fuzz/run.sh replay [BUILD]   every input of fuzz/corpus/<name>/ and
#                                fuzz/regressions/<name>/ through its harness
#                                once, no fuzzing (seconds; part of make test)
#   fuzz/run.sh fuzz [BUILD]     each harness fuzzes for FUZZ_SECONDS (default
#                                60), two at a time, from its corpus with
#                                fuzz/dict/<name>.dict; new inputs go to
#                                BUILD/corpus/<name>/, a crash's input to
#                                fuzz/regressions/<name>/ (commit it with the fix)
#   fuzz/run.sh one NAME [BUILD] the same for one harness
# A crash, a sanitizer report, a timeout or running out of memory fails.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-replay}
one=
if [[ $mode == one ]]; then # fuzz/run.sh one NAME [BUILD]: fuzz just one harness
  one=${2:?usage: $0 one NAME [BUILD]}
  shift
fi
build=${2:-build/fuzz}
seconds=${FUZZ_SECONDS:-60}
parallel=${FUZZ_JOBS:-2}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

names=()
for src in fuzz/fuzz_*.c; do
  n=${src#fuzz/fuzz_}
  names+=("${n%.c}")
done

# replay NAME: one TAP line for the committed inputs of NAME.
replay() {
  local name=$1 bin=$build/fuzz_$1 log=$build/logs/replay-$1.log files=()
  mapfile -t files < <(find "fuzz/corpus/$name" "fuzz/regressions/$name" -type f ! -name '.*' 2>/dev/null | sort)
  if [[ ! -x $bin ]]; then
    echo "not ok - replay $name: $bin is missing (make fuzz-build)"
    return 1
  fi
  if "$bin" -timeout=10 "${files[@]}" >"$log" 2>&1; then
    echo "ok - replay $name: ${#files[@]} inputs"
    return 0
  fi
  echo "not ok - replay $name: an input fails (see $log)"
  grep -E 'Running:|ERROR|runtime error|invariant failed' "$log" | tail -5 | sed 's/^/# /'
  return 1
}

# fuzz NAME: fuzzes NAME for $seconds; one TAP line.
fuzz_one() {
  local name=$1 bin=$build/fuzz_$1 log=$build/logs/fuzz-$1.log
  local scratch=$build/corpus/$name found=fuzz/regressions/$name
  mkdir -p "$scratch" "$found"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="fuzz/dict/$name.dict" -artifact_prefix="$found/" \
    "$scratch" "fuzz/corpus/$name" "$found" >"$log" 2>&1
  local rc=$? runs corpus
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
  if (( rc == 0 )); then
    echo "ok - fuzz $name: ${seconds} s, ${runs:-?} runs, ${corpus:-corp: ?}"
    return 0
  fi
  echo "not ok - fuzz $name: exit $rc (see $log)"
  grep -E 'ERROR|runtime error|invariant failed|Test unit written' "$log" | head -5 | sed 's/^/# /'
  local f
  for f in $(find "$found" -type f -newer "$bin" | head -3); do
    echo "# kept $f (commit it with the fix); its bytes, and base64 to recreate it:"
    od -An -c "$f" | head -8 | sed 's/^/#   /'
    echo "#   $(head -c 3072 "$f" | base64 -w0)"
  done
  return 1
}

mkdir -p "$build/logs"
if [[ -n $one ]]; then echo "1..1"; else echo "1..${#names[@]}"; fi
case $mode in
  replay)
    rc=0
    for n in "${names[@]}"; do replay "$n" || rc=1; done
    exit $rc
    ;;
  fuzz)
    export -f fuzz_one
    export build seconds
    printf '%s\n' "${names[@]}" | xargs -P "$parallel" -I{} bash -c 'fuzz_one "$1"' _ {}
    ;;
  one)
    fuzz_one "$one"
    ;;
  *)
    echo "usage: $0 replay|fuzz [BUILD] | one NAME [BUILD]" >&2
    exit 2
    ;;
esac
