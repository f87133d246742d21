#!/bin/bash
# The whole test suite once more, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (configure --enable-sanitizers), out of tree.
#
#   tests/sanitize.sh        (from the top of a git checkout; .ci/run runs it)
#
# Environment: SANITIZE_JOBS (make -j, default 2); SANITIZE_CONFIGURE_FLAGS
# (default --enable-werror, as CI; empty to see past a warning locally).
#
# - build-asan/src    a clean copy of the source tree: the files git knows
#                     about plus new, not ignored ones (an in-tree configured
#                     checkout cannot host a VPATH build: configure refuses,
#                     and make would pick up the in-tree objects);
# - build-asan/build  ../src/configure --enable-werror --enable-sanitizers,
#                     then make check: unit tests and every integration test
#                     but t-valgrind.sh (valgrind and ASan do not mix).
# A sanitizer report fails the run even when no test noticed it (a report
# from a daemon the test then killed, from sipedge-check, from a forked unit
# test...): afterwards every file under build-asan/build/tests is searched
# for one; the result is the pseudo-test tests/sanitizer-reports (.trs/.log)
# so that it counts like the others.
#
# The integration tests use the same fixed 127.0.N addresses as a normal
# `make check`: never run this beside one (those tests exit 99).
# Exit status: 0 clean, 1 test failure or sanitizer report, 2 build failure,
# 77 cannot run here.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
out=$top/build-asan
jobs=${SANITIZE_JOBS:-2}
start=$SECONDS

step() { echo "==================== sanitize: $* ($((SECONDS - start)) s)"; }

# (safe.directory: CI may run as another user than the checkout's owner.)
git() { command git -c safe.directory="$top" "$@"; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	{ echo "sanitize: $top is not a git checkout (needed to copy the sources)"; exit 77; }

step "copying the sources to $out/src"
rm -rf "$out" && mkdir -p "$out/src" "$out/build" || exit 2
# Tracked files that still exist, plus untracked files not ignored.
git ls-files -z --cached --others --exclude-standard -- . ':!build-asan' |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar -C "$top" --null -T - -cf - | tar -C "$out/src" -xf - || exit 2

conf_flags=${SANITIZE_CONFIGURE_FLAGS---enable-werror}
step "autoreconf, configure $conf_flags --enable-sanitizers, make -j$jobs"
(
	set -e
	cd "$out/src"
	mkdir -p m4
	autoreconf -fi
	cd "$out/build"
	../src/configure $conf_flags --enable-sanitizers
	make -j"$jobs"
) >"$out/build.log" 2>&1 || {
	tail -n 60 "$out/build.log"
	step "FAILED: the sanitizer build failed (log: $out/build.log)"
	exit 2
}

# Sanitizer reports must be fatal and complete. abort_on_error: a report
# kills the process with SIGABRT, so a leak at exit turns the daemon's exit
# status (which the tests assert is 0 on SIGTERM) into 134.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Check's forked unit tests: reports come from the child; keep the default.
unset CK_FORK

# Tests that run a program under valgrind when it is installed (t-check.sh
# runs sipedge-check so) cannot with an ASan binary ("ASan runtime does not
# come first"): here "valgrind [OPTION...] PROGRAM ARG..." runs PROGRAM
# itself, so the sanitizers do the memory check (a leak: exit 134, not 0/1).
mkdir -p "$out/bin" || exit 2
cat >"$out/bin/valgrind" <<'EOF'
#!/bin/bash
# tests/sanitize.sh: ASan build, no valgrind; run the program directly.
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
exec "$@"
EOF
chmod +x "$out/bin/valgrind" || exit 2
export PATH=$out/bin:$PATH

cd "$out/build" || exit 2
# Integration tests but t-valgrind.sh, from the Makefile. Overriding
# INTEGRATION_TESTS (not only TESTS) also drops t-valgrind.log from the
# prerequisites of t-bytescan.log.
integration=$(printf 'print-it:\n\t@echo $(INTEGRATION_TESTS)\n' |
	make -s --no-print-directory -f Makefile -f - print-it) || exit 2
integration=$(printf '%s\n' $integration | grep -v '/t-valgrind\.sh$' | tr '\n' ' ')
[ -n "$integration" ] || { echo "sanitize: no integration tests found in the Makefile"; exit 2; }

step "make -j$jobs check (without t-valgrind.sh)"
check=0
make -j"$jobs" check INTEGRATION_TESTS="$integration" >"$out/check.log" 2>&1 || check=$?
grep -E '^(PASS|FAIL|XPASS|XFAIL|SKIP|ERROR):' "$out/check.log"
sed -n '/^# TOTAL:/,/^# ERROR:/p' "$out/check.log"

step "searching build-asan/build/tests for sanitizer reports"
pattern='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'
scan=tests/sanitizer-reports
: >"$scan.log"
# Everything the tests left (daemon logs, tool output) and the test logs
# (stderr of the unit tests); -a: a log may hold a stray binary byte.
mapfile -t hits < <( { find tests/run -type f 2>/dev/null; find tests -name '*.log'; } |
	grep -v "^$scan\.log\$" | sort -u | xargs -r -d '\n' grep -laE -- "$pattern")
for f in "${hits[@]}"; do
	echo "==================== $out/build/$f"
	# Each report, from its first line to its SUMMARY line (UBSan: to the
	# end of its stack trace), at most 200 lines.
	awk -v re="$pattern" '
		on && ub && !/#[0-9]+ / { on = 0; print "" }
		!on && $0 ~ re { on = 1; n = 0; ub = /runtime error:/ ; print; next }
		on { print; n++; if (/SUMMARY: / || n >= 200) { on = 0; print "" } }
	' "$f" | head -n 1000
done >>"$scan.log"
if [ ${#hits[@]} -eq 0 ]; then
	echo ":test-result: PASS" >"$scan.trs"
	echo "no sanitizer report in $out/build/tests" >>"$scan.log"
	echo "PASS: $scan"
else
	echo ":test-result: FAIL" >"$scan.trs"
	echo "FAIL: $scan (reports in ${#hits[@]} file(s)):"
	printf '  %s\n' "${hits[@]}"
	cat "$scan.log"
fi

# The logs of failed tests, so the output says why.
for trs in $(find tests -name '*.trs' | sort); do
	[ "$trs" = "$scan.trs" ] && continue
	if grep -qE '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
		echo "==================== $out/build/${trs%.trs}.log"
		tail -n 60 "${trs%.trs}.log"
	fi
done

rc=0
[ "$check" = 0 ] || rc=1
[ ${#hits[@]} -eq 0 ] || rc=1
step "$([ $rc = 0 ] && echo clean || echo FAILED)"
exit $rc
