/* Picks QEMU's accelerator (accel.c). */
#ifndef HOST_ACCEL_H
#define HOST_ACCEL_H

#include <stdbool.h>

/* Whether /dev/kvm is kvm_pvm (a hypervisor without hardware assistance;
 * shared/docs/platform.md). */
bool accel_kvm_pvm(void);
/* Whether pier's own VMM can run guests here: /dev/kvm opens, not kvm_pvm. */
bool accel_pier_vmm_usable(void);

/* "kvm" where KVM really runs guests, "tcg" otherwise. */
const char *accel_qemu(void);

#endif
