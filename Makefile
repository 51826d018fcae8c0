# make setup  -> ./setup.sh (fresh machine: ~15 min, mostly compiling llama.cpp)
# make chat   -> terminal chat on the bundled model and knowledge
# make test   -> everything CI runs: setup and test tools if needed, knowledge check, ruff, unit + integration + browser tests
# make lock   -> regenerate the hash-pinned locks setup installs from, after editing requirements*.txt
# make sbom   -> rewrite .venv/sbom.cdx.json (CycloneDX) for the venv as it is now (setup writes it too)
# make audit  -> known-vulnerability check of the locks (needs api.osv.dev: not reachable here, so not in CI)
PY := .venv/bin/python
LOCKS := requirements.lock requirements-build.lock requirements-models.lock
# PyTorch's CPU build lies on this machine kind's disk (pip finds it there); other machines: see README, Supply chain.
LOCK_FIND_LINKS ?= $(wildcard /opt/wheels)
COMPILE := .venv/bin/uv pip compile --quiet --python $(PY) --generate-hashes --custom-compile-command "make lock" \
	$(if $(LOCK_FIND_LINKS),--find-links $(LOCK_FIND_LINKS))

.PHONY: setup test-tools chat serve test test-fast lint check bench eval lock sbom audit

.venv/.setup-done: setup.sh $(LOCKS) pyproject.toml
	./setup.sh --with-browser

setup: .venv/.setup-done

# Checked on every `make test`: a machine set up with plain ./setup.sh gets the browser and strace here.
test-tools:
	scripts/test-tools.sh

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

test: setup test-tools check lint
	$(PY) -m pytest -q -m "not slow and not browser" --timeout 600
	$(PY) -m pytest -q -m "slow or browser" --timeout 1200

bench: setup
	$(PY) bench/pipeline.py

eval: setup
	$(PY) -m evals run --suite all

lock: setup
	$(COMPILE) requirements.txt requirements-dev.txt requirements-build.txt -o requirements.lock
	$(COMPILE) requirements-build.txt -c requirements.lock -o requirements-build.lock
	$(COMPILE) --no-deps requirements-models.txt -o requirements-models.lock

sbom: setup
	.venv/bin/cyclonedx-py environment --pyproject pyproject.toml --output-reproducible -o .venv/sbom.cdx.json $(PY)

audit: setup
	.venv/bin/pip-audit --strict --disable-pip --require-hashes --vulnerability-service osv $(LOCKS:%=-r %)
