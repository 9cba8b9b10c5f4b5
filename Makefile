# The two commands: `make dev` runs Natter, `make test` runs every check.
# `make bench` measures Natter against a Socket.io relay (bench/run.sh).
.PHONY: dev test bench

dev:
	scripts/dev.sh

test:
	scripts/test.sh

bench:
	bench/run.sh
