# The two commands of the README's Quick start. Both prepare the machine themselves (scripts/bootstrap.sh).
DEV_DIR ?= .dev/cluster
PYTEST_ARGS ?=

.PHONY: up down test lint

up:
	@scripts/bootstrap.sh
	@scripts/up.sh "$(DEV_DIR)"

down:
	@.venv/bin/provision dev down --dir "$(DEV_DIR)"

test:
	@scripts/bootstrap.sh
	@scripts/test.sh $(PYTEST_ARGS)

lint:
	@scripts/bootstrap.sh
	.venv/bin/ruff check provisioner tests bench
	.venv/bin/lint-imports
