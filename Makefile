# casehub: two commands matter, `make up` and `make test`; both set up what they need.
.PHONY: setup up test lint test-unit test-integration bench broker-start broker-stop clean

VENV := .venv
BIN := $(VENV)/bin

setup:
	@bash deps/setup.sh

up: setup
	$(BIN)/casehub up

# lint (ruff, the import contracts of the layers), then every test
test: setup lint
	$(BIN)/python -m pytest tests

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test-unit: setup
	$(BIN)/python -m pytest tests/unit

test-integration: setup
	$(BIN)/python -m pytest tests/integration

broker-start: setup
	$(BIN)/casehub broker start

broker-stop: setup
	$(BIN)/casehub broker stop

clean:
	-$(BIN)/casehub broker stop
	rm -rf var .pytest_cache build
