# Top-level Makefile (the lead owns it). Each part of the project adds its targets in mk/*.mk.
.DEFAULT_GOAL := all
.PHONY: all install
all:
-include mk/*.mk
