# make setup  -> ./setup.sh (fresh machine: ~15 min, mostly compiling llama.cpp)
# make chat   -> terminal chat on the bundled model and knowledge
# make test   -> everything CI runs: setup if needed, knowledge check, ruff, unit + integration + browser tests
PY := .venv/bin/python

.PHONY: setup chat serve test test-fast lint check bench eval

.venv/.setup-done: setup.sh requirements.txt requirements-models.txt requirements-dev.txt pyproject.toml
	./setup.sh --with-browser

setup: .venv/.setup-done

chat: setup
	$(PY) -m chatbot

serve: setup
	$(PY) -m chatbot serve

lint: setup
	.venv/bin/ruff check .

check: setup
	$(PY) -m chatbot knowledge check

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser"

test: setup check lint
	$(PY) -m pytest -q -m "not slow and not browser" --timeout 600
	$(PY) -m pytest -q -m "slow or browser" --timeout 1200

bench: setup
	$(PY) bench/pipeline.py

eval: setup
	$(PY) -m evals run --suite all
