#!/usr/bin/env bash
# layering.sh - the source tree's dependency rules, read from #include lines.
#
#   src/util    depends on nothing of ours (README.md, "How it works")
#   src/core    util only, and never util/log.h or util/counters.h: pure
#               decisions, no libevent, c-ares, syslog, libconfig or systemd
#   src/net     util and core; calls up only through registered callbacks
#   src/proxy   util, core and net
#   src/daemon  anything
#   tools/*     util, core and net/dns.h
#
# Also: no cycle among modules (a module is NAME.c with NAME.h), and no C
# file over 800 lines. An edge or file named in tests/layering.allow is
# tolerated while it is being moved; the goal is an empty list.
# Usage: tests/layering.sh [SRCDIR]   (exit 0 clean, 1 on any violation)
set -u
top=${1:-${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}}
cd "$top" || exit 2
allow=tests/layering.allow
MAX_LINES=800

allowed() { [ -f "$allow" ] && grep -qxF -- "$1" "$allow"; }

layer_of() {
	case $1 in
	src/util/*) echo util ;;
	src/core/*) echo core ;;
	src/net/*) echo net ;;
	src/proxy/*) echo proxy ;;
	src/daemon/*) echo daemon ;;
	tools/*) echo tools ;;
	*) echo unknown ;;
	esac
}

# may FROM_LAYER include the header at path TO (relative to src/)?
may_include() {
	local from=$1 to=$2 tl=${2%%/*}
	case $from in
	util) [ "$tl" = util ] ;;
	core) [ "$tl" = core ] || { [ "$tl" = util ] &&
		[ "$to" != util/log.h ] && [ "$to" != util/counters.h ]; } ;;
	net) [ "$tl" = util ] || [ "$tl" = core ] || [ "$tl" = net ] ;;
	proxy) [ "$tl" = util ] || [ "$tl" = core ] || [ "$tl" = net ] ||
		[ "$tl" = proxy ] ;;
	daemon) true ;;
	tools) [ "$tl" = util ] || [ "$tl" = core ] || [ "$to" = net/dns.h ] ;;
	*) false ;;
	esac
}

bad=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
files=$(find src tools -name '*.[ch]' | LC_ALL=C sort)
[ -n "$files" ] || { echo "layering: no sources under $top"; exit 2; }
nfiles=0
for f in $files; do
	nfiles=$((nfiles + 1))
	l=$(layer_of "$f")
	if [ "$l" = unknown ]; then
		echo "layering: $f is in no layer"; bad=1; continue
	fi
	mod=${f%.[ch]}
	while IFS= read -r inc; do
		case $inc in
		config.h) continue ;;
		*/*) ;;
		*)	# a tool's own header beside it
			[ "$l" = tools ] && [ -f "$(dirname "$f")/$inc" ] && continue
			echo "layering: $f includes \"$inc\" without its layer folder"
			bad=1; continue ;;
		esac
		if [ ! -f "src/$inc" ]; then
			echo "layering: $f includes \"$inc\", which is not under src/"
			bad=1; continue
		fi
		edge="$f -> $inc"
		if ! may_include "$l" "$inc" && ! allowed "$edge"; then
			echo "layering: $edge: $l may not depend on ${inc%%/*}"
			bad=1
		fi
		target=src/${inc%.h}
		[ "$target" = "$mod" ] && continue
		allowed "$edge" || echo "$mod $target" >>"$edges"
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	if [ "$l" = core ] || [ "$l" = util ]; then
		sys=$(grep -Eo '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(event2/|ares|systemd/|libconfig)[^>]*>' "$f" || true)
		if [ -n "$sys" ] && ! allowed "$f -> $(echo "$sys" | head -1 | sed 's/.*<\(.*\)>/\1/')"; then
			echo "layering: $f includes $(echo "$sys" | head -1 | sed 's/.*</</'): $l does no I/O"
			bad=1
		fi
	fi
	if [ "$l" = core ] && grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*<syslog\.h>' "$f" &&
	   ! allowed "$f -> syslog.h"; then
		echo "layering: $f includes <syslog.h>: core does not log"; bad=1
	fi
	case $f in *.c)
		n=$(wc -l <"$f")
		if [ "$n" -gt "$MAX_LINES" ] && ! allowed "size $f"; then
			echo "layering: $f has $n lines (at most $MAX_LINES)"; bad=1
		fi ;;
	esac
done

# Cycles: tsort names the modules of a loop on stderr.
loops=$(sort -u "$edges" | tsort 2>&1 >/dev/null | grep -v 'input contains a loop' | sed 's/^tsort: //')
if [ -n "$loops" ]; then
	echo "layering: modules in a dependency cycle:"
	echo "$loops" | LC_ALL=C sort -u | sed "s/^/  /"
	bad=1
fi

# Entries that no longer match anything are stale: the list only shrinks.
if [ -f "$allow" ]; then
	while IFS= read -r a; do
		case $a in ''|'#'*) continue ;; esac
		case $a in
		size\ *) f=${a#size }
			[ -f "$f" ] && [ "$(wc -l <"$f")" -gt "$MAX_LINES" ] && continue ;;
		*' -> '*) f=${a%% -> *} inc=${a#* -> }
			[ -f "$f" ] && grep -Eq "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]$inc[\">]" "$f" && continue ;;
		esac
		echo "layering: stale entry in $allow: $a"; bad=1
	done <"$allow"
fi

n_allow=0
[ -f "$allow" ] && n_allow=$(grep -cvE '^(#|$)' "$allow")
if [ $bad -eq 0 ]; then
	echo "layering: $nfiles files, rules hold ($n_allow tolerated entries)"
fi
exit $bad
