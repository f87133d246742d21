#!/bin/bash
# t-deb.sh - the Debian package test (CI runs it as root on Debian 12).
#
# Builds the source and binary packages from a scratch copy of the source
# tree with `dpkg-buildpackage -us -uc`, runs lintian on the .changes (the
# .dsc, the .deb and the .changes itself: any error or warning fails; info
# and pedantic tags are printed), installs the .deb on this machine, checks
# what it installed (user, binary, conffiles, modes of /etc/sipedge, man
# pages, unit, rsyslog and logrotate rules), runs the autopkgtest
# debian/tests/message against the installed package (the same script an
# autopkgtest runner would run: a generated configuration, the daemon, a
# MESSAGE answered 200), makes throw-away certificates for the installed
# sample /etc/sipedge/edge.conf and checks it with `sipedge -t`, then purges
# the package and removes everything the test added: the machine is left as
# it was found. Takes a few minutes.
#
# Needs root (exit 77 otherwise), a git checkout, the build dependencies and
# dpkg-dev, debhelper and lintian (contrib/install-deps --test installs them),
# python3 (debian/tests/message's node). Installs logrotate and rsyslog for
# the checks of their rules if they are missing (purged again at the end);
# if they cannot be installed, those checks are skipped with a note.
# Refuses to run (exit 1) if sipedge is already installed or /etc/sipedge
# exists, rather than touch them.
#
# Prints one "ok - ..." / "not ok - ..." line per check and ends with
# "deb: N passed, N failed"; exits 0 if nothing failed, else 1.
#
# The checks pass single-quoted expressions to eval on purpose (SC2016);
# quiet() is reached through check() (SC2317).
# shellcheck disable=SC2016,SC2317
set -uo pipefail

if ((EUID != 0)); then
	echo "t-deb.sh: installs a package on this machine: run as root; skipped"
	exit 77
fi

top=$(cd "$(dirname "$0")/../.." && pwd)
start=$SECONDS
pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
# check DESCRIPTION COMMAND...: one ok/not ok line from COMMAND's status
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else notok "$desc"; fi
}
indent() { sed 's/^/    /'; }
quiet() { "$@" >/dev/null 2>&1; }

tmp=
installed=no
created_user=no
extra_pkgs=()
placed=()
statoverride=no

cleanup() {
	local f
	for f in "${placed[@]}"; do rm -f "$f"; done
	[[ $statoverride == yes ]] && dpkg-statoverride --remove /etc/sipedge >/dev/null 2>&1
	if [[ $installed == yes ]]; then
		if dpkg-query -W sipedge >/dev/null 2>&1; then
			apt-get purge -y -q sipedge >/dev/null 2>&1 ||
				dpkg --purge sipedge >/dev/null 2>&1
		fi
		[[ -d /etc/sipedge ]] && rmdir /etc/sipedge 2>/dev/null
	fi
	if ((${#extra_pkgs[@]})); then
		apt-get purge -y -q "${extra_pkgs[@]}" >/dev/null 2>&1
	fi
	if [[ $created_user == yes ]]; then
		getent passwd sipedge >/dev/null && userdel sipedge 2>/dev/null
		getent group sipedge >/dev/null && groupdel sipedge 2>/dev/null
	fi
	[[ -n $tmp ]] && rm -rf "$tmp"
	installed=no created_user=no extra_pkgs=() placed=() statoverride=no
}
trap cleanup EXIT
trap 'exit 1' INT TERM

finish() {
	cleanup
	echo "deb: $pass passed, $fail failed ($((SECONDS - start)) s)"
	((fail == 0)) && exit 0
	exit 1
}
# fatal MESSAGE: a failed precondition; the rest cannot run
fatal() {
	notok "$*"
	finish
}

# ------------------------------------------------------------ preconditions
missing=()
for cmd in git dpkg-buildpackage dh lintian apt-get openssl setpriv systemd-analyze python3; do
	command -v "$cmd" >/dev/null || missing+=("$cmd")
done
((${#missing[@]} == 0)) ||
	fatal "tools present (missing: ${missing[*]}; run contrib/install-deps --test)"
git -C "$top" rev-parse --git-dir >/dev/null 2>&1 ||
	fatal "source tree is a git checkout ($top)"
[[ -f $top/debian/control ]] || fatal "debian/control exists"
status=$(dpkg-query -W -f='${db:Status-Status}' sipedge 2>/dev/null)
[[ -z $status || $status == not-installed ]] ||
	fatal "sipedge is not installed yet (dpkg status: $status; refusing to touch it)"
[[ ! -e /etc/sipedge ]] || fatal "/etc/sipedge does not exist yet (refusing to touch it)"
getent passwd sipedge >/dev/null || created_user=yes

# ------------------------------------------------------------------- build
tmp=$(mktemp -d /tmp/sipedge-deb.XXXXXX)
src=$tmp/sipedge
mkdir "$src"
# Tracked and untracked-but-not-ignored files: the working tree as the
# developer sees it, without build products.
(cd "$top" && git ls-files -z -co --exclude-standard |
	tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$src" -xf - ||
	fatal "copy the source tree to $src"

DEB_BUILD_OPTIONS="parallel=$(nproc)"
export DEB_BUILD_OPTIONS
# Source and binary: the source package is what lintian must see as well.
if (cd "$src" && dpkg-buildpackage -us -uc) >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc (source and binary)"
else
	notok "dpkg-buildpackage -us -uc; last lines of its log:"
	tail -n 60 "$tmp/build.log" | indent
	finish
fi
shopt -s nullglob
debs=("$tmp"/sipedge_*.deb)
dscs=("$tmp"/sipedge_*.dsc)
changes=("$tmp"/sipedge_*.changes)
shopt -u nullglob
((${#debs[@]} == 1 && ${#dscs[@]} == 1 && ${#changes[@]} == 1)) ||
	fatal "build made one sipedge_*.deb, .dsc and .changes (got: ${debs[*]} ${dscs[*]} ${changes[*]})"
deb=${debs[0]} dsc=${dscs[0]}
ok "built ${dsc##*/} and ${deb##*/}"
units=$(grep -cE '^PASS: tests/unit/' "$tmp/build.log")
check "unit tests ran at package build ($units passed)" \
	eval '((units > 0)) && ! grep -qE "^(FAIL|ERROR): " "$tmp/build.log"'

# ------------------------------------------------------------------ lintian
# The .changes names the .dsc and the .deb: one lintian run checks the
# source package, the binary package and the .changes. Errors and warnings
# fail (overrides: debian/source/lintian-overrides,
# debian/sipedge.lintian-overrides, each with its reason); info and pedantic
# tags are shown, not counted.
check "${changes[0]##*/} lists the source (${dsc##*/}) and the binary (${deb##*/})" \
	eval 'grep -qE " ${dsc##*/}\$" "${changes[0]}" && grep -qE " ${deb##*/}\$" "${changes[0]}"'
echo "# lintian --fail-on error,warning --display-info --pedantic --show-overrides ${changes[0]##*/}"
lintian --fail-on error,warning --display-info --pedantic --show-overrides \
	"${changes[0]}" >"$tmp/lintian.log" 2>&1
lintian_rc=$?
grep -v '^running with root privileges is not recommended!$' "$tmp/lintian.log" | indent
lint_count() { grep -cE "^$1: sipedge( source)?( \(changes\))?:" "$tmp/lintian.log"; }
check "lintian: source, binary and .changes without errors or warnings ($(lint_count E) E, $(lint_count W) W, $(lint_count I) I, $(lint_count P) P, $(lint_count O) overridden)" \
	test "$lintian_rc" = 0

# ------------------------------------------------------------------ install
dpkg-query -W -f='${Package}\n' | sort >"$tmp/pkgs.before"
installed=yes
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" \
	>"$tmp/install.log" 2>&1; then
	ok "apt-get install ./${deb##*/}"
else
	notok "apt-get install ./${deb##*/}:"
	tail -n 30 "$tmp/install.log" | indent
	finish
fi
dpkg-query -W -f='${Package}\n' | sort >"$tmp/pkgs.after"
mapfile -t extra_pkgs < <(comm -13 "$tmp/pkgs.before" "$tmp/pkgs.after" | grep -vx sipedge)
((${#extra_pkgs[@]} == 0)) ||
	echo "# also installed: ${extra_pkgs[*]} (purged again at the end)"
check "package is installed" \
	test "$(dpkg-query -W -f='${db:Status-Status}' sipedge)" = installed

pw=$(getent passwd sipedge)
check "user sipedge exists ($pw)" test -n "$pw"
check "user sipedge is a system user without login or home" \
	eval '[[ $(cut -d: -f3 <<<"$pw") -lt 1000 && $pw == *:/nonexistent:/usr/sbin/nologin ]]'
check "group sipedge exists" quiet getent group sipedge
check "/usr/sbin/sipedge is installed and runs" \
	eval '/usr/sbin/sipedge -V | grep -q "^sipedge "'
check "/etc/sipedge/edge.conf is a conffile" \
	eval "dpkg-query -W -f='\${Conffiles}\n' sipedge | grep -qE '^ /etc/sipedge/edge\.conf [0-9a-f]{32}\$'"
check "/etc/sipedge/edge.conf is etc/edge.conf" cmp -s /etc/sipedge/edge.conf "$top/etc/edge.conf"
for m in /usr/share/man/man8/sipedge.8.gz /usr/share/man/man5/edge.conf.5.gz; do
	check "man page $m" test -s "$m"
done
unit=
for d in /lib/systemd/system /usr/lib/systemd/system; do
	[[ -f $d/sipedge.service ]] && { unit=$d/sipedge.service; break; }
done
check "unit installed (${unit:-none})" test -n "$unit"
if [[ -n $unit ]]; then
	check "unit is contrib/systemd/sipedge.service" cmp -s "$unit" "$top/contrib/systemd/sipedge.service"
	score=$(systemd-analyze security --offline=true "$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	check "unit exposure ${score:-?} <= 2.0 (systemd-analyze security --offline=true)" \
		quiet systemd-analyze security --offline=true --threshold=20 "$unit"
fi
check "unit is not enabled" \
	eval '! compgen -G "/etc/systemd/system/*.wants/sipedge.service" >/dev/null'
check "sysusers.d entry /usr/lib/sysusers.d/sipedge.conf" test -s /usr/lib/sysusers.d/sipedge.conf
sec=$(stat -c '%s %a %U:%G' /etc/sipedge/secret 2>/dev/null)
check "postinst made /etc/sipedge/secret: 32 bytes, 0640 root:sipedge (${sec:-missing})" \
	test "$sec" = "32 640 root:sipedge"
mode() { stat -c '%a %U:%G' "$1" 2>/dev/null; }
m=$(mode /etc/sipedge)
check "/etc/sipedge is 0750 root:sipedge (${m:-missing})" test "$m" = "750 root:sipedge"
m=$(mode /etc/sipedge/edge.conf)
check "/etc/sipedge/edge.conf is 0640 root:sipedge (${m:-missing})" test "$m" = "640 root:sipedge"
# postinst leaves a path with a dpkg-statoverride alone, and sets the
# package's modes again once the override is gone.
postinst=/var/lib/dpkg/info/sipedge.postinst
version=$(dpkg-query -W -f='${Version}' sipedge)
if dpkg-statoverride --list /etc/sipedge >/dev/null 2>&1; then
	echo "# /etc/sipedge has a local dpkg-statoverride: statoverride checks skipped"
else
	statoverride=yes
	dpkg-statoverride --update --add root root 0755 /etc/sipedge
	"$postinst" configure "$version" >"$tmp/postinst.log" 2>&1
	m=$(mode /etc/sipedge)
	check "postinst configure keeps a dpkg-statoverride of /etc/sipedge (root root 0755: ${m:-missing})" \
		test "$m" = "755 root:root"
	dpkg-statoverride --remove /etc/sipedge
	statoverride=no
	"$postinst" configure "$version" >>"$tmp/postinst.log" 2>&1
	m=$(mode /etc/sipedge)
	check "postinst configure without the override: /etc/sipedge 0750 root:sipedge again (${m:-missing})" \
		test "$m" = "750 root:sipedge"
fi

# ------------------------------------------------- rsyslog and logrotate rules
for pair in /etc/rsyslog.d/sipedge.conf:contrib/rsyslog/sipedge.conf \
	/etc/logrotate.d/sipedge:contrib/logrotate/sipedge; do
	f=${pair%%:*} from=${pair#*:}
	check "$f is a conffile" \
		eval "dpkg-query -W -f='\${Conffiles}\n' sipedge | grep -qE '^ ${f//./\\.} [0-9a-f]{32}\$'"
	check "$f is $from" cmp -s "$f" "$top/$from"
done
need=()
command -v logrotate >/dev/null || need+=(logrotate)
command -v rsyslogd >/dev/null || need+=(rsyslog)
if ((${#need[@]})); then
	# Docker's policy-rc.d keeps rsyslog from starting; elsewhere the purge
	# at the end stops it again.
	if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" \
		>"$tmp/logtools.log" 2>&1; then
		echo "# installed ${need[*]} for the checks of the rules (purged again at the end)"
	else
		echo "# could not install ${need[*]}:"
		tail -n 5 "$tmp/logtools.log" | indent
	fi
	dpkg-query -W -f='${Package}\n' | sort >"$tmp/pkgs.after"
	mapfile -t extra_pkgs < <(comm -13 "$tmp/pkgs.before" "$tmp/pkgs.after" | grep -vx sipedge)
fi
if command -v logrotate >/dev/null; then
	logrotate -d -s "$tmp/logrotate.status" /etc/logrotate.d/sipedge >"$tmp/logrotate.log" 2>&1
	rc=$?
	check "logrotate -d /etc/logrotate.d/sipedge parses (rotating /var/log/sipedge.log)" \
		eval '[[ $rc == 0 ]] && grep -q "rotating pattern: /var/log/sipedge.log" "$tmp/logrotate.log" && ! grep -qi "^error" "$tmp/logrotate.log"'
	[[ $rc == 0 ]] || indent <"$tmp/logrotate.log"
else
	echo "# logrotate not installable: logrotate -d check skipped"
fi
if command -v rsyslogd >/dev/null; then
	echo "\$IncludeConfig /etc/rsyslog.d/sipedge.conf" >"$tmp/rsyslog-n1.conf"
	out=$(rsyslogd -N1 -f "$tmp/rsyslog-n1.conf" 2>&1)
	rc=$?
	check "rsyslogd -N1 validates /etc/rsyslog.d/sipedge.conf (\$IncludeConfig)" test "$rc" = 0
	[[ $rc == 0 ]] || echo "$out" | indent
	# The rule at work, in a private rsyslogd (own socket, no system
	# socket): ident sipedge goes to /var/log/sipedge.log and nowhere after.
	if [[ -e /var/log/sipedge.log ]]; then
		echo "# /var/log/sipedge.log exists already: routing check skipped"
	else
		cat >"$tmp/rsyslog-run.conf" <<-EOF
			global(workDirectory="$tmp")
			module(load="imuxsock" SysSock.Use="off")
			input(type="imuxsock" Socket="$tmp/log.sock")
			\$IncludeConfig /etc/rsyslog.d/sipedge.conf
			*.* action(type="omfile" file="$tmp/other.log")
		EOF
		rsyslogd -n -f "$tmp/rsyslog-run.conf" -i "$tmp/rsyslogd.pid" >"$tmp/rsyslogd.log" 2>&1 &
		rs_pid=$!
		for _ in $(seq 50); do [[ -S $tmp/log.sock ]] && break; sleep 0.1; done
		logger -d -u "$tmp/log.sock" -t sipedge "event=t-deb-rsyslog-check"
		logger -d -u "$tmp/log.sock" -t other "t-deb other program"
		for _ in $(seq 50); do
			grep -qs t-deb-rsyslog-check /var/log/sipedge.log && grep -qs 'other program' "$tmp/other.log" && break
			sleep 0.1
		done
		kill "$rs_pid" 2>/dev/null
		wait "$rs_pid" 2>/dev/null
		logm=$(mode /var/log/sipedge.log)
		check "rsyslog: ident sipedge -> /var/log/sipedge.log (${logm:-missing}), not to the later rules" \
			eval 'grep -qs "sipedge.*event=t-deb-rsyslog-check" /var/log/sipedge.log &&
				grep -qs "other program" "$tmp/other.log" && ! grep -qs t-deb-rsyslog-check "$tmp/other.log"'
		rm -f /var/log/sipedge.log
	fi
else
	echo "# rsyslog not installable: rsyslogd -N1 check skipped"
fi

# ------------------------------------------- autopkgtest debian/tests/message
# No autopkgtest runner (or VM) here: the test script itself, as root, from
# the source tree, against the package installed above.
echo "# debian/tests/message (the autopkgtest, run directly)"
(cd "$src" && AUTOPKGTEST_TMP=$tmp debian/tests/message) >"$tmp/autopkgtest.log" 2>&1
rc=$?
indent <"$tmp/autopkgtest.log"
check "autopkgtest debian/tests/message: the installed daemon answers a MESSAGE with 200" test "$rc" = 0

# ------------------------------------------------------- the installed sample
conf=/etc/sipedge/edge.conf
as_sipedge() { setpriv --reuid=sipedge --regid=sipedge --clear-groups -- "$@"; }
out=$(as_sipedge /usr/sbin/sipedge -t -c "$conf" 2>&1)
check "sipedge -t rejects the sample while its certificates are missing" test $? != 0
echo "$out" | head -n 3 | indent

# Certificates under the names the sample uses, from the test PKI.
fqdn=$(sed -n 's/^[[:space:]]*fqdn[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$conf" | head -n 1)
sh "$top/tests/tools/mkpki.sh" "$tmp/pki" "${fqdn:-edge.test}" >"$tmp/mkpki.log" 2>&1 ||
	{ indent <"$tmp/mkpki.log"; fatal "mkpki.sh $tmp/pki ${fqdn:-edge.test}"; }
mapfile -t files < <(grep -oE '"/etc/sipedge/[^"]+"' "$conf" | tr -d '"' | sort -u)
copied=0
for f in "${files[@]}"; do
	b=${f##*/}
	[[ $b == secret ]] && continue          # postinst's, checked above
	case $b in
	federation-ca.pem) from=$tmp/pki/ca.crt ;;
	internal-ca.pem) from=$tmp/pki/internal-ca.crt ;;
	*) from=$tmp/pki/$b ;;
	esac
	if [[ ! -f $from ]]; then
		notok "test certificate for $f (no ${from##*/} from mkpki.sh)"
		continue
	fi
	placed+=("$f")
	case $b in
	*.key) install -m 0640 -o root -g sipedge "$from" "$f" ;;
	*) install -m 0644 -o root -g root "$from" "$f" ;;
	esac
	copied=$((copied + 1))
done
check "certificates and keys for $fqdn in /etc/sipedge ($copied files)" \
	test "$copied" -gt 0
out=$(as_sipedge /usr/sbin/sipedge -t -c "$conf" 2>&1)
rc=$?
check "sipedge -t -c $conf as user sipedge: configuration OK" \
	eval '[[ $rc == 0 && $out == *"configuration OK"* ]]'
[[ $rc == 0 ]] || echo "$out" | indent
# The sample's commented secret_file, in effect: the daemon's user reads it.
sed 's|^\([[:space:]]*\)# *secret_file = |\1secret_file = |' "$conf" >"$tmp/secret.conf"
cp "$tmp/secret.conf" /etc/sipedge/edge-secret-test.conf
placed+=(/etc/sipedge/edge-secret-test.conf)
out=$(as_sipedge /usr/sbin/sipedge -t -c /etc/sipedge/edge-secret-test.conf 2>&1)
rc=$?
check "with secret_file = /etc/sipedge/secret: configuration OK, no warning" \
	eval '[[ $rc == 0 && $out == *"configuration OK"* && $out != *secret_file* ]]'
[[ $rc == 0 ]] || echo "$out" | indent

# ------------------------------------------------------------------- purge
for f in "${placed[@]}"; do rm -f "$f"; done
placed=()
if DEBIAN_FRONTEND=noninteractive apt-get purge -y -q sipedge >"$tmp/purge.log" 2>&1; then
	ok "apt-get purge sipedge"
else
	notok "apt-get purge sipedge:"
	tail -n 30 "$tmp/purge.log" | indent
fi
status=$(dpkg-query -W -f='${db:Status-Status}' sipedge 2>/dev/null)
check "package is gone (status: ${status:-not-installed})" eval '[[ -z $status || $status == not-installed ]]'
left=()
for f in /usr/sbin/sipedge /etc/sipedge /lib/systemd/system/sipedge.service \
	/usr/lib/systemd/system/sipedge.service /usr/share/man/man8/sipedge.8.gz \
	/usr/share/man/man5/edge.conf.5.gz /usr/lib/sysusers.d/sipedge.conf \
	/usr/share/doc/sipedge /var/lib/systemd/deb-systemd-helper-enabled/sipedge.service.dsh-also \
	/etc/rsyslog.d/sipedge.conf /etc/logrotate.d/sipedge; do
	[[ -e $f ]] && left+=("$f")
done
check "purge removed the package's files and /etc/sipedge${left:+ (left: ${left[*]})}" \
	test "${#left[@]}" = 0
# Debian leaves system users in place on purge (files may still be owned by
# them); the user is this test's doing, so remove it.
if [[ $created_user == yes ]]; then
	userdel sipedge 2>/dev/null
	getent group sipedge >/dev/null && groupdel sipedge 2>/dev/null
	created_user=no
	check "removed the sipedge user and group the package created" \
		eval '! getent passwd sipedge >/dev/null && ! getent group sipedge >/dev/null'
fi
installed=no
finish
