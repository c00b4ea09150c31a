# securenet - build, demo and tests. `make help` lists the targets.
#
# mbedTLS: 3.6 LTS by default (MBEDTLS=3), 2.28 with MBEDTLS=2.
#   MBEDTLS=3 (default): the system's mbedTLS when its headers are 3.6 or newer
#     (libmbedtls-dev on Debian trixie and later), otherwise mbedTLS 3.6 built
#     from Debian trixie's source package (tools/build-mbedtls3.sh, into
#     build/mbedtls-3.6; Debian bookworm's libmbedtls-dev is 2.28). Outputs in build/.
#   MBEDTLS=2: the system's libmbedtls-dev 2.28 (Debian bookworm), for vendor
#     SDKs that still ship 2.28 (end of life since the end of 2024). Outputs
#     in build/m2.
# BUILD overrides the output directory. Certificates (build/certs), lwIP
# (build/lwip), the mbedTLS 3.6 build and the QEMU firmware (build/sn_mps2.elf,
# its own mbedTLS 3.6 for Cortex-M) are shared by both.

MBEDTLS ?= 3
# MBEDTLS_SOURCE=1: 3.6 from the source package even where the system has 3.6 (make bench).
MBEDTLS_SOURCE ?=
space := $(subst ,, )
MBED_DIR := build/mbedtls-3.6
# The system's mbedTLS version as its headers say ("3 6"; empty without headers).
MBED_SYSTEM := $(shell printf '\043include <mbedtls/version.h>\nSN_MBED_VERSION MBEDTLS_VERSION_MAJOR MBEDTLS_VERSION_MINOR\n' | \
  $(CC) -E -P -x c - 2>/dev/null | sed -n 's/^SN_MBED_VERSION \([0-9][0-9]*\) \([0-9][0-9]*\).*/\1 \2/p')
MBED_SYSTEM_36 := $(shell echo '$(MBED_SYSTEM)' | awk '$$1 > 3 || ($$1 == 3 && $$2 >= 6) { print "yes" }')
ifeq ($(MBEDTLS),3)
BUILD ?= build
MBEDTLS_MAJOR := 3
ifeq ($(MBED_SYSTEM_36)$(filter 1,$(MBEDTLS_SOURCE)),yes)
MBED_FROM := system mbedTLS $(word 1,$(MBED_SYSTEM)).$(word 2,$(MBED_SYSTEM))
MBED_CFLAGS :=
MBED_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
MBED_DEP := build/.deps-ok
else
MBED_FROM := mbedTLS 3.6 built from the Debian trixie source in $(MBED_DIR)
MBED_CFLAGS := -I$(MBED_DIR)/include
MBED_LIBS := $(MBED_DIR)/lib/libmbedtls.a $(MBED_DIR)/lib/libmbedx509.a $(MBED_DIR)/lib/libmbedcrypto.a -lpthread
MBED_DEP := $(MBED_DIR)/lib/libmbedtls.a
endif
else ifeq ($(MBEDTLS),2)
ifneq ($(filter-out 2,$(firstword $(MBED_SYSTEM))),)
$(error MBEDTLS=2 needs mbedTLS 2.28's headers (Debian bookworm's libmbedtls-dev); the system has $(subst $(space),.,$(MBED_SYSTEM)))
endif
BUILD ?= build/m2
MBEDTLS_MAJOR := 2
MBED_FROM := system mbedTLS 2.28
MBED_CFLAGS :=
MBED_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
MBED_DEP := build/.deps-ok
else
$(error MBEDTLS=$(MBEDTLS): use MBEDTLS=3 (the default: mbedTLS 3.6) or MBEDTLS=2 (2.28))
endif
# Which mbedTLS the programs in $(BUILD) were linked with: rewritten (and so
# newer than they are) only when that changes, e.g. build/ from before 3.6 was
# the default.
MBED_STAMP := $(BUILD)/.mbedtls
MBED_ID := $(MBED_FROM): $(MBED_CFLAGS) $(MBED_LIBS)
ifneq ($(shell cat $(MBED_STAMP) 2>/dev/null),$(MBED_ID))
$(shell mkdir -p $(BUILD) && echo '$(MBED_ID)' >$(MBED_STAMP))
endif
MBED_DEP += $(MBED_STAMP)

CC ?= cc
WARN := -std=c99 -Wall -Wextra -Werror -pedantic
CFLAGS ?= -O2 -g
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# securenet_port_posix.h resolves names on threads and locks the wakeup queue with a mutex.
PTHREAD := -pthread
DEMO_SRC := examples/posix/sn_demo.c
DEMO_DEPS := $(DEMO_SRC) examples/common/demo_app.h
HEADERS := securenet.h securenet_port_posix.h securenet_port_mem.h
STATIC := $(wildcard examples/posix/static/*)
UNIT := test_http_parser test_chunked test_router test_faults test_tls_setup test_mime test_smtp test_multipart test_auth \
  test_posix_port test_posix_port_pipe test_wakeup test_lifecycle test_ws test_ota test_flash_slot
CERTS := build/certs
HTTPS_PORT ?= 8443

.PHONY: help deps examples demo certs test test-bins unit integration check-build clean mbedtls3 lwip test-lwip size heap fuzz bench bench-ws soak abuse

help:
	@echo "securenet targets:"
	@echo "  make demo         install what is missing, build, make dev certificates and a login"
	@echo "                    ($(BUILD)/users.txt: user dev, its password printed once), run sn_demo"
	@echo "  make test         build with gcc and clang (-Werror), unit tests, integration tests"
	@echo "                    against real clients, all again under ASan/UBSan; ends 'N passed, N failed'"
	@echo "                    (on 3.6, the default, also the testssl audit and the QEMU firmware; with MBEDTLS=2"
	@echo "                    the abuse suite and the lwIP port under ASan/UBSan instead; .ci/run runs both)"
	@echo "  make examples     build $(BUILD)/sn_demo, sn_sendmail, sn_tlscat, sn_fetch and sn_wscat"
	@echo "  make certs        development CA, server and client certificates in $(CERTS)"
	@echo "  make unit         unit tests only"
	@echo "  make deps         install missing Debian packages (tools/deps.sh)"
	@echo "  make mbedtls3     fetch and build mbedTLS 3.6 from Debian trixie's source package (build/mbedtls-3.6;"
	@echo "                    the default build uses it unless the system's mbedTLS is 3.6 or newer)"
	@echo "  make lwip         fetch lwIP 2.2 (Debian trixie's source) and build the lwIP examples"
	@echo "  make test-lwip    the lwIP port's suite alone (needs root: a network namespace and TAP devices)"
	@echo "  make size         flash and RAM on Cortex-M4 per feature set, and complete firmware images"
	@echo "                    (arm-none-eabi-gcc -Os, mbedTLS 3.6 with configs/sn_mbedtls_minimal.h, lwIP)"
	@echo "  make heap         heap (peak, per connection, mail), static RAM, sizeof and stack depth of"
	@echo "                    securenet on a 32-bit host build with configs/sn_mbedtls_minimal.h, against"
	@echo "                    openssl s_client and aiosmtpd (HEAP_CONFIG=sn_mbedtls_browser|sn_mbedtls_mail)"
	@echo "  make bench        sn_demo against mbedTLS's ssl_server2 and nginx on loopback: keep-alive, handshakes,"
	@echo "                    resumption, 1 MiB download, 256 MiB upload, RSS; medians and ratios"
	@echo "                    (bench/README.md; BENCH_SECONDS=1 BENCH_ROUNDS=1 BENCH_UPLOAD_MB=16: smoke run; figure ota: signed update;"
	@echo "                    figure auth: one password check over one TLS 1.3 handshake); then bench/ws.sh:"
	@echo "                    WebSocket echo round trips/s, 1 and 50 connections, sn_demo's /ws against Node's ws"
	@echo "  make bench-ws     bench/ws.sh alone (BENCH_SECONDS=1 BENCH_ROUNDS=1: smoke run, about 20 s)"
	@echo "  make soak         wrk, 100 HTTPS connections on a route mix for SOAK_SECONDS (600): zero errors,"
	@echo "                    heap/RSS/fds at rest do not grow (bench/soak.sh)"
	@echo "  make abuse        loris, half-open TLS, max-conns, stalled readers, TLS garbage, disconnects,"
	@echo "                    traversal against sn_demo and its ASan build (tests/abuse.sh; in make test)"
	@echo "  make fuzz         fuzz the HTTP parser, router, SMTP replies, MIME writer, HTTP client, WebSocket"
	@echo "                    frames and the whole server with libFuzzer, FUZZ_SECONDS (60) each (tests/fuzz/README.md)"
	@echo "  make qemu         build build/sn_mps2.elf (Cortex-M4 firmware for QEMU's mps2-an386: lwIP, mbedTLS,"
	@echo "                    the demo over HTTPS) and run it: https://localhost:16043/ (examples/qemu-mps2)"
	@echo "  make qemu-lm3s    build build/sn_lm3s.elf (Cortex-M3 firmware in 64 KiB of RAM for QEMU's lm3s6965evb:"
	@echo "                    lwIP, mbedTLS, three routes over HTTPS) and run it: https://localhost:16143/ (examples/qemu-lm3s)"
	@echo "  make test-qemu    boot both boards under qemu-system-arm and drive them from the host"
	@echo "                    (tests/qemu_integration.sh, tests/qemu_lm3s.sh; one board: test-qemu-mps2, test-qemu-lm3s)"
	@echo "  make clean        remove build/"
	@echo "Variables: MBEDTLS=3|2 (default 3: mbedTLS 3.6, outputs in build/; 2: the system's 2.28, in build/m2),"
	@echo "           MBEDTLS_SOURCE=1 (3.6 from the source package even where the system has 3.6),"
	@echo "           CC, BUILD, HTTPS_PORT (demo, default 8443)"
	@echo "This build: MBEDTLS=$(MBEDTLS), $(MBED_FROM), into $(BUILD)/"

build/.deps-ok: tools/deps.sh
	@mkdir -p build
	tools/deps.sh python3-aiosmtpd nginx-light iproute2 libclang-rt-14-dev testssl.sh wrk qemu-system-arm
	@touch $@

deps: build/.deps-ok

$(MBED_DIR)/lib/libmbedtls.a: build/.deps-ok tools/build-mbedtls3.sh tools/apt-trixie.sh
	tools/build-mbedtls3.sh $(MBED_DIR)
	@touch $@

mbedtls3: $(MBED_DIR)/lib/libmbedtls.a

$(BUILD)/demo_static.h: tools/sn-embed $(STATIC) build/.deps-ok
	@mkdir -p $(BUILD)
	python3 tools/sn-embed -o $@ --name demo_files --gzip --strip examples/posix/static $(STATIC)

$(BUILD)/sn_demo: $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(MBED_DEP)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(DEMO_SRC) -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/asan/sn_demo: $(DEMO_DEPS) $(HEADERS) $(BUILD)/demo_static.h $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -I$(BUILD) -Iexamples/common $(DEMO_SRC) -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/sn_sendmail: examples/posix/sn_sendmail.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_sendmail.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/asan/sn_sendmail: examples/posix/sn_sendmail.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_sendmail.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/sn_tlscat: examples/posix/sn_tlscat.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_tlscat.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/asan/sn_tlscat: examples/posix/sn_tlscat.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_tlscat.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/sn_wscat: examples/posix/sn_wscat.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_wscat.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/asan/sn_wscat: examples/posix/sn_wscat.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_wscat.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/sn_fetch: examples/posix/sn_fetch.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_fetch.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/asan/sn_fetch: examples/posix/sn_fetch.c examples/common/example_util.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Iexamples/common examples/posix/sn_fetch.c -o $@ $(MBED_LIBS) $(PTHREAD)

# tests/dns_integration.sh's probe: HTTPS served while names resolve; _blocking resolves on
# the manager's thread (the POSIX port before issue 16) to show what the test catches.
$(BUILD)/dns_probe: tests/dns_probe.c $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. tests/dns_probe.c -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/dns_probe_blocking: tests/dns_probe.c $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -DSN_PROBE_BLOCKING $(MBED_CFLAGS) -I. tests/dns_probe.c -o $@ $(MBED_LIBS) $(PTHREAD)

# make bench's figure auth: a password check beside a TLS 1.3 handshake (bench/auth_cost.c; mbedTLS 3.x).
$(BUILD)/sn_auth_cost: bench/auth_cost.c $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. bench/auth_cost.c -o $@ $(MBED_LIBS) $(PTHREAD)

examples: $(BUILD)/sn_demo $(BUILD)/sn_sendmail $(BUILD)/sn_tlscat $(BUILD)/sn_fetch $(BUILD)/sn_wscat

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

$(CERTS)/sign.key: | tools/sn-sign build/.deps-ok
	tools/sn-sign keygen $(CERTS)

certs: $(CERTS)/server.pem $(CERTS)/sign.key

# The demo's development login: made once, with a random password that is printed
# only then (12 base32 characters, 60 bits; the file holds its PBKDF2 verifier, mode
# 0600). Delete the file for a new one; tools/sn-passwd NAME PASSWORD [ROLE] adds users.
$(BUILD)/users.txt: | tools/sn-passwd
	@mkdir -p $(@D)
	@pw=$$(head -c 32 /dev/urandom | base32 | tr -dc 'A-Z2-7' | head -c 12) && [ $${#pw} -eq 12 ] && \
	  (umask 077 && SN_PASSWD_PASSWORD=$$pw tools/sn-passwd dev - admin >$@.tmp) && mv $@.tmp $@ && \
	  echo "sn_demo: development login: user \"dev\", password \"$$pw\" ($@; delete it for a new one)" || \
	  { rm -f $@.tmp; echo "make: $@: no login made" >&2; exit 1; }

demo: examples certs | $(BUILD)/users.txt
	@echo "sn_demo: open https://localhost:$(HTTPS_PORT)/ (trust $(CERTS)/ca.pem, or curl --cacert $(CERTS)/ca.pem)"
	@echo "sn_demo: users from $(BUILD)/users.txt (dev's password was printed when it was made)"
	$(BUILD)/sn_demo --https-port $(HTTPS_PORT) --cert $(CERTS)/server.pem --key $(CERTS)/server.key --users $(BUILD)/users.txt

# Unit tests: plain and sanitized builds of each.
$(BUILD)/%: tests/%.c tests/test.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) -O1 -g $(MBED_CFLAGS) -I. -Itests $< -o $@ $(MBED_LIBS) $(PTHREAD)

# The QEMU firmware's simulated flash and update slot, tested on the host (it includes the .c).
$(BUILD)/test_flash_slot $(BUILD)/asan/test_flash_slot: examples/qemu-mps2/flash_slot.c examples/qemu-mps2/flash_slot.h

$(BUILD)/asan/%: tests/%.c tests/test.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. -Itests $< -o $@ $(MBED_LIBS) $(PTHREAD)

# The POSIX port's tests again with the self-pipe it uses where there is no eventfd.
$(BUILD)/%_pipe: tests/%.c tests/test.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) -O1 -g -DSN_POSIX_SELF_PIPE $(MBED_CFLAGS) -I. -Itests $< -o $@ $(MBED_LIBS) $(PTHREAD)

$(BUILD)/asan/%_pipe: tests/%.c tests/test.h $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g -DSN_POSIX_SELF_PIPE $(SAN) $(MBED_CFLAGS) -I. -Itests $< -o $@ $(MBED_LIBS) $(PTHREAD)

unit: $(addprefix $(BUILD)/,$(UNIT)) $(addprefix $(BUILD)/asan/,$(UNIT)) certs
	MBEDTLS_MAJOR=$(MBEDTLS_MAJOR) tests/run.sh --unit $(BUILD)

# The header must compile cleanly everywhere users meet it: gcc and clang,
# C and C++, 64 and 32 bits (declarations and implementation).
check-build: $(BUILD)/demo_static.h $(MBED_DEP) $(LWIP_FETCHED)
	MBEDTLS_MAJOR=$(MBEDTLS_MAJOR) LWIP_DIR=$(LWIP_DIR) MBED_LIBS="$(MBED_LIBS)" tests/check-build.sh "$(MBED_CFLAGS)" $(BUILD)

# The firmware for QEMU: Cortex-M4 (make qemu, make sn_mps2) and the 64 KiB Cortex-M3
# (make qemu-lm3s, make sn_lm3s); make test-qemu boots both.
# Included before the test rule, which names $(QEMU_ELF) as a prerequisite (a
# variable set below a rule is empty in its prerequisites). The firmware has
# its own mbedTLS 3.6 for Cortex-M whatever MBEDTLS says: make test builds and
# boots it in the MBEDTLS=3 pass only.
include examples/qemu-mps2/qemu.mk
include examples/qemu-lm3s/qemu.mk
TEST_QEMU :=
TEST_QEMU_LM3S :=
ifeq ($(MBEDTLS_MAJOR),3)
ifneq ($(shell command -v arm-none-eabi-gcc),)
TEST_QEMU := $(QEMU_ELF)
TEST_QEMU_LM3S := $(QEMU_LM3S_ELF)
endif
endif

# Both reference boards, each driven from the host (the second runs even if
# the first failed).
test-qemu: $(QEMU_ELF) $(QEMU_LM3S_ELF) certs
	@st=0; \
	SN_MPS2_ELF=$(QEMU_ELF) SN_CERTS=$(CERTS) tests/qemu_integration.sh || st=1; \
	SN_LM3S_ELF=$(QEMU_LM3S_ELF) SN_CERTS=$(CERTS) tests/qemu_lm3s.sh || st=1; \
	exit $$st

# tests/run.sh picks the suites that run once, in one mbedTLS pass, by MBEDTLS_MAJOR.
# What the suites run is built first, one job per CPU (TEST_JOBS), after the
# downloads, which run one at a time (they share build/apt-trixie).
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
TEST_BINS := $(TEST_QEMU) $(TEST_QEMU_LM3S) $(LWIP_BINS) $(BUILD)/dns_probe $(BUILD)/sn_tlscat $(BUILD)/asan/sn_tlscat \
  $(BUILD)/sn_fetch $(BUILD)/asan/sn_fetch $(BUILD)/sn_wscat $(BUILD)/asan/sn_wscat $(BUILD)/demo_static.h $(BUILD)/sn_demo \
  $(BUILD)/asan/sn_demo $(BUILD)/sn_sendmail $(BUILD)/asan/sn_sendmail $(addprefix $(BUILD)/,$(UNIT)) \
  $(addprefix $(BUILD)/asan/,$(UNIT))
test: $(MBED_DEP) $(LWIP_FETCHED) certs
	$(MAKE) --no-print-directory -j$(TEST_JOBS) test-bins
	MBEDTLS_MAJOR=$(MBEDTLS_MAJOR) MBED_CFLAGS="$(MBED_CFLAGS)" MBED_LIBS="$(MBED_LIBS)" LWIP_DIR=$(LWIP_DIR) \
	  SN_MPS2_ELF="$(TEST_QEMU)" SN_LM3S_ELF="$(TEST_QEMU_LM3S)" SN_CERTS=$(CERTS) tests/run.sh $(BUILD)
test-bins: $(TEST_BINS)

# The lwIP port's suite alone (root, for its network namespace).
test-lwip: $(LWIP_BINS) certs
	SN_DEMO_LWIP=$(BUILD)/sn_demo_lwip SN_SENDMAIL_LWIP=$(BUILD)/sn_sendmail_lwip tests/lwip_integration.sh

size: mbedtls3 $(LWIP_FETCHED)
	bench/size.sh

heap: mbedtls3 certs build/.deps-ok
	bench/heap.sh

bench: certs build/.deps-ok
	bench/run.sh
	bench/ws.sh

bench-ws: certs build/.deps-ok
	bench/ws.sh

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
