# examples/qemu-mps2/qemu.mk - `make qemu` and `make test-qemu-mps2`: the sn_mps2
# firmware (securenet + lwIP + mbedTLS, bare metal Cortex-M4) on QEMU's
# mps2-an386 board. Included by the top Makefile (`include examples/qemu-mps2/qemu.mk`,
# after its own variables: it uses HEADERS, CERTS, LWIP_FETCHED and MBED_DIR;
# before its test rule, which needs QEMU_ELF). The image is the same whatever
# MBEDTLS says: it compiles mbedTLS 3.6's sources (from tools/build-mbedtls3.sh's
# tree) for Cortex-M itself, into build/qemu.
#
#   make qemu        builds build/sn_mps2.elf and runs it; the host reaches its
#                    HTTPS port 443 at https://localhost:$(QEMU_PORT)/ (QEMU's
#                    user network forwards it). Console: m memory, r reset heap
#                    peak, s statistics, q stop; Ctrl-A x leaves QEMU.
#   make test-qemu-mps2  tests/qemu_integration.sh against the image (make
#                    test-qemu, in the top Makefile, runs both boards' tests)
#   make sn_mps2     just the image (examples/qemu-mps2/build.sh; objects in build/qemu)

QEMU_ELF := build/sn_mps2.elf
QEMU_PORT ?= 16043
QEMU_SYSTEM := qemu-system-arm
QEMU_DEPS := $(wildcard examples/qemu-mps2/*.c examples/qemu-mps2/*.h examples/baremetal/*.c examples/baremetal/*.h) examples/qemu-mps2/mps2-an386.ld \
  examples/qemu-mps2/build.sh securenet.h securenet_port_lwip.h examples/common/demo_app.h \
  examples/lwip/lwipopts.h examples/lwip/arch/cc.h configs/sn_mbedtls_minimal.h $(wildcard examples/posix/static/*) \
  $(wildcard $(CERTS)/sign_pub.h)
# ($(CERTS)/sign_pub.h: the update key compiled in; build.sh runs tools/sn-sign keygen when it is missing)

.PHONY: qemu test-qemu test-qemu-mps2 sn_mps2

# $(MBED_DIR)/lib/libmbedtls.a: the mbedTLS 3.6 source tree build.sh compiles
# (made by the same rule as the host's mbedTLS 3.6, so never twice at once).
$(QEMU_ELF): $(QEMU_DEPS) $(LWIP_FETCHED) $(CERTS)/server.pem $(MBED_DIR)/lib/libmbedtls.a
	examples/qemu-mps2/build.sh --out $@

sn_mps2: $(QEMU_ELF)

qemu: $(QEMU_ELF)
	@command -v $(QEMU_SYSTEM) >/dev/null || tools/deps.sh qemu-system-arm
	@echo "sn_mps2: https://localhost:$(QEMU_PORT)/ (curl --cacert $(CERTS)/ca.pem https://localhost:$(QEMU_PORT)/api/status)"
	@echo "sn_mps2: console: m memory, r reset heap peak, s statistics, q stop; Ctrl-A x leaves QEMU"
	$(QEMU_SYSTEM) -M mps2-an386 -nographic -semihosting -kernel $(QEMU_ELF) \
	  -nic user,net=198.18.9.0/24,hostfwd=tcp:127.0.0.1:$(QEMU_PORT)-:443

test-qemu-mps2: $(QEMU_ELF) certs
	SN_MPS2_ELF=$(QEMU_ELF) SN_CERTS=$(CERTS) tests/qemu_integration.sh
