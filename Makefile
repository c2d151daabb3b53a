VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench install translations clean axe

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) translations

# axe-core for tests/test_browser_a11y.py, from the npm registry into .cache/axe (not committed).
axe:
	test -f .cache/axe/node_modules/axe-core/axe.min.js || npm install --silent --no-save --no-audit --no-fund --prefix .cache/axe axe-core@4

translations: $(STAMP)
	$(VENV)/bin/pybabel compile -d translations

messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --omit-header -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

run: install
	FLASK_APP=wsgi.py $(PY) -m service.embedded

# Six pytest-xdist workers when the machine has two cores or more, each with a database and Redis db of its
# own (tests/services.py): three of them spend most of the journeys' minutes waiting on the product's clock
# (tests/conftest.py starts each journey on a worker of its own), and the rest of the suite waits on servers
# and subprocesses more than it computes. `make test ARGS=-n0` runs in one process,
# ARGS=... passes anything else to pytest.
TEST_WORKERS := $(shell [ "$$(nproc 2>/dev/null || echo 1)" -ge 2 ] && echo 6 || echo 0)

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --maxschedchunk 1 $(ARGS)

bench: install
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf instance .pytest_cache
