/* nook's default seccomp profile, runtime/seccomp-default.json: podman's (containers/common
 * pkg/seccomp/seccomp.json, Copyright 2018 github.com/containers/common authors, Apache
 * License 2.0), written by runtime/make-seccomp-default.py.  runtime/seccomp-profile.c parses
 * it; its includes/excludes are resolved per container. */
	.section .rodata
	.global nook_seccomp_default_json
	.type nook_seccomp_default_json, @object
	.balign 8
nook_seccomp_default_json:
	.incbin "runtime/seccomp-default.json"
nook_seccomp_default_json_end:
	.byte 0
	.size nook_seccomp_default_json, . - nook_seccomp_default_json
	.global nook_seccomp_default_json_size
	.type nook_seccomp_default_json_size, @object
	.balign 8
nook_seccomp_default_json_size:
	.quad nook_seccomp_default_json_end - nook_seccomp_default_json
	.size nook_seccomp_default_json_size, 8
	.section .note.GNU-stack,"",@progbits
