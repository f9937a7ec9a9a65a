# shellcheck shell=bash
# Helpers for the bats files of `nook run` (run.bats, run-security.bats): each test gets its
# own image store ($STORAGE) and a cgroup parent ($CGP) below the suite's, and its teardown
# removes every container of the store and that parent.

# nook_run_setup: the setup of a test of `nook run`.
nook_run_setup() {
	nook_setup
	require_nook "nook run"
	STORAGE=$TEST_DIR/storage
	CGP=$CG_PARENT/$TEST_TAG-run
	on_teardown 'nook_run_teardown'
}

# nook_run_teardown: remove every container of the test's storage, then the cgroup parent.
nook_run_teardown() {
	local d base
	for d in "$STORAGE"/containers/*/; do
		[ -d "$d" ] || continue
		timeout 20 "$NOOK_BUILDDIR/nook" --root "$ROOT" --storage "$STORAGE" rm -f "$(basename "$d")" \
			>/dev/null 2>&1 || true
	done
	while read -r base; do
		rmdir "$base/$CGP" 2>/dev/null || true
	done < <(nook_cgroup_bases)
}

# nook_cli ARGS...: the nook command line on the test's state root and storage.
nook_cli() {
	timeout -k 5 "$NOOK_TEST_TIMEOUT" "$NOOK_BUILDDIR/nook" --root "$ROOT" --storage "$STORAGE" "$@" 3>&-
}

# nrun ARGS...: `nook run` tagged for the leftover checks.  --net none: these tests run in the
# machine's network namespace, where the default bridge network must not appear (networks are
# tested in net-run.bats, in a namespace of the test's own).
nrun() {
	nook_cli run --net none --cgroup-parent "$CGP" -e "$(container_env_marker)" "$@"
}
