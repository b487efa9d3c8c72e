# alertgate — two commands: `make run` and `make test` (see README.md).
# Both install what is missing (Debian packages), then build.

SWIFT        ?= swift
CONFIG       ?= config.yaml
APT_PACKAGES := pkg-config libssl-dev openssl libnghttp2-dev nghttp2-server nghttp2-client python3

.PHONY: run test deps build release clean

run: release
	.build/release/alertgate run --config $(CONFIG)

# The TLS and HTTP/2 code holds raw OpenSSL and nghttp2 pointers: its tests run a second
# time under AddressSanitizer (use after free, overflows), in a build folder of their own.
# LeakSanitizer stays off: it reports thousands of false leaks in Foundation's Process,
# Pipe and file reading (the tests' process tooling), none in our modules.
ASAN_TESTS   := AlertGateTLSTests|HTTP2TransportTests|OutboundCommandTests

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 ALERTGATE_BINARY=$(CURDIR)/.build-asan/debug/alertgate \
	  $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan --filter '$(ASAN_TESTS)'

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product alertgate

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

clean:
	rm -rf .build .build-asan
