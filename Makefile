# The two commands: `make dev` runs Natter, `make test` runs every check.
# `make bench` measures Natter against a Socket.io relay (bench/run.sh).
# `make dist` packs a release into target/dist/natter-<version>-<arch>-linux.tar.gz.
.PHONY: dev test bench dist

dev:
	scripts/dev.sh

test:
	scripts/test.sh

bench:
	bench/run.sh

dist:
	scripts/dist.sh
