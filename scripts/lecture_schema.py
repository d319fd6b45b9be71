"""The lecture build's cell decisions: what of each notebook cell goes on the projector slides.

Every cell of every notebook carries ``metadata.lecture``::

    {"show": "all" | "output" | "figure" | "none",
     "text": "markdown shown on the slide instead of the cell's text (markdown cells only)",
     "notes": {"say": "...", "ask": "...", "remember": "...", "minutes": 4}}

- markdown cells: ``show`` is "all" (the cell's text, or ``text``) or "none";
- code cells: "all" (input and outputs: only where the code is the lesson, short, never a
  solution, check, setup or assert), "output" (outputs only), "figure" (image outputs only),
  "none";
- ``notes``: speaker notes of the section slide the cell falls in (every section slide of a
  lecture deck needs them), with the minutes to spend on that section.

The notebook's own ``metadata.lecture`` = {"title", "covers"} names the lecture on the index page.
Slide structure stays ``metadata.slideshow.slide_type``; a hidden cell that opens a slide passes
the opening to the next shown cell. :func:`lecture_notebook` turns a notebook into the notebook
the slides are exported from; :func:`problems` lists every violated rule of a notebook (the build
refuses such a notebook and the tests run it on every notebook).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import nbformat

SHOW = {"markdown": ("all", "none"), "code": ("all", "output", "figure", "none")}
NOTE_PARTS = ("say", "ask", "remember", "minutes")
NOTE_LABELS = {"say": "Say", "ask": "Ask the room", "remember": "Remember", "minutes": "Minutes"}
MAX_CODE_LINES = 12
MAX_CODE_WIDTH = 80
# What never goes on a slide as code: solutions, checks, setup, asserts.
FORBIDDEN_CODE = (
    (re.compile(r"BEGIN SOLUTION|END SOLUTION"), "an exercise solution"),
    (re.compile(r"^\s*assert\b|assert_close|testing\.", re.M), "an assert"),
    (re.compile(r"\bchecks?\b\.|lecture_utils\.checks|\bcheck_\w+\("), "a check"),
    (re.compile(r"^\s*(import|from)\s+\S+", re.M), "setup (imports)"),
    (re.compile(r"seed_everything|manual_seed|use_course_style"), "setup (seeds, style)"),
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
RANK = {"-": 0, "fragment": 1, "subslide": 2, "slide": 3}


class LectureError(ValueError):
    """A notebook's lecture metadata breaks a rule; the message lists each problem."""


def _decision(cell) -> dict:
    return cell.get("metadata", {}).get("lecture", {})


def _slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def cell_problems(cell, index: int) -> list[str]:
    """The rules one cell breaks (empty when it is fine)."""
    where = f"cell {index} ({cell.cell_type}, {cell.source.strip()[:40]!r})"
    lecture = cell.get("metadata", {}).get("lecture")
    if cell.cell_type not in SHOW:
        return []
    if not isinstance(lecture, dict) or "show" not in lecture:
        return [
            f"{where}: no slide decision; add metadata.lecture.show, one of {SHOW[cell.cell_type]}"
        ]
    found = []
    show = lecture["show"]
    if show not in SHOW[cell.cell_type]:
        found.append(
            f"{where}: show={show!r}; a {cell.cell_type} cell takes {SHOW[cell.cell_type]}"
        )
    unknown = set(lecture) - {"show", "text", "notes"}
    if unknown:
        found.append(f"{where}: unknown lecture keys {sorted(unknown)}")
    if "BEGIN SOLUTION" in cell.source and _slide_type(cell) != "skip":
        found.append(f"{where}: an exercise solution must have slide type 'skip'")
    if _slide_type(cell) in ("skip", "notes") and show != "none":
        found.append(f"{where}: slide type {_slide_type(cell)!r} but show={show!r}; use 'none'")
    if "text" in lecture and (cell.cell_type != "markdown" or not str(lecture["text"]).strip()):
        found.append(f"{where}: 'text' is for markdown cells and must not be empty")
    if "notes" in lecture:
        notes = lecture["notes"]
        if not isinstance(notes, dict) or set(notes) != set(NOTE_PARTS):
            found.append(f"{where}: notes need exactly {NOTE_PARTS}")
        else:
            empty = [k for k in NOTE_PARTS[:3] if not str(notes[k]).strip()]
            if empty:
                found.append(f"{where}: empty notes {empty}")
            minutes = notes["minutes"]
            if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0:
                found.append(f"{where}: notes.minutes must be a number > 0, got {minutes!r}")
    if cell.cell_type == "code" and show == "all":
        for pattern, what in FORBIDDEN_CODE:
            if pattern.search(cell.source):
                found.append(
                    f"{where}: shows {what} as code; use show 'output', 'figure' or 'none'"
                )
        lines = cell.source.splitlines()
        if len(lines) > MAX_CODE_LINES:
            found.append(f"{where}: {len(lines)} code lines on a slide (at most {MAX_CODE_LINES})")
        wide = max((len(line) for line in lines), default=0)
        if wide > MAX_CODE_WIDTH:
            found.append(f"{where}: a code line of {wide} characters (at most {MAX_CODE_WIDTH})")
    return found


def problems(nb, draft: bool = False) -> list[str]:
    """Every rule of the lecture schema that the notebook ``nb`` breaks (``draft``: only the
    cells' own rules, not the speaker notes and the notebook's title, while they are written)."""
    found = [p for i, cell in enumerate(nb.cells) for p in cell_problems(cell, i)]
    if draft:
        return found
    meta = nb.metadata.get("lecture")
    if not isinstance(meta, dict) or not all(
        str(meta.get(k, "")).strip() for k in ("title", "covers")
    ):
        found.append("notebook metadata.lecture needs a 'title' and a 'covers' sentence")
    if not found:
        for number, section in enumerate(sections(nb), 1):
            if not section.notes:
                found.append(
                    f"section slide {number} (starting {section.first[:60]!r}) has no speaker "
                    "notes; add metadata.lecture.notes to one of its cells"
                )
    return found


@dataclass
class Section:
    """One top-level slide of the lecture deck: the cells shown on it and its notes."""

    first: str
    cells: list = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)

    @property
    def minutes(self) -> float:
        return sum(n["minutes"] for n in self.notes)


def _shown(cell) -> bool:
    return _decision(cell).get("show", "all") != "none" and cell.cell_type in SHOW


def sections(nb) -> list[Section]:
    """The lecture deck's sections, each with its shown cells (slide types resolved) and notes."""
    result: list[Section] = []
    pending = "-"  # the strongest opening carried by hidden cells since the last shown cell
    waiting_notes: list[dict] = []
    for cell in nb.cells:
        kind = _slide_type(cell)
        notes = _decision(cell).get("notes")
        if not _shown(cell):
            if kind in RANK and RANK[kind] > RANK[pending]:
                pending = kind
            if notes:
                # notes on a hidden cell that opens a section belong to that coming section
                if kind == "slide" or not result:
                    waiting_notes.append(notes)
                else:
                    result[-1].notes.append(notes)
            continue
        kind = kind if kind in RANK else "-"
        if RANK[pending] > RANK[kind]:
            kind = pending
        pending = "-"
        if kind == "slide" or not result:
            text = str(_decision(cell).get("text", cell.source)).strip()
            title = text.splitlines()[0] if text else ""
            result.append(Section(first=title))
            kind = "slide"
            result[-1].notes.extend(waiting_notes)
            waiting_notes = []
        result[-1].cells.append((cell, kind))
        if notes:
            result[-1].notes.append(notes)
    if waiting_notes and result:
        result[-1].notes.extend(waiting_notes)
    return result


def notes_markdown(notes: Iterable[dict]) -> str:
    """The speaker-notes text of a section (reveal's speaker view shows it)."""
    notes = list(notes)
    parts = []
    for part in NOTE_PARTS[:3]:
        texts = [str(n[part]).strip() for n in notes]
        parts.append(f"**{NOTE_LABELS[part]}:** " + " ".join(texts))
    minutes = sum(n["minutes"] for n in notes)
    parts.append(f"**{NOTE_LABELS['minutes']}:** {minutes:g}")
    return "\n\n".join(parts)


def _filter_outputs(outputs: list, show: str) -> list:
    if show == "figure":
        kept = []
        for out in outputs:
            data = out.get("data", {})
            images = {k: v for k, v in data.items() if k in IMAGE_TYPES}
            if out.get("output_type") in ("display_data", "execute_result") and images:
                out = copy.deepcopy(out)
                out["data"] = images
                kept.append(out)
        return kept
    # no stderr; no empty displays (a training progress line leaves one behind)
    return [
        o
        for o in outputs
        if o.get("name") != "stderr"
        and not (o.get("output_type") == "display_data" and not o.get("data"))
    ]


def lecture_notebook(nb, handout: bool = False, draft: bool = False):
    """A copy of ``nb`` with only what the lecture slides show, slide types resolved and
    speaker notes as reveal ``notes`` cells; ``handout`` also drops every code input."""
    problems_found = problems(nb, draft)
    if problems_found:
        raise LectureError("lecture metadata:\n  " + "\n  ".join(problems_found))
    out = copy.deepcopy(nb)
    cells = []
    for section in sections(nb):
        for position, (cell, kind) in enumerate(section.cells):
            cell = copy.deepcopy(cell)
            show = _decision(cell).get("show")
            cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
            if cell.cell_type == "markdown" and "text" in _decision(cell):
                cell.source = _decision(cell)["text"]
            if cell.cell_type == "code":
                cell.outputs = _filter_outputs(cell.outputs, show)
                if show in ("output", "figure") or handout:
                    cell.metadata.setdefault("transient", {})["remove_source"] = True
            cells.append(cell)
            if position == 0 and section.notes:
                cells.append(
                    nbformat.v4.new_markdown_cell(
                        notes_markdown(section.notes),
                        metadata={"slideshow": {"slide_type": "notes"}},
                    )
                )
    out.cells = cells
    return out


def lecture_info(nb) -> dict:
    """Title, one-line summary, minutes and section count of a notebook's lecture."""
    meta = nb.metadata.get("lecture", {})
    found = sections(nb)
    return {
        "title": meta.get("title", ""),
        "covers": meta.get("covers", ""),
        "minutes": sum(s.minutes for s in found),
        "sections": [(s.first.lstrip("# ").strip(), s.minutes) for s in found],
    }
