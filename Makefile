# sockets-lab: build, grade and test.  `make` (or `make help`) lists the targets.
#
#   make lab3                  grade your labs/lab3 (build, run every check, print the checklist)
#   make lab3 IMPL=solutions   the same against the reference solution
#   make test                  the kit's own test suite

IMPL ?= labs
PYTHON := tools/python
GRADE := $(PYTHON) grader/grade.py
# The labs come from the registry (grader/harness/registry.py, stdlib only): any python3 reads
# it.  On a fresh machine without one, LABS is empty until `make setup` has installed it.
REGISTRY := python3 grader/harness/registry.py
LABS = $(shell $(REGISTRY) numbers 2>/dev/null)

.DEFAULT_GOAL := help
.PHONY: help setup setup-core setup-windows setup-docs grade test \
        skeletons docs docs-student clean dist-student gradescope autolab prairielearn inginious \
        platform-check bench

help: ## list the targets
	@echo "sockets-lab targets:"
	@awk -F':.*## ' '/^[a-zA-Z0-9_%-]+:.*## / { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "  labN             build labs/labN, run its checks, print the checklist (N: $(LABS))"
	@echo "  IMPL=solutions   grade the reference solution instead of labs/ (e.g. make lab3 IMPL=solutions)"

setup: ## check for every tool the kit uses; install what is missing (apt-get)
	@tools/setup.sh all

setup-core:
	@tools/setup.sh core
setup-windows:
	@tools/setup.sh core windows
setup-docs:
	@tools/setup.sh docs

# Any labN: the core tools first (they bring python3), then the setup groups the registry names
# for lab N (lab 6: mingw-w64 and Wine).  Not .PHONY: make skips pattern rules for those.
lab%: setup-core
	@groups=$$($(REGISTRY) setup $*) && tools/setup.sh $$groups && $(GRADE) $* --impl $(IMPL)

grade: setup ## grade every lab (IMPL=labs or solutions)
	@$(GRADE) $(LABS) --impl $(IMPL)

test: setup ## the kit's own test suite (solutions, skeletons, mutants, harness)
	@$(PYTHON) -m pytest

bench: setup ## how fast run_all grades: 20 copies of the solutions with --jobs 2, then one on a 768 MB core
	@$(PYTHON) tools/bench.py
	@$(PYTHON) tools/bench.py --box

skeletons: ## regenerate labs/labN/*.c from the solutions' markers
	@$(PYTHON) tools/skeletons.py

docs: setup-docs ## build the Doxygen site into docs/html (fails on any warning)
	@if [ -d solutions ]; then \
	    doxygen Doxyfile && echo "docs: open docs/html/index.html"; \
	else \
	    echo "docs: no solutions/ here (a student kit): building the student edition"; \
	    mkdir -p build/docs-student && doxygen Doxyfile.student && echo "docs: open build/docs-student/html/index.html"; \
	fi

docs-student: setup-docs ## the site without the reference solutions, into build/docs-student/html
	@mkdir -p build/docs-student
	doxygen Doxyfile.student
	@echo "docs-student: open build/docs-student/html/index.html"

dist-student: ## the students' archive (no solutions, mutants or hidden checks) in dist/
	@$(PYTHON) tools/dist.py student

gradescope: ## the Gradescope autograder zip in dist/ (GS_LABS=3: a one-lab assignment)
	@$(PYTHON) tools/dist.py gradescope --labs "$(GS_LABS)"

autolab: ## Autolab's autograde.tar and autograde-Makefile in dist/
	@$(PYTHON) tools/dist.py autolab

prairielearn: ## PrairieLearn's course files in dist/prairielearn (PL_IMAGE=you/sockets-lab: the image's name)
	@$(PYTHON) tools/dist.py prairielearn --labs "$(PL_LABS)" --image "$(or $(PL_IMAGE),sockets-lab-grader)"

inginious: ## INGInious's task folders (one per lab) and environment Dockerfile in dist/inginious
	@$(PYTHON) tools/dist.py inginious --labs "$(INGI_LABS)"

platform-check: ## Gradescope, PrairieLearn and INGInious each run in a bare Debian root (slow; as root)
	@$(PYTHON) tools/platform_check.py

clean: ## remove everything built
	rm -rf build docs/html
