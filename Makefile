# Pier: one Makefile for the guest kernel, the host CLI, and the tests.
#   make            build build/kernel.elf and build/pier
#   make run        install what is missing, build, boot the demo
#   make test       install what is missing, build, run unit + integration tests
#   make deps       install the Debian packages the project needs
#   make install    install pier, pier-oci and the guest kernel under
#                   $(DESTDIR)$(PREFIX) (default /usr/local)
#   make WERROR=0   build without -Werror
# Objects go under build/, with dependency files next to them.

BUILD ?= build
WERROR ?= 1
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

CC ?= gcc
PYTHON ?= /usr/bin/python3
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

WARN := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror,) -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
COMMON := -std=gnu11 -g -O2 -MMD -MP -Iinclude $(WARN)

# Guest: freestanding, kernel code model, no FP/SIMD registers (fatal in
# kvm_pvm's emulated ring 0, see shared/docs/platform.md), frame pointers
# for backtraces.
GUEST_CFLAGS := $(COMMON) -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie \
	-mcmodel=kernel -mno-red-zone -mgeneral-regs-only -mno-sse -mno-mmx -mno-avx \
	-fno-stack-protector -fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
	-DPIER_GUEST -DPIER_VERSION='"$(VERSION)"'
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guest/arch/x86_64/kernel.ld \
	-Wl,-z,max-page-size=4096 -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

# build/gen: system-call names (host/vmm/seccomp.c names a forbidden call).
# UAPI_DIR: a newer <linux/landlock.h> (Landlock's network rules), put
# there by tools/uapi-landlock.sh (run by deps) when the system's is older.
UAPI_DIR ?= /var/cache/pier-uapi
HOST_CFLAGS := $(COMMON) -D_GNU_SOURCE -DPIER_VERSION='"$(VERSION)"' -I$(BUILD)/gen \
	-isystem $(UAPI_DIR)

# Logic shared by guest and host unit tests.
LIB_SRCS := lib/fmt.c lib/cmdline.c lib/page_alloc.c lib/heap.c lib/sha256.c lib/cpio.c \
	lib/virtq.c lib/fuse_msg.c lib/path_walk.c lib/elf_load.c lib/dax_window.c lib/run_args.c \
	lib/futex_queue.c lib/run_queue.c lib/file_locks.c lib/sigframe.c lib/auxv.c lib/shebang.c \
	lib/wire.c lib/low_page.c lib/lock_order.c
GUEST_SRCS := $(wildcard guest/arch/x86_64/*.S guest/arch/x86_64/*.c guest/kernel/*.c \
	guest/mm/*.c guest/drivers/*.c guest/fs/*.c guest/linux/*.c guest/net/*.c) $(LIB_SRCS) lib/string.c
HOST_SRCS := $(wildcard host/*.c host/vmm/*.c host/oci/*.c host/net/*.c) lib/virtq.c lib/run_args.c lib/wire.c \
	lib/fuse_msg.c
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.c))

GUEST_OBJS := $(patsubst %,$(BUILD)/guest-obj/%.o,$(GUEST_SRCS)) $(BUILD)/guest-obj/vdso_image.o
HOST_OBJS := $(patsubst %,$(BUILD)/host-obj/%.o,$(HOST_SRCS))

.PHONY: all deps run test unit fuzz integration integration-pier clean bench-progs bench bench-quick install
all: $(BUILD)/kernel.elf $(BUILD)/pier $(BUILD)/pier-oci

# Benchmark programs: static (musl), the same binary on the host and in guests.
BENCH_PROGS := $(patsubst bench/progs/%.c,$(BUILD)/bench/%,$(wildcard bench/progs/*.c))
bench-progs: $(BENCH_PROGS) $(BUILD)/bench/dax_policy
# The DAX window policies replayed on the host (no VM): bench/dax_policy.c.
$(BUILD)/bench/dax_policy: bench/dax_policy.c lib/dax_window.c include/pier/dax_window.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -o $@ bench/dax_policy.c lib/dax_window.c
$(BUILD)/bench/%: bench/progs/%.c
	@mkdir -p $(dir $@)
	$(Q)musl-gcc -static -O2 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/guest-obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC [guest] $<"
	$(Q)$(CC) $(GUEST_CFLAGS) -I$(BUILD)/gen -c $< -o $@

# System-call names for messages, straight from the uapi header.
UNISTD_H := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/asm/unistd_64.h \
	/usr/include/asm/unistd_64.h))
$(BUILD)/gen/syscall_names.h: $(UNISTD_H)
	@mkdir -p $(dir $@)
	$(Q)sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9]*\)$$/[\2] = "\1",/p' $< > $@
$(BUILD)/guest-obj/guest/linux/syscall_table.c.o: $(BUILD)/gen/syscall_names.h
$(BUILD)/host-obj/host/vmm/seccomp.c.o: $(BUILD)/gen/syscall_names.h

$(BUILD)/guest-obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS [guest] $<"
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

# The vDSO (guest/vdso/): a tiny shared object of program code, built
# position-independent without libc, then carried in the kernel image.
VDSO_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -fPIC -fno-stack-protector \
	-fno-asynchronous-unwind-tables -ffreestanding -nostdlib -shared \
	-Wl,-T,guest/vdso/vdso.lds -Wl,-soname=linux-vdso.so.1 -Wl,--hash-style=both \
	-Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
$(BUILD)/vdso/vdso.so: guest/vdso/vdso.c guest/vdso/vdso.h guest/vdso/vdso.lds
	@mkdir -p $(dir $@)
	@echo "  CC [vdso] $@"
	$(Q)$(CC) $(VDSO_CFLAGS) $< -o $@
$(BUILD)/guest-obj/vdso_image.o: $(BUILD)/vdso/vdso.so
	@mkdir -p $(dir $@)
	$(Q)printf '.section .rodata\n.balign 4096\n.globl vdso_image, vdso_image_end\nvdso_image:\n.incbin "%s"\nvdso_image_end:\n.section .note.GNU-stack,"",@progbits\n' $< \
		| $(CC) $(GUEST_CFLAGS) -x assembler -c - -o $@

$(BUILD)/kernel.elf: $(GUEST_OBJS) guest/arch/x86_64/kernel.ld
	@echo "  LD $@"
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) $(GUEST_OBJS) -o $@

$(BUILD)/host-obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/pier: $(HOST_OBJS)
	@echo "  LD $@"
	$(Q)$(CC) $(HOST_OBJS) -o $@ -lpthread -ljansson

# pier-oci, the OCI runtime, is pier under another name.
$(BUILD)/pier-oci: $(BUILD)/pier
	$(Q)ln -sf pier $@

# Each unit test links its own test file with the lib/ sources it covers,
# compiled for the host (with sanitizers: these are the hostile-input paths).
# A sanitizer report ends the test (no recovery): undefined behaviour fails.
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_CFLAGS := $(HOST_CFLAGS) -O1 $(SANITIZE)
# Host-side logic that touches no OS resource, unit-tested like lib/.
UNIT_SRCS := $(LIB_SRCS) host/control.c host/stats.c host/latency.c host/threads.c host/exec_server.c host/fuse_server.c host/fuse_server_write.c host/dax_map.c host/terminal.c host/fdio.c $(wildcard host/net/*.c) $(addprefix host/vmm/,guest_mem.c boot.c virtio_mmio.c virtio_fs_dev.c virtio_console_dev.c serial.c cmos.c fw_cfg.c landlock.c seccomp.c acpi.c)
# They are compiled once, into one archive every test links (each test
# compiling all of them took most of a clean build: 42 tests x 30 files).
UNIT_OBJS := $(patsubst %,$(BUILD)/unit-obj/%.o,$(UNIT_SRCS))
$(BUILD)/unit-obj/%.c.o: %.c $(BUILD)/gen/syscall_names.h
	@mkdir -p $(dir $@)
	@echo "  CC [unit] $<"
	$(Q)$(CC) $(UNIT_CFLAGS) -Ihost -c $< -o $@
$(BUILD)/unit-obj/libunit.a: $(UNIT_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/unit-obj/libunit.a $(BUILD)/gen/syscall_names.h
	@mkdir -p $(dir $@)
	@echo "  CC [unit] $@"
	$(Q)$(CC) $(UNIT_CFLAGS) -Ihost $< $(filter %.S,$^) $(BUILD)/unit-obj/libunit.a -o $@ \
		-lcmocka -lpthread
# The FUSE client's test includes the guest source and the fuzzers' kernel shims.
$(BUILD)/tests/unit/test_fuse_client: guest/fs/fuse.c fuzz/guest_shims.h
# The guest's fault-tolerant copy is plain x86-64: its test runs it here.
$(BUILD)/tests/unit/test_copy_nofault: guest/arch/x86_64/copy_nofault.S

# Fuzzers (fuzz/fuzz_NAME.c): libFuzzer harnesses, built with clang and
# ASan/UBSan over the same sources as the unit tests (plus FUZZ_EXTRA_NAME).
# `make fuzz` first replays fuzz/regress/NAME/ and fuzz/corpus/NAME/, then
# fuzzes each harness for FUZZ_SECONDS and prints executions and coverage.
FUZZ_SECONDS ?= 30
FUZZERS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(addprefix $(BUILD)/fuzz/,$(FUZZERS))
FUZZ_CFLAGS := $(HOST_CFLAGS) -O1 -fsanitize=fuzzer $(SANITIZE) -DPIER_FUZZ
$(BUILD)/fuzz/%: fuzz/fuzz_%.c $(UNIT_SRCS) $(wildcard fuzz/*.h) $(BUILD)/gen/syscall_names.h
	@mkdir -p $(dir $@)
	@echo "  CC [fuzz] $@"
	$(Q)clang $(FUZZ_CFLAGS) -Ihost $< $(UNIT_SRCS) $(FUZZ_EXTRA_$*) -o $@ -lpthread
# Extra sources per harness (also prerequisites, so edits there rebuild it).
FUZZ_EXTRA_fuse_reply := guest/fs/fuse.c
$(foreach f,$(FUZZERS),$(eval $(BUILD)/fuzz/$(f): $(FUZZ_EXTRA_$(f))))
fuzz: $(FUZZ_BINS)
	@tools/run-fuzzers.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZERS)

deps:
	@tools/deps.sh

# The evaluation (bench/run): every configuration side by side, report and
# plots under bench/results/DATE/ (with bench/startup.py's and bench/nginx.py's
# tables), README's headline table rewritten.
bench: deps all bench-progs
	out=bench/results/$$(date +%Y-%m-%d-%H%M) && mkdir -p $$out && \
		bench/startup.py --json $$out/startup.json --md $$out/startup.md && \
		bench/nginx.py --json $$out/nginx.json --md $$out/nginx.md && \
		bench/run --out $$out
	bench/stdio
bench-quick: deps all bench-progs
	bench/run --quick
	bench/stdio --quick

# The demo: boot from build/demo-root over virtio-fs and run our demo
# program in it; then let the host check the hashes it printed.
run: deps all demo-root
	$(BUILD)/pier run --timing --root $(DEMO_ROOT) -- /bin/pier-demo /etc \
		| tee $(BUILD)/demo.out
	@echo "host check of the hashes the guest printed:"
	grep -E '^[0-9a-f]{64}  ' $(BUILD)/demo.out > $(BUILD)/demo.sha256
	cd $(DEMO_ROOT) && sha256sum -c $(abspath $(BUILD)/demo.sha256)
	$(BUILD)/pier run --root $(DEMO_ROOT) -- /bin/busybox ls -l /etc

unit: $(UNIT_TESTS)
	@tools/run-unit-tests.sh $(UNIT_TESTS)

# QEMU's targets on this host; pier's own VMM (needs /dev/kvm) directly
# where /dev/kvm works, otherwise inside a nested Linux guest that has it
# (tools/kvm-nest/run: Debian's kernel under QEMU TCG with kvm_amd), in two
# passes. Most tests on one L1 CPU (faster). The tests of several vCPUs
# (NEST_SMP_TESTS) on two L1 CPUs, so that pier's vCPU threads run on two
# CPUs at once, under single-threaded TCG: QEMU 7.2's multi-threaded TCG
# does not turn an L1 timer interrupt into an exit from L2 there, and the
# L1 CPU locks up (tools/kvm-nest/README.md). Test files go to a plain
# tmpfs (NEST_TMP): kvm-nest's overlay /tmp reports another st_dev for
# files than for directories, which the tree checks see (and a checkout
# may itself live in /tmp).
NEST_TMP := /run/pier-tests
# Which share of the sampled case lists the pier pass runs (conftest.py).
PIER_SAMPLE ?=
# Any one test that runs longer than this has hung (pytest-timeout).
PYTEST_LIMIT := --timeout=600
# kvm_pvm does not count: pier refuses it (host/accel.c).
KVM_USABLE = $(shell test ! -e /sys/module/kvm_pvm && \
	$(PYTHON) -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>/dev/null && echo yes)
integration: all progs bench-progs
	PIER_TEST_TARGETS=microvm,q35 $(PYTHON) -m pytest -q $(PYTEST_LIMIT) tests/integration

integration-pier: all progs bench-progs # test_stats runs build/bench/fsbench
ifeq ($(KVM_USABLE),yes)
	PIER_TEST_TARGETS=pier $(PYTHON) -m pytest -q $(PYTEST_LIMIT) tests/integration
else
	tools/debian-root.sh >/dev/null # the nested machine sees the host's / read-only: built here
	$(PYTHON) bench/linux_guest.py --prepare # so are the Linux guest's kernel and modules
	@# Both passes at once, one host CPU each; the shorter one's output follows the longer's.
	$(call NEST_PASS,2,single,$(NEST_SMP_TESTS)) >$(BUILD)/nest-smp.log 2>&1 & smp=$$!; \
	$(call NEST_PASS,1,multi,tests/integration $(NEST_SMP_TESTS:%=--deselect %)); one=$$?; \
	wait $$smp; two=$$?; echo "The nested pass on two CPUs (exit status $$two):"; \
	cat $(BUILD)/nest-smp.log; [ $$one = 0 ] && [ $$two = 0 ]
endif
# The pass takes ~4 minutes here; its limit is generous (a CI run once
# took over 15 minutes for it). A timeout is a failure like any other:
# kvm-nest prints the end of the nested machine's console and exits 124.
# Inside, each test has its own limit (PYTEST_LIMIT), so a hung pier fails
# one test, with its traceback, not the pass.
# $(call NEST_PASS,L1 CPUs,TCG threads,tests): one kvm-nest run.
NEST_PASS = PIER_KVM_NEST_TCG_THREAD=$(2) tools/kvm-nest/run --smp $(1) --timeout 1800 -- sh -c \
	'mkdir -p $(NEST_TMP) && mount -t tmpfs -o size=3g pier-tests $(NEST_TMP) && \
	exec env TMPDIR=$(NEST_TMP) PIER_SAMPLE=$(PIER_SAMPLE) PIER_TEST_TARGETS=pier \
	$(PYTHON) -m pytest -q $(PYTEST_LIMIT) --durations=15 -p no:cacheprovider \
	--basetemp=$(NEST_TMP)/pytest $(3)'
# The tests of pier's VMM with several vCPUs (node id prefixes): the
# nested pass on two L1 CPUs runs these, the one on one CPU the rest. The
# Linux guest on two vCPUs stays on one L1 CPU: on two, even single-threaded
# TCG's L1 locks up under it (tools/kvm-nest/README.md).
NEST_SMP_TESTS := tests/integration/test_smp.py \
	tests/integration/test_boot.py::test_a_panic_stops_the_other_cpus \
	tests/integration/test_dax.py::test_eviction_under_four_processes_on_four_vcpus

test: deps
	$(MAKE) all $(UNIT_TESTS)
	$(MAKE) unit
	$(MAKE) progs-check
	$(MAKE) fuzz
	$(MAKE) integration
	$(MAKE) integration-pier

# The kernel goes to lib/pier, where an installed pier looks for it
# (host/run.c default_kernel); pier-oci is a link to pier.
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pier
	install -m 755 $(BUILD)/pier $(DESTDIR)$(PREFIX)/bin/pier
	ln -sf pier $(DESTDIR)$(PREFIX)/bin/pier-oci
	install -m 644 $(BUILD)/kernel.elf $(DESTDIR)$(PREFIX)/lib/pier/kernel.elf

clean:
	rm -rf $(BUILD)

include tests/progs/progs.mk
include demo/demo.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
