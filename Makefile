# Two commands do everything: `make run` (set-up + default case), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CASE ?= cases/mchs-7nm.toml
OUT ?= results/default

.PHONY: setup run test test-serial test-mpi lint clean

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/confine run $(CASE) --out $(OUT)

lint: setup
	$(VENV)/bin/ruff check confine tests benchmarks examples
	$(VENV)/bin/ruff format --check confine tests benchmarks examples
	$(VENV)/bin/mypy

test-serial: setup
	$(PY) -m pytest -q -m "not mpi" tests

# mpiexec: the wheel's (in the venv, known only after set-up), else the system's
test-mpi: setup
	@m=$(VENV)/bin/mpiexec; [ -x "$$m" ] || m=mpiexec; \
	echo "$$m -n 2 $(PY) -m pytest -q -m mpi tests"; \
	"$$m" -n 2 $(PY) -m pytest -q -m mpi -p no:cacheprovider tests

test: lint test-serial test-mpi

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache
