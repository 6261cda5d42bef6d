"""The review page in a real browser: Playwright drives the system's Chromium (headless), presses
the keys a person presses and clicks as they click, and the files move and come back.

Skips, saying why, where Playwright or Chromium is missing (.ci/run installs Chromium where it
can; Playwright's own browser download is never needed).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import catsort
from catsort.cli import app
from catsort.model import load_model
from catsort.review.server import ReviewServer

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)

#: Debian's Chromium (apt-get install chromium), or another named by CATSORT_CHROMIUM.
CHROMIUM = os.environ.get("CATSORT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FOCUS = '[aria-current="true"]'


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.isfile(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} does not start here: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def library(photos: Path, tiny_model: Path) -> Path:
    """photos/ sorted with --move: cat/kitty.jpg, dog/trip/rex.png; blur.png (uncertain) and
    tree.png (other) where they were."""
    result = CliRunner().invoke(
        app, ["classify", "--model", str(tiny_model), str(photos), "--move"]
    )
    assert result.exit_code == 0, result.output
    return photos


@pytest.fixture
def page(browser, library: Path, tiny_model: Path) -> Iterator[object]:
    """The review page of ``library``, served on 127.0.0.1, opened in a fresh browser tab."""
    with catsort.open_review(library, load_model(tiny_model, threads=1)) as review:
        server = ReviewServer(review)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        try:
            tab.goto(server.url)
            tab.wait_for_selector("body[data-ready=true]")
            yield tab
        finally:
            context.close()
            server.stop()
            thread.join(timeout=30)
        assert not errors, errors


def until(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """Wait for something the page does on the disk."""
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def focused(page) -> str:
    return page.locator(FOCUS).get_attribute("data-path")


def wait_focus(page, path: str) -> None:
    page.wait_for_selector(f'{FOCUS}[data-path="{path}"]')


def test_keys_decide_and_undo_puts_the_files_back(page, library, read_tree):
    before = read_tree(library)
    assert focused(page) == "blur.png"  # uncertain first
    page.keyboard.press("c")
    until(lambda: (library / "cat" / "blur.png").is_file(), "blur.png in cat/")
    wait_focus(page, "tree.png")  # on to the next
    page.wait_for_selector('[data-path="cat/blur.png"]')  # the tile follows its photo
    assert not (library / "blur.png").exists()

    page.keyboard.press("s")  # skip tree.png
    skipped_to = focused(page)
    assert skipped_to != "tree.png"
    page.keyboard.press("ArrowLeft")
    wait_focus(page, "tree.png")
    page.keyboard.press("d")  # the model said other; a person says dog
    until(lambda: (library / "dog" / "tree.png").is_file(), "tree.png in dog/")

    page.keyboard.press("u")
    page.keyboard.press("u")  # pressed before the first answer came: taken in turn
    page.wait_for_selector('[data-path="blur.png"]')
    page.wait_for_selector('[data-path="tree.png"]')
    assert "Undone" in page.locator("#status").text_content()
    assert read_tree(library) == before


def test_several_photos_are_selected_with_the_mouse_and_decided_at_once(page, library, read_tree):
    before = read_tree(library)
    page.locator('[data-path="blur.png"]').click()
    page.locator('[data-path="cat/kitty.jpg"]').click(modifiers=["Control"])
    page.locator('[data-path="tree.png"]').click(modifiers=["Control"])
    assert page.locator('[aria-selected="true"]').count() == 2
    page.get_by_role("button", name="Dog d").click()  # the mouse works too
    page.wait_for_selector('[data-path="dog/tree.png"]')
    page.wait_for_selector('[data-path="dog/kitty.jpg"]')
    assert (library / "dog" / "tree.png").is_file() and (library / "dog" / "kitty.jpg").is_file()
    assert (library / "blur.png").is_file()  # not selected: left alone
    assert page.locator('[aria-selected="true"]').count() == 0
    page.keyboard.press("u")
    page.wait_for_selector('[data-path="cat/kitty.jpg"]')
    page.wait_for_selector('[data-path="tree.png"]')
    assert read_tree(library) == before


def test_space_and_arrows_select_a_range_for_not_a_pet(page, library):
    assert focused(page) == "blur.png"
    page.keyboard.press("Space")
    page.keyboard.press("Shift+ArrowRight")  # tree.png joins the selection
    assert page.locator('[aria-selected="true"]').count() == 2
    page.keyboard.press("o")  # neither is in a label folder: nothing moves, both decided
    page.wait_for_selector('[data-path="tree.png"] .badge')
    assert "not a pet" in page.locator('[data-path="blur.png"] .badge').text_content()
    assert (library / "blur.png").is_file() and (library / "tree.png").is_file()


def test_the_photo_in_focus_is_shown_large_with_its_scores(page):
    facts = page.locator("#facts").text_content()
    assert "blur.png" in facts and "uncertain" in facts and "pet score" in facts
    large = page.locator("#large")
    until(lambda: large.evaluate("img => img.complete && img.naturalWidth > 0"), "the photo")
    thumbs = page.locator(".tile img")
    until(lambda: thumbs.first.evaluate("img => img.complete && img.naturalWidth > 0"), "thumbnail")


def test_a_disk_that_fills_up_is_said_on_the_page_and_nothing_moves(
    page, library, read_tree, monkeypatch
):
    from faults import Faults

    before = read_tree(library)
    # The disk fills up once the page is open: the next write (the journal's line) fails.
    Faults(monkeypatch).fail("write", 1)
    page.keyboard.press("c")
    status = page.locator("#status")
    until(lambda: "journal" in (status.text_content() or ""), "the page saying why")
    text = " ".join(status.text_content().split())
    assert "1 not decided: not moved: " in text, text
    assert "cannot write the journal (No space left on device)" in text, text
    assert status.evaluate("element => element.style.color") == "var(--bad)"
    assert page.locator('[data-path="blur.png"] .badge').count() == 0, "not shown as decided"
    assert read_tree(library) == before


def test_a_corrected_csv_that_cannot_be_written_is_a_warning_on_the_page(
    browser, photos, tiny_model, tmp_path, monkeypatch
):
    from faults import Faults

    results = tmp_path / "results.csv"
    classified = CliRunner().invoke(
        app, ["classify", "--model", str(tiny_model), str(photos), "--csv", str(results)]
    )
    assert classified.exit_code == 0, classified.output
    faults = Faults(monkeypatch).fail("rename", 1, where="results.reviewed")
    with catsort.open_review(results, load_model(tiny_model, threads=1)) as review:
        server = ReviewServer(review)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        context = browser.new_context()  # type: ignore[attr-defined]
        try:
            tab = context.new_page()
            tab.goto(server.url)
            tab.wait_for_selector("body[data-ready=true]")
            tab.keyboard.press("d")  # the uncertain blur.png: a dog
            status = tab.locator("#status")
            until(lambda: "corrected CSV" in (status.text_content() or ""), "the warning")
            text = " ".join(status.text_content().split())
            assert text.startswith("1 decided: dog"), text  # decided all the same
            assert "results.reviewed.csv: cannot write the corrected CSV (No space left" in text
            assert status.evaluate("element => element.style.color") == "var(--bad)"
            faults.clear()  # room again: the next decision writes both
            tab.keyboard.press("c")
            until(lambda: (tmp_path / "results.reviewed.csv").is_file(), "the corrected CSV")
        finally:
            context.close()
            server.stop()
            thread.join(timeout=30)
    rows = (tmp_path / "results.reviewed.csv").read_text()
    assert rows.count(",person") == 2
