# strokealert — two commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_WORKERS ?= 2  # pytest-xdist workers: the suite waits on sockets and servers a lot

.PHONY: test demo install lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	scripts/test-prerequisites.sh
	$(VENV)/bin/ruff check strokealert perfusion notifications tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy strokealert perfusion notifications
	$(VENV)/bin/pytest -n $(TEST_WORKERS)

demo: $(STAMP)
	$(PY) -m strokealert.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check strokealert perfusion notifications tests bench

clean:
	rm -rf $(VENV) var test-output .pytest_cache
