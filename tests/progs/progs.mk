# Guest test programs: static Linux x86_64 programs that check the system
# calls pier's guest kernel serves. Every tests/progs/NAME.c is built twice:
#   $(BUILD)/progs/musl/NAME    musl-gcc -static
#   $(BUILD)/progs/glibc/NAME   gcc -static
#
# Included by the top-level Makefile (after its `all:` rule); works on its
# own too: make -f tests/progs/progs.mk progs progs-check
#   make progs         build both sets
#   make progs-check   build, then run every program natively on this host
#                      (tests/progs/selfcheck.py): the programs must pass on
#                      real Linux before they judge the guest
#   make progs-clean   remove $(BUILD)/progs

# Keep the including Makefile's default goal.
progs_saved_goal := $(.DEFAULT_GOAL)

BUILD ?= build
WERROR ?= 1
V ?= 0
Q ?= $(if $(filter 1,$(V)),,@)
PYTHON ?= /usr/bin/python3
PROGS_GCC ?= gcc
PROGS_MUSL_GCC ?= musl-gcc

PROGS_DIR := tests/progs
PROGS_NAMES := $(sort $(patsubst $(PROGS_DIR)/%.c,%,$(wildcard $(PROGS_DIR)/*.c)))
PROGS_MUSL := $(addprefix $(BUILD)/progs/musl/,$(PROGS_NAMES))
PROGS_GLIBC := $(addprefix $(BUILD)/progs/glibc/,$(PROGS_NAMES))
PROGS_BINS := $(PROGS_MUSL) $(PROGS_GLIBC)

# Plain C11 (with the GNU/Linux interfaces), nothing the guest kernel would
# not see from an ordinary program: no sanitizers, no PIE.
PROGS_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O2 -MMD -MP -Wall -Wextra \
	$(if $(filter 1,$(WERROR)),-Werror,) -fno-strict-aliasing
PROGS_LDFLAGS := -static
# musl's include path has no kernel uapi headers (linux/, asm/): they come
# from the system's, searched after musl's own so libc headers stay musl's.
PROGS_MUSL_UAPI := -idirafter /usr/include -idirafter /usr/include/$(shell $(PROGS_GCC) -print-multiarch)

.PHONY: progs progs-musl progs-glibc progs-check progs-clean
progs: progs-musl progs-glibc
progs-musl: $(PROGS_MUSL)
progs-glibc: $(PROGS_GLIBC)

$(BUILD)/progs/musl/%: $(PROGS_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC [musl] $@"
	$(Q)$(PROGS_MUSL_GCC) $(PROGS_CFLAGS) $(PROGS_MUSL_UAPI) -MF $@.d $(PROGS_LDFLAGS) $< -o $@

$(BUILD)/progs/glibc/%: $(PROGS_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC [glibc] $@"
	$(Q)$(PROGS_GCC) $(PROGS_CFLAGS) -MF $@.d $(PROGS_LDFLAGS) $< -o $@

progs-check: progs
	$(PYTHON) $(PROGS_DIR)/selfcheck.py --build $(BUILD)

progs-clean:
	rm -rf $(BUILD)/progs

-include $(PROGS_BINS:=.d)

ifneq ($(progs_saved_goal),)
.DEFAULT_GOAL := $(progs_saved_goal)
endif

# The confinement test's guest program (tests/integration/test_confinement.py):
# not a progspec case, since it needs the host to set a trap around it.
CONFINE_BIN := $(BUILD)/confine/escape
$(CONFINE_BIN): tests/confine/escape.c
	@mkdir -p $(dir $@)
	@echo "  CC [musl] $@"
	$(Q)$(PROGS_MUSL_GCC) $(PROGS_CFLAGS) $(PROGS_LDFLAGS) $< -o $@
progs: $(CONFINE_BIN)
