# mk/lua.mk: the Lua fallback dissector (lua/ftplens.lua) and its native module (lua/, crate
# ftplens-lua, built as ftplens_core.so). Included by the top-level Makefile.
#
#   make lua-module                        build build/lua-<version>/ftplens_core.so
#   make install-lua                       ... and install the script and the module into
#                                          $(HOME)/.local/lib/wireshark/plugins/
#   HOME=/tmp/h make install-lua           ... of a throwaway home
#   make install-lua LUA_VERSION=5.4       for a Wireshark that embeds Lua 5.4 (4.4 and later)
#   make uninstall-lua
#
# Installs:
#   $(HOME)/.local/lib/wireshark/plugins/ftplens.lua                 the dissector (Wireshark loads
#                                                                    every *.lua in plugins/)
#   $(HOME)/.local/lib/wireshark/plugins/ftplens/ftplens_core.so     the module, in a subfolder that
#                                                                    the script adds to package.cpath
#
# LUA_VERSION is the Lua that the Wireshark in use embeds. When not given it is read from what
# $(LUA_TSHARK) -v prints (mk/lua-version.sh knows the forms: "with Lua 5.2.4" up to 4.4, "+Lua 5.4.9"
# from 4.6); with no tshark on PATH it defaults to 5.2 (Debian 12's Wireshark 4.0), and a tshark that
# names no Lua is an error. The module never links a Lua: it uses the host's.

LUA_TSHARK      ?= tshark
ifeq ($(origin LUA_VERSION),undefined)
LUA_TSHARK_FOUND := $(shell command -v $(firstword $(LUA_TSHARK)) 2>/dev/null)
ifneq ($(LUA_TSHARK_FOUND),)
LUA_VERSION     := $(shell $(LUA_TSHARK) -v 2>/dev/null | sh mk/lua-version.sh)
ifeq ($(strip $(LUA_VERSION)),)
LUA_VERSION_ERROR := `$(LUA_TSHARK) -v` names no Lua: is this Wireshark built with Lua? Else pass LUA_VERSION=5.x
endif
endif
endif
ifeq ($(strip $(LUA_VERSION)),)
override LUA_VERSION := 5.2
endif
LUA_FEATURE     := lua$(subst .,,$(LUA_VERSION))
# One target dir for every Lua version (the core and mlua's build dependencies are shared); the file
# cargo uplifts is per build, so building and copying it hold a lock.
LUA_TARGET_DIR  := target/lua
LUA_MODULE      := build/lua-$(LUA_VERSION)/ftplens_core.so
LUA_PLUGINS_DIR := $(HOME)/.local/lib/wireshark/plugins
# `HOME=/tmp/h make install-lua` must still find the rustup toolchain under the real home: when
# neither RUSTUP_HOME nor CARGO_HOME is set and cargo is a rustup proxy in <dir>/.cargo/bin, pin both.
LUA_CARGO_ENV   := $(if $(RUSTUP_HOME)$(CARGO_HOME),,$(shell c=$$(command -v cargo) && \
                     d=$${c%/.cargo/bin/cargo} && [ "$$d" != "$$c" ] && [ -d "$$d/.rustup" ] && \
                     echo "CARGO_HOME=$$d/.cargo RUSTUP_HOME=$$d/.rustup"))

.PHONY: all install lua-module lua-check-version install-lua uninstall-lua clean-lua

all: lua-module

install: install-lua

lua-check-version:
	@$(if $(LUA_VERSION_ERROR),echo '$(LUA_VERSION_ERROR)' >&2; exit 1)
	@case "$(LUA_VERSION)" in 5.2|5.3|5.4) ;; \
	  *) echo "LUA_VERSION=$(LUA_VERSION): the module builds for Lua 5.2, 5.3 or 5.4" >&2; exit 1;; esac

# Always asks cargo (which knows whether anything changed), then copies the result.
lua-module: lua-check-version
	@mkdir -p $(LUA_TARGET_DIR) $(dir $(LUA_MODULE))
	flock $(LUA_TARGET_DIR)/.ftplens-lua.lock sh -c '\
	    $(LUA_CARGO_ENV) cargo build --release -p ftplens-lua --no-default-features \
	        --features $(LUA_FEATURE) --target-dir $(LUA_TARGET_DIR) && \
	    cp -f $(LUA_TARGET_DIR)/release/libftplens_core.so $(LUA_MODULE).tmp.$$$$ && \
	    { strip --strip-debug $(LUA_MODULE).tmp.$$$$ || true; } && \
	    mv -f $(LUA_MODULE).tmp.$$$$ $(LUA_MODULE)'
	@echo "built $(LUA_MODULE) for Lua $(LUA_VERSION)"

install-lua: lua-module
	install -d "$(LUA_PLUGINS_DIR)/ftplens"
	install -m 0644 $(LUA_MODULE) "$(LUA_PLUGINS_DIR)/ftplens/ftplens_core.so"
	install -m 0644 lua/ftplens.lua "$(LUA_PLUGINS_DIR)/ftplens.lua"
	@echo "installed $(LUA_PLUGINS_DIR)/ftplens.lua and $(LUA_PLUGINS_DIR)/ftplens/ftplens_core.so (Lua $(LUA_VERSION))"

uninstall-lua:
	rm -f "$(LUA_PLUGINS_DIR)/ftplens.lua" "$(LUA_PLUGINS_DIR)/ftplens/ftplens_core.so"
	-rmdir "$(LUA_PLUGINS_DIR)/ftplens" 2>/dev/null

clean-lua:
	rm -rf build/lua-5.2 build/lua-5.3 build/lua-5.4
