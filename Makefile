# One command for each thing. `make interview` and `make test` set everything up by themselves:
# a .venv with the pinned stack (installed in the order that works on a CPU-only machine), then the
# default models assembled into models/ and verified by checksum. Each step is skipped when up to date.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

TOPIC ?= rlhf
LEVEL ?= mid
QUESTIONS ?= 5
MODEL ?=
PORT ?= 7860
PROFILE ?= default
# GPU=cpu (portable CPU build), GPU=cuda or GPU=metal: which llama-cpp-python build to compile.
GPU ?= cpu

ifeq ($(GPU),cuda)
LLAMA_CMAKE_ARGS := -DGGML_CUDA=on
else ifeq ($(GPU),metal)
LLAMA_CMAKE_ARGS := -DGGML_METAL=on
else
# The native build faults in llama.cpp's AMX path on these Xeons: build for AVX2 portably.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

.PHONY: setup interview test faults bench eval models lint clean browser espeak

setup: $(VENV)/.deps models

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

# torch first, so nothing later pulls a multi-GB CUDA build.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	touch $@

# --no-cache-dir: pip would otherwise reuse a wheel built with other CMAKE_ARGS.
$(VENV)/.llama-$(GPU): $(VENV)/.torch
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python==0.3.36
	rm -f $(VENV)/.llama-*
	touch $@

$(VENV)/.deps: pyproject.toml $(VENV)/.llama-$(GPU)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

models: $(VENV)/.deps
	$(BIN)/interviewer models fetch --profile $(PROFILE)

interview: setup
	$(BIN)/interviewer serve --topic $(TOPIC) --level $(LEVEL) --questions $(QUESTIONS) --port $(PORT) \
		$(if $(MODEL),--model $(MODEL))

# The browser test drives Debian's Chromium with a WAV file as its microphone.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else echo "the browser test needs Chromium: sudo apt-get install chromium chromium-driver"; fi; }

# espeak-ng: a second, very different voice for the speech and turn-taking benchmarks.
espeak:
	@command -v espeak-ng >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng; \
	  else echo "the second benchmark voice needs espeak-ng: sudo apt-get install espeak-ng"; fi; }

test: $(VENV)/.deps browser espeak
	$(BIN)/interviewer models fetch --profile test
	$(BIN)/pytest $(PYTEST_ARGS)

# The fault-injection suite alone (it also runs in `make test`): prints cases tried, survived, answers lost.
faults: $(VENV)/.deps
	$(BIN)/interviewer models fetch --profile test
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

bench: setup espeak
	$(BIN)/interviewer models fetch --profile fast
	$(BIN)/python -m interviewer.bench
	$(BIN)/python -m interviewer.speech_eval
	$(BIN)/python -m interviewer.bench_prepare

eval: setup
	$(BIN)/python -m interviewer.eval

lint: $(VENV)/.deps
	$(BIN)/ruff check interviewer knowledge ui tests

clean:
	rm -rf $(VENV) data models/*.gguf models/*/ models/.verified.json .pytest_cache
