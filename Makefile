# Two set-up commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.xlt-installed

.PHONY: demo test test-slow test-all lint install lock clean samples world fidelity

# Installs from constraints.txt, the committed lock of known-good versions (torch: scripts/install_torch.sh
# picks the build for the machine). `make lock` refreshes the lock; then `rm -rf .venv && make test`.
$(STAMP): pyproject.toml constraints.txt scripts/install_torch.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	bash scripts/install_torch.sh $(VENV)
	$(PY) -m pip install -c constraints.txt -e ".[dev,eval]" "torch==$$($(PY) -c 'import torch; print(torch.__version__.split("+")[0])')"
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default: LT-SFT zero-shot NLI transfer (Table 4.2) on a tiny
# XLM-R-shaped model and the bundled sample data, offline.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) launch.py +experiment=ltsft_americasnli +profile=smoke

test: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -m "not slow" -q

test-slow: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -m "slow" -q

test-all: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -q

# The synthetic world (issue 15, docs/fidelity.md): its data, encoder, translation model and causal LM, then the thesis's
# findings measured on it over three seeds (one table; FIDELITY_ARGS="--seeds 0 --findings la_helps" for less).
world: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m xlt.pipeline.world

fidelity: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 nice -n 10 $(PY) benchmarks/fidelity.py $(FIDELITY_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check xlt tests launch.py benchmarks hydra_plugins

lock:
	bash scripts/lock.sh

samples: $(STAMP)
	$(PY) -m xlt.data.synthetic

clean:
	rm -rf outputs multirun artifacts .cache
