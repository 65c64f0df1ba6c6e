# ftplens. Each part adds its targets in mk/*.mk:
#   mk/plugin.mk  make plugin, make install (the C plugin into $HOME's personal plugin folder)
#   mk/lua.mk     make lua-module, make install-lua (the Lua fallback); make install includes it
#   mk/lib.mk     make install-lib PREFIX=... (libftplens.so.0, libftplens.a, ftplens.h, ftplens.pc)
# `HOME=/tmp/h make install` installs into a throwaway home.
.DEFAULT_GOAL := all
.PHONY: all install test demo help

all:

test:
	bash tests/run.sh

demo:
	bash scripts/demo.sh

help:
	@sed -n '1,5p' Makefile | sed 's/^# \{0,1\}//'

-include mk/*.mk
