"""Sphinx configuration of the course site (``make site``, ``scripts/build_site.py``).

The sources are generated into build/site-src/ by scripts/build_site.py; this folder holds only
the configuration and the site's stylesheet. Sphinx with myst-nb reads the notebooks without
executing them, sphinx-book-theme lays them out, and everything a page loads ships with the site.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent
ROOT = CONF_DIR.parent
sys.path.insert(0, str(ROOT))  # autodoc documents this checkout's lecture_utils
sys.path.insert(0, str(ROOT / "scripts"))

from build_site import course_notebooks, launch_row, run_times  # noqa: E402

# The launch links (Colab, Binder) of every notebook page are built from these two settings:
# the public repository that holds the course, and the branch to open. Set them here once, or
# per build: `make site SITE_REPOSITORY=https://github.com/OWNER/vae-course SITE_BRANCH=main`
# (scripts/build_site.py --repository/--branch). Empty: the pages offer the downloads only.
course_repository = ""
course_branch = "main"

project = "vae-course"
html_title = "From the autoencoder to the VAE"
author = "the vae-course authors"
copyright = "the vae-course authors; MNIST: LeCun, Cortes, Burges (CC BY-SA 3.0)"
language = "en"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
exclude_patterns = ["_extra", "_npm", "_static", "jupyter_execute", "**.ipynb_checkpoints"]

# myst-nb: show the stored outputs, never execute; no widget JavaScript from a CDN
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js: dict = {}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# `$$` display maths that starts inside a paragraph (as Jupyter allows) stays one equation, even
# with `$...$` inside its `\text{}`
myst_dmath_double_inline = True

# MathJax 3 from the pinned npm tarball (scripts/build_site.py copies it into _static/), on every
# page: the navigation shows notebook titles with maths
mathjax_path = "tex-svg-full.js"
mathjax3_config = {"svg": {"fontCache": "global"}}

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "sphinx_book_theme"
html_css_files = ["course.css"]
html_copy_source = False
html_show_sourcelink = False
html_show_search_summary = False  # summaries are fetch()ed, which a file:// page may not do
html_last_updated_fmt = None
# light or dark as the reader's system says (without a default the theme logs an error)
html_context = {"default_mode": "auto"}
html_theme_options = {
    "use_download_button": False,  # the launch row offers the notebook as stored instead
    "use_fullscreen_button": False,
    "show_prev_next": True,
    "show_toc_level": 2,
    "home_page_in_toc": True,
}


def _paths(app, config) -> None:
    """The generated sources' static files and downloads live next to them, in the srcdir."""
    src = Path(app.srcdir)
    config.html_static_path = [str(src / "_static"), str(CONF_DIR / "_static")]
    config.html_extra_path = [str(src / "_extra")]
    if config.course_repository:
        config.html_theme_options = {
            **config.html_theme_options,
            "repository_url": config.course_repository,
            "repository_branch": config.course_branch,
            "use_repository_button": True,
        }


def _launch_row(app, pagename, templatename, context, doctree) -> None:
    """Under a notebook page's title: downloads, Colab, Binder and the run time."""
    match = re.fullmatch(r"notebooks/((\d\d)_\w+)", pagename)
    if not match or "body" not in context:
        return
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    seconds = run_times(readme).get(match.group(2))
    row = launch_row(
        match.group(1), app.config.course_repository, app.config.course_branch, seconds
    )
    body = context["body"]
    end = body.find("</h1>")
    context["body"] = body[: end + 5] + row + body[end + 5 :] if end >= 0 else row + body


def setup(app):
    app.add_config_value("course_repository", "", "html", types=frozenset({str}))
    app.add_config_value("course_branch", "main", "html", types=frozenset({str}))
    app.set_html_assets_policy("always")
    app.connect("config-inited", _paths)
    app.connect("html-page-context", _launch_row)
    assert course_notebooks(ROOT), "no notebooks/NN_topic.ipynb next to site/"
