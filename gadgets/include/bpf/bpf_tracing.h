/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbpf's <bpf/bpf_tracing.h> from the system, completed to the level gadgets written for
 * libbpf v1.3 expect (Inspektor Gadget's builder ships v1.3; Debian bookworm ships v1.1).
 *
 * Gadgetry's include directory comes before the system's, so <bpf/bpf_tracing.h> finds this
 * file first; it includes the system's header and then defines, only where that header did
 * not, what newer releases added and gadgets use:
 *
 *   PT_REGS_PARM6..8 (and their _CORE, _SYSCALL and _CORE_SYSCALL forms) for x86-64 and arm64,
 *   BPF_KPROBE / BPF_KSYSCALL with six to eight arguments,
 *   BPF_UPROBE and BPF_URETPROBE.
 *
 * Everything else comes from the system header unchanged.
 */
#ifndef GADGETRY_BPF_TRACING_COMPAT_H
#define GADGETRY_BPF_TRACING_COMPAT_H

#include_next <bpf/bpf_tracing.h>

/*
 * The sixth to eighth integer arguments of a function: x86-64 passes the sixth in r9 (the
 * seventh and eighth go on the stack, which kprobes cannot read portably, so they are left
 * out); arm64 passes the first eight in x0..x7. The syscall ABI passes the sixth in the same
 * register as the function ABI on both.
 */
#if defined(bpf_target_x86) && !defined(__i386__)
#define __GADGET_PT_PARM6_REG r9
#elif defined(bpf_target_arm64)
#define __GADGET_PT_PARM6_REG regs[5]
#define __GADGET_PT_PARM7_REG regs[6]
#define __GADGET_PT_PARM8_REG regs[7]
#endif

#ifdef __GADGET_PT_PARM6_REG
#ifndef PT_REGS_PARM6
#define PT_REGS_PARM6(x) (__PT_REGS_CAST(x)->__GADGET_PT_PARM6_REG)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ(__PT_REGS_CAST(x), __GADGET_PT_PARM6_REG)
#endif
#ifndef PT_REGS_PARM6_SYSCALL
#define PT_REGS_PARM6_SYSCALL(x) PT_REGS_PARM6(x)
#define PT_REGS_PARM6_CORE_SYSCALL(x) PT_REGS_PARM6_CORE(x)
#endif
#endif

#ifdef __GADGET_PT_PARM7_REG
#ifndef PT_REGS_PARM7
#define PT_REGS_PARM7(x) (__PT_REGS_CAST(x)->__GADGET_PT_PARM7_REG)
#define PT_REGS_PARM7_CORE(x) BPF_CORE_READ(__PT_REGS_CAST(x), __GADGET_PT_PARM7_REG)
#endif
#ifndef PT_REGS_PARM8
#define PT_REGS_PARM8(x) (__PT_REGS_CAST(x)->__GADGET_PT_PARM8_REG)
#define PT_REGS_PARM8_CORE(x) BPF_CORE_READ(__PT_REGS_CAST(x), __GADGET_PT_PARM8_REG)
#endif
#endif

/*
 * BPF_KPROBE(name, a1, ..., a6): the argument lists libbpf builds for kprobes and syscalls go
 * from five to six (and on arm64 eight) arguments. libbpf counts the arguments and pastes the
 * count onto these names, so defining the longer forms is enough.
 */
#if defined(PT_REGS_PARM6) && !defined(___bpf_kprobe_args6)
#define ___bpf_kprobe_args6(x, args...) ___bpf_kprobe_args5(args), (void *)PT_REGS_PARM6(ctx)
#endif
#if defined(PT_REGS_PARM7) && !defined(___bpf_kprobe_args7)
#define ___bpf_kprobe_args7(x, args...) ___bpf_kprobe_args6(args), (void *)PT_REGS_PARM7(ctx)
#define ___bpf_kprobe_args8(x, args...) ___bpf_kprobe_args7(args), (void *)PT_REGS_PARM8(ctx)
#endif
#if defined(PT_REGS_PARM6_SYSCALL) && !defined(___bpf_syscall_args6)
#define ___bpf_syscall_args6(x, args...) \
	___bpf_syscall_args5(args), (void *)PT_REGS_PARM6_SYSCALL(regs)
#define ___bpf_syswrap_args6(x, args...) \
	___bpf_syswrap_args5(args), (void *)PT_REGS_PARM6_CORE_SYSCALL(regs)
#endif

/*
 * BPF_UPROBE / BPF_URETPROBE: named, typed arguments for uprobe and uretprobe programs. A
 * user-space function's arguments sit in the same registers of the probed task's pt_regs as a
 * kernel function's do in a kprobe's, so these are the kprobe forms under the names libbpf
 * v1.2 gave them.
 */
#ifndef BPF_UPROBE
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#endif
#ifndef BPF_URETPROBE
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)
#endif

#endif /* GADGETRY_BPF_TRACING_COMPAT_H */
