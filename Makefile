# Every target installs what it needs first (scripts/bootstrap.sh); see the README.
.DEFAULT_GOAL := help
.PHONY: help install run test lint format ci lock bench-comparison bench-report bench-load code drill

ARGS ?=

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## Install everything (.venv, node_modules, compiled front end) without running
	@bash scripts/bootstrap.sh

run: ## Run the portal with demo data at http://127.0.0.1:8000/ (PORT=... to change)
	@bash scripts/run.sh

code: ## Print the demo accounts' current security code (two-factor sign-in; demo only)
	@DJANGO_DEBUG=1 .venv/bin/python manage.py demo_code

test: ## Run the whole test suite on a throwaway PostgreSQL (ARGS="-k foo" for pytest)
	@bash scripts/test.sh $(ARGS)

drill: ## Backup and restore drill: dump, restore into an empty database and storage, verify every approved report's hash
	@bash scripts/bootstrap.sh
	@bash scripts/backup_restore_drill.sh

lint: ## Check style and formatting with ruff
	@bash scripts/bootstrap.sh
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: ## Reformat the code and apply ruff's safe fixes
	@bash scripts/bootstrap.sh
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

ci: ## Run what CI runs (.ci/run)
	@bash .ci/run

lock: ## Regenerate constraints.txt after changing dependencies in pyproject.toml
	@bash scripts/lock.sh

bench-report: ## Board report benchmark: portal vs WeasyPrint time, and serving a stored report
	@bash scripts/bootstrap.sh
	.venv/bin/python benchmarks/board_report.py

bench-comparison: ## Time the ICS comparison page for ICBs of 5 and 20 trusts (throwaway PostgreSQL)
	@BENCH_RUNS=$${BENCH_RUNS:-25} bash scripts/test.sh benchmarks/comparison.py -q -s -p no:cacheprovider

bench-load: ## Load test: 20 users on gunicorn, each page's throughput against a bare page (throwaway PostgreSQL)
	@if ! command -v wrk >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> Installing wrk (apt-get install wrk) for the load benchmark"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null </dev/null || \
		echo "==> Could not install wrk: the benchmark uses Python threads instead"; \
	fi
	@bash scripts/test.sh benchmarks/load.py -q -s -p no:cacheprovider
