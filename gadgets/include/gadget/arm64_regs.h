/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arm64 register layout for <bpf/bpf_tracing.h>. With __TARGET_ARCH_arm64, libbpf's PT_REGS_*
 * macros cast the context to struct user_pt_regs, which the x86 vmlinux.h we ship does not
 * define. This is arm64's layout (the start of its struct pt_regs). gadgetry's builder
 * force-includes this file when it compiles the arm64 object; it is harmless elsewhere.
 */
#ifndef GADGETRY_ARM64_REGS_H
#define GADGETRY_ARM64_REGS_H

#if defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	unsigned long long regs[31];
	unsigned long long sp;
	unsigned long long pc;
	unsigned long long pstate;
};
#endif

#endif /* GADGETRY_ARM64_REGS_H */
