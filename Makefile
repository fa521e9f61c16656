# d365.identity: two entry points for a fresh machine, `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(abspath $(VENV))/bin/python
BIN := $(abspath $(VENV)/bin)
# Outside the checkout: inside it, ansible-test would list files with git and skip the ignored copy.
BUILD_ROOT ?= /tmp/d365-identity-build-$(shell printf %s "$(CURDIR)" | md5sum | cut -c1-8)
COLL := $(BUILD_ROOT)/ansible_collections/d365/identity
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_COLLECTIONS_PATH := $(BUILD_ROOT)
export PATH := $(BIN):$(PATH)
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: test demo venv tree versions sanity units emulator-tests integration clean

test: versions sanity units
	@echo "make test: all suites passed"

venv: $(VENV)/.installed
$(VENV)/.installed: tests/requirements-dev.txt tests/tools/make_venv.sh
	tests/tools/make_venv.sh $(VENV)
	touch $@

versions: venv
	@$(PY) --version
	@$(PY) -c 'import ansible, msal, requests; print("ansible-core", ansible.__version__, "| msal", msal.__version__, "| requests", requests.__version__)'

# ansible-test needs a real path ending in ansible_collections/d365/identity (no symlinks).
tree: venv
	rm -rf $(COLL) && mkdir -p $(COLL)
	tar --exclude=./.git --exclude=./.venv --exclude=./.build --exclude=./tests/output \
	    --exclude='__pycache__' --exclude=./.pytest_cache -cf - . | tar -xf - -C $(COLL)

sanity: tree
	tests/tools/ansible_test_pip_stub.sh $(PY) >/dev/null
	cd $(COLL) && $(BIN)/ansible-test sanity --venv --python $$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')

units: tree
	cd $(COLL) && PYTHONPATH=$(BUILD_ROOT) $(PYTEST) -n 2 tests/unit

emulator-tests: venv
	$(PYTEST) -n 2 tests/emulator/tests

integration: tree
	cd $(COLL) && PYTHONPATH=$(BUILD_ROOT) $(PYTEST) -n 2 tests/integration

clean:
	rm -rf $(BUILD_ROOT)
	rm -rf .build tests/output
