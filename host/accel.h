/* Picks QEMU's accelerator (accel.c). */
#ifndef HOST_ACCEL_H
#define HOST_ACCEL_H

/* "kvm" where KVM really runs guests, "tcg" otherwise. */
const char *accel_qemu(void);

#endif
