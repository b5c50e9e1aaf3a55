/* SPDX-License-Identifier: Apache-2.0 */
/* One include for gadget programs: kernel types, libbpf helpers and Gadgetry's conventions. */
#ifndef GADGETRY_GADGET_H
#define GADGETRY_GADGET_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define GADGETRY_BUF_BY_NAME /* gadget_reserve_buf(map, size) takes the map's name */
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/buffer.h>
#include <gadget/filter.h>
#include <gadget/common.h>

#endif /* GADGETRY_GADGET_H */
