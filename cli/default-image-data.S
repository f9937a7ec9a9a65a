/* The embedded default image (images/make-default-image.sh): an oci-archive that nook
 * imports into the store the first time `busybox` is asked for and is not there. */
	.section .rodata
	.global nook_default_image
	.type nook_default_image, @object
	.balign 64
nook_default_image:
	.incbin "images/default-image.tar"
nook_default_image_end:
	.size nook_default_image, nook_default_image_end - nook_default_image
	.global nook_default_image_size
	.type nook_default_image_size, @object
	.balign 8
nook_default_image_size:
	.quad nook_default_image_end - nook_default_image
	.size nook_default_image_size, 8
	.section .note.GNU-stack,"",@progbits
