/*
 * probe.c: what a VMM author needs to know about this machine's /dev/kvm.
 * Build: gcc -O2 -Wall -o probe probe.c
 * Run:   ./probe            (all questions)   ./probe -q   (shorter timings)
 * Throwaway research code: each test makes a fresh VM; results go to stdout.
 *
 * Guest-physical layout (slot 0 = memfd, 0..8 MiB):
 *   0x1000 guest code blob   0x8000 data   0x9000 ISR stubs   0xa000 IDT
 *   0xb000 GDT  0xc000 TSS   0x10000 PML4  0x11000 PDPT  0x12000 PD(0-1G)
 *   0x13000 PD(3-4G)  kernel stack top 0x180000, user stack top 0x1f0000
 *   0x400000 DAX test window (64 KiB)
 *   0x1000000.. "report" MMIO registers (no slot -> KVM_EXIT_MMIO)
 * Page tables: identity, 2 MiB pages, U/S=1 everywhere; 0x40000000.. unmapped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define GUEST_BASE 0x1000
#define MEMSZ (8ul << 20)
#define MMIO 0x1000000ul
#define R_STOP 0
#define R_VEC 1
#define R_READY 2
#define R_DONE 3
#define R_ERR 4
#define R_RIP 5
#define R_OLDCS 6
#define R_CS 7
#define R_CR2 8
#define R_V1 9
#define R_V2 10
#define R_V3 11
#define R_V4 12
#define R_V5 13
#define NREG 64

/* ---------------- guest code ---------------- */
asm(".pushsection .rodata\n"
    ".globl g_start, g_end, g_loop, g_pio_loop, g_mmio_loop, g_sys_loop, g_sys_fast\n"
    ".globl g_sys_report_entry, g_sys_report, g_int80, g_pf_user, g_hlt, g_spin\n"
    ".globl g_pm32_loop, g_pm32_to_64, g_real, g_sse, g_fsgs, g_rdtsc_loop, g_cpuid_loop\n"
    ".globl g_dax, g_ioev_pio, g_ioev_mmio, g_isr_common, g_iret_to_user, g_user_cs_loop\n"
    ".globl g_wrmsr, g_out3\n"
    ".code64\n"
    "g_start:\n"
    /* rcx = N */
    "g_loop: 1: dec %rcx; jnz 1b; movq $1, 0x1000000; jmp .\n"
    "g_pio_loop: 1: out %al, $0x10; dec %rcx; jnz 1b; movq $1, 0x1000000; jmp .\n"
    "g_mmio_loop: 1: movl $0, 0x1000100; dec %rcx; jnz 1b; movq $1, 0x1000000; jmp .\n"
    /* r12 = N; LSTAR = g_sys_fast */
    "g_sys_loop: 1: syscall; dec %r12; jnz 1b; movq $1, 0x1000000; jmp .\n"
    "g_sys_fast: push %r11; popfq; jmp *%rcx\n"
    /* LSTAR = g_sys_report; r13 = 0 -> jmp *%rcx, else sysretq */
    "g_sys_report_entry: syscall; jmp 2f\n"
    "2: mov %cs, %rax; mov %rax, 0x1000068; movq $1, 0x1000000; jmp .\n"
    "g_sys_report: mov %cs, %rax; mov %rax, 0x1000048; mov %ss, %rax; mov %rax, 0x1000050\n"
    "  pushfq; pop %rax; mov %rax, 0x1000058; mov %rcx, 0x1000060\n"
    "  test %r13, %r13; jnz 3f; push %r11; popfq; jmp *%rcx\n"
    "3: sysretq\n"
    "g_int80: int $0x80; mov %cs, %rax; mov %rax, 0x1000068; movq $1, 0x1000000; jmp .\n"
    "g_pf_user: mov $0x40000000, %rdx; mov (%rdx), %rax; movq $1, 0x1000000; jmp .\n"
    "g_out3: out %al, $0x10; movq $1, 0x1000000; jmp .\n"
    "g_hlt: hlt; movq $1, 0x1000000; jmp .\n"
    "g_spin: movq $1, 0x1000010; 1: jmp 1b\n"
    /* rdi = target rip, rsi = user rsp */
    "g_iret_to_user: push $0x1b; push %rsi; push $0x3002; push $0x23; push %rdi; iretq\n"
    "g_user_cs_loop: mov %cs, %rax; mov %rax, 0x1000048; jmp g_loop\n"
    "g_sse: movdqu 0x8000, %xmm0; paddq %xmm0, %xmm0; movq %xmm0, %rax; mov %rax, 0x1000048; movq $1, 0x1000000; jmp .\n"
    "g_fsgs: mov $0x12345000, %rax; wrfsbase %rax; rdfsbase %rbx; mov %rbx, 0x1000048; movq $1, 0x1000000; jmp .\n"
    "g_rdtsc_loop: 1: rdtsc; dec %rcx; jnz 1b; movq $1, 0x1000000; jmp .\n"
    "g_cpuid_loop: 1: xor %eax, %eax; cpuid; dec %r12; jnz 1b; movq $1, 0x1000000; jmp .\n"
    "g_wrmsr: mov $0xc0000100, %ecx; mov $0x5000, %eax; xor %edx, %edx; wrmsr; rdfsbase %rax; mov %rax, 0x1000048; movq $1, 0x1000000; jmp .\n"
    "g_dax: mov 0x400000, %rax; mov %rax, 0x1000048; movabs $0x1122334455667788, %rax; mov %rax, 0x400008; movq $1, 0x1000000; jmp .\n"
    "g_ioev_pio: mov $0x600, %dx; out %al, (%dx); movq $1, 0x1000000; jmp .\n"
    "g_ioev_mmio: movl $7, 0x1000800; movq $1, 0x1000000; jmp .\n"
    /* exception/interrupt common path; stack: vec, err, rip, cs, rflags, rsp, ss */
    "g_isr_common: push %rax; push %rdx\n"
    "  mov 16(%rsp), %rax; mov %rax, 0x1000008\n"
    "  mov 24(%rsp), %rax; mov %rax, 0x1000020\n"
    "  mov 32(%rsp), %rax; mov %rax, 0x1000028\n"
    "  mov 40(%rsp), %rax; mov %rax, 0x1000030\n"
    "  mov %cs, %rax; mov %rax, 0x1000038\n"
    "  test $3, %al; jnz 4f; mov %cr2, %rax; mov %rax, 0x1000040\n"
    "4: cmpq $32, 16(%rsp); jb 5f\n"
    "  mov $0xfee000b0, %rdx; movl $0, (%rdx)\n"
    "  movq $1, 0x1000018\n"
    "  pop %rdx; pop %rax; add $16, %rsp; iretq\n"
    "5: movq $0xe, 0x1000000; jmp .\n"
    ".code32\n"
    "g_pm32_loop: 1: dec %ecx; jnz 1b; out %al, $0xf4; movl $1, 0x1000000; jmp .\n"
    "g_pm32_to_64: mov $0x10000, %eax; mov %eax, %cr3; mov %cr4, %eax; or $0x20, %eax; mov %eax, %cr4\n"
    "  mov $0xc0000080, %ecx; rdmsr; or $0x100, %eax; wrmsr\n"
    "  mov %cr0, %eax; or $0x80000000, %eax; mov %eax, %cr0\n"
    "  ljmp $0x08, $(0x1000 + 6f - g_start)\n"
    ".code64\n"
    "6: mov %cs, %rax; mov %rax, 0x1000048; movq $1, 0x1000000; jmp .\n"
    ".code16\n"
    "g_real: out %al, $0xf4; hlt\n"
    ".code64\n"
    "g_end:\n"
    ".popsection\n");

extern const char g_start[], g_end[], g_loop[], g_pio_loop[], g_mmio_loop[], g_sys_loop[], g_sys_fast[];
extern const char g_sys_report_entry[], g_sys_report[], g_int80[], g_pf_user[], g_hlt[], g_spin[];
extern const char g_pm32_loop[], g_pm32_to_64[], g_real[], g_sse[], g_fsgs[], g_rdtsc_loop[], g_cpuid_loop[];
extern const char g_dax[], g_ioev_pio[], g_ioev_mmio[], g_isr_common[], g_iret_to_user[], g_user_cs_loop[];
extern const char g_wrmsr[], g_out3[];
#define GPA(sym) ((uint64_t)(GUEST_BASE + ((sym) - g_start)))

/* ---------------- host helpers ---------------- */
static int quick;
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}
static void on_alarm(int s) { (void)s; }

static const char *exit_name(int r)
{
	static char b[32];
	switch (r) {
#define X(n) case KVM_EXIT_##n: return #n;
	X(UNKNOWN) X(EXCEPTION) X(IO) X(HYPERCALL) X(DEBUG) X(HLT) X(MMIO) X(IRQ_WINDOW_OPEN)
	X(SHUTDOWN) X(FAIL_ENTRY) X(INTR) X(SET_TPR) X(TPR_ACCESS) X(NMI) X(INTERNAL_ERROR)
	X(SYSTEM_EVENT) X(X86_RDMSR) X(X86_WRMSR)
#undef X
	}
	snprintf(b, sizeof b, "exit#%d", r);
	return b;
}

struct vm {
	int kvm, fd, vcpu, memfd;
	struct kvm_run *run;
	uint8_t *mem;
	/* per-run results */
	uint64_t reg[NREG];
	uint64_t seen;
	long n_io, n_mmio, n_other;
	int last_exit;
	int stop_reason; /* 0 none, 1 STOP reg, 2 HLT, 3 other exit, 4 timeout, 5 ioctl err, 6 READY, 7 DONE, 8 port f4, 9 irq window */
	int run_errno;
	uint16_t last_port;
	uint64_t last_mmio_addr;
	double t;
};

static int xioctl_report(const char *what, int r)
{
	if (r < 0)
		printf("    %-34s -> FAIL errno=%d (%s)\n", what, errno, strerror(errno));
	else
		printf("    %-34s -> ok (ret %d)\n", what, r);
	return r;
}

static void pt_setup(uint8_t *mem)
{
	uint64_t *pml4 = (void *)(mem + 0x10000), *pdpt = (void *)(mem + 0x11000);
	uint64_t *pd0 = (void *)(mem + 0x12000), *pd3 = (void *)(mem + 0x13000);
	memset(mem + 0x10000, 0, 0x4000);
	pml4[0] = 0x11000 | 7;
	pdpt[0] = 0x12000 | 7;
	pdpt[3] = 0x13000 | 7;
	for (int i = 0; i < 512; i++) {
		pd0[i] = ((uint64_t)i << 21) | 0x87;
		pd3[i] = (0xc0000000ull + ((uint64_t)i << 21)) | 0x87 | 0x18; /* PCD|PWT */
	}
	uint64_t *gdt = (void *)(mem + 0xb000);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL; /* 0x08 kernel code 64 */
	gdt[2] = 0x00cf93000000ffffULL; /* 0x10 kernel data */
	gdt[3] = 0x00cff3000000ffffULL; /* 0x18 user data (0x1b) */
	gdt[4] = 0x00affb000000ffffULL; /* 0x20 user code 64 (0x23) */
	gdt[5] = 0x00cf9b000000ffffULL; /* 0x28 kernel code 32 */
	uint64_t tss = 0xc000;
	memset(mem + tss, 0, 104);
	*(uint64_t *)(mem + tss + 4) = 0x180000; /* RSP0 */
	*(uint16_t *)(mem + tss + 102) = 104;    /* no I/O bitmap */
	gdt[6] = 103 | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((tss >> 24) & 0xff) << 56);
	gdt[7] = tss >> 32;
	/* ISR stubs + IDT */
	uint64_t *idt = (void *)(mem + 0xa000);
	uint64_t common = GPA(g_isr_common);
	for (int v = 0; v < 256; v++) {
		uint64_t h = 0x9000 + v * 16;
		uint8_t *p = mem + h;
		int n = 0;
		int err = (v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 || v == 21 ||
			   v == 29 || v == 30);
		if (!err) {
			p[n++] = 0x6a;
			p[n++] = 0;
		}
		p[n++] = 0x68;
		*(uint32_t *)(p + n) = v;
		n += 4;
		p[n++] = 0xe9;
		*(int32_t *)(p + n) = (int32_t)(common - (h + n + 4));
		n += 4;
		uint64_t attr = (v == 0x80) ? 0xee : 0x8e;
		idt[v * 2] = (h & 0xffff) | (0x08ull << 16) | (attr << 40) | (((h >> 16) & 0xffff) << 48);
		idt[v * 2 + 1] = h >> 32;
	}
	memcpy(mem + GUEST_BASE, g_start, g_end - g_start);
	uint64_t pat[2] = {0x0000000500000003ull, 0x0000000200000001ull};
	memcpy(mem + 0x8000, pat, 16);
}

static int vm_create(struct vm *v, int irqchip, int verbose)
{
	memset(v, 0, sizeof *v);
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0) {
		printf("    open /dev/kvm: errno=%d (%s)\n", errno, strerror(errno));
		return -1;
	}
	v->fd = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->fd < 0) {
		printf("    KVM_CREATE_VM(0): errno=%d (%s)\n", errno, strerror(errno));
		return -1;
	}
	v->memfd = memfd_create("guest", MFD_CLOEXEC);
	if (v->memfd < 0 || ftruncate(v->memfd, MEMSZ) < 0)
		return perror("memfd"), -1;
	v->mem = mmap(0, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, v->memfd, 0);
	if (v->mem == MAP_FAILED)
		return perror("mmap"), -1;
	struct kvm_userspace_memory_region r = {.slot = 0, .guest_phys_addr = 0, .memory_size = MEMSZ,
						.userspace_addr = (uint64_t)v->mem};
	int rc = ioctl(v->fd, KVM_SET_USER_MEMORY_REGION, &r);
	if (verbose)
		xioctl_report("KVM_SET_USER_MEMORY_REGION(memfd)", rc);
	if (rc < 0)
		return -1;
	if (irqchip) {
		rc = ioctl(v->fd, KVM_CREATE_IRQCHIP, 0);
		if (verbose)
			xioctl_report("KVM_CREATE_IRQCHIP", rc);
		if (rc < 0)
			return -1;
	}
	v->vcpu = ioctl(v->fd, KVM_CREATE_VCPU, 0);
	if (verbose)
		xioctl_report("KVM_CREATE_VCPU", v->vcpu);
	if (v->vcpu < 0)
		return -1;
	int sz = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	v->run = mmap(0, sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED)
		return perror("mmap run"), -1;
	/* CPUID: pass through what KVM supports (needed for SSE/FSGSBASE/syscall bits) */
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(struct kvm_cpuid_entry2));
	c->nent = 256;
	rc = ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, c);
	if (rc == 0)
		rc = ioctl(v->vcpu, KVM_SET_CPUID2, c);
	if (verbose)
		xioctl_report("KVM_GET_SUPPORTED_CPUID+SET_CPUID2", rc);
	free(c);
	pt_setup(v->mem);
	return 0;
}

static void vm_destroy(struct vm *v)
{
	if (v->run && v->run != MAP_FAILED)
		munmap(v->run, 4096);
	if (v->mem && v->mem != MAP_FAILED)
		munmap(v->mem, MEMSZ);
	if (v->vcpu > 0)
		close(v->vcpu);
	if (v->memfd > 0)
		close(v->memfd);
	if (v->fd > 0)
		close(v->fd);
	if (v->kvm > 0)
		close(v->kvm);
	memset(v, 0, sizeof *v);
}

static int set_msr(struct vm *v, uint32_t idx, uint64_t val)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[1];
	} m;
	memset(&m, 0, sizeof m);
	m.h.nmsrs = 1;
	m.e[0].index = idx;
	m.e[0].data = val;
	return ioctl(v->vcpu, KVM_SET_MSRS, &m);
}
static int get_msr(struct vm *v, uint32_t idx, uint64_t *val)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[1];
	} m;
	memset(&m, 0, sizeof m);
	m.h.nmsrs = 1;
	m.e[0].index = idx;
	int r = ioctl(v->vcpu, KVM_GET_MSRS, &m);
	*val = m.e[0].data;
	return r;
}

enum { M_LONG, M_PM32, M_REAL };
/* Put the vCPU at rip in the given mode/CPL. */
static int vcpu_setup(struct vm *v, int mode, int cpl, uint64_t rip, uint64_t rflags_extra)
{
	struct kvm_sregs s;
	if (ioctl(v->vcpu, KVM_GET_SREGS, &s) < 0)
		return perror("GET_SREGS"), -1;
	struct kvm_segment cs = {.base = 0, .limit = 0xffffffff, .selector = 0x08, .present = 1, .type = 11,
				 .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1};
	struct kvm_segment ds = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .present = 1, .type = 3,
				 .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
	s.gdt.base = 0xb000;
	s.gdt.limit = 8 * 8 - 1;
	s.idt.base = 0xa000;
	s.idt.limit = 256 * 16 - 1;
	s.tr = (struct kvm_segment){.base = 0xc000, .limit = 103, .selector = 0x30, .present = 1, .type = 11, .s = 0};
	if (mode == M_LONG) {
		s.cr3 = 0x10000;
		s.cr4 = 0x20 | 0x600 | 0x10000; /* PAE OSFXSR OSXMMEXCPT FSGSBASE */
		s.cr0 = 0x80050033;             /* PG WP AM NE ET MP PE */
		s.efer = 0x500 | 0x1 | 0x800;   /* LME LMA SCE NXE */
		if (cpl == 3) {
			cs.selector = 0x23;
			cs.dpl = 3;
			ds.selector = 0x1b;
			ds.dpl = 3;
		}
	} else if (mode == M_PM32) {
		s.cr0 = 0x11; /* PE ET */
		s.cr4 = 0;
		s.efer = 0;
		s.cr3 = 0;
		cs.selector = 0x28;
		cs.l = 0;
		cs.db = 1;
	} else {
		s.cr0 = 0x10;
		s.cr4 = 0;
		s.efer = 0;
		cs = (struct kvm_segment){.base = 0, .limit = 0xffff, .selector = 0, .present = 1, .type = 11, .s = 1};
		ds = (struct kvm_segment){.base = 0, .limit = 0xffff, .selector = 0, .present = 1, .type = 3, .s = 1};
	}
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	if (ioctl(v->vcpu, KVM_SET_SREGS, &s) < 0) {
		printf("    KVM_SET_SREGS: errno=%d (%s)\n", errno, strerror(errno));
		return -1;
	}
	struct kvm_regs r;
	memset(&r, 0, sizeof r);
	r.rip = rip;
	r.rflags = 0x2 | rflags_extra;
	r.rsp = cpl == 3 ? 0x1f0000 : 0x180000;
	if (mode == M_REAL)
		r.rsp = 0x7000;
	if (ioctl(v->vcpu, KVM_SET_REGS, &r) < 0)
		return perror("SET_REGS"), -1;
	if (mode == M_LONG) {
		set_msr(v, 0xC0000081, (0x10ull << 48) | (0x08ull << 32)); /* STAR */
		set_msr(v, 0xC0000084, 0x700);                              /* SFMASK */
	}
	return 0;
}
static void set_gpr(struct vm *v, int which, uint64_t val)
{
	struct kvm_regs r;
	ioctl(v->vcpu, KVM_GET_REGS, &r);
	switch (which) {
	case 'c': r.rcx = val; break;
	case 12: r.r12 = val; break;
	case 13: r.r13 = val; break;
	case 'D': r.rdi = val; break;
	case 'S': r.rsi = val; break;
	}
	ioctl(v->vcpu, KVM_SET_REGS, &r);
}

/* flags for vm_run: which events stop the run (STOP reg, HLT, errors, timeout always stop) */
#define STOP_READY 1
#define STOP_DONE 2
#define STOP_F4 4
static int vm_run(struct vm *v, double timeout, int flags)
{
	v->seen = 0;
	v->n_io = v->n_mmio = v->n_other = 0;
	v->stop_reason = 0;
	struct itimerval it = {{0, 0}, {(long)timeout, (long)((timeout - (long)timeout) * 1e6)}};
	setitimer(ITIMER_REAL, &it, 0);
	double t0 = now();
	for (;;) {
		int rc = ioctl(v->vcpu, KVM_RUN, 0);
		if (rc < 0) {
			v->run_errno = errno;
			v->stop_reason = errno == EINTR ? 4 : 5;
			break;
		}
		struct kvm_run *r = v->run;
		v->last_exit = r->exit_reason;
		if (r->exit_reason == KVM_EXIT_MMIO) {
			v->n_mmio++;
			v->last_mmio_addr = r->mmio.phys_addr;
			if (r->mmio.is_write && r->mmio.phys_addr >= MMIO && r->mmio.phys_addr < MMIO + NREG * 8) {
				int i = (r->mmio.phys_addr - MMIO) / 8;
				uint64_t d = 0;
				memcpy(&d, r->mmio.data, r->mmio.len);
				v->reg[i] = d;
				v->seen |= 1ull << i;
				if (i == R_STOP) {
					v->stop_reason = 1;
					break;
				}
				if (i == R_READY && (flags & STOP_READY)) {
					v->stop_reason = 6;
					break;
				}
				if (i == R_DONE && (flags & STOP_DONE)) {
					v->stop_reason = 7;
					break;
				}
			} else if (!r->mmio.is_write) {
				memset(r->mmio.data, 0, sizeof r->mmio.data);
			}
			continue;
		}
		if (r->exit_reason == KVM_EXIT_IO) {
			v->n_io++;
			v->last_port = r->io.port;
			if (r->io.port == 0xf4 && (flags & STOP_F4)) {
				v->stop_reason = 8;
				break;
			}
			continue;
		}
		if (r->exit_reason == KVM_EXIT_HLT) {
			v->stop_reason = 2;
			break;
		}
		if (r->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN) {
			v->stop_reason = 9;
			break;
		}
		v->n_other++;
		v->stop_reason = 3;
		break;
	}
	v->t = now() - t0;
	struct itimerval z = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &z, 0);
	return v->stop_reason;
}

static const char *describe(struct vm *v, char *buf, size_t n)
{
	struct kvm_regs r;
	ioctl(v->vcpu, KVM_GET_REGS, &r);
	int o = 0;
	switch (v->stop_reason) {
	case 1: o = snprintf(buf, n, "STOP(code %#lx)", (unsigned long)v->reg[R_STOP]); break;
	case 2: o = snprintf(buf, n, "KVM_EXIT_HLT"); break;
	case 4: o = snprintf(buf, n, "TIMEOUT(KVM_RUN EINTR)"); break;
	case 5: o = snprintf(buf, n, "KVM_RUN errno=%d(%s)", v->run_errno, strerror(v->run_errno)); break;
	case 6: o = snprintf(buf, n, "READY"); break;
	case 7: o = snprintf(buf, n, "DONE"); break;
	case 8: o = snprintf(buf, n, "KVM_EXIT_IO port 0xf4"); break;
	case 9: o = snprintf(buf, n, "KVM_EXIT_IRQ_WINDOW_OPEN"); break;
	default: {
		struct kvm_run *k = v->run;
		o = snprintf(buf, n, "exit %s", exit_name(k->exit_reason));
		if (k->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			o += snprintf(buf + o, n - o, " suberror=%u ndata=%u data:", k->internal.suberror,
				      k->internal.ndata);
			for (unsigned i = 0; i < k->internal.ndata && i < 6; i++)
				o += snprintf(buf + o, n - o, " %llx", (unsigned long long)k->internal.data[i]);
		} else if (k->exit_reason == KVM_EXIT_FAIL_ENTRY) {
			o += snprintf(buf + o, n - o, " hw_reason=%llx",
				      (unsigned long long)k->fail_entry.hardware_entry_failure_reason);
		} else if (k->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
			o += snprintf(buf + o, n - o, " type=%u", k->system_event.type);
		}
	}
	}
	o += snprintf(buf + o, n - o, " rip=%#llx", (unsigned long long)r.rip);
	if (v->seen & (1ull << R_VEC))
		o += snprintf(buf + o, n - o, " [guest exception vec=%lu err=%#lx rip=%#lx oldcs=%#lx handlercs=%#lx%s]",
			      (unsigned long)v->reg[R_VEC], (unsigned long)v->reg[R_ERR],
			      (unsigned long)v->reg[R_RIP], (unsigned long)v->reg[R_OLDCS],
			      (unsigned long)v->reg[R_CS], (v->seen & (1ull << R_CR2)) ? "" : " cr2=n/a");
	if (v->seen & (1ull << R_CR2))
		o += snprintf(buf + o, n - o, " cr2=%#lx", (unsigned long)v->reg[R_CR2]);
	return buf;
}

/* Run an N-iteration loop entry, growing N until it takes >= min_t; returns iterations/s
 * from the difference of the last two runs (removes fixed entry/exit overhead). */
static double rate_test(const char *label, int mode, int cpl, uint64_t rip, int nreg, uint64_t n0, double min_t,
			uint64_t rflags_extra, int stopflags)
{
	struct vm v;
	char buf[512];
	double prev_t = 0;
	uint64_t prev_n = 0, n = n0;
	double rate = -1;
	for (int iter = 0; iter < 12; iter++) {
		if (vm_create(&v, 0, 0) < 0)
			return -1;
		if (vcpu_setup(&v, mode, cpl, rip, rflags_extra) < 0) {
			vm_destroy(&v);
			return -1;
		}
		if (rip == GPA(g_sys_loop))
			set_msr(&v, 0xC0000082, GPA(g_sys_fast));
		set_gpr(&v, nreg, n);
		int sr = vm_run(&v, 30, stopflags);
		int ok = (sr == 1 || sr == 8);
		if (!ok) {
			printf("  %s: N=%lu -> %s after %.3fs (io exits %ld, mmio exits %ld)\n", label,
			       (unsigned long)n, describe(&v, buf, sizeof buf), v.t, v.n_io, v.n_mmio);
			vm_destroy(&v);
			return -1;
		}
		double t = v.t;
		long nio = v.n_io, nmmio = v.n_mmio;
		vm_destroy(&v);
		if (prev_n && t > prev_t)
			rate = (double)(n - prev_n) / (t - prev_t);
		if (t >= min_t || (quick && t >= min_t / 4)) {
			printf("  %s: N=%lu in %.4fs (%.3g/s raw); slope vs N=%lu: %.4g per second = %.4g us each"
			       " [io exits %ld, mmio exits %ld]\n",
			       label, (unsigned long)n, t, n / t, (unsigned long)prev_n, rate, 1e6 / rate, nio, nmmio);
			return rate;
		}
		prev_t = t;
		prev_n = n;
		n *= (t < min_t / 50) ? 10 : 3;
	}
	return rate;
}

/* ---------------- questions ---------------- */
static void q1(void)
{
	printf("\n== Q1: API surface ==\n");
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("  open(/dev/kvm) FAILED errno=%d (%s)\n", errno, strerror(errno));
		printf("  /sys/module/kvm_pvm %s; /proc/misc lists kvm: %s\n",
		       access("/sys/module/kvm_pvm", F_OK) ? "absent" : "present",
		       system("grep -qw kvm /proc/misc") == 0 ? "yes" : "no");
		return;
	}
	printf("  KVM_GET_API_VERSION = %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	for (int type = 0; type < 4; type++) {
		int fd = ioctl(kvm, KVM_CREATE_VM, type);
		printf("  KVM_CREATE_VM(type %d) -> %s%s\n", type, fd >= 0 ? "ok" : "FAIL ",
		       fd >= 0 ? "" : strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	struct {
		const char *n;
		int c;
	} caps[] = {
#define C(x) {#x, KVM_CAP_##x},
		C(IRQCHIP) C(HLT) C(USER_MEMORY) C(SET_TSS_ADDR) C(EXT_CPUID) C(NR_VCPUS) C(MAX_VCPUS)
		C(NR_MEMSLOTS) C(PIT2) C(MP_STATE) C(IRQ_ROUTING) C(IRQFD) C(IOEVENTFD) C(SIGNAL_MSI)
		C(SET_IDENTITY_MAP_ADDR) C(XSAVE) C(XCRS) C(TSC_CONTROL) C(GET_TSC_KHZ) C(KVMCLOCK_CTRL)
		C(SPLIT_IRQCHIP) C(X2APIC_API) C(IMMEDIATE_EXIT) C(READONLY_MEM) C(COALESCED_MMIO)
		C(COALESCED_PIO) C(SYNC_REGS) C(EXCEPTION_PAYLOAD) C(X86_DISABLE_EXITS) C(ADJUST_CLOCK)
		C(TSC_DEADLINE_TIMER) C(DIRTY_LOG_RING) C(X86_USER_SPACE_MSR) C(ENFORCE_PV_FEATURE_CPUID)
		C(IOEVENTFD_ANY_LENGTH) C(IRQFD_RESAMPLE) C(DEBUGREGS) C(VCPU_EVENTS) C(INTR_SHADOW)
		C(SET_GUEST_DEBUG) C(MSI_DEVID) C(NOP_IO_DELAY) C(PV_MMU)
#undef C
		{"VM_TYPES(235)", 235}, {"GUEST_MEMFD(234)", 234}, {"USER_MEMORY2(231)", 231},
	};
	int vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
	printf("  KVM_CHECK_EXTENSION (system fd / vm fd):\n   ");
	for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		int a = ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].c);
		int b = vmfd >= 0 ? ioctl(vmfd, KVM_CHECK_EXTENSION, caps[i].c) : -1;
		printf(" %s=%d/%d", caps[i].n, a, b);
		if (i % 5 == 4)
			printf("\n   ");
	}
	printf("\n");
	if (vmfd >= 0)
		close(vmfd);
	/* supported CPUID */
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(struct kvm_cpuid_entry2));
	c->nent = 256;
	int rc = ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c);
	if (rc < 0) {
		printf("  KVM_GET_SUPPORTED_CPUID FAIL errno=%d (%s)\n", errno, strerror(errno));
	} else {
		printf("  KVM_GET_SUPPORTED_CPUID: %u entries (full dump in cpuid.txt)\n", c->nent);
		FILE *f = fopen("cpuid.txt", "w");
		for (unsigned i = 0; i < c->nent; i++) {
			struct kvm_cpuid_entry2 *e = &c->entries[i];
			if (f)
				fprintf(f, "%08x.%u flags=%x eax=%08x ebx=%08x ecx=%08x edx=%08x\n", e->function, e->index,
					e->flags, e->eax, e->ebx, e->ecx, e->edx);
			uint32_t fn = e->function;
			if (fn == 1)
				printf("   leaf1: ecx=%08x edx=%08x sse3=%d ssse3=%d sse4.2=%d x2apic=%d tscdl=%d xsave=%d avx=%d hv=%d sse2=%d\n",
				       e->ecx, e->edx, e->ecx & 1, !!(e->ecx & (1 << 9)), !!(e->ecx & (1 << 20)),
				       !!(e->ecx & (1 << 21)), !!(e->ecx & (1 << 24)), !!(e->ecx & (1 << 26)),
				       !!(e->ecx & (1 << 28)), !!(e->ecx & (1u << 31)), !!(e->edx & (1 << 26)));
			if (fn == 7 && e->index == 0)
				printf("   leaf7: ebx=%08x ecx=%08x edx=%08x fsgsbase=%d avx2=%d smep=%d smap=%d avx512f=%d umip=%d pku=%d la57=%d\n",
				       e->ebx, e->ecx, e->edx, e->ebx & 1, !!(e->ebx & (1 << 5)), !!(e->ebx & (1 << 7)),
				       !!(e->ebx & (1 << 20)), !!(e->ebx & (1 << 16)), !!(e->ecx & (1 << 2)),
				       !!(e->ecx & (1 << 3)), !!(e->ecx & (1 << 16)));
			if (fn == 0xd && e->index == 0)
				printf("   leafD.0: xcr0 mask eax=%08x edx=%08x size=%u\n", e->eax, e->edx, e->ecx);
			if (fn == 0x80000001)
				printf("   leaf80000001: ecx=%08x edx=%08x syscall=%d nx=%d 1gpage=%d rdtscp=%d lm=%d svm=%d\n",
				       e->ecx, e->edx, !!(e->edx & (1 << 11)), !!(e->edx & (1 << 20)),
				       !!(e->edx & (1 << 26)), !!(e->edx & (1 << 27)), !!(e->edx & (1 << 29)),
				       !!(e->ecx & (1 << 2)));
			if (fn == 0x40000000) {
				char sig[13] = {0};
				memcpy(sig, &e->ebx, 4);
				memcpy(sig + 4, &e->ecx, 4);
				memcpy(sig + 8, &e->edx, 4);
				printf("   leaf40000000: max=%08x sig='%s'\n", e->eax, sig);
			}
			if (fn == 0x40000001)
				printf("   leaf40000001 (KVM features): eax=%08x\n", e->eax);
		}
		if (f)
			fclose(f);
	}
	free(c);
	struct kvm_msr_list ml = {.nmsrs = 0};
	ioctl(kvm, KVM_GET_MSR_INDEX_LIST, &ml);
	printf("  KVM_GET_MSR_INDEX_LIST: %u MSRs\n", ml.nmsrs);
	close(kvm);

	struct vm v;
	printf("  VM without irqchip:\n");
	if (vm_create(&v, 0, 1) == 0) {
		struct kvm_sregs s;
		xioctl_report("KVM_GET_SREGS", ioctl(v.vcpu, KVM_GET_SREGS, &s));
		printf("      reset sregs: cr0=%llx cr4=%llx efer=%llx cs.sel=%x cs.base=%llx apic_base=%llx\n", s.cr0,
		       s.cr4, s.efer, s.cs.selector, s.cs.base, s.apic_base);
		xioctl_report("KVM_SET_SREGS (long mode)", ioctl(v.vcpu, KVM_SET_SREGS, &s));
		xioctl_report("vcpu_setup long mode cpl3", vcpu_setup(&v, M_LONG, 3, 0x1000, 0));
		xioctl_report("KVM_SET_TSS_ADDR(0xfffbd000)", ioctl(v.fd, KVM_SET_TSS_ADDR, 0xfffbd000));
		uint64_t idm = 0xfffbc000;
		xioctl_report("KVM_SET_IDENTITY_MAP_ADDR", ioctl(v.fd, KVM_SET_IDENTITY_MAP_ADDR, &idm));
		struct {
			const char *n;
			uint32_t i;
			uint64_t val;
		} msrs[] = {
			{"EFER", 0xC0000080, 0xd01},       {"STAR", 0xC0000081, 0x0010000800000000ull},
			{"LSTAR", 0xC0000082, 0x2000},     {"CSTAR", 0xC0000083, 0x2000},
			{"SFMASK", 0xC0000084, 0x700},     {"FS_BASE", 0xC0000100, 0x7000},
			{"GS_BASE", 0xC0000101, 0x7100},   {"KERNEL_GS_BASE", 0xC0000102, 0x7200},
			{"TSC_AUX", 0xC0000103, 1},        {"PAT", 0x277, 0x0007040600070406ull},
			{"SYSENTER_CS", 0x174, 0x8},       {"MISC_ENABLE", 0x1a0, 1},
			{"APIC_BASE", 0x1b, 0xfee00900},   {"TSC", 0x10, 1000},
			{"KVM_SYSTEM_TIME_NEW", 0x4b564d01, 0}, {"TSC_DEADLINE", 0x6e0, 0},
			{"MTRRdefType", 0x2ff, 0xc06},     {"SPEC_CTRL", 0x48, 0},
		};
		for (unsigned i = 0; i < sizeof msrs / sizeof msrs[0]; i++) {
			int r = set_msr(&v, msrs[i].i, msrs[i].val);
			int e = errno;
			uint64_t back = 0;
			int g = get_msr(&v, msrs[i].i, &back);
			printf("    KVM_SET_MSRS %-20s(%#x)=%#llx -> %d%s%s; GET -> %d val=%#llx\n", msrs[i].n, msrs[i].i,
			       (unsigned long long)msrs[i].val, r, r < 0 ? " errno " : "", r < 0 ? strerror(e) : "", g,
			       (unsigned long long)back);
		}
		struct kvm_fpu fpu;
		xioctl_report("KVM_GET_FPU", ioctl(v.vcpu, KVM_GET_FPU, &fpu));
		struct kvm_xcrs xc;
		int r = xioctl_report("KVM_GET_XCRS", ioctl(v.vcpu, KVM_GET_XCRS, &xc));
		if (r >= 0)
			printf("      xcr0=%#llx\n", (unsigned long long)xc.xcrs[0].value);
		struct kvm_interrupt irq = {.irq = 0x40};
		xioctl_report("KVM_INTERRUPT (no irqchip, not running)", ioctl(v.vcpu, KVM_INTERRUPT, &irq));
		xioctl_report("KVM_CREATE_PIT2", ioctl(v.fd, KVM_CREATE_PIT2, &(struct kvm_pit_config){0}));
		struct kvm_clock_data cd;
		xioctl_report("KVM_GET_CLOCK", ioctl(v.fd, KVM_GET_CLOCK, &cd));
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct kvm_ioeventfd io = {.addr = 0x600, .len = 1, .fd = efd, .flags = KVM_IOEVENTFD_FLAG_PIO};
		xioctl_report("KVM_IOEVENTFD (pio, no irqchip)", ioctl(v.fd, KVM_IOEVENTFD, &io));
		struct kvm_irqfd ifd = {.fd = efd, .gsi = 5};
		xioctl_report("KVM_IRQFD (no irqchip)", ioctl(v.fd, KVM_IRQFD, &ifd));
		close(efd);
		vm_destroy(&v);
	}
	printf("  VM with in-kernel irqchip:\n");
	if (vm_create(&v, 1, 1) == 0) {
		struct kvm_lapic_state l;
		xioctl_report("KVM_GET_LAPIC", ioctl(v.vcpu, KVM_GET_LAPIC, &l));
		struct kvm_irqchip ch = {.chip_id = KVM_IRQCHIP_IOAPIC};
		xioctl_report("KVM_GET_IRQCHIP(IOAPIC)", ioctl(v.fd, KVM_GET_IRQCHIP, &ch));
		struct kvm_interrupt irq = {.irq = 0x40};
		xioctl_report("KVM_INTERRUPT (with irqchip)", ioctl(v.vcpu, KVM_INTERRUPT, &irq));
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct kvm_ioeventfd io = {.addr = 0x1000800, .len = 4, .fd = efd};
		xioctl_report("KVM_IOEVENTFD (mmio)", ioctl(v.fd, KVM_IOEVENTFD, &io));
		struct kvm_irqfd ifd = {.fd = efd, .gsi = 21};
		xioctl_report("KVM_IRQFD (gsi 21)", ioctl(v.fd, KVM_IRQFD, &ifd));
		struct kvm_msi msi = {.address_lo = 0xfee00000, .data = 0x41};
		xioctl_report("KVM_SIGNAL_MSI (not running)", ioctl(v.fd, KVM_SIGNAL_MSI, &msi));
		struct kvm_irq_level lv = {.irq = 20, .level = 0};
		xioctl_report("KVM_IRQ_LINE(20,0)", ioctl(v.fd, KVM_IRQ_LINE, &lv));
		close(efd);
		vm_destroy(&v);
	}
}

static void q2_q3_q4(void)
{
	char buf[512];
	printf("\n== Q2/Q3: dec/jnz loop speed ==\n");
	double r0 = rate_test("CPL0 loop (long mode, entered via sregs)", M_LONG, 0, GPA(g_loop), 'c', 1000, 1.0, 0, 0);
	double r3 = rate_test("CPL3 loop (CS=0x23/SS=0x1b set in sregs)", M_LONG, 3, GPA(g_loop), 'c', 100000, 1.0,
			      0x3000, 0);
	if (r0 > 0 && r3 > 0)
		printf("  => CPL3/CPL0 speed ratio %.0fx\n", r3 / r0);
	/* CPL0 -> iretq -> CPL3 */
	struct vm v;
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 0, GPA(g_iret_to_user), 0) == 0) {
		struct kvm_regs r;
		ioctl(v.vcpu, KVM_GET_REGS, &r);
		r.rdi = GPA(g_user_cs_loop);
		r.rsi = 0x1f0000;
		r.rcx = 1000000000ul;
		ioctl(v.vcpu, KVM_SET_REGS, &r);
		vm_run(&v, 30, 0);
		printf("  CPL0 iretq -> CPL3 then 1e9-iteration loop: %s, CS seen after iretq=%#lx, %.3fs total\n",
		       describe(&v, buf, sizeof buf), (v.seen & (1ull << R_V1)) ? (unsigned long)v.reg[R_V1] : 0ul,
		       v.t);
	}
	vm_destroy(&v);

	printf("\n== Q4: exit round trips ==\n");
	rate_test("PIO out exits, CPL0", M_LONG, 0, GPA(g_pio_loop), 'c', 100, 1.0, 0, 0);
	rate_test("PIO out exits, CPL3 IOPL=3", M_LONG, 3, GPA(g_pio_loop), 'c', 100, 1.0, 0x3000, 0);
	rate_test("MMIO store exits, CPL0", M_LONG, 0, GPA(g_mmio_loop), 'c', 100, 1.0, 0, 0);
	rate_test("MMIO store exits, CPL3", M_LONG, 3, GPA(g_mmio_loop), 'c', 100, 1.0, 0x3000, 0);
	/* single out at CPL3: what happens, and is IOPL kept in RFLAGS? */
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 3, GPA(g_out3), 0x3000) == 0) {
		struct kvm_regs r;
		ioctl(v.vcpu, KVM_GET_REGS, &r);
		printf("  rflags after KVM_SET_REGS(0x3002) read back: %#llx\n", r.rflags);
		vm_run(&v, 10, 0);
		printf("  single 'out' at CPL3 IOPL=3: %s; io exits %ld\n", describe(&v, buf, sizeof buf), v.n_io);
	}
	vm_destroy(&v);
	printf("  (extra) in-kernel exits, no userspace round trip:\n");
	rate_test("cpuid at CPL3", M_LONG, 3, GPA(g_cpuid_loop), 12, 100, 1.0, 0x3000, 0);
	rate_test("rdtsc at CPL3", M_LONG, 3, GPA(g_rdtsc_loop), 'c', 1000, 1.0, 0x3000, 0);
}

static void q5(void)
{
	char buf[512];
	struct vm v;
	printf("\n== Q5: syscall from CPL3 ==\n");
	for (int mode = 0; mode < 2; mode++) {
		if (vm_create(&v, 0, 0) || vcpu_setup(&v, M_LONG, 3, GPA(g_sys_report_entry), 0x3000)) {
			vm_destroy(&v);
			return;
		}
		set_msr(&v, 0xC0000082, GPA(g_sys_report));
		set_gpr(&v, 13, mode);
		vm_run(&v, 10, 0);
		printf("  handler returns with %s: %s\n", mode ? "sysretq" : "push r11;popfq;jmp *%rcx",
		       describe(&v, buf, sizeof buf));
		printf("    in LSTAR handler: CS=%#lx SS=%#lx RFLAGS=%#lx RCX=%#lx (expected ret %#lx); CS after return=%s%#lx\n",
		       (unsigned long)v.reg[R_V1], (unsigned long)v.reg[R_V2], (unsigned long)v.reg[R_V3],
		       (unsigned long)v.reg[R_V4], (unsigned long)GPA(g_sys_report_entry) + 2,
		       (v.seen & (1ull << R_V5)) ? "" : "(not reached) ", (unsigned long)v.reg[R_V5]);
		vm_destroy(&v);
	}
	rate_test("syscall round trip (jmp *%rcx), CPL3", M_LONG, 3, GPA(g_sys_loop), 12, 1000, 1.0, 0x3000, 0);
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 3, GPA(g_int80), 0x3000) == 0) {
		vm_run(&v, 10, 0);
		printf("  int $0x80 from CPL3 (DPL3 gate): %s; CS after iretq=%s%#lx\n", describe(&v, buf, sizeof buf),
		       (v.seen & (1ull << R_V5)) ? "" : "(not reached) ", (unsigned long)v.reg[R_V5]);
	}
	vm_destroy(&v);
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 0, GPA(g_wrmsr), 0) == 0) {
		vm_run(&v, 10, 0);
		printf("  wrmsr FS_BASE at CPL0 then rdfsbase: %s; value=%#lx\n", describe(&v, buf, sizeof buf),
		       (unsigned long)v.reg[R_V1]);
	}
	vm_destroy(&v);
	for (int cpl = 3; cpl >= 0; cpl -= 3) {
		if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, cpl, GPA(g_fsgs), 0x3000) == 0) {
			vm_run(&v, 10, 0);
			printf("  wrfsbase/rdfsbase at CPL%d (CR4.FSGSBASE=1): %s; value=%#lx\n", cpl,
			       describe(&v, buf, sizeof buf), (unsigned long)v.reg[R_V1]);
		}
		vm_destroy(&v);
		if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, cpl, GPA(g_sse), 0x3000) == 0) {
			vm_run(&v, 10, 0);
			printf("  SSE (movdqu/paddq/movq) at CPL%d: %s; value=%#lx (expect 0xa00000006)\n", cpl,
			       describe(&v, buf, sizeof buf), (unsigned long)v.reg[R_V1]);
		}
		vm_destroy(&v);
	}
}

static void q6(void)
{
	char buf[512];
	struct vm v;
	printf("\n== Q6: 32-bit protected mode / real mode entry ==\n");
	rate_test("PM32 (CR0.PE=1 PG=0, CS=0x28 db=1) loop", M_PM32, 0, GPA(g_pm32_loop), 'c', 1000, 1.0, 0, STOP_F4);
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_PM32, 0, GPA(g_pm32_to_64), 0) == 0) {
		vm_run(&v, 10, 0);
		printf("  PM32 -> set CR3/CR4.PAE/EFER.LME/CR0.PG -> ljmp 64-bit: %s; CS in long mode=%#lx\n",
		       describe(&v, buf, sizeof buf), (unsigned long)v.reg[R_V1]);
		struct kvm_sregs s;
		ioctl(v.vcpu, KVM_GET_SREGS, &s);
		printf("    sregs after: cr0=%llx cr4=%llx efer=%llx\n", s.cr0, s.cr4, s.efer);
	}
	vm_destroy(&v);
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_REAL, 0, GPA(g_real), 0) == 0) {
		vm_run(&v, 10, STOP_F4);
		printf("  real mode (CR0.PE=0) 'out $0xf4': %s\n", describe(&v, buf, sizeof buf));
	}
	vm_destroy(&v);
}

static void q7(void)
{
	char buf[512];
	struct vm v;
	printf("\n== Q7: #PF from CPL3, hlt at CPL0 ==\n");
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 3, GPA(g_pf_user), 0x3000) == 0) {
		vm_run(&v, 10, 0);
		printf("  CPL3 load from unmapped 0x40000000: %s (faulting insn at %#lx)\n", describe(&v, buf, sizeof buf),
		       (unsigned long)GPA(g_pf_user) + 7);
	}
	vm_destroy(&v);
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 0, GPA(g_pf_user), 0) == 0) {
		vm_run(&v, 10, 0);
		printf("  CPL0 load from unmapped 0x40000000: %s\n", describe(&v, buf, sizeof buf));
	}
	vm_destroy(&v);
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 0, GPA(g_hlt), 0) == 0) {
		vm_run(&v, 10, 0);
		printf("  hlt at CPL0 (no irqchip): %s after %.3fs\n", describe(&v, buf, sizeof buf), v.t);
	}
	vm_destroy(&v);
	if (vm_create(&v, 0, 0) == 0 && vcpu_setup(&v, M_LONG, 3, GPA(g_hlt), 0x3000) == 0) {
		vm_run(&v, 10, 0);
		printf("  hlt at CPL3: %s\n", describe(&v, buf, sizeof buf));
	}
	vm_destroy(&v);
}

static void q8(void)
{
	char buf[512];
	struct vm v;
	printf("\n== Q8: interrupt injection ==\n");
	for (int cpl = 3; cpl >= 0; cpl -= 3) {
		/* (a) no irqchip: KVM_INTERRUPT, with interrupt-window handshake */
		if (vm_create(&v, 0, 0) || vcpu_setup(&v, M_LONG, cpl, GPA(g_spin), 0x3200)) {
			vm_destroy(&v);
			return;
		}
		vm_run(&v, 10, STOP_READY | STOP_DONE);
		printf("  [no irqchip, CPL%d spin, IF=1] first stop: %s ready_for_injection=%d if_flag=%d\n", cpl,
		       describe(&v, buf, sizeof buf), v.run->ready_for_interrupt_injection, v.run->if_flag);
		for (int k = 0; k < 3; k++) {
			if (!v.run->ready_for_interrupt_injection) {
				v.run->request_interrupt_window = 1;
				vm_run(&v, 10, STOP_READY | STOP_DONE);
				v.run->request_interrupt_window = 0;
				printf("    request_interrupt_window -> %s\n", describe(&v, buf, sizeof buf));
				if (v.stop_reason != 9)
					break;
			}
			struct kvm_interrupt irq = {.irq = 0x40 + k};
			int rc = ioctl(v.vcpu, KVM_INTERRUPT, &irq);
			printf("    KVM_INTERRUPT(%#x) -> %d %s\n", 0x40 + k, rc, rc < 0 ? strerror(errno) : "");
			double t0 = now();
			vm_run(&v, 10, STOP_READY | STOP_DONE);
			printf("    -> %s (%.1f us)\n", describe(&v, buf, sizeof buf), (now() - t0) * 1e6);
			if (v.stop_reason != 7)
				break;
		}
		vm_destroy(&v);

		/* (b) in-kernel irqchip: MSI, IRQ_LINE via IOAPIC, IRQFD */
		if (vm_create(&v, 1, 0) || vcpu_setup(&v, M_LONG, cpl, GPA(g_spin), 0x3200)) {
			vm_destroy(&v);
			return;
		}
		struct kvm_lapic_state l;
		ioctl(v.vcpu, KVM_GET_LAPIC, &l);
		*(uint32_t *)(l.regs + 0xf0) |= 0x1ff; /* SVR: enable, spurious vector 0xff */
		int rc = ioctl(v.vcpu, KVM_SET_LAPIC, &l);
		struct kvm_irqchip ch = {.chip_id = KVM_IRQCHIP_IOAPIC};
		ioctl(v.fd, KVM_GET_IRQCHIP, &ch);
		memset(&ch.chip.ioapic.redirtbl[20], 0, 8);
		ch.chip.ioapic.redirtbl[20].fields.vector = 0x51;
		memset(&ch.chip.ioapic.redirtbl[21], 0, 8);
		ch.chip.ioapic.redirtbl[21].fields.vector = 0x61;
		int rc2 = ioctl(v.fd, KVM_SET_IRQCHIP, &ch);
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct kvm_irqfd ifd = {.fd = efd, .gsi = 21};
		int rc3 = ioctl(v.fd, KVM_IRQFD, &ifd);
		printf("  [irqchip, CPL%d spin, IF=1] SET_LAPIC(SVR enable)=%d SET_IRQCHIP(ioapic pins 20,21)=%d IRQFD(gsi21)=%d\n",
		       cpl, rc, rc2, rc3);
		vm_run(&v, 10, STOP_READY | STOP_DONE);
		printf("    first stop: %s\n", describe(&v, buf, sizeof buf));
		for (int k = 0; k < 3 && (v.stop_reason == 6 || v.stop_reason == 7); k++) {
			const char *what;
			if (k == 0) {
				struct kvm_msi msi = {.address_lo = 0xfee00000, .data = 0x41};
				rc = ioctl(v.fd, KVM_SIGNAL_MSI, &msi);
				what = "KVM_SIGNAL_MSI(vec 0x41)";
			} else if (k == 1) {
				struct kvm_irq_level lv = {.irq = 20, .level = 1};
				rc = ioctl(v.fd, KVM_IRQ_LINE, &lv);
				lv.level = 0;
				ioctl(v.fd, KVM_IRQ_LINE, &lv);
				what = "KVM_IRQ_LINE(gsi 20 -> vec 0x51)";
			} else {
				uint64_t one = 1;
				rc = write(efd, &one, 8) == 8 ? 1 : -1;
				what = "irqfd write(gsi 21 -> vec 0x61)";
			}
			printf("    %s -> %d%s%s\n", what, rc, rc < 0 ? " " : "", rc < 0 ? strerror(errno) : "");
			double t0 = now();
			vm_run(&v, 5, STOP_READY | STOP_DONE);
			printf("    -> %s (%.1f us)\n", describe(&v, buf, sizeof buf), (now() - t0) * 1e6);
			v.seen = 0;
		}
		close(efd);
		vm_destroy(&v);
	}
}

static void q9(void)
{
	char buf[512];
	struct vm v;
	printf("\n== Q9: host file mmap(MAP_FIXED) over part of the memfd slot ==\n");
	const char *path = "/tmp/kvmprobe/dax.bin";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint64_t pat = 0xDA7A0000FEEDF00Dull;
	if (fd < 0 || ftruncate(fd, 65536) < 0 || pwrite(fd, &pat, 8, 0) != 8)
		return perror("dax file");
	if (vm_create(&v, 0, 0) || vcpu_setup(&v, M_LONG, 3, GPA(g_dax), 0x3000)) {
		vm_destroy(&v);
		return;
	}
	memset(v.mem + 0x400000, 0x11, 65536);
	vm_run(&v, 10, 0);
	printf("  before remap: guest read %#lx (memfd has 0x1111111111111111): %s\n", (unsigned long)v.reg[R_V1],
	       describe(&v, buf, sizeof buf));
	void *p = mmap(v.mem + 0x400000, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	printf("  mmap(file, MAP_SHARED|MAP_FIXED) over GPA 0x400000: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
	vcpu_setup(&v, M_LONG, 3, GPA(g_dax), 0x3000);
	v.reg[R_V1] = 0;
	vm_run(&v, 10, 0);
	uint64_t back = 0;
	if (pread(fd, &back, 8, 8) != 8)
		back = ~0ull;
	printf("  after remap, no re-registration: guest read %#lx (file has %#lx) -> %s; guest write seen in file: %#lx (%s)\n",
	       (unsigned long)v.reg[R_V1], (unsigned long)pat, v.reg[R_V1] == pat ? "SEES FILE" : "STALE",
	       (unsigned long)back, back == 0x1122334455667788ull ? "yes" : "no");
	/* put the memfd back */
	p = mmap(v.mem + 0x400000, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, v.memfd, 0x400000);
	vcpu_setup(&v, M_LONG, 3, GPA(g_dax), 0x3000);
	vm_run(&v, 10, 0);
	printf("  after mapping the memfd back: guest read %#lx (%s)\n", (unsigned long)v.reg[R_V1],
	       v.reg[R_V1] == 0x1111111111111111ull ? "memfd again" : "?");
	/* cost of swapping the window: remap + next guest access */
	double t0 = now();
	int reps = quick ? 20 : 200;
	for (int i = 0; i < reps; i++) {
		mmap(v.mem + 0x400000, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, (i & 1) ? v.memfd : fd,
		     (i & 1) ? 0x400000 : 0);
		vcpu_setup(&v, M_LONG, 3, GPA(g_dax), 0x3000);
		vm_run(&v, 10, 0);
	}
	printf("  remap + guest run(read+write+2 MMIO exits) x%d: %.1f us each\n", reps, (now() - t0) / reps * 1e6);
	vm_destroy(&v);
	close(fd);
}

static void ioeventfd_test(void)
{
	char buf[512];
	struct vm v;
	printf("\n== extra: KVM_IOEVENTFD delivery (no userspace exit) ==\n");
	for (int cpl = 0; cpl <= 3; cpl += 3) {
		for (int pio = 0; pio < 2; pio++) {
			if (vm_create(&v, 1, 0) ||
			    vcpu_setup(&v, M_LONG, cpl, pio ? GPA(g_ioev_pio) : GPA(g_ioev_mmio), 0x3000)) {
				vm_destroy(&v);
				return;
			}
			int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			struct kvm_ioeventfd io = {.addr = pio ? 0x600 : 0x1000800, .len = pio ? 1 : 4, .fd = efd,
						   .flags = pio ? KVM_IOEVENTFD_FLAG_PIO : 0};
			int rc = ioctl(v.fd, KVM_IOEVENTFD, &io);
			vm_run(&v, 10, 0);
			uint64_t cnt = 0;
			int rr = read(efd, &cnt, 8);
			printf("  %s ioeventfd at CPL%d: register=%d, run: %s, userspace io exits=%ld mmio exits=%ld, eventfd count=%ld\n",
			       pio ? "PIO " : "MMIO", cpl, rc, describe(&v, buf, sizeof buf), v.n_io, v.n_mmio,
			       rr == 8 ? (long)cnt : -1L);
			close(efd);
			vm_destroy(&v);
		}
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN returns EINTR */
	sigaction(SIGALRM, &sa, 0);
	const char *only = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q"))
			quick = 1;
		else
			only = argv[i];
	}
	printf("guest blob %zu bytes at GPA %#x\n", (size_t)(g_end - g_start), GUEST_BASE);
	if (!only || strchr(only, '1'))
		q1();
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		printf("no usable /dev/kvm: %s -- nothing else can be tested\n", strerror(errno));
		return 2;
	}
	if (!only || strchr(only, '2'))
		q2_q3_q4();
	if (!only || strchr(only, '5'))
		q5();
	if (!only || strchr(only, '6'))
		q6();
	if (!only || strchr(only, '7'))
		q7();
	if (!only || strchr(only, '8'))
		q8();
	if (!only || strchr(only, '9'))
		q9();
	if (!only || strchr(only, 'e'))
		ioeventfd_test();
	return 0;
}
