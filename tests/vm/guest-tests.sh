#!/bin/bash
# guest-tests.sh: what `make check-vm` runs inside the cgroup v2 VM (tests/vm/run-vm's default
# command): the cgroup unit test and, if present, tests/integration/cgroups.bats and exec.bats's
# cgroup test, merged into one TAP stream.  Each suite's tests are renumbered in sequence, its
# own plan is checked, and the single plan comes last.  Exit status 0 only if every test passed
# (or was skipped or TODO).
#
# The guest's root is this machine's, read-only: tests write only under /tmp (a tmpfs).
set -u
shopt -s lastpipe

: "${NOOK_SRCDIR:?}" "${NOOK_BUILDDIR:?}"
cd "$NOOK_BUILDDIR" || exit 1

n=0
failed=0

# run_tap NAME COMMAND...: run one TAP producer and append its tests to our stream.
run_tap() {
	local name=$1 line plan='' seen=0 rc=0 bad='' rest
	shift
	echo "# ---- $name"
	{
		"$@" 2>&1
		echo "__nook_vm_rc=$?"
	} | while IFS= read -r line; do
		if [[ "$line" =~ ^__nook_vm_rc=([0-9]+)$ ]]; then
			rc=${BASH_REMATCH[1]}
		elif [[ "$line" =~ ^1\.\.([0-9]+)(.*)$ ]]; then
			plan=${BASH_REMATCH[1]}
			[ "$plan" = 0 ] && echo "# $name: no tests${BASH_REMATCH[2]}"
		elif [[ "$line" =~ ^(not\ )?ok([[:space:]]+[0-9]+)?([[:space:]].*)?$ ]]; then
			n=$((n + 1))
			seen=$((seen + 1))
			rest=${BASH_REMATCH[3]}
			echo "${BASH_REMATCH[1]}ok $n${rest}"
			if [ -n "${BASH_REMATCH[1]}" ] && ! [[ "$rest" =~ \#[[:space:]]*[Tt][Oo][Dd][Oo] ]]; then
				bad=${bad:-1}
			fi
		elif [[ "$line" =~ ^Bail\ out! ]]; then
			n=$((n + 1))
			echo "not ok $n $name: $line"
			bad=bailed
		elif [[ "$line" =~ ^# ]]; then
			echo "$line"
		else
			echo "# $line"
		fi
	done
	[ -n "$bad" ] && failed=1
	if [ "$bad" = bailed ]; then
		:
	elif [ -z "$plan" ]; then
		n=$((n + 1))
		echo "not ok $n $name: no TAP plan (exit status $rc)"
		failed=1
	elif [ "$plan" != "$seen" ]; then
		n=$((n + 1))
		echo "not ok $n $name: planned $plan tests, ran $seen (exit status $rc)"
		failed=1
	elif [ "$rc" != 0 ] && [ -z "$bad" ]; then
		n=$((n + 1))
		echo "not ok $n $name: exit status $rc"
		failed=1
	fi
}

if [ -x tests/unit/test-cgroup ]; then
	run_tap tests/unit/test-cgroup ./tests/unit/test-cgroup
else
	n=$((n + 1))
	echo "not ok $n tests/unit/test-cgroup is not built (make check-vm builds it)"
	failed=1
fi

if [ -f "$NOOK_SRCDIR/tests/integration/cgroups.bats" ]; then
	run_tap cgroups.bats "$NOOK_SRCDIR/tests/integration/run-bats" cgroups.bats
else
	echo "# tests/integration/cgroups.bats not present, skipped"
fi

# exec into a v2 cgroup goes through clone3(CLONE_INTO_CGROUP); one test is enough here.
if [ -f "$NOOK_SRCDIR/tests/integration/exec.bats" ]; then
	run_tap exec.bats "$NOOK_SRCDIR/tests/integration/run-bats" exec.bats -f "container's cgroup"
fi

if [ "$n" = 0 ]; then
	echo "1..0 # SKIP no cgroup tests yet"
else
	echo "1..$n"
fi
exit "$failed"
