/*
 * The KVM virtual machine (see vm.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "../accel.h"
#include "vm.h"

/* Where KVM may put the VMX real-mode TSS and identity page table (Intel
 * needs them; harmless elsewhere): in the hole, below the I/O APIC. */
#define VM_TSS_ADDR 0xfeffd000ULL
#define VM_IDENTITY_MAP_ADDR 0xfeffc000ULL

int vm_create(struct vm *vm, uint64_t mem_bytes, bool *no_kvm)
{
	*vm = (struct vm){ .kvm_fd = -1, .vm_fd = -1, .mem = { 0 } };
	*no_kvm = false;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		fprintf(stderr, "pier: /dev/kvm: %s\n", strerror(errno));
		*no_kvm = true;
		return -1;
	}
	if (accel_kvm_pvm()) {
		fprintf(stderr, "pier: /dev/kvm is kvm_pvm: system calls arrive at CPL3 there, "
				"which Pier's guest does not support\n");
		*no_kvm = true;
		goto fail;
	}
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		fprintf(stderr, "pier: /dev/kvm speaks API version %d, not %d\n", version,
			KVM_API_VERSION);
		*no_kvm = true;
		goto fail;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		fprintf(stderr, "pier: KVM_CREATE_VM: %s\n", strerror(errno));
		*no_kvm = true;
		goto fail;
	}
	fcntl(vm->vm_fd, F_SETFD, FD_CLOEXEC);
	/* Both are x86 housekeeping; failure (other vendors) is harmless. */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VM_TSS_ADDR);
	uint64_t idmap = VM_IDENTITY_MAP_ADDR;
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0)) {
		fprintf(stderr, "pier: KVM_CREATE_IRQCHIP: %s\n", strerror(errno));
		goto fail;
	}
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit)) {
		fprintf(stderr, "pier: KVM_CREATE_PIT2: %s\n", strerror(errno));
		goto fail;
	}
	vm->has_ioeventfd = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0;
	vm->has_irqfd = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0;

	int err = guest_mem_init(&vm->mem, mem_bytes);
	if (err) {
		fprintf(stderr, "pier: guest RAM of %llu bytes: %s\n",
			(unsigned long long)mem_bytes, strerror(-err));
		goto fail;
	}
	if (vm_map(vm, 0, vm->mem.host, vm->mem.low_size, false))
		goto fail;
	if (vm->mem.size > vm->mem.low_size &&
	    vm_map(vm, GUEST_MEM_HIGH_START, vm->mem.host + vm->mem.low_size,
		   vm->mem.size - vm->mem.low_size, false))
		goto fail;
	return 0;
fail:
	vm_destroy(vm);
	return -1;
}

void vm_destroy(struct vm *vm)
{
	guest_mem_free(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}

int vm_map(struct vm *vm, uint64_t gpa, void *host, uint64_t size, bool readonly)
{
	struct kvm_userspace_memory_region r = {
		.slot = (uint32_t)vm->next_slot,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r)) {
		fprintf(stderr, "pier: KVM_SET_USER_MEMORY_REGION at %#llx: %s\n",
			(unsigned long long)gpa, strerror(errno));
		return -1;
	}
	vm->next_slot++;
	return 0;
}

/*
 * The TSC frequency in the hypervisor timing leaf 0x40000010 (EAX: kHz,
 * EBX: the local APIC timer's, KVM's 1 GHz), so the guest need not
 * calibrate against the PIT, which a loaded host can make 300 times wrong.
 * Nothing is added when KVM does not say or the list has no room.
 */
static void publish_tsc_khz(struct kvm_cpuid2 *cpuid, uint32_t room, struct vcpu *c)
{
	int khz = ioctl(c->fd, KVM_GET_TSC_KHZ, 0);
	struct kvm_cpuid_entry2 *sig = NULL;
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		if (cpuid->entries[i].function == 0x40000010)
			return; /* KVM fills it already */
		if (cpuid->entries[i].function == 0x40000000)
			sig = &cpuid->entries[i];
	}
	if (khz <= 0 || !sig || cpuid->nent >= room)
		return;
	if (sig->eax < 0x40000010)
		sig->eax = 0x40000010;
	cpuid->entries[cpuid->nent++] = (struct kvm_cpuid_entry2){
		.function = 0x40000010, .eax = (uint32_t)khz, .ebx = 1000000,
	};
}

static int set_cpuid(struct vm *vm, struct vcpu *c, int id)
{
	int n = 128;
	struct kvm_cpuid2 *cpuid = NULL;
	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + (size_t)n * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return -1;
		cpuid->nent = (uint32_t)n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		free(cpuid);
		if (errno != E2BIG || n > 4096) {
			fprintf(stderr, "pier: KVM_GET_SUPPORTED_CPUID: %s\n", strerror(errno));
			return -1;
		}
		n *= 2;
	}
	/* Say "hypervisor present" (CPUID.1:ECX[31]) as KVM's own VMMs do: the
	 * list KVM suggests carries the KVM signature leaf 0x40000000 but
	 * leaves that bit clear, and the guest reads it to know where it runs. */
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 1)
			cpuid->entries[i].ecx |= 1u << 31;
	/* Each vCPU's own APIC ID, which KVM's suggested list leaves at 0:
	 * CPUID.1:EBX[31:24] and the x2APIC ID of the topology leaves. KVM
	 * gives vCPU `id` local APIC ID `id`, as the MADT says. */
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | (uint32_t)id << 24;
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)id;
	}
	publish_tsc_khz(cpuid, (uint32_t)n, c);
	int rc = ioctl(c->fd, KVM_SET_CPUID2, cpuid);
	if (rc)
		fprintf(stderr, "pier: KVM_SET_CPUID2: %s\n", strerror(errno));
	free(cpuid);
	return rc ? -1 : 0;
}

int vcpu_create(struct vm *vm, struct vcpu *c, int id)
{
	*c = (struct vcpu){ .fd = -1 };
	c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (c->fd < 0) {
		fprintf(stderr, "pier: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return -1;
	}
	fcntl(c->fd, F_SETFD, FD_CLOEXEC);
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	void *run = size > 0 ? mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0)
			     : MAP_FAILED;
	if (run == MAP_FAILED) {
		fprintf(stderr, "pier: mapping the vCPU run area: %s\n", strerror(errno));
		vcpu_destroy(c);
		return -1;
	}
	c->run = run;
	c->run_size = (size_t)size;
	if (set_cpuid(vm, c, id)) {
		vcpu_destroy(c);
		return -1;
	}
	return 0;
}

void vcpu_destroy(struct vcpu *c)
{
	if (c->run)
		munmap(c->run, c->run_size);
	if (c->fd >= 0)
		close(c->fd);
	c->run = NULL;
	c->fd = -1;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, bool has_match, uint64_t match,
		 int efd)
{
	struct kvm_ioeventfd io = {
		.datamatch = match,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = has_match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0,
	};
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) ? -errno : 0;
}

int vm_irqfd(struct vm *vm, int efd, uint32_t gsi)
{
	struct kvm_irqfd irq = { .fd = (uint32_t)efd, .gsi = gsi };
	return ioctl(vm->vm_fd, KVM_IRQFD, &irq) ? -errno : 0;
}

int vm_irq_pulse(struct vm *vm, uint32_t gsi)
{
	struct kvm_irq_level l = { .irq = gsi, .level = 1 };
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l))
		return -errno;
	l.level = 0;
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) ? -errno : 0;
}
