"""Measure lecture decks as a projector shows them: headless chromium at 1280x720.

    python scripts/measure_slides.py build/slides/*.slides.html        # a table per deck
    python scripts/measure_slides.py build/slides/05_mle_and_elbo.slides.html --slides

For every slide (every vertical subslide too, all fragments shown) it measures:

- ``overflow``: how many pixels of reveal's canvas the slide's content runs past its bottom
  (the canvas is the deck's configured size; 0 means it fits);
- ``wide``: how many pixels a code block, output or table runs past its own box or the slide's
  right edge (0 means nothing is cut off);
- ``words``: words of visible text (typeset maths, code and speaker notes not counted);
- ``font``: the smallest body-text size (p, li) as a percentage of the canvas height;
- ``code``: lines of code input shown; ``solution``: lines that belong to an exercise solution,
  a check or an assert;
- ``upscale``: the largest ratio of a figure's displayed width to its stored pixels (above 1
  the browser enlarges it and it blurs);
- ``notes``: whether a section slide (the first of its vertical stack) has speaker notes.

The deck totals (slides, overflowing ones, median and largest word counts, smallest font,
code and solution lines, section slides without notes) are what the tests bound. Only file:
requests are allowed; anything else is blocked and reported.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 720}

_MEASURE = r"""
([h, v]) => {
  Reveal.slide(h, v);
  const slide = Reveal.getCurrentSlide();
  const config = Reveal.getConfig();
  const height = config.height, width = config.width;
  const clone = slide.cloneNode(true);
  clone.querySelectorAll('aside.notes, mjx-container, pre, code, script, style, .jp-CodeCell .jp-InputArea')
       .forEach(e => e.remove());
  const words = (clone.textContent.match(/[\p{L}\p{N}][\p{L}\p{N}'’.-]*/gu) || []).length;
  let wide = 0;
  slide.querySelectorAll('pre, table, .jp-OutputArea-output, .jp-InputArea-editor, img, mjx-container')
       .forEach(e => { wide = Math.max(wide, e.scrollWidth - e.clientWidth); });
  const box = slide.getBoundingClientRect(), scale = Reveal.getScale();
  slide.querySelectorAll('*').forEach(e => {
    const r = e.getBoundingClientRect();
    if (r.width > 0) wide = Math.max(wide, (r.right - box.left) / scale - width);
  });
  let font = Infinity;
  slide.querySelectorAll('p, li').forEach(e => {
    if (e.closest('aside.notes') || !e.textContent.trim()) return;
    font = Math.min(font, parseFloat(getComputedStyle(e).fontSize));
  });
  const code = [...slide.querySelectorAll('.jp-CodeCell .jp-InputArea pre')]
    .map(e => e.textContent.split('\n').filter(l => l.trim()));
  const solution = code.flat().filter(l => /BEGIN SOLUTION|END SOLUTION|assert|check/.test(l));
  let upscale = 0;  // displayed size over stored pixels: above 1 the figure is blurred
  slide.querySelectorAll('img').forEach(i => {
    if (i.naturalWidth) upscale = Math.max(upscale, i.getBoundingClientRect().width / scale / i.naturalWidth);
  });
  const notes = slide.querySelector('aside.notes');
  const heading = slide.querySelector('h1, h2, h3, h4');
  return {
    h, v, title: heading ? heading.textContent.replace('¶', '').trim().slice(0, 60) : '',
    overflow: Math.max(0, Math.round(slide.scrollHeight - height)),
    wide: Math.max(0, Math.round(wide)), words,
    font: font === Infinity ? null : 100 * font / height,
    code: code.flat().length, solution: solution.length, upscale,
    notes: notes ? notes.textContent.trim().length > 0 : false,
  };
}
"""


def open_deck(page, url: str) -> None:
    """Load a deck and wait until reveal is ready, the maths is typeset and the fonts loaded."""
    page.goto(url)
    page.wait_for_function(
        "() => window.Reveal && Reveal.isReady() && window.MathJax"
        " && MathJax.startup && MathJax.startup.promise",
        timeout=60_000,
    )
    page.evaluate("() => MathJax.startup.promise.then(() => document.fonts.ready)")


def measure_deck(page, deck: Path) -> list[dict]:
    """One dict per slide of ``deck`` (see the module docstring), in reveal's order."""
    open_deck(page, deck.resolve().as_uri())
    page.evaluate("() => Reveal.configure({fragments: false, transition: 'none'})")
    stacks = page.evaluate(
        "() => [...document.querySelectorAll('.reveal .slides > section')]"
        ".map(s => Math.max(1, s.querySelectorAll(':scope > section').length))"
    )
    return [page.evaluate(_MEASURE, [h, v]) for h, n in enumerate(stacks) for v in range(n)]


def summary(slides: list[dict]) -> dict:
    """The deck totals the tests bound."""
    words = [s["words"] for s in slides]
    fonts = [s["font"] for s in slides if s["font"] is not None]
    return {
        "slides": len(slides),
        "overflowing": sum(s["overflow"] > 0 or s["wide"] > 0 for s in slides),
        "max_overflow": max((s["overflow"] for s in slides), default=0),
        "max_wide": max((s["wide"] for s in slides), default=0),
        "median_words": statistics.median(words) if words else 0,
        "max_words": max(words, default=0),
        "min_font_pct": min(fonts, default=None),
        "max_upscale": max((s["upscale"] for s in slides), default=0.0),
        "code_slides": sum(s["code"] > 0 for s in slides),
        "code_lines": sum(s["code"] for s in slides),
        "solution_lines": sum(s["solution"] for s in slides),
        "sections": sum(s["v"] == 0 for s in slides),
        "sections_without_notes": sum(s["v"] == 0 and not s["notes"] for s in slides),
    }


def open_browser(playwright):
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("chromium not found on PATH (Debian: apt-get install chromium)")
    return playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)


def new_offline_page(browser, blocked: list[str]):
    """A 1280x720 page that lets only file: and data: requests through (others go to
    ``blocked``)."""
    page = browser.new_page(viewport=VIEWPORT)

    def only_files(route):
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    return page


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("decks", nargs="+", type=Path)
    parser.add_argument("--slides", action="store_true", help="also print every slide's row")
    args = parser.parse_args()
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = open_browser(p)
        try:
            page = new_offline_page(browser, blocked)
            header = (
                f"{'deck':34s} {'slides':>6s} {'overfl':>6s} {'max px':>6s} {'med w':>6s} "
                f"{'max w':>6s} {'font %':>6s} {'upscl':>5s} {'code':>5s} {'sol':>4s} {'no notes':>8s}"
            )
            rows = []
            for deck in args.decks:
                slides = measure_deck(page, deck)
                if args.slides:
                    print(f"\n{deck.name}")
                    for s in slides:
                        font = f"{s['font']:.1f}" if s["font"] is not None else "-"
                        print(
                            f"  {s['h']:2d}.{s['v']:<2d} over {s['overflow']:4d} wide {s['wide']:4d}"
                            f" words {s['words']:4d} font {font:>4s} code {s['code']:3d}"
                            f" notes {'yes' if s['notes'] else '-':3s} {s['title']}"
                        )
                t = summary(slides)
                font = f"{t['min_font_pct']:.1f}" if t["min_font_pct"] is not None else "-"
                rows.append(
                    f"{deck.name:34s} {t['slides']:6d} {t['overflowing']:6d} "
                    f"{max(t['max_overflow'], t['max_wide']):6d} {t['median_words']:6.0f} "
                    f"{t['max_words']:6d} {font:>6s} {t['max_upscale']:5.2f} {t['code_slides']:5d} "
                    f"{t['solution_lines']:4d} {t['sections_without_notes']:8d}"
                )
            print(header)
            print("\n".join(rows))
            print("(overfl: slides over 720 px tall or cut at the right; code: slides with code)")
        finally:
            browser.close()
    if blocked:
        print(f"blocked requests: {sorted(set(blocked))}")
        sys.exit(1)


if __name__ == "__main__":
    main()
