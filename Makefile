# Two commands do all set-up: `make demo` (simulate → fine-tune the shipped pretrained model → evaluate → report)
# and `make test`.
# Both create or refresh .venv (torch pinned to the 2.13.0 CPU wheel, installed in the same pip command as
# everything that depends on it).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_out
DEMO_BUDGET_S ?= 240

.PHONY: venv browser test demo bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0" -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium + chromedriver for the web app's browser test (no browser download by a driver).
# Outside CI a failed install only warns: the browser test then skips with the reason; in CI it fails.
browser:
	@bash scripts/install-browser.sh || { [ -z "$$CI" ] && echo "make: browser not installed; its test will skip"; }

test: venv browser
	OMP_NUM_THREADS=2 $(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/mypy src
	$(BIN)/lint-imports

demo: venv
	$(BIN)/thzface synth --preset demo --out $(DEMO_DIR)/data --seed 0 --workers 2
	$(BIN)/thzface train mtl-default --data $(DEMO_DIR)/data --out $(DEMO_DIR)/run --no-resume \
		--init-from pretrained:mtl-default train.lr=0.0005 train.max_time_s=$(DEMO_BUDGET_S)
	$(BIN)/thzface eval $(DEMO_DIR)/run --out $(DEMO_DIR)/report
	@echo "Demo report: $(abspath $(DEMO_DIR))/report/report.html"

bench: venv
	$(BIN)/thzface bench sim --out bench_out/sim --workers 2
	$(BIN)/thzface synth --preset bench-20 --out bench_out/bench-20 --seed 0 --workers 2
	$(BIN)/thzface bench mtl --data bench_out/bench-20 --budget-s 600 --out bench_out/mtl

clean:
	rm -rf $(DEMO_DIR) bench_out
