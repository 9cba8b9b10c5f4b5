# The two commands: `make dev` runs Natter, `make test` runs every check.
.PHONY: dev test

dev:
	scripts/dev.sh

test:
	scripts/test.sh
