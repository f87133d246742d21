#!/bin/bash
# tests/fuzz/run.sh SECONDS [HARNESS...] - replay the fuzz regressions, then
# fuzz each harness for SECONDS (0: replay only). Build first: `make fuzz`.
#
#   fuzz <name>: <execs> execs, <s> s, <n> crashes (cov: <c>)
#
# Exit 1 when a regression input fails or fuzzing found a crash; the
# crashing input is kept as tests/fuzz/crashes/<harness>-crash-<sha1>.
#
# tests/fuzz/regress/<harness>-<short>.bin are inputs that once crashed a
# harness: each must now run clean. tests/fuzz/regress/OPEN lists those whose
# bug is not fixed yet ("<file> <tag> <bug>"): they must still fail (when one
# passes, take its line out), and while they are listed fuzzing goes on past
# them: a property tag goes to FUZZ_IGNORE (see fuzz_common.h); a tag
# lsan:<function> (a known leak) makes that harness fuzz without leak
# checks, then look for leaks once over its whole corpus, with full stacks,
# that function's leaks suppressed.
#
# Environment: FUZZ_BIN (where the harnesses are; default: this directory),
# FUZZ_WORK (keep the working corpora and logs there), FUZZ_NICE (default 10).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_BIN:-$here}
seconds=${1:?usage: $0 SECONDS [HARNESS...]}
shift
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(fuzz_framing fuzz_policy fuzz_rewrite fuzz_conf)
nice_level=${FUZZ_NICE:-10}

for h in "${harnesses[@]}"; do
	[ -x "$bin/$h" ] || { echo "fuzz: $bin/$h missing: run 'make fuzz' first" >&2; exit 2; }
done

if [ -n "${FUZZ_WORK:-}" ]; then
	work=$FUZZ_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/sipedge-fuzz.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$here/crashes"

# Known open bugs: which regressions must still fail, what fuzzing skips.
declare -A open_file=() late_leaks=([fuzz_conf]=1)
ignore=""
supp="$work/lsan.supp"
: >"$supp"
if [ -f "$here/regress/OPEN" ]; then
	while read -r file tag _; do
		[[ -z $file || $file == \#* ]] && continue
		open_file[$file]=1
		case $tag in
		lsan:*) echo "leak:${tag#lsan:}" >>"$supp"; late_leaks[${file%%-*}]=1 ;;
		*) ignore=${ignore:+$ignore,}$tag ;;
		esac
	done <"$here/regress/OPEN"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
command -v llvm-symbolizer >/dev/null 2>&1 ||
	{ [ -x /usr/bin/llvm-symbolizer-14 ] && export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14; }
# Sofia-SIP and libconfig have no frame pointers: full stacks need the
# slow unwinder, too slow while fuzzing, fine for one pass.
slow_unwind="$ASAN_OPTIONS:fast_unwind_on_malloc=0"

status=0

# ---------------------------------------------------------------- replay
# Strictly: no FUZZ_IGNORE, no suppressions from OPEN.
replayed=0
for f in "$here"/regress/*.bin; do
	[ -e "$f" ] || continue
	name=$(basename "$f")
	h=${name%%-*}
	[[ " ${harnesses[*]} " == *" $h "* ]] || continue
	[ -x "$bin/$h" ] || { echo "fuzz regress $name: no harness $h"; status=1; continue; }
	log="$work/regress-$name.log"
	ASAN_OPTIONS=$slow_unwind FUZZ_IGNORE= "$bin/$h" -runs=1 "$f" >"$log" 2>&1
	rc=$?
	replayed=$((replayed + 1))
	if [ -n "${open_file[$name]:-}" ]; then
		if [ $rc = 0 ]; then
			echo "fuzz regress $name: passes now: take it out of regress/OPEN"
			status=1
		else
			echo "fuzz regress $name: still fails (open bug, regress/OPEN)"
		fi
	elif [ $rc != 0 ]; then
		echo "fuzz regress $name: FAILED"
		grep -E 'FUZZ FINDING|ERROR:|SUMMARY|^    #[0-9]' "$log" | head -30
		status=1
	fi
done
echo "fuzz regress: $replayed input(s) replayed"

# ---------------------------------------------------------------- fuzz
[ "$seconds" -gt 0 ] 2>/dev/null || exit $status

for h in "${harnesses[@]}"; do
	corpus="$work/corpus-$h"
	mkdir -p "$corpus"
	cp -r "$here/corpus/$h/." "$corpus/" 2>/dev/null
	log="$work/$h.log"
	extra=() asan=$ASAN_OPTIONS
	# no leak checks at all while fuzzing (LeakSanitizer would still look
	# at exit, and find the known leaks); one pass at the end instead
	[ -n "${late_leaks[$h]:-}" ] && extra=(-detect_leaks=0) asan="$ASAN_OPTIONS:detect_leaks=0"
	before=$(ls "$here/crashes" | grep -c "^$h-")
	start=$SECONDS
	ASAN_OPTIONS=$asan FUZZ_IGNORE=$ignore nice -n "$nice_level" "$bin/$h" "${extra[@]}" \
		-max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$here/crashes/$h-" \
		"$corpus" >"$log" 2>&1
	rc=$?
	if [ $rc = 0 ] && [ ${#extra[@]} -gt 0 ]; then
		# fuzz_conf: libconfig 1.5 leaks on common syntax errors
		# (suppressed in the harness), and a leak check after each
		# costs 5x the speed. Known open leaks: see regress/OPEN.
		echo "---- leak pass over the corpus" >>"$log"
		ASAN_OPTIONS=$slow_unwind LSAN_OPTIONS="suppressions=$supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
			FUZZ_IGNORE=$ignore nice -n "$nice_level" "$bin/$h" -runs=0 \
			-rss_limit_mb=2048 -timeout=10 -artifact_prefix="$here/crashes/$h-" \
			"$corpus" >>"$log" 2>&1
		rc=$?
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | head -1)
	secs=$((SECONDS - start))
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	crashes=$(( $(ls "$here/crashes" | grep -c "^$h-") - before ))
	[ $rc != 0 ] && [ "$crashes" = 0 ] && crashes=1      # died without an artifact
	[ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
	echo "fuzz $h: ${execs:-0} execs, $secs s, $crashes crashes (cov: ${cov:-?})"
	if [ $rc != 0 ]; then
		status=1
		grep -E 'FUZZ FINDING|ERROR:|SUMMARY|^    #[0-9]|Test unit written' "$log" | head -40
		ls -1 "$here/crashes/$h-"* 2>/dev/null | sed 's/^/  kept: /'
	fi
done
exit $status
