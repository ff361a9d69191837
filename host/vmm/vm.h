/*
 * A KVM virtual machine: /dev/kvm, the VM with an in-kernel interrupt
 * controller (local APIC, I/O APIC at 0xfec00000) and PIT, guest RAM as
 * memory slots, and vCPUs. Only this file issues KVM ioctls on the VM.
 */
#ifndef HOST_VMM_VM_H
#define HOST_VMM_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>
#include "guest_mem.h"

#define VM_IOAPIC_ADDR 0xfec00000u

struct vm {
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	int next_slot;
	bool has_ioeventfd, has_irqfd;
};

struct vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

/*
 * Opens /dev/kvm and creates the VM with `mem_bytes` of RAM. 0, or -1
 * after a message; *no_kvm is set when /dev/kvm is absent or unusable (so
 * the caller may fall back to another VMM).
 */
int vm_create(struct vm *vm, uint64_t mem_bytes, bool *no_kvm);
void vm_destroy(struct vm *vm);

/* Registers host memory as guest physical memory (a KVM slot). */
int vm_map(struct vm *vm, uint64_t gpa, void *host, uint64_t size, bool readonly);

/* Creates vCPU `id` with the host's supported CPUID. 0 or -1 after a message. */
int vcpu_create(struct vm *vm, struct vcpu *c, int id);
void vcpu_destroy(struct vcpu *c);

/* Routes writes of `len` bytes at MMIO address `addr` (equal to `match`
 * when has_match) to an eventfd without a VM exit. 0 or -errno. */
int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, bool has_match, uint64_t match,
		 int efd);

/* Raises and lowers interrupt line `gsi` (an edge). 0 or -errno. */
int vm_irq_pulse(struct vm *vm, uint32_t gsi);

/* Makes a write to eventfd `efd` raise guest interrupt line `gsi`. */
int vm_irqfd(struct vm *vm, int efd, uint32_t gsi);

#endif
