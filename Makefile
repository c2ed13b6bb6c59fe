# redund: build, test and package. `make help` lists the targets.
#
#   make build    ./redund for this machine
#   make test     the README's test command
#   make dist     static binaries for linux/amd64 and linux/arm64, and a .deb for each
#   make deb      the .deb for this machine's architecture only (what CI installs)
#
# VERSION defaults to `git describe` (a tag such as v1.2.0 in a release);
# `make dist VERSION=v1.2.0` sets it. It is built into the binary with
# -ldflags -X main.version, so `redund version` prints it.

VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# The Debian version: v1.2.0 -> 1.2.0, v1.2.0-3-gabc -> 1.2.0+3+gabc, a bare
# hash (no tag yet) -> 0.0+git.<hash>.
DEB_VERSION := $(shell echo '$(VERSION)' | sed -E 's/-/+/g; /^v?[0-9]+\./{s/^v//;b}; s/^/0.0+git./')
GO         ?= go
OUT        ?= build
ARCHES     ?= amd64 arm64
HOST_ARCH  := $(shell $(GO) env GOARCH)
LDFLAGS    := -s -w -X main.version=$(VERSION)
GOBUILD     = CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)'

.PHONY: help build test dist deb binaries clean print-version
.DEFAULT_GOAL := help

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

build:
	$(GO) build -o redund ./cmd/redund

test:
	$(GO) test -race ./...

print-version:
	@echo $(VERSION)

# Static binaries: no cgo (the history store is modernc.org/sqlite), paths
# trimmed, the version stamped.
binaries: $(foreach a,$(ARCHES),$(OUT)/redund-linux-$(a))

$(OUT)/redund-linux-%: FORCE
	@mkdir -p $(OUT)
	GOOS=linux GOARCH=$* $(GOBUILD) -o $@ ./cmd/redund

dist: binaries $(foreach a,$(ARCHES),$(OUT)/redund_$(DEB_VERSION)_$(a).deb)

deb: $(OUT)/redund_$(DEB_VERSION)_$(HOST_ARCH).deb

# The man page and completion scripts are the same on every architecture:
# made by this machine's build.
$(OUT)/redund_$(DEB_VERSION)_%.deb: $(OUT)/redund-linux-% $(OUT)/redund-linux-$(HOST_ARCH)
	dist/deb/build.sh $(OUT)/redund-linux-$* $(OUT)/redund-linux-$(HOST_ARCH) $* $(DEB_VERSION) $@

clean:
	rm -rf $(OUT) redund

FORCE:
