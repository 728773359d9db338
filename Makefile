# Every target sets up what it needs: a virtualenv in .venv with the package
# installed (editable) under the pins in constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
RUN_DIR ?= demo_results

.PHONY: venv test demo bench lint docs matrix clean

$(STAMP): setup.cfg constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -c constraints.txt -e ".[all,test,docs,lint]"
	touch $(STAMP)

venv: $(STAMP)

# Two sessions: a process cannot hold framework="tf" (graph mode) and "tf2"
# (eager) policies at once, so the tf1-marked tests run in their own.
test: venv
	$(PY) -m pytest -m "not tf1"
	$(PY) -m pytest -m tf1

# Regenerate docs/compatibility.md from a run of the algorithm matrix and the
# custom-modules sweep (RLlib's own example RLModules and ModelV2s).
MATRIX_DIR := build/matrix
MATRIX_TESTS := tests/test_matrix.py tests/test_custom_modules.py
matrix: venv
	rm -rf $(MATRIX_DIR)
	EXPORTABLE_TRAINERS_MATRIX_DIR=$(MATRIX_DIR) $(PY) -m pytest $(MATRIX_TESTS) -m "not tf1"
	EXPORTABLE_TRAINERS_MATRIX_DIR=$(MATRIX_DIR) $(PY) -m pytest $(MATRIX_TESTS) -m tf1
	$(PY) tools/render_compatibility.py $(MATRIX_DIR) docs/compatibility.md

# Benchmarks: prints the table of ratios and writes docs/benchmarks.md.
bench: venv
	$(PY) -m bench

demo: venv
	rm -rf $(RUN_DIR)
	$(PY) examples/demo.py train $(RUN_DIR)
	$(PY) examples/demo.py compare $(RUN_DIR) docs

docs: venv
	$(VENV)/bin/mkdocs build --strict -d site

lint: venv
	$(VENV)/bin/ruff check exportable_trainers tests examples tools bench
	$(VENV)/bin/ruff format --check exportable_trainers tests examples tools bench

clean:
	rm -rf $(VENV) $(RUN_DIR) site build *.egg-info .pytest_cache .hypothesis
