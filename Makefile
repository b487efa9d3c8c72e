# alertgate — two commands: `make run` and `make test` (see README.md).
# Both install what is missing (Debian packages), then build.

SWIFT        ?= swift
CONFIG       ?= config.yaml
APT_PACKAGES := pkg-config libssl-dev openssl libnghttp2-dev nghttp2-server nghttp2-client python3

.PHONY: run lab-certs test deps peers packaging-tools build release deb install clean

# `make run` also starts two lab partners on loopback for the shipped config.yaml (a
# syslog-over-TLS receiver as local-siem, nghttpd as local-hec), so alerts and
# `alertgate send-test local-siem` arrive somewhere: data/lab/local-siem.log. LAB=0 skips them.
LAB          ?= 1
LAB_DIR      := data/lab

run: release
	@if [ "$(LAB)" = 1 ]; then $(MAKE) -s lab-certs; fi
	@set -e; pids=""; \
	if [ "$(LAB)" = 1 ]; then \
	  python3 tools/lab-partner.py 127.0.0.1:16514 $(LAB_DIR)/siem.crt $(LAB_DIR)/siem.key $(LAB_DIR)/local-siem.log > $(LAB_DIR)/local-siem.out 2>&1 & pids="$$pids $$!"; \
	  nghttpd -a 127.0.0.1 --echo-upload 18088 $(LAB_DIR)/hec.key $(LAB_DIR)/hec.crt > $(LAB_DIR)/local-hec.out 2>&1 & pids="$$pids $$!"; \
	  echo "lab partners: local-siem on 127.0.0.1:16514 (messages in $(LAB_DIR)/local-siem.log), local-hec on 127.0.0.1:18088"; \
	fi; \
	trap 'kill $$pids 2>/dev/null || true' EXIT INT TERM; \
	.build/release/alertgate run --config $(CONFIG)

# Self-signed lab certificates for the lab partners (their names are the shipped config's
# server_name values; its appliance sensor-1 has validation: none for them).
lab-certs:
	@mkdir -p $(LAB_DIR)
	@for name in siem hec; do \
	  [ -f $(LAB_DIR)/$$name.crt ] || openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 365 \
	    -keyout $(LAB_DIR)/$$name.key -out $(LAB_DIR)/$$name.crt -subj "/CN=$$name.local" \
	    -addext "subjectAltName=DNS:$$name.local" 2>/dev/null; \
	done

# The TLS and HTTP/2 code holds raw OpenSSL and nghttp2 pointers, the spool and the
# listeners read bytes in place: their tests, and the end-to-end ones against the
# sanitized binary, run a second time under AddressSanitizer (use after free,
# overflows), in a build folder of their own.
# LeakSanitizer stays off: it reports thousands of false leaks in Foundation's Process,
# Pipe and file reading (the tests' process tooling), none in our modules.
ASAN_TESTS   := AlertGateTLSTests|HTTP2TransportTests|OutboundCommandTests|AlertGateListenersTests|AlertGateSpoolTests|GatewayTests

# The package tests (PackagingTests) check the .deb that `make deb` built just before.
# At most 6 tests run at once: unbounded, 500 tests on 2 cores starve the in-process
# servers some tests start (their answers run on Swift concurrency's 2 threads).
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH := 6
test: deps peers packaging-tools
	$(SWIFT) build --build-tests
	$(MAKE) -s deb
	$(SWIFT) test --skip-build
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 ALERTGATE_BINARY=$(CURDIR)/.build-asan/debug/alertgate \
	  $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan --filter '$(ASAN_TESTS)'

build: deps
	$(SWIFT) build

# The Swift runtime is linked in: the binary (and the .deb) needs only the system's
# OpenSSL, nghttp2 and C/C++ runtimes.
release: deps
	$(SWIFT) build -c release --product alertgate --static-swift-stdlib

# alertgate_VERSION_ARCH.deb in .build-deb/ (docs/install.md).
deb: release
	@bash tools/build-deb.sh

# Without the package: the program, man pages, completions, the unit and (when none is
# there) /etc/alertgate/config.yaml under PREFIX and DESTDIR.
PREFIX  ?= /usr/local
DESTDIR ?=
install: deb
	@root=.build-deb/root; \
	install -D -m 0755 $$root/usr/bin/alertgate $(DESTDIR)$(PREFIX)/bin/alertgate; \
	for page in $$root/usr/share/man/man1/*.gz; do install -D -m 0644 $$page $(DESTDIR)$(PREFIX)/share/man/man1/$$(basename $$page); done; \
	install -D -m 0644 $$root/usr/share/bash-completion/completions/alertgate $(DESTDIR)$(PREFIX)/share/bash-completion/completions/alertgate; \
	install -D -m 0644 $$root/usr/share/zsh/vendor-completions/_alertgate $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_alertgate; \
	install -D -m 0644 $$root/usr/share/fish/vendor_completions.d/alertgate.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/alertgate.fish; \
	sed 's|/usr/bin/alertgate|$(PREFIX)/bin/alertgate|g' packaging/alertgate.service > .build-deb/alertgate.service; \
	install -D -m 0644 .build-deb/alertgate.service $(DESTDIR)$(PREFIX)/lib/systemd/system/alertgate.service; \
	[ -e $(DESTDIR)/etc/alertgate/config.yaml ] || install -D -m 0640 packaging/config.yaml $(DESTDIR)/etc/alertgate/config.yaml; \
	echo "installed under $(DESTDIR)$(PREFIX); see docs/install.md for the user, /var/lib/alertgate and the unit"

# Installs only the packages that are not there yet (apt-get needs root: sudo otherwise).
deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# What the package tests run: lintian on the .deb, promtool on contrib/prometheus.
packaging-tools:
	@$(MAKE) -s deps APT_PACKAGES="lintian prometheus man-db"

# The receivers of the interop tests (rsyslog, syslog-ng, nginx): never started as services.
peers:
	@bash tools/install-peers.sh

clean:
	rm -rf .build .build-asan .build-peers .build-deb
