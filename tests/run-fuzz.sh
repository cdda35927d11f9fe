#!/usr/bin/env bash
# make fuzz: every case in tests/fuzz/regress/ (inputs that once broke a
# parser: crashes, or a wrong acceptance) once,
# then each target for FUZZ_SECS seconds from its seed corpus. New inputs
# go to a scratch directory; a crash is reported with the input's bytes,
# to be added to tests/fuzz/regress/TARGET/ once fixed.
cd "$(dirname "$0")/.." || exit 1
B=${1:-build-fuzz} SECS=${FUZZ_SECS:-20}
T=$(mktemp -d "${TMPDIR:-/tmp}/nudge-fuzz.XXXXXX"); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
for target in event csv callback; do
    bin=$B/fuzz_$target
    regress=(tests/fuzz/regress/$target/*)
    if [ -e "${regress[0]}" ]; then
        if "$bin" "${regress[@]}" >"$T/log" 2>&1; then pass=$((pass + 1)); else
            fail=$((fail + 1)); echo "fuzz: $target: a regression case fails again:" >&2; tail -30 "$T/log" >&2; fi
    fi
    mkdir -p "$T/$target"
    if "$bin" -max_total_time="$SECS" -max_len=4096 -artifact_prefix="$T/$target-" -print_final_stats=1 \
        "$T/$target" "tests/fuzz/corpus/$target" >"$T/log" 2>&1; then
        pass=$((pass + 1))
        echo "fuzz: $target: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$T/log" | grep -o '[0-9]*$') inputs in ${SECS} s, no crash"
    else
        fail=$((fail + 1)); echo "fuzz: $target: crash:" >&2; tail -40 "$T/log" >&2
        for a in "$T/$target"-*; do [ -e "$a" ] && { echo "input ($a):" >&2; od -c "$a" | head -20 >&2; }; done
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
