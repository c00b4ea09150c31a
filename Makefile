# securenet - build, demo and tests. `make help` lists the targets.
#
# MBEDTLS=2 (default) builds against Debian's libmbedtls-dev 2.28;
# MBEDTLS=3 against mbedTLS 3.6 built from Debian trixie's source package
# (tools/build-mbedtls3.sh, into build/mbedtls-3.6). Outputs of MBEDTLS=3
# go to build/m3 unless BUILD is given.

MBEDTLS ?= 2
ifeq ($(MBEDTLS),3)
BUILD ?= build/m3
MBED_DIR := build/mbedtls-3.6
MBED_CFLAGS := -I$(MBED_DIR)/include
MBED_LIBS := $(MBED_DIR)/lib/libmbedtls.a $(MBED_DIR)/lib/libmbedx509.a $(MBED_DIR)/lib/libmbedcrypto.a -lpthread
MBED_DEP := $(MBED_DIR)/lib/libmbedtls.a
else
BUILD ?= build
MBED_CFLAGS :=
MBED_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
MBED_DEP := build/.deps-ok
endif

CC ?= cc
WARN := -std=c99 -Wall -Wextra -Werror -pedantic
CFLAGS ?= -O2 -g
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
DEMO_SRC := examples/posix/sn_demo.c
DEMO_DEPS := $(DEMO_SRC) examples/common/demo_app.h
HEADERS := securenet.h securenet_port_posix.h
STATIC := $(wildcard examples/posix/static/*)
UNIT := test_http_parser test_chunked test_router test_faults test_tls_setup test_mime test_smtp
CERTS := build/certs
HTTPS_PORT ?= 8443

.PHONY: help deps examples demo certs test unit integration check-build clean mbedtls3 lwip test-lwip size heap fuzz bench soak abuse

help:
	@echo "securenet targets:"
	@echo "  make demo         install what is missing, build, make dev certificates, run sn_demo"
	@echo "  make test         build with gcc and clang (-Werror), unit tests, integration tests"
	@echo "                    against real clients, all again under ASan/UBSan; ends 'N passed, N failed'"
	@echo "  make examples     build $(BUILD)/sn_demo, sn_sendmail, sn_tlscat and sn_fetch"
	@echo "  make certs        development CA, server and client certificates in $(CERTS)"
	@echo "  make unit         unit tests only"
	@echo "  make deps         install missing Debian packages (tools/deps.sh)"
	@echo "  make mbedtls3     fetch and build mbedTLS 3.6 from Debian trixie's source package"
	@echo "  make lwip         fetch lwIP 2.2 (Debian trixie's source) and build the lwIP examples"
	@echo "  make test-lwip    the lwIP port's suite alone (needs root: a network namespace and TAP devices)"
	@echo "  make size         flash and RAM on Cortex-M4 per feature set, and complete firmware images"
	@echo "                    (arm-none-eabi-gcc -Os, mbedTLS 3.6 with configs/sn_mbedtls_minimal.h, lwIP)"
	@echo "  make heap         heap (peak, per connection, mail), static RAM, sizeof and stack depth of"
	@echo "                    securenet on a 32-bit host build with configs/sn_mbedtls_minimal.h, against"
	@echo "                    openssl s_client and aiosmtpd (HEAP_CONFIG=sn_mbedtls_browser|sn_mbedtls_mail)"
	@echo "  make bench        sn_demo against mbedTLS's ssl_server2 and nginx on loopback: keep-alive, handshakes,"
	@echo "                    resumption, 1 MiB download, RSS; medians and ratios (bench/README.md;"
	@echo "                    BENCH_SECONDS=1 BENCH_ROUNDS=1 for a smoke run)"
	@echo "  make soak         wrk, 100 HTTPS connections on a route mix for SOAK_SECONDS (600): zero errors,"
	@echo "                    heap/RSS/fds at rest do not grow (bench/soak.sh)"
	@echo "  make abuse        loris, half-open TLS, max-conns, stalled readers, TLS garbage, disconnects,"
	@echo "                    traversal against sn_demo and its ASan build (tests/abuse.sh; in make test)"
	@echo "  make fuzz         fuzz the HTTP parser, router, SMTP replies, MIME writer and the whole"
	@echo "                    server with libFuzzer, FUZZ_SECONDS (60) each (tests/fuzz/README.md)"
	@echo "  make qemu         build build/sn_mps2.elf (Cortex-M4 firmware for QEMU's mps2-an386: lwIP, mbedTLS,"
	@echo "                    the demo over HTTPS) and run it: https://localhost:16043/ (examples/qemu-mps2)"
	@echo "  make test-qemu    boot it under qemu-system-arm and drive it from the host (tests/qemu_integration.sh)"
	@echo "  make clean        remove build/"
	@echo "Variables: MBEDTLS=2|3 (default 2), CC, BUILD, HTTPS_PORT (demo, default 8443)"

build/.deps-ok: tools/deps.sh
	@mkdir -p build
	tools/deps.sh python3-aiosmtpd nginx-light iproute2 libclang-rt-14-dev testssl.sh wrk qemu-system-arm
	@touch $@

deps: build/.deps-ok

$(MBED_DIR)/lib/libmbedtls.a: build/.deps-ok tools/build-mbedtls3.sh tools/apt-trixie.sh
	tools/build-mbedtls3.sh $(MBED_DIR)
	@touch $@

mbedtls3:
	$(MAKE) MBEDTLS=3 build/mbedtls-3.6/lib/libmbedtls.a

$(BUILD)/demo_static.h: tools/sn-embed $(STATIC) build/.deps-ok
	@mkdir -p $(BUILD)
	python3 tools/sn-embed -o $@ --name demo_files --gzip --strip examples/posix/static $(STATIC)

$(BUILD)/sn_demo: $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(DEMO_SRC) -o $@ $(MBED_LIBS)

$(BUILD)/asan/sn_demo: $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(DEMO_SRC) -o $@ $(MBED_LIBS)

$(BUILD)/sn_sendmail: examples/posix/sn_sendmail.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_sendmail.c -o $@ $(MBED_LIBS)

$(BUILD)/asan/sn_sendmail: examples/posix/sn_sendmail.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_sendmail.c -o $@ $(MBED_LIBS)

$(BUILD)/sn_tlscat: examples/posix/sn_tlscat.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_tlscat.c -o $@ $(MBED_LIBS)

$(BUILD)/asan/sn_tlscat: examples/posix/sn_tlscat.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_tlscat.c -o $@ $(MBED_LIBS)

$(BUILD)/sn_fetch: examples/posix/sn_fetch.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_fetch.c -o $@ $(MBED_LIBS)

$(BUILD)/asan/sn_fetch: examples/posix/sn_fetch.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_fetch.c -o $@ $(MBED_LIBS)

examples: $(BUILD)/sn_demo $(BUILD)/sn_sendmail $(BUILD)/sn_tlscat $(BUILD)/sn_fetch

# ---- lwIP (securenet_port_lwip.h) --------------------------------------------
# lwIP 2.2 from Debian trixie's source package (tools/fetch-lwip.sh, into
# $(LWIP_DIR)), built twice: bare metal (NO_SYS=1, examples/lwip/lwipopts.h,
# our TAP driver examples/lwip/host_tap.c) and RTOS mode (NO_SYS=0 with core
# locking, examples/lwip/rtos/lwipopts.h, lwIP's unix port: pthreads and its
# threaded tapif).
LWIP_DIR ?= build/lwip
LWIP_UNIX := $(LWIP_DIR)/contrib/ports/unix/port
LWIP_CORE = $(wildcard $(LWIP_DIR)/src/core/*.c $(LWIP_DIR)/src/core/ipv4/*.c) $(LWIP_DIR)/src/netif/ethernet.c
LWIP_RTOS_SRC = $(LWIP_CORE) $(LWIP_DIR)/src/api/tcpip.c $(LWIP_UNIX)/sys_arch.c $(LWIP_UNIX)/netif/tapif.c
LWIP_INC := -Iexamples/lwip -I$(LWIP_DIR)/src/include
LWIP_RTOS_INC := -Iexamples/lwip/rtos -Iexamples/lwip -I$(LWIP_DIR)/src/include -I$(LWIP_UNIX)/include
LWIP_EX := examples/lwip/host_lwip.h examples/lwip/host_tap.h examples/lwip/host_tap.c securenet_port_lwip.h \
  examples/lwip/lwipopts.h examples/lwip/arch/cc.h
LWIP_FETCHED := $(LWIP_DIR)/.fetched

$(LWIP_FETCHED): tools/fetch-lwip.sh tools/apt-trixie.sh
	tools/fetch-lwip.sh $(LWIP_DIR)

# lwIP is third-party code: its own warnings do not stop our build.
# lwip_lib SOURCES, CFLAGS: one static library from lwIP's sources.
define lwip_lib
	@mkdir -p $(@D) && rm -f $(@D)/*.o $@
	set -e; for f in $(1); do $(CC) -std=gnu99 -w $(2) -c $$f -o $(@D)/$$(basename $$f .c).o; done
	ar rcs $@ $(@D)/*.o
endef
LWIP_NOSYS_DEPS := $(LWIP_FETCHED) examples/lwip/lwipopts.h examples/lwip/arch/cc.h
LWIP_RTOS_DEPS := $(LWIP_NOSYS_DEPS) examples/lwip/rtos/lwipopts.h
$(BUILD)/lwip-nosys/liblwip.a: $(LWIP_NOSYS_DEPS)
	$(call lwip_lib,$(LWIP_CORE),-O2 -g $(LWIP_INC))
$(BUILD)/asan/lwip-nosys/liblwip.a: $(LWIP_NOSYS_DEPS)
	$(call lwip_lib,$(LWIP_CORE),-O1 -g $(SAN) $(LWIP_INC))
$(BUILD)/lwip-rtos/liblwip.a: $(LWIP_RTOS_DEPS)
	$(call lwip_lib,$(LWIP_RTOS_SRC),-O2 -g -DLWIP_UNIX_LINUX $(LWIP_RTOS_INC))
$(BUILD)/asan/lwip-rtos/liblwip.a: $(LWIP_RTOS_DEPS)
	$(call lwip_lib,$(LWIP_RTOS_SRC),-O1 -g $(SAN) -DLWIP_UNIX_LINUX $(LWIP_RTOS_INC))

# A starved variant: lwIP's pools and securenet's backlog far too small for the
# 50-client test, to see that running out fails connections, not the server.
LWIP_STARVED := -DMEMP_NUM_TCP_PCB=8 -DPBUF_POOL_SIZE=20 -DMEMP_NUM_TCP_SEG=32 -DMEM_SIZE=32768 -DSN_LWIP_BACKLOG=2
$(BUILD)/lwip-starved/liblwip.a: $(LWIP_NOSYS_DEPS)
	$(call lwip_lib,$(LWIP_CORE),-O2 -g $(LWIP_STARVED) $(LWIP_INC))

LWIP_DEMO := examples/lwip/sn_demo_lwip.c examples/lwip/host_tap.c
LWIP_MAIL := examples/lwip/sn_sendmail_lwip.c examples/lwip/host_tap.c
$(BUILD)/sn_demo_lwip: $(LWIP_DEMO) $(LWIP_EX) $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(BUILD)/lwip-nosys/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(LWIP_INC) $(LWIP_DEMO) -o $@ \
	  $(BUILD)/lwip-nosys/liblwip.a $(MBED_LIBS)

$(BUILD)/asan/sn_demo_lwip: $(LWIP_DEMO) $(LWIP_EX) $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(BUILD)/asan/lwip-nosys/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(LWIP_INC) $(LWIP_DEMO) -o $@ \
	  $(BUILD)/asan/lwip-nosys/liblwip.a $(MBED_LIBS)

$(BUILD)/sn_sendmail_lwip: $(LWIP_MAIL) examples/posix/sn_sendmail.c examples/common/example_util.h $(LWIP_EX) $(HEADERS) $(BUILD)/lwip-nosys/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common $(LWIP_INC) $(LWIP_MAIL) -o $@ $(BUILD)/lwip-nosys/liblwip.a $(MBED_LIBS)

LWIP_FETCH := examples/lwip/sn_fetch_lwip.c examples/lwip/host_tap.c
$(BUILD)/sn_fetch_lwip: $(LWIP_FETCH) examples/posix/sn_fetch.c examples/common/example_util.h $(LWIP_EX) $(HEADERS) $(BUILD)/lwip-nosys/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common $(LWIP_INC) $(LWIP_FETCH) -o $@ $(BUILD)/lwip-nosys/liblwip.a $(MBED_LIBS)

$(BUILD)/sn_demo_lwip_starved: $(LWIP_DEMO) $(LWIP_EX) $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(BUILD)/lwip-starved/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(LWIP_STARVED) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(LWIP_INC) $(LWIP_DEMO) -o $@ \
	  $(BUILD)/lwip-starved/liblwip.a $(MBED_LIBS)

# RTOS mode: lwIP's threads bring their own TAP driver (no host_tap.c)
$(BUILD)/sn_demo_lwip_rtos: examples/lwip/sn_demo_lwip.c $(LWIP_EX) examples/lwip/rtos/lwipopts.h $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(BUILD)/lwip-rtos/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(LWIP_RTOS_INC) examples/lwip/sn_demo_lwip.c -o $@ \
	  $(BUILD)/lwip-rtos/liblwip.a $(MBED_LIBS) -lpthread

$(BUILD)/asan/sn_demo_lwip_rtos: examples/lwip/sn_demo_lwip.c $(LWIP_EX) examples/lwip/rtos/lwipopts.h $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(BUILD)/asan/lwip-rtos/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(LWIP_RTOS_INC) examples/lwip/sn_demo_lwip.c -o $@ \
	  $(BUILD)/asan/lwip-rtos/liblwip.a $(MBED_LIBS) -lpthread

$(BUILD)/sn_sendmail_lwip_rtos: examples/lwip/sn_sendmail_lwip.c examples/posix/sn_sendmail.c examples/common/example_util.h $(LWIP_EX) examples/lwip/rtos/lwipopts.h $(HEADERS) $(BUILD)/lwip-rtos/liblwip.a $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common $(LWIP_RTOS_INC) examples/lwip/sn_sendmail_lwip.c -o $@ \
	  $(BUILD)/lwip-rtos/liblwip.a $(MBED_LIBS) -lpthread

LWIP_BINS := $(BUILD)/sn_demo_lwip $(BUILD)/asan/sn_demo_lwip $(BUILD)/sn_sendmail_lwip $(BUILD)/sn_fetch_lwip \
  $(BUILD)/sn_demo_lwip_starved \
  $(BUILD)/sn_demo_lwip_rtos $(BUILD)/asan/sn_demo_lwip_rtos $(BUILD)/sn_sendmail_lwip_rtos
lwip: $(LWIP_BINS)

$(CERTS)/server.pem: tools/sn-certgen build/.deps-ok
	tools/sn-certgen --out $(CERTS)

certs: $(CERTS)/server.pem

demo: examples certs
	@echo "sn_demo: open https://localhost:$(HTTPS_PORT)/ (trust $(CERTS)/ca.pem, or curl --cacert $(CERTS)/ca.pem)"
	$(BUILD)/sn_demo --https-port $(HTTPS_PORT) --cert $(CERTS)/server.pem --key $(CERTS)/server.key

# Unit tests: plain and sanitized builds of each.
$(BUILD)/%: tests/%.c tests/test.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) -O1 -g $(MBED_CFLAGS) -I. -Itests $< -o $@ $(MBED_LIBS)

$(BUILD)/asan/%: tests/%.c tests/test.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Itests $< -o $@ $(MBED_LIBS)

unit: $(addprefix $(BUILD)/,$(UNIT)) $(addprefix $(BUILD)/asan/,$(UNIT))
	tests/run.sh --unit $(BUILD)

# The header must compile cleanly everywhere users meet it: gcc and clang,
# C and C++, 64 and 32 bits (declarations and implementation).
check-build: $(BUILD)/demo_static.h $(MBED_DEP) $(LWIP_FETCHED)
	LWIP_DIR=$(LWIP_DIR) MBED_LIBS="$(MBED_LIBS)" tests/check-build.sh "$(MBED_CFLAGS)" $(BUILD)

test: $(TEST_QEMU) $(LWIP_BINS) $(BUILD)/sn_tlscat $(BUILD)/asan/sn_tlscat $(BUILD)/sn_fetch $(BUILD)/asan/sn_fetch $(BUILD)/demo_static.h $(BUILD)/sn_demo $(BUILD)/asan/sn_demo $(BUILD)/sn_sendmail $(BUILD)/asan/sn_sendmail $(addprefix $(BUILD)/,$(UNIT)) $(addprefix $(BUILD)/asan/,$(UNIT)) certs
	MBED_CFLAGS="$(MBED_CFLAGS)" MBED_LIBS="$(MBED_LIBS)" LWIP_DIR=$(LWIP_DIR) tests/run.sh $(BUILD)

# The Cortex-M4 firmware for QEMU (issue: a real MCU image): make qemu, make test-qemu, make sn_mps2
include examples/qemu-mps2/qemu.mk
ifneq ($(shell command -v arm-none-eabi-gcc),)
TEST_QEMU := $(QEMU_ELF)
endif

# The lwIP port's suite alone (root, for its network namespace).
test-lwip: $(LWIP_BINS) certs
	SN_DEMO_LWIP=$(BUILD)/sn_demo_lwip SN_SENDMAIL_LWIP=$(BUILD)/sn_sendmail_lwip tests/lwip_integration.sh

size: mbedtls3 $(LWIP_FETCHED)
	bench/size.sh

heap: mbedtls3 certs build/.deps-ok
	bench/heap.sh

bench: certs build/.deps-ok
	bench/run.sh

SOAK_SECONDS ?= 600
soak: $(BUILD)/sn_demo certs build/.deps-ok
	SN_DEMO=$(BUILD)/sn_demo SOAK_SECONDS=$(SOAK_SECONDS) bench/soak.sh

abuse: $(BUILD)/sn_demo $(BUILD)/asan/sn_demo certs
	SN_DEMO=$(BUILD)/sn_demo tests/abuse.sh
	SN_DEMO=$(BUILD)/asan/sn_demo ASAN_OPTIONS=detect_leaks=1 tests/abuse.sh

FUZZ_SECONDS ?= 60
fuzz: $(BUILD)/demo_static.h $(MBED_DEP)
	BUILD=$(BUILD) MBED_CFLAGS="$(MBED_CFLAGS)" MBED_LIBS="$(MBED_LIBS)" tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build
