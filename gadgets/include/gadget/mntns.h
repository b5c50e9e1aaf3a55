/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mount namespace of the current task, the key of container enrichment (the header name
 * Inspektor Gadget's gadgets include): gadget_get_current_mntns_id(), from <gadget/common.h>.
 */
#ifndef GADGETRY_MNTNS_H
#define GADGETRY_MNTNS_H

#include <gadget/common.h>

#endif /* GADGETRY_MNTNS_H */
