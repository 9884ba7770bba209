# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench chaos mutate format preview clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/noticebot run

preview: $(STAMP)
	$(BIN)/noticebot preview --html preview.html

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m compileall -q bot  # the tests start the bot hundreds of times
	$(BIN)/pytest -n 6 --dist worksteal --durations=15  # six workers on two cores: most tests wait on sockets and timers; an idle one takes work from a busy one

bench: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m bench.preview
	PYTHONPATH=. $(BIN)/python -m bench.scan
	PYTHONPATH=. $(BIN)/python -m bench.fanout
	PYTHONPATH=. $(BIN)/python -m bench.fairness
	PYTHONPATH=. $(BIN)/python -m bench.pickup

chaos: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m bench.chaos

# Mutation testing (mutmut) of authorization, redaction, the splitter, flood control, the
# ledger's transitions and the reconciler, each against its own few test files, in
# copies under mutants/; prints the survivors.
# One group: make mutate GROUPS=redaction
mutate: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m bench.mutate $(GROUPS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache preview.html mutants
