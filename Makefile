# Scarp: `make run` sets up and serves the app with demo data; `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := source scripts/env.sh &&
PY := .venv/bin/python

.PHONY: help setup services stop migrate run test lint format bench

help:
	@echo "make run    set up everything missing, load the demo, serve http://127.0.0.1:8000"
	@echo "make test   set up everything missing and run the whole test suite"
	@echo "make lint   ruff"
	@echo "make stop   stop the private PostgreSQL and Redis under ./var"

setup:
	@bash scripts/bootstrap.sh
	@bash scripts/services.sh start
	@$(ENV) $(PY) manage.py migrate --noinput -v 0

services:
	@bash scripts/services.sh start

stop:
	@bash scripts/services.sh stop

run: setup
	@bash scripts/run.sh

test: setup
	@bash scripts/test.sh $(ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
