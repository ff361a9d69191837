# The demo root `make run` boots from: busybox from Debian, our demo
# program, and a few files to look at. Built under build/demo-root.
DEMO_ROOT := $(BUILD)/demo-root

$(DEMO_ROOT)/bin/pier-demo: demo/pier-demo.c lib/sha256.c include/pier/sha256.h
	@mkdir -p $(dir $@)
	@echo "  CC [musl] $@"
	$(Q)musl-gcc -static -O2 -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror,) \
		-Iinclude demo/pier-demo.c lib/sha256.c -o $@

$(DEMO_ROOT)/bin/busybox: /bin/busybox
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

$(DEMO_ROOT)/etc/motd: demo/motd
	@mkdir -p $(dir $@)
	$(Q)cp demo/motd $@
	$(Q)printf 'root:x:0:0:root:/root:/bin/sh\n' > $(DEMO_ROOT)/etc/passwd
	$(Q)printf 'root:x:0:\n' > $(DEMO_ROOT)/etc/group
	$(Q)cp README.md $(DEMO_ROOT)/etc/README.md

demo-root: $(DEMO_ROOT)/bin/pier-demo $(DEMO_ROOT)/bin/busybox $(DEMO_ROOT)/etc/motd
.PHONY: demo-root
