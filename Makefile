# Two commands on a fresh Debian machine with Python 3.11: `make dataset` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system
TORCH := torch==2.13.0
WORKSPACE ?= workspace

.PHONY: setup system dataset test bench lint clean

setup: $(STAMP) $(SYSTEM_STAMP)

# Debian packages: Chromium for rendering pages, bubblewrap for the sandbox, fonts for plots and pages.
$(SYSTEM_STAMP): | $(VENV)
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

$(VENV):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# The CPU build of torch is installed first, by exact version, so that the training extra never pulls a CUDA build.
$(STAMP): pyproject.toml | $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[plot,train,embed,ray,dev]'
	@touch $@

dataset: setup
	@for recipe in recipes/*.yaml; do \
	  if grep -q '^# needs: an OpenAI-compatible endpoint' "$$recipe"; then echo "skipping $$recipe (it needs an endpoint)"; continue; fi; \
	  $(BIN)/curate run "$$recipe" --workspace $(WORKSPACE) || exit $$?; \
	done
	@$(BIN)/curate ls --workspace $(WORKSPACE)

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile  # a module on one worker: its fixtures are built once

bench: setup
	@for script in bench/*.py; do \
	  case "$$script" in */_*) continue;; esac; \
	  echo "== $$script"; $(BIN)/python "$$script" || exit $$?; \
	done

lint: setup
	$(BIN)/ruff check curate tests bench

clean:
	rm -rf $(WORKSPACE) .pytest_cache
