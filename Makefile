# Two commands matter: `make run` (serve) and `make test` (everything CI checks).
# Both create or update the two environments first; nothing needs installing by hand but
# Python 3.11 and 3.10 (see README).
SHELL := /bin/bash
PY311 ?= python3.11
VENV := .venv
RVENV := .venv-rasa
MVENV := .venv-model
APP := $(VENV)/bin/python
RASA := $(RVENV)/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run run-city test test-faults setup test-setup model-setup db kb train nlu model validate rasa-test lint pytest \
	model-test system-deps lock clean bench

run: setup db kb train
	$(APP) -m bot run

# The city layout on this machine: PostgreSQL, Redis and nginx (Debian's), two gateways, two Rasa
# replicas and the action server, under var/city/ (bot/city.py; deploy/ for servers).
run-city: setup system-deps train
	$(APP) -m bot run-city

test: setup test-setup model-setup system-deps train validate rasa-test lint pytest model-test

# Environments (README, "Environments"): the app's serves from PyPI alone, with hashes checked;
# the test tools are added to it for `make test`; the model environment adds torch's CPU build
# and sentence-transformers, for training the embedding model and its equivalence test.
setup: $(VENV)/.installed $(RVENV)/.installed
test-setup: $(VENV)/.tested
model-setup: $(MVENV)/.installed

$(VENV)/.installed: requirements/runtime.lock pyproject.toml
	@command -v $(PY311) >/dev/null || { echo "error: $(PY311) not found (the app needs Python 3.11)"; exit 1; }
	test -x $(APP) || $(PY311) -m venv $(VENV)
	$(APP) -m pip install -q --require-hashes -r requirements/runtime.lock
	$(APP) -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.tested: $(VENV)/.installed requirements/test.lock
	$(APP) -m pip install -q --require-hashes -r requirements/test.lock
	touch $@

# torch first, apart: its lock line is left out, so the hashed install below cannot pull a CUDA
# build. On a machine with only public indexes: make model TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH := torch==2.13.0
TORCH_INDEX ?=
$(MVENV)/.installed: requirements/model.lock pyproject.toml
	test -x $(MVENV)/bin/python || $(PY311) -m venv $(MVENV)
	$(MVENV)/bin/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH)
	$(MVENV)/bin/python -m pip install -q --require-hashes -r requirements/model.lock
	$(MVENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

# PYTHONPATH emptied for pip: through it pip would see the app's egg-info and report the app's
# pins as conflicts with Rasa's.
$(RVENV)/.installed: requirements/rasa.lock
	@PY310=$$(scripts/find-python310) || exit 1; \
	test -x $(RVENV)/bin/python || $$PY310 -m venv $(RVENV)
	PYTHONPATH= $(RVENV)/bin/python -m pip install -q --require-hashes -r requirements/rasa.lock
	touch $@

db: setup
	$(APP) -m bot db upgrade

kb: db
	$(APP) -m bot kb load

# The search's embedding model is trained by the project and shipped in models/embedding.
model: model-setup
	$(MVENV)/bin/python -m bot kb model

nlu: setup
	$(APP) -m bot nlu build

# Trains only when the model's inputs changed (fingerprint kept beside the model).
train: nlu
	$(APP) -m bot nlu train

validate: nlu
	$(RASA) data validate --data build/rasa --domain domain.yml --config config.yml --fail-on-warnings

# Intent accuracy on the held-out NLU set below NLU_PASS_MARK fails the build.
NLU_PASS_MARK ?= 0.93
rasa-test: train
	$(RASA) test nlu --nlu build/rasa-test/nlu_test.yml --model models/current.tar.gz --out var/results/nlu
	$(APP) scripts/nlu-pass-mark var/results/nlu/intent_report.json $(NLU_PASS_MARK)
	$(RASA) test core --stories build/rasa-test/test_stories.yml --model models/current.tar.gz --out var/results/core --fail-on-prediction-errors

lint: test-setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: test-setup
	$(VENV)/bin/pytest -q

# The numpy embedding the app serves with, against sentence-transformers itself (tests/model).
model-test: model-setup
	$(MVENV)/bin/pytest -q tests/model

# `make test` runs one fault of each kind (pyproject.toml leaves out slow_faults); this runs them all.
test-faults: setup test-setup system-deps train
	$(VENV)/bin/pytest -q tests/faults -m "slow_faults or faults"

# Debian packages the tests drive for real (a browser); needs root or an already installed copy.
system-deps:
	@scripts/system-deps

bench: setup test-setup train
	$(APP) benchmarks/search.py
	$(APP) benchmarks/answers.py
	$(APP) benchmarks/spine.py
	$(APP) benchmarks/nlu.py
	$(APP) benchmarks/chat_load.py
	$(APP) benchmarks/handoff.py

# Re-pin every environment with pip-tools, hashes included (then commit requirements/*.lock). The
# app's locks come from pyproject.toml; each starts from the pins already there (pip-compile keeps
# them unless UPGRADE=--upgrade). torch resolves only as the CPU build (TORCH_INDEX as above).
LOCKER := /tmp/tro-ly-locker
COMPILE = --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --quiet $(UPGRADE)
lock:
	$(PY311) -m venv $(LOCKER)-311 && $(LOCKER)-311/bin/pip install -q pip-tools==7.7.0
	$$(scripts/find-python310) -m venv $(LOCKER)-310 && $(LOCKER)-310/bin/pip install -q pip-tools==7.7.0
	$(LOCKER)-311/bin/pip-compile $(COMPILE) -o requirements/runtime.lock pyproject.toml
	$(LOCKER)-311/bin/pip-compile $(COMPILE) --extra test -c requirements/runtime.lock -o requirements/test.lock pyproject.toml
	$(LOCKER)-311/bin/pip-compile $(COMPILE) --extra model --extra test -c requirements/test.lock -c requirements/torch-cpu.txt \
		$(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) --unsafe-package torch --no-allow-unsafe -o requirements/model.lock pyproject.toml
	$(LOCKER)-310/bin/pip-compile $(COMPILE) -o requirements/rasa.lock requirements/rasa.in

clean:
	rm -rf build var/results
