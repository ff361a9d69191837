/*
 * kmain: the guest kernel's C entry, called by the PVH entry (boot.S) with
 * the physical address of struct hvm_start_info. Brings up the console,
 * clock, descriptor tables and memory, reads the command line, and ends the
 * VM with the requested status.
 */
#include <pier/cmdline.h>
#include <pier/page_alloc.h>
#include <pier/pvh.h>
#include <pier/string.h>
#include "../arch/x86_64/smp.h"
#include "../arch/x86_64/gdt.h"
#include "../arch/x86_64/memlayout.h"
#include "../arch/x86_64/trap.h"
#include "../mm/mm.h"
#include "console.h"
#include "control.h"
#include "options.h"
#include "fstest.h"
#include "rootfs.h"
#include "random.h"
#include "rtc.h"
#include "../linux/exec.h"
#include "program_args.h"
#include "../arch/x86_64/irq.h"
#include "../drivers/virtio.h"
#include "../drivers/virtio_console.h"
#include "../net/host_net.h"
#include "../fs/vfs.h"
#include "panic.h"
#include "platform.h"
#include "time.h"

#ifndef PIER_VERSION
#define PIER_VERSION "dev"
#endif

static char cmdline_buf[4096];
static char cmdline_copy[4096]; /* as received, for the echo */
static struct cmdline cmdline;

static const char *memtype_name(uint32_t type)
{
	switch (type) {
	case PVH_MEMMAP_TYPE_RAM: return "ram";
	case PVH_MEMMAP_TYPE_RESERVED: return "reserved";
	case PVH_MEMMAP_TYPE_ACPI: return "acpi";
	case PVH_MEMMAP_TYPE_NVS: return "nvs";
	case PVH_MEMMAP_TYPE_UNUSABLE: return "unusable";
	case PVH_MEMMAP_TYPE_DISABLED: return "disabled";
	case PVH_MEMMAP_TYPE_PMEM: return "pmem";
	default: return "unknown";
	}
}

static void print_memmap(const struct hvm_start_info *si)
{
	const struct hvm_memmap_table_entry *map = phys_to_virt(si->memmap_paddr);
	uint32_t n = si->version >= 1 ? si->memmap_entries : 0;
	uint32_t empty = 0;
	for (uint32_t i = 0; i < n; i++)
		empty += map[i].size == 0;
	kprintf("memory map (%u entries, %u empty skipped):\n", n - empty, empty);
	for (uint32_t i = 0; i < n; i++)
		if (map[i].size)
			kprintf("  mem %016llx-%016llx %s\n", (unsigned long long)map[i].addr,
				(unsigned long long)(map[i].addr + map[i].size - 1),
				memtype_name(map[i].type));
}

static void read_cmdline(const struct hvm_start_info *si)
{
	const char *src = si->cmdline_paddr ? phys_to_virt(si->cmdline_paddr) : "";
	size_t len = strnlen(src, sizeof(cmdline_buf));
	if (len == sizeof(cmdline_buf))
		panic("command line longer than %zu bytes", sizeof(cmdline_buf) - 1);
	memcpy(cmdline_buf, src, len + 1);
	memcpy(cmdline_copy, src, len + 1);
	int err = cmdline_parse(cmdline_buf, &cmdline);
	if (err)
		panic("cannot parse the command line (error %d)", err);
}

static void print_cmdline(void)
{
	kprintf("cmdline: %s\n", cmdline_copy);
	for (int i = 0; i < cmdline.nopts; i++)
		kprintf("  option %s=%s\n", cmdline.opts[i].key, cmdline.opts[i].value);
}

__attribute__((noreturn)) void kmain(uint64_t start_info_pa);

void kmain(uint64_t start_info_pa)
{
	console_init();
	gdt_init();
	idt_init();
	time_init();

	const struct hvm_start_info *si = phys_to_virt(start_info_pa);
	if (si->magic != PVH_START_MAGIC)
		panic("bad hvm_start_info magic %x at %llx", si->magic,
		      (unsigned long long)start_info_pa);

	read_cmdline(si);
	/* As early as the command line says whether --timing wants it. */
	control_timing = cmdline_get(&cmdline, "timing") != NULL;
	control_milestone("kmain");
	/* With a program to run, the console is its output: the kernel keeps
	 * quiet unless asked (verbose, strace); warnings go to pier's stderr. */
	if (program_args_given(&cmdline) && !cmdline_get(&cmdline, "verbose") &&
	    !cmdline_get(&cmdline, "strace"))
		console_set_quiet(1);
	kprintf("Pier guest kernel %s (x86_64, PVH boot)\n", PIER_VERSION);
	print_cmdline();
	struct kernel_options opts;
	options_apply(&cmdline, &opts);
	console_set_timestamps(opts.verbose);
	kprintf("clock: tsc %llu kHz (%s)\n", (unsigned long long)(time_tsc_hz() / 1000),
		time_source());
	platform_detect();
	print_memmap(si);

	pmem_init(si);
	kheap_init();
	kprintf("memory: %llu KiB usable, %llu KiB free\n",
		(unsigned long long)(pmem_total_pages() * PAGE_SIZE / 1024),
		(unsigned long long)(pmem_free_pages() * PAGE_SIZE / 1024));

	/* crash=virtio needs the devices probed, crash=ap the other CPUs
	 * started; every other kind goes now. */
	bool crash_late = opts.crash && (strcmp(opts.crash, "virtio") == 0 ||
					 strcmp(opts.crash, "ap") == 0);
	if (opts.crash && !crash_late)
		options_crash(opts.crash);

	irq_init();
	smp_start(si, (unsigned)opts.cpus);
	/* Unless told: poll where taking an interrupt means emulated ring 0. */
	virtio_polling = opts.virtio_poll >= 0 ? opts.virtio_poll : platform.ring0_emulated;
	virtio_timeout_s = (unsigned)opts.virtio_timeout;
	virtio_test_latency_us = (unsigned)opts.virtio_test_latency_us;
	kprintf("virtio: requests complete by %s\n", virtio_polling ? "polling" : "interrupts");
	virtio_pci_intx = cmdline_get(&cmdline, "virtio_pci_intx") != NULL;
	virtio_pci_probe_all();
	virtio_mmio_probe_all(&cmdline);
	if (crash_late)
		options_crash(opts.crash);
	vcon_init(); /* the program's stdio, when pier's console device is there */
	net_init();  /* its sockets, when pier serves them */
	vfs_uid = opts.uid;
	vfs_gid = opts.gid;
	vfs_dcache_max = (uint64_t)opts.dcache_max;
	rtc_init();
	random_init();
	int err = rootfs_mount_all(&cmdline, si);
	if (err)
		panic("cannot mount the file systems (error %d)", err);

	control_milestone("root-mounted");
	kprintf("boot complete in %llu us\n", (unsigned long long)(time_ns() / 1000));
	int failed = fstest_run(&cmdline);
	if (failed)
		kprintf("fs checks: %d failed\n", failed);
	kprintf("device interrupts: %llu\n", (unsigned long long)irq_count());
	int status = opts.exit_status;
	if (program_args_given(&cmdline)) {
		struct run_args args;
		status = program_args_get(&cmdline, &args) ? 126 :
			 exec_program(&args, opts.verbose, opts.strace); /* on failure only */
	}
	net_report();
	vfs_unmount_all();
	kprintf("exiting with status %d\n", status);
	control_exit(status);
}
