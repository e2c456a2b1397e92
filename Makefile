# Two entry points for a fresh machine: `make report` and `make test`.
# Both create .venv with Python 3.12+ (pyenv reads .python-version) and install
# the project with its pinned dependencies.
PYTHON ?= $(shell for p in python3.12 python3.13 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
# what git tracks (a scratch script of one's own in the tree is not the project's); all of it outside a checkout
LINTED = $(shell git ls-files '*.py' 2>/dev/null | grep . || echo .)

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e ".[test]"
	touch $@

# Debian's chromium for the browser tests (abm/browser.py; Playwright cannot download its own here),
# installed only when missing: as root, else through sudo.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { echo "Debian package chromium is needed (no apt-get here to install it)" >&2; exit 1; }; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else echo "Debian package chromium is needed: as root, apt-get install chromium" >&2; exit 1; fi; \
	  echo "installing Debian's chromium for the browser tests"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -qq && apt-get install -y -qq chromium'; \
	}

# Solara's front-end for the dashboard (abm/solara_assets.py): npm packages from the npm registry,
# unpacked into Solara's own default cache folder of this environment, so the dashboard's page needs
# no CDN. The stamp is written once every package is in place.
SOLARA_ASSETS := $(VENV)/share/solara/cdn

$(SOLARA_ASSETS)/.prepared: $(VENV)/.installed abm/solara_assets.py
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the dashboard's front-end: apt-get install npm" >&2; exit 1; }
	$(VENV)/bin/python -m abm.solara_assets $(SOLARA_ASSETS) >/dev/null
	touch $@

dashboard-assets: $(SOLARA_ASSETS)/.prepared  ## the dashboard's front-end, to serve without internet

.PHONY: report test lint chromium dashboard-assets
report: $(VENV)/.installed  ## the city strategy to FY2050 with its report, in results/
	$(VENV)/bin/abm run strategy --replicates 4 --workers 2

test: $(VENV)/.installed chromium dashboard-assets  ## lint and the full test suite
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/python -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
