/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whether a file lives in the writable upper layer of an overlayfs mount: in a container, a file
 * written (or copied up) after the container started rather than shipped in its image.
 *
 * A file is in the upper layer when its inode is on an overlayfs superblock (magic 0x794c7630)
 * and the overlay inode has an upper dentry. The overlay inode (struct ovl_inode) embeds the VFS
 * inode, followed by the upper dentry pointer: the offset comes from the kernel's BTF when it
 * has struct ovl_inode, else it is the size of struct inode (overlayfs built as a module).
 *
 * enum upper_layer_state is a tri-state (docs/authoring.md): the runtime shows it as YES, NO or
 * UNKNOWN in columns and as true, false or null in JSON. Its enumerators are the global names
 * UNKNOWN, NO and YES.
 */
#ifndef GADGETRY_UPPER_LAYER_H
#define GADGETRY_UPPER_LAYER_H

#define GADGET_OVERLAYFS_SUPER_MAGIC 0x794c7630

/* Whether a file lives in the writable upper layer of an overlayfs mount. */
enum upper_layer_state {
	UNKNOWN = 0, /* nothing could tell (no hook, no file) */
	NO = 1,
	YES = 2,
};

static __always_inline enum upper_layer_state gadget_inode_upper_state(struct inode *inode)
{
	struct dentry *upper = NULL;
	long off;

	if (!inode)
		return UNKNOWN;
	if (BPF_CORE_READ(inode, i_sb, s_magic) != GADGET_OVERLAYFS_SUPER_MAGIC)
		return NO;
	/* An overlayfs inode is embedded in struct ovl_inode, followed by its upper dentry. */
	if (bpf_core_type_exists(struct ovl_inode))
		off = bpf_core_field_offset(struct ovl_inode, __upperdentry) -
		      bpf_core_field_offset(struct ovl_inode, vfs_inode);
	else
		off = bpf_core_type_size(struct inode);
	if (bpf_probe_read_kernel(&upper, sizeof(upper), (void *)inode + off))
		return UNKNOWN;
	return upper ? YES : NO;
}

#endif /* GADGETRY_UPPER_LAYER_H */
