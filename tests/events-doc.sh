#!/bin/bash
# events-doc.sh - src/core/events.def and sipedge(8) name the same events:
# every event name and reason slug of the table appears in the man page,
# and every event the man page documents (LOGGING, "Events of this
# release") is in the table or listed in NOT_IN_TABLE below.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
def=$top/src/core/events.def
man=$top/man/sipedge.8
# Documented events the daemon logs outside the table (none today).
NOT_IN_TABLE=""
bad=0

table_events=$(sed -n 's/^EVENT([A-Z_]*, "\([a-z_]*\)".*/\1/p' "$def" | sort -u)
slugs=$(sed -n 's/^REASON([A-Z_]*, "\([a-z_]*\)".*/\1/p' "$def" | sort -u)
for s in $table_events $slugs; do
	if ! grep -Eq "(^|[^a-z_])${s}([^a-z_]|\$)" "$man"; then
		echo "events-doc: '$s' is in events.def but not in sipedge(8)"
		bad=1
	fi
done

# Top-level .TP entries of "Events of this release" (nested .RS lists are
# reason slugs, not events).
documented=$(awk '
	/^\.SS "Events of this release"/ { on = 1; next }
	on && /^\.S[HS]/ { exit }
	!on { next }
	/^\.RS/ { depth++ } /^\.RE/ { depth-- }
	/^\.TP/ && depth == 0 { want = 1; next }
	want { want = 0; if ($1 == ".B" || $1 == ".BR") print $2 }
' "$man" | sort -u)
[ -n "$documented" ] || { echo "events-doc: no events found in sipedge(8)"; exit 1; }
for ev in $documented; do
	if ! grep -qx "$ev" <<<"$table_events" && ! grep -qw "$ev" <<<"$NOT_IN_TABLE"; then
		echo "events-doc: sipedge(8) documents event=$ev, events.def does not"
		bad=1
	fi
done
for ev in $table_events; do
	grep -qx "$ev" <<<"$documented" ||
		{ echo "events-doc: event=$ev is not under 'Events of this release'"; bad=1; }
done
exit $bad
