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
UNIT := test_http_parser test_chunked test_router test_faults test_tls_setup test_mime
CERTS := build/certs
HTTPS_PORT ?= 8443

.PHONY: help deps examples demo certs test unit integration check-build clean mbedtls3

help:
	@echo "securenet targets:"
	@echo "  make demo         install what is missing, build, make dev certificates, run sn_demo"
	@echo "  make test         build with gcc and clang (-Werror), unit tests, integration tests"
	@echo "                    against real clients, all again under ASan/UBSan; ends 'N passed, N failed'"
	@echo "  make examples     build $(BUILD)/sn_demo and $(BUILD)/sn_sendmail"
	@echo "  make certs        development CA, server and client certificates in $(CERTS)"
	@echo "  make unit         unit tests only"
	@echo "  make deps         install missing Debian packages (tools/deps.sh)"
	@echo "  make mbedtls3     fetch and build mbedTLS 3.6 from Debian trixie's source package"
	@echo "  make clean        remove build/"
	@echo "Variables: MBEDTLS=2|3 (default 2), CC, BUILD, HTTPS_PORT (demo, default 8443)"

build/.deps-ok: tools/deps.sh
	@mkdir -p build
	tools/deps.sh python3-aiosmtpd
	@touch $@

deps: build/.deps-ok

$(MBED_DIR)/lib/libmbedtls.a: build/.deps-ok tools/build-mbedtls3.sh
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

$(BUILD)/sn_sendmail: examples/posix/sn_sendmail.c $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(MBED_CFLAGS) -I. examples/posix/sn_sendmail.c -o $@ $(MBED_LIBS)

$(BUILD)/asan/sn_sendmail: examples/posix/sn_sendmail.c $(HEADERS) $(MBED_DEP)
	@mkdir -p $(BUILD)/asan
	$(CC) $(WARN) -O1 -g $(SAN) $(MBED_CFLAGS) -I. examples/posix/sn_sendmail.c -o $@ $(MBED_LIBS)

examples: $(BUILD)/sn_demo $(BUILD)/sn_sendmail

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
check-build: $(BUILD)/demo_static.h $(MBED_DEP)
	tests/check-build.sh "$(MBED_CFLAGS)" $(BUILD)

test: $(BUILD)/demo_static.h $(BUILD)/sn_demo $(BUILD)/asan/sn_demo $(BUILD)/sn_sendmail $(BUILD)/asan/sn_sendmail $(addprefix $(BUILD)/,$(UNIT)) $(addprefix $(BUILD)/asan/,$(UNIT)) certs
	MBED_CFLAGS="$(MBED_CFLAGS)" tests/run.sh $(BUILD)

clean:
	rm -rf build
