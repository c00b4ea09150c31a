# examples/qemu-lm3s/qemu.mk - `make qemu-lm3s` and `make test-qemu-lm3s`: the
# sn_lm3s firmware (securenet + lwIP + mbedTLS in 64 KiB of RAM, bare metal
# Cortex-M3) on QEMU's lm3s6965evb board. Included by the top Makefile after
# examples/qemu-mps2/qemu.mk (it uses HEADERS, CERTS, LWIP_FETCHED and
# MBED_DIR; `make test-qemu` runs both boards' tests).
#
#   make qemu-lm3s       builds build/sn_lm3s.elf and runs it; the host reaches
#                        its HTTPS port 443 at https://localhost:$(QEMU_LM3S_PORT)/
#                        (QEMU's user network forwards it). Console: m memory,
#                        r reset heap peak, s statistics, q stop; Ctrl-A x leaves QEMU.
#   make test-qemu-lm3s  tests/qemu_lm3s.sh against the image
#   make sn_lm3s         just the image (examples/qemu-lm3s/build.sh; objects in build/qemu-lm3s)

QEMU_LM3S_ELF := build/sn_lm3s.elf
QEMU_LM3S_PORT ?= 16143
QEMU_LM3S_DEPS := $(wildcard examples/qemu-lm3s/*.c examples/qemu-lm3s/*.h examples/baremetal/*.c examples/baremetal/*.h) \
  examples/qemu-lm3s/lm3s6965.ld examples/qemu-lm3s/build.sh securenet.h securenet_port_lwip.h \
  examples/lwip/lwipopts.h examples/lwip/arch/cc.h configs/sn_mbedtls_minimal.h

.PHONY: qemu-lm3s test-qemu-lm3s sn_lm3s

$(QEMU_LM3S_ELF): $(QEMU_LM3S_DEPS) $(LWIP_FETCHED) $(CERTS)/server.pem $(MBED_DIR)/lib/libmbedtls.a
	examples/qemu-lm3s/build.sh --out $@

sn_lm3s: $(QEMU_LM3S_ELF)

qemu-lm3s: $(QEMU_LM3S_ELF)
	@command -v $(QEMU_SYSTEM) >/dev/null || tools/deps.sh qemu-system-arm
	@echo "sn_lm3s: https://localhost:$(QEMU_LM3S_PORT)/ (curl --cacert $(CERTS)/ca.pem https://localhost:$(QEMU_LM3S_PORT)/api/status)"
	@echo "sn_lm3s: console: m memory, r reset heap peak, s statistics, q stop; Ctrl-A x leaves QEMU"
	$(QEMU_SYSTEM) -M lm3s6965evb -nographic -semihosting -kernel $(QEMU_LM3S_ELF) \
	  -nic user,net=198.18.0.0/24,hostfwd=tcp:127.0.0.1:$(QEMU_LM3S_PORT)-:443

test-qemu-lm3s: $(QEMU_LM3S_ELF) certs
	SN_LM3S_ELF=$(QEMU_LM3S_ELF) SN_CERTS=$(CERTS) tests/qemu_lm3s.sh
