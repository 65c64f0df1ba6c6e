# mk/plugin.mk: the Wireshark C plugin (plugin-c/), linked against the core's static library so
# that installing it is copying one file. Included by the top-level Makefile.
#
#   make plugin                      build build/ftplens.so
#   make install                     ... and copy it to the personal plugin folder
#   HOME=/tmp/h make install         ... of a throwaway home

PLUGIN_PKG        ?= wireshark
# Build against another Wireshark's headers and libraries: PLUGIN_SYSROOT=/path/to/a/root (a debootstrap of
# Debian trixie has Wireshark 4.4, as tests/harness/roots.py makes one). The plugin is then build/ftplens-<major.minor>.so
# and `HOME=<root>/home/x make install-plugin PLUGIN_SYSROOT=<root>` installs it for that root's tshark.
PLUGIN_SYSROOT    ?=
ifneq ($(PLUGIN_SYSROOT),)
PLUGIN_PKGCONFIG  := PKG_CONFIG_SYSROOT_DIR=$(PLUGIN_SYSROOT) \
                     PKG_CONFIG_LIBDIR=$(PLUGIN_SYSROOT)/usr/lib/$(shell $(CC) -print-multiarch)/pkgconfig:$(PLUGIN_SYSROOT)/usr/share/pkgconfig \
                     pkg-config
PLUGIN_CCFLAGS    := --sysroot=$(PLUGIN_SYSROOT)
else
PLUGIN_PKGCONFIG  := pkg-config
PLUGIN_CCFLAGS    :=
endif
PLUGIN_WS_VERSION := $(shell $(PLUGIN_PKGCONFIG) --modversion $(PLUGIN_PKG) 2>/dev/null | cut -d. -f1,2)
PLUGIN_CFLAGS     := $(shell $(PLUGIN_PKGCONFIG) --cflags $(PLUGIN_PKG) 2>/dev/null)
PLUGIN_LIBS       := $(shell $(PLUGIN_PKGCONFIG) --libs $(PLUGIN_PKG) 2>/dev/null)
PLUGIN_SO         := build/ftplens$(if $(PLUGIN_SYSROOT),-$(PLUGIN_WS_VERSION)).so
PLUGIN_STATICLIB  := target/release/libftplens.a
PLUGIN_DIR        := $(HOME)/.local/lib/wireshark/plugins/$(PLUGIN_WS_VERSION)/epan
# What a Rust staticlib needs from the system (cargo rustc -- --print native-static-libs).
PLUGIN_RUST_LIBS  := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
# `HOME=/tmp/h make install` must still find the rustup toolchain that lives under the real home:
# when neither RUSTUP_HOME nor CARGO_HOME is set and cargo is a rustup proxy in <dir>/.cargo/bin,
# pin both to <dir>.
PLUGIN_CARGO_ENV  := $(if $(RUSTUP_HOME)$(CARGO_HOME),,$(shell c=$$(command -v cargo) && \
                       d=$${c%/.cargo/bin/cargo} && [ "$$d" != "$$c" ] && [ -d "$$d/.rustup" ] && \
                       echo "CARGO_HOME=$$d/.cargo RUSTUP_HOME=$$d/.rustup"))
PLUGIN_VERSION    := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: all plugin install install-plugin uninstall-plugin clean-plugin plugin-check-wireshark

all: plugin

plugin: $(PLUGIN_SO)

plugin-check-wireshark:
	@test -n "$(PLUGIN_WS_VERSION)" || { echo "pkg-config cannot find $(PLUGIN_PKG)$(if $(PLUGIN_SYSROOT), in $(PLUGIN_SYSROOT)): install libwireshark-dev, libglib2.0-dev and pkg-config" >&2; exit 1; }

# Always asks cargo (which knows whether the core is up to date) and relinks (about a second).
$(PLUGIN_SO): plugin-check-wireshark plugin-c/packet-ftplens.c include/ftplens.h
	$(PLUGIN_CARGO_ENV) cargo build --release --lib
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CCFLAGS) -shared -fPIC -O2 -g -std=gnu11 -Wall -Wextra \
	    -DPLUGIN_VERSION='"$(PLUGIN_VERSION)"' $(PLUGIN_CFLAGS) \
	    plugin-c/packet-ftplens.c $(PLUGIN_STATICLIB) \
	    -Wl,--exclude-libs,ALL -Wl,--no-undefined -Wl,--gc-sections \
	    $(PLUGIN_LIBS) $(PLUGIN_RUST_LIBS) -o $@.tmp.$$$$ && \
	    mv -f $@.tmp.$$$$ $@

install: install-plugin

install-plugin: plugin
	install -d "$(PLUGIN_DIR)"
	install -m 0644 $(PLUGIN_SO) "$(PLUGIN_DIR)/ftplens.so"
	@echo "installed $(PLUGIN_DIR)/ftplens.so"

uninstall-plugin:
	rm -f "$(PLUGIN_DIR)/ftplens.so"

clean-plugin:
	rm -f build/ftplens.so build/ftplens-*.so build/ftplens*.so.tmp.*
