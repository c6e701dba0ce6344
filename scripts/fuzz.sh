#!/usr/bin/env bash
# Runs every Go fuzz target in the tree, one at a time (go test -fuzz takes
# one target per run), and ends with a table of what each did: package,
# target, executions, fuzzing time, result. Exits non-zero if any failed.
#
#   scripts/fuzz.sh [FUZZTIME [TARGET-REGEXP]]
#
# FUZZTIME is go's -fuzztime, a duration (10s, 5m, 1h30m) or a number of
# executions (100000x); it may also come from the environment; default 10s.
# A short CI smoke run: scripts/fuzz.sh 2s
# TARGET-REGEXP (or $FUZZ_ONLY) picks targets by "package-dir/FuzzName",
# e.g. 'image/' or 'FuzzParse$'.
#
# FUZZ_PARALLEL sets go's -parallel, the number of fuzzing worker
# processes; the default, 2, suits a 2-CPU machine. The generated corpus
# goes where go keeps it, in GOCACHE (go env GOCACHE)/fuzz; the only thing
# go writes into the tree is an input that fails, to the package's
# testdata/fuzz/FuzzName/, meant to be kept as a regression seed once the
# bug is fixed.
set -euo pipefail

cd "$(dirname "$0")/.."

FUZZTIME=${1:-${FUZZTIME:-10s}}
ONLY=${2:-${FUZZ_ONLY:-}}
PARALLEL=${FUZZ_PARALLEL:-2}
GO=${GO:-go}
TAGS=containers_image_openpgp,exclude_graphdriver_btrfs,containers_image_docker_daemon_stub
export CGO_ENABLED=${CGO_ENABLED:-0}
export PATH="$PATH:/usr/local/go/bin"

if ! [[ $FUZZTIME =~ ^([0-9]+x|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$ ]]; then
	echo "fuzz.sh: FUZZTIME $FUZZTIME is neither a duration (10s, 2m) nor a count (1000x)" >&2
	exit 2
fi
if ! [[ $PARALLEL =~ ^[1-9][0-9]*$ ]]; then
	echo "fuzz.sh: FUZZ_PARALLEL $PARALLEL is not a positive number" >&2
	exit 2
fi

# seconds DURATION: whole seconds in a go duration, rounded up.
seconds() {
	local d=$1 total=0 n u
	while [[ $d =~ ^([0-9]+(\.[0-9]+)?)(ns|us|ms|s|m|h)(.*)$ ]]; do
		n=${BASH_REMATCH[1]} u=${BASH_REMATCH[3]} d=${BASH_REMATCH[4]}
		case $u in
		h) total=$(awk -v t="$total" -v n="$n" 'BEGIN { print t + n * 3600 }') ;;
		m) total=$(awk -v t="$total" -v n="$n" 'BEGIN { print t + n * 60 }') ;;
		s) total=$(awk -v t="$total" -v n="$n" 'BEGIN { print t + n }') ;;
		*) total=$(awk -v t="$total" 'BEGIN { print t + 1 }') ;;
		esac
	done
	awk -v t="$total" 'BEGIN { printf "%d\n", (t == int(t)) ? t : int(t) + 1 }'
}

# go test's -timeout covers the fuzzing too: give it the fuzzing time and
# room for building, the seed corpus and minimizing a failure. A count of
# executions has no known duration: six hours, then.
if [[ $FUZZTIME == *x ]]; then
	TIMEOUT=21600s
else
	TIMEOUT=$(($(seconds "$FUZZTIME") + 600))s
fi

# Every Fuzz target: "dir name" pairs, in a stable order.
targets=()
while IFS= read -r file; do
	dir=$(dirname "${file#./}")
	while IFS= read -r name; do
		[[ -n $name ]] || continue
		if [[ -n $ONLY && ! "$dir/$name" =~ $ONLY ]]; then
			continue
		fi
		targets+=("$dir $name")
	done < <(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$file")
done < <(grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata '^func Fuzz[A-Za-z0-9_]*\(' . | sort)

if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz.sh: no Fuzz targets found${ONLY:+ matching $ONLY}" >&2
	exit 1
fi

# flake LOG: whether a failed run failed only by go's -fuzztime deadline
# race: the one error is "context deadline exceeded", no failing input.
flake() {
	grep -aq 'context deadline exceeded' "$1" &&
		! grep -aqE 'Failing input written to|panic:|fuzz_test\.go:[0-9]+:|_test\.go:[0-9]+:' "$1"
}

logs=$(mktemp -d "${TMPDIR:-/tmp}/box-fuzz.XXXXXX")
keep_logs=0
trap '[[ $keep_logs == 1 ]] || rm -rf "$logs"' EXIT

echo "fuzz.sh: ${#targets[@]} targets, -fuzztime=$FUZZTIME each, -parallel=$PARALLEL; corpus in $("$GO" env GOCACHE)/fuzz"
rows=()
failed=0
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	log="$logs/${dir//\//_}.$name.log"
	echo
	echo "== $dir $name"
	start=$SECONDS
	note=
	for attempt in 1 2; do
		rc=0
		"$GO" test -tags "$TAGS" -run='^$' -fuzz="^$name\$" -fuzztime="$FUZZTIME" \
			-parallel="$PARALLEL" -timeout="$TIMEOUT" "./$dir" 2>&1 | tee "$log" || rc=$?
		# Go's coordinator before 1.27 can fail a target with a bare
		# "context deadline exceeded" when a duration -fuzztime ends while a
		# worker is mid-call (go.dev/issue/75804): no input failed and none
		# was written. Run such a target once more rather than report it;
		# anything else, or the same thing twice, is a failure.
		if [[ $rc -ne 0 && $attempt -eq 1 ]] && flake "$log"; then
			echo "fuzz.sh: $dir $name: bare 'context deadline exceeded' at the -fuzztime boundary (go.dev/issue/75804); running it once more"
			note=" (retried: go#75804)"
			continue
		fi
		break
	done
	wall=$((SECONDS - start))
	# The last progress line has the totals:
	# fuzz: elapsed: 3s, execs: 123456 (41152/sec), new interesting: 2 (total: 50)
	last=$(grep -aE '^fuzz: elapsed: .*, execs: [0-9]+' "$log" | tail -n 1 || true)
	execs=$(sed -nE 's/.*, execs: ([0-9]+) .*/\1/p' <<<"$last")
	elapsed=$(sed -nE 's/^fuzz: elapsed: ([^,]+), .*/\1/p' <<<"$last")
	if [[ -z $last ]]; then
		# The time ran out while go ran the corpus it had for a baseline
		# (it counts towards -fuzztime): no new inputs were tried.
		base=$(grep -aoE 'gathering baseline coverage: [0-9]+/[0-9]+' "$log" | tail -n 1 || true)
		execs="0 (baseline ${base##* })"
		elapsed=$(grep -aoE '^fuzz: elapsed: [^,]+' "$log" | tail -n 1 | sed 's/^fuzz: elapsed: //' || true)
	fi
	result=ok$note
	if [[ $rc -ne 0 ]] || ! grep -aqE '^(ok|PASS)' "$log"; then
		result=FAIL
		failed=$((failed + 1))
		keep_logs=1
		if input=$(grep -aoE 'Failing input written to [^ ]+' "$log" | tail -n 1); then
			result="FAIL ($dir/${input#Failing input written to })"
		fi
	fi
	rows+=("$dir|$name|${execs:-?}|${elapsed:-?}|${wall}s|$result")
done

echo
{
	echo "PACKAGE|TARGET|EXECS|FUZZ TIME|WALL|RESULT"
	printf '%s\n' "${rows[@]}"
} | awk -F'|' '
	{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
	END { for (r = 1; r <= n; r++) { line = ""; for (i = 1; i <= nf; i++) line = line (i < nf ? sprintf("%-" w[i] "s  ", cell[r, i]) : cell[r, i]); print line } }'
if [[ $failed -gt 0 ]]; then
	echo
	echo "fuzz.sh: $failed of ${#targets[@]} targets FAILED; logs in $logs"
	exit 1
fi
