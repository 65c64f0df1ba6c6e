# mk/plugin.mk: the Wireshark C plugin (plugin-c/), linked against the core's static library so
# that installing it is copying one file. Included by the top-level Makefile.
#
#   make plugin                      build build/ftplens.so
#   make install                     ... and copy it to the personal plugin folder
#   HOME=/tmp/h make install         ... of a throwaway home
#
# Owner: plugin helper (see AGENTS-NOTES.md).

PLUGIN_PKG        ?= wireshark
PLUGIN_WS_VERSION := $(shell pkg-config --modversion $(PLUGIN_PKG) 2>/dev/null | cut -d. -f1,2)
PLUGIN_CFLAGS     := $(shell pkg-config --cflags $(PLUGIN_PKG) 2>/dev/null)
PLUGIN_LIBS       := $(shell pkg-config --libs $(PLUGIN_PKG) 2>/dev/null)
PLUGIN_SO         := build/ftplens.so
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
	@test -n "$(PLUGIN_WS_VERSION)" || { echo "pkg-config cannot find $(PLUGIN_PKG): install libwireshark-dev, libglib2.0-dev and pkg-config" >&2; exit 1; }

# Always asks cargo (which knows whether the core is up to date) and relinks (about a second).
$(PLUGIN_SO): plugin-check-wireshark plugin-c/packet-ftplens.c include/ftplens.h
	$(PLUGIN_CARGO_ENV) cargo build --release --lib
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -g -std=gnu11 -Wall -Wextra \
	    -DPLUGIN_VERSION='"$(PLUGIN_VERSION)"' $(PLUGIN_CFLAGS) \
	    plugin-c/packet-ftplens.c $(PLUGIN_STATICLIB) \
	    -Wl,--exclude-libs,ALL -Wl,--no-undefined -Wl,--gc-sections \
	    $(PLUGIN_LIBS) $(PLUGIN_RUST_LIBS) -o $@.tmp
	mv -f $@.tmp $@

install: install-plugin

install-plugin: plugin
	install -d "$(PLUGIN_DIR)"
	install -m 0644 $(PLUGIN_SO) "$(PLUGIN_DIR)/ftplens.so"
	@echo "installed $(PLUGIN_DIR)/ftplens.so"

uninstall-plugin:
	rm -f "$(PLUGIN_DIR)/ftplens.so"

clean-plugin:
	rm -f $(PLUGIN_SO) $(PLUGIN_SO).tmp
