/*
 * `pier run --vmm pier`: pier's own VMM on /dev/kvm.
 */
#ifndef HOST_VMM_VMM_H
#define HOST_VMM_VMM_H

#include <stdbool.h>
#include "../run.h"

/*
 * Boots the guest; returns pier's exit status. When /dev/kvm is missing or
 * unusable, returns PIER_EXIT_VMERROR with *no_kvm set and nothing
 * printed but the reason, so the caller may fall back to QEMU.
 */
int vmm_run(const struct run_options *o, bool *no_kvm);

#endif
