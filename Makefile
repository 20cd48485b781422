# Two commands matter: `make run` (serve) and `make test` (everything CI checks).
# Both create or update the two environments first; nothing needs installing by hand but
# Python 3.11 and 3.10 (see README).
SHELL := /bin/bash
PY311 ?= python3.11
VENV := .venv
RVENV := .venv-rasa
APP := $(VENV)/bin/python
RASA := $(RVENV)/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test setup db kb train nlu model validate rasa-test pytest system-deps lock clean bench

run: setup db kb train
	$(APP) -m bot run

test: setup system-deps train validate rasa-test pytest

setup: $(VENV)/.installed $(RVENV)/.installed

$(VENV)/.installed: requirements/app.lock
	@command -v $(PY311) >/dev/null || { echo "error: $(PY311) not found (the app needs Python 3.11)"; exit 1; }
	test -x $(APP) || $(PY311) -m venv $(VENV)
	$(APP) -m pip install -q -r requirements/app.lock
	touch $@

$(RVENV)/.installed: requirements/rasa.lock
	@PY310=$$(scripts/find-python310) || exit 1; \
	test -x $(RVENV)/bin/python || $$PY310 -m venv $(RVENV)
	$(RVENV)/bin/python -m pip install -q -r requirements/rasa.lock
	touch $@

db: setup
	$(APP) -m bot db upgrade

kb: db
	$(APP) -m bot kb load

# The search's embedding model is trained by the project and shipped in models/embedding.
model: setup
	$(APP) -m bot kb model

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

pytest: setup
	$(VENV)/bin/pytest -q

# Debian packages the tests drive for real (a browser); needs root or an already installed copy.
system-deps:
	@scripts/system-deps

bench: setup train
	$(APP) benchmarks/search.py
	$(APP) benchmarks/answers.py
	$(APP) benchmarks/spine.py
	$(APP) benchmarks/nlu.py
	$(APP) benchmarks/chat_load.py
	$(APP) benchmarks/handoff.py

# Re-pin both environments from requirements/*.in (then commit the .lock files).
lock:
	rm -rf /tmp/lock-app /tmp/lock-rasa
	$(PY311) -m venv /tmp/lock-app && /tmp/lock-app/bin/pip install -q -r requirements/app.in && /tmp/lock-app/bin/pip freeze > requirements/app.lock
	$$(scripts/find-python310) -m venv /tmp/lock-rasa && /tmp/lock-rasa/bin/pip install -q -r requirements/rasa.in && /tmp/lock-rasa/bin/pip freeze > requirements/rasa.lock

clean:
	rm -rf build var/results
