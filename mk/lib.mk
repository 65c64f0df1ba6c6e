# mk/lib.mk: the core as an installable C library. Included by the top-level Makefile.
#
#   make lib                                    cargo build --release --lib
#   make install-lib PREFIX=/usr/local          install it (DESTDIR honoured for staged installs)
#   make uninstall-lib PREFIX=/usr/local
#
# Installs, under $(DESTDIR)$(PREFIX):
#   lib/libftplens.so.$(LIB_VERSION)            the shared library (SONAME libftplens.so.0, set by build.rs)
#   lib/libftplens.so.0 -> libftplens.so.$(LIB_VERSION)
#   lib/libftplens.so   -> libftplens.so.0       the development link, what -lftplens finds
#   lib/libftplens.a                              the static library
#   include/ftplens.h
#   lib/pkgconfig/ftplens.pc                      from mk/ftplens.pc.in, version from Cargo.toml
#
# Then:  cc prog.c $(pkg-config --cflags --libs ftplens)                                   shared
#        cc prog.c $(pkg-config --cflags ftplens) $(pkg-config --variable=static_libs ftplens)  static
# Run ldconfig after installing into a system directory.

PREFIX        ?= /usr/local
LIBDIR        ?= $(PREFIX)/lib
INCLUDEDIR    ?= $(PREFIX)/include
PKGCONFIGDIR  ?= $(LIBDIR)/pkgconfig
DESTDIR       ?=
INSTALL       ?= install
CARGO         ?= cargo

LIB_VERSION   := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
LIB_SOMAJOR   := 0
LIB_SONAME    := libftplens.so.$(LIB_SOMAJOR)
LIB_OUTDIR    := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)/release
LIB_SO        := $(LIB_OUTDIR)/libftplens.so
LIB_A         := $(LIB_OUTDIR)/libftplens.a
LIB_PC_IN     := mk/ftplens.pc.in
# What a Rust staticlib needs from the system on Linux (cargo rustc -- --print native-static-libs);
# goes to Libs.private so that `pkg-config --static --libs ftplens` links the .a.
LIB_PRIVATE   := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: lib install-lib uninstall-lib

# Always asks cargo, which knows whether the library is up to date.
lib:
	$(CARGO) build --release --lib

install-lib: lib
	@test -n "$(LIB_VERSION)" || { echo "mk/lib.mk: no version in Cargo.toml" >&2; exit 1; }
	$(INSTALL) -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 0755 "$(LIB_SO)" "$(DESTDIR)$(LIBDIR)/libftplens.so.$(LIB_VERSION)"
	ln -sfn "libftplens.so.$(LIB_VERSION)" "$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)"
	ln -sfn "$(LIB_SONAME)" "$(DESTDIR)$(LIBDIR)/libftplens.so"
	$(INSTALL) -m 0644 "$(LIB_A)" "$(DESTDIR)$(LIBDIR)/libftplens.a"
	$(INSTALL) -m 0644 include/ftplens.h "$(DESTDIR)$(INCLUDEDIR)/ftplens.h"
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(LIB_VERSION)|g' \
	    -e 's|@LIBS_PRIVATE@|$(LIB_PRIVATE)|g' \
	    "$(LIB_PC_IN)" > "$(DESTDIR)$(PKGCONFIGDIR)/ftplens.pc.tmp"
	mv -f "$(DESTDIR)$(PKGCONFIGDIR)/ftplens.pc.tmp" "$(DESTDIR)$(PKGCONFIGDIR)/ftplens.pc"
	@soname=$$(readelf -d "$(LIB_SO)" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'); \
	if [ "$$soname" != "$(LIB_SONAME)" ]; then \
	    echo "mk/lib.mk: warning: $(LIB_SO) has SONAME '$$soname', expected $(LIB_SONAME) (build.rs sets it)" >&2; \
	fi
	@echo "installed libftplens $(LIB_VERSION) under $(DESTDIR)$(PREFIX)"

uninstall-lib:
	rm -f "$(DESTDIR)$(LIBDIR)/libftplens.so.$(LIB_VERSION)" "$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)" \
	      "$(DESTDIR)$(LIBDIR)/libftplens.so" "$(DESTDIR)$(LIBDIR)/libftplens.a" \
	      "$(DESTDIR)$(INCLUDEDIR)/ftplens.h" "$(DESTDIR)$(PKGCONFIGDIR)/ftplens.pc"
