# nodestudy: `make figures` rebuilds every figure, `make test` runs the tests.
# Both create the environment in .venv/ first when it is missing or stale.
#
# Variables (override on the command line, e.g. `make figures PROFILE=paper`):
#   PROFILE      quick (default, minutes on 2 CPU cores) | paper (the paper's sizes) | smoke
#   DEVICE       torch device the notebooks train on: cpu (default), cuda, cuda:1, ...
#   JOBS         parallel training processes (default: number of cores)
#   TORCH_SPEC   the torch requirement installed first (default: the CPU build torch==2.13.0)
#   TORCH_INDEX  extra pip index for torch, e.g. a CUDA wheel index for GPU machines
#   PYTHON       interpreter used to create .venv (default: python3)

PYTHON      ?= python3
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
PROFILE     ?= quick
DEVICE      ?= cpu
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)

VENV      := .venv
VPY       := $(VENV)/bin/python
STAMP     := $(VENV)/.nodestudy-installed
SOURCES   := $(wildcard nodestudy/*.py)
LINTED    := $(wildcard nodestudy tests notebooks benchmarks scripts)
NOTEBOOKS := $(basename $(notdir $(wildcard notebooks/*.ipynb)))
EXECUTED  := $(NOTEBOOKS:%=build/$(PROFILE)/%.ipynb)
export NODESTUDY_CACHE ?= $(CURDIR)/.cache/runs

.PHONY: all figures test lint env clean clean-cache FORCE
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
	$(VPY) -m pip install --quiet -e '.[notebooks,dev]'
	$(VPY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

figures: $(EXECUTED)

# One target per notebook; executed copies are build output. A notebook reruns when
# it, the package or the profile changes; finished training runs come from the cache.
build/$(PROFILE)/%.ipynb: notebooks/%.ipynb $(SOURCES) $(STAMP)
	@mkdir -p $(@D) figures
	$(VPY) -m nodestudy.run_notebook --cwd notebooks -k python3 --log-level WARNING \
	    -p profile $(PROFILE) -p device $(DEVICE) -p n_jobs $(JOBS) \
	    -p figures_dir $(CURDIR)/figures $< $@

test: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VPY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

clean:
	rm -rf build

clean-cache:
	rm -rf $(NODESTUDY_CACHE)
