/*
 * Which QEMU accelerator really runs guests here. /dev/kvm alone is not
 * enough: on kvm_pvm (shared/docs/platform.md) QEMU's KVM guests never boot,
 * so KVM is chosen only with hardware virtualization flags and no kvm_pvm.
 * PIER_ACCEL=kvm|tcg overrides the guess. Pier's own VMM cannot use
 * kvm_pvm either: system calls arrive at CPL3 there, on the kernel's
 * supervisor-only pages, so every program faults at its first one.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "accel.h"

static int cpu_has_hw_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int found = 0;
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (strncmp(line, "flags", 5) == 0)
			found = strstr(line, " vmx") || strstr(line, " svm");
	fclose(f);
	return found;
}

bool accel_kvm_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

bool accel_pier_vmm_usable(void)
{
	if (accel_kvm_pvm())
		return false;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

const char *accel_qemu(void)
{
	const char *env = getenv("PIER_ACCEL");
	if (env && (strcmp(env, "kvm") == 0 || strcmp(env, "tcg") == 0))
		return env;
	if (accel_kvm_pvm())
		return "tcg";
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return "tcg";
	close(fd);
	return cpu_has_hw_virt() ? "kvm" : "tcg";
}
