#!/usr/bin/env bats
# features: the runtime-spec features document.

load helpers

@test "features prints the runtime-spec features JSON" {
	run --separate-stderr runtime features
	assert_status 0
	echo "$output" | jq -e '
		(.ociVersionMin | length) > 0 and (.ociVersionMax | length) > 0
		and (.hooks | index("createRuntime")) != null
		and (.mountOptions | index("rbind")) != null
		and (.linux.namespaces | index("pid")) != null
		and (.linux.capabilities | index("CAP_SYS_ADMIN")) != null
		and (.linux.cgroup.v1 == true or .linux.cgroup.v2 == true)' >/dev/null || {
		echo "$output" | head -c 2000 >&2
		false
	}
}

@test "features lists only what nook implements" {
	require_nook
	run --separate-stderr runtime features
	assert_status 0
	echo "$output" | jq -e '
		.ociVersionMax == "1.2.0" and (.hooks | length) == 6
		and (.linux.namespaces | sort) == ["cgroup","ipc","mount","network","pid","time","user","uts"]
		and (.mountOptions | index("idmap")) != null and (.mountOptions | index("ridmap")) != null
		and .linux.mountExtensions.idmap.enabled == true
		and .linux.cgroup.systemd == false' >/dev/null || {
		echo "$output" | head -c 2000 >&2
		false
	}
}
