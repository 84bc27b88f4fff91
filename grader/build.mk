# Builds the programs of one lab, out of tree and incrementally.  The grader calls it:
#   make -k -f grader/build.mk SRC=labs/lab3 OUT=build/labs/lab3 PROGRAMS="hello_server hello_client"
# Programs are built with the contract's flags; warnings are shown, not fatal.
CC ?= cc
CFLAGS ?= -std=c11 -Wall -Wextra -g
LDLIBS ?=
EXE ?=

TARGETS := $(addprefix $(OUT)/,$(addsuffix $(EXE),$(PROGRAMS)))

all: $(TARGETS)

$(OUT)/%$(EXE): $(SRC)/%.c | $(OUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

$(OUT):
	@mkdir -p $@

.PHONY: all
