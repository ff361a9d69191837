/*
 * Maps the vDSO (guest/vdso/, carried in the kernel image) into the
 * program: a read-only data page (vvar: the clock's parameters) and,
 * just after it, the image itself, read and execute. AT_SYSINFO_EHDR
 * points at the image.
 */
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../kernel/console.h"
#include "../kernel/rtc.h"
#include "../kernel/time.h"
#include "../mm/vm.h"
#include "../vdso/vdso.h"
#include "vdso_map.h"

#define PAGE 4096ULL

extern const uint8_t vdso_image[], vdso_image_end[];

uint64_t vdso_map(void)
{
	uint64_t size = (uint64_t)(vdso_image_end - vdso_image);
	uint64_t pages = (size + PAGE - 1) / PAGE;
	if (size < 4 || memcmp(vdso_image, "\177ELF", 4) != 0)
		return 0; /* not built in: programs use system calls */
	uint64_t base = vm_find_free((1 + pages) * PAGE);
	if (!base || vm_add(base, PAGE, VM_READ, "vvar") ||
	    vm_add(base + PAGE, pages * PAGE, VM_READ | VM_EXEC, "vdso"))
		return 0;
	struct vdso_data *d = vm_page(base);
	if (!d)
		return 0;
	memset(d, 0, sizeof(*d));
	time_params(&d->tsc_base, &d->ns_mult);
	d->epoch_ns = rtc_boot_epoch_ns();
	if (cpu_has_rdtscp()) /* syscall_cpu_init set TSC_AUX on every CPU */
		d->flags = VDSO_CPU_RDTSCP;
	for (uint64_t i = 0; i < pages; i++) {
		uint8_t *p = vm_page(base + PAGE + i * PAGE);
		if (!p)
			return 0;
		uint64_t n = size - i * PAGE < PAGE ? size - i * PAGE : PAGE;
		memcpy(p, vdso_image + i * PAGE, n);
	}
	d->version = VDSO_DATA_VERSION; /* last: the image is whole */
	return base + PAGE;
}
