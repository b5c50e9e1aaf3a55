/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container selection in the kernel (the header name Inspektor Gadget's gadgets include):
 * gadget_filter_by_mntns, gadget_mntns_filter_map and gadget_should_discard_mntns_id(), which
 * <gadget/filter.h> declares with the other filters (a gadget that includes this header also
 * gets the --pid, --uid... parameters; they act only where the gadget calls the filters).
 */
#ifndef GADGETRY_MNTNS_FILTER_H
#define GADGETRY_MNTNS_FILTER_H

#include <gadget/filter.h>

#endif /* GADGETRY_MNTNS_FILTER_H */
