# The two commands of the README's Quick start. Both prepare the machine themselves (scripts/bootstrap.sh).
SPEC ?= examples/cluster.yaml
CLUSTER ?= local
DEV_DIR ?= .dev/cluster
PYTEST_ARGS ?=

.PHONY: up down test lint dev-up dev-down

up:
	@scripts/bootstrap.sh
	@scripts/up.sh "$(SPEC)"

down:
	@.venv/bin/provision delete "$(CLUSTER)"

test:
	@scripts/bootstrap.sh
	@scripts/test.sh $(PYTEST_ARGS)

lint:
	@scripts/bootstrap.sh
	.venv/bin/ruff check provisioner tests bench
	.venv/bin/lint-imports

# The single-host development control plane (processes, no machines; see README).
dev-up:
	@scripts/bootstrap.sh
	@scripts/dev-up.sh "$(DEV_DIR)"

dev-down:
	@.venv/bin/provision dev down --dir "$(DEV_DIR)"
