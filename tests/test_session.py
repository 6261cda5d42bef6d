"""The sort session, called directly: what it opens and closes, one result at a time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import BLUE, GREEN, RED

from catsort.decision import Prediction
from catsort.errors import CatsortError, SettingsError
from catsort.model import load_model
from catsort.plan import make_plan
from catsort.session import SortSession
from catsort.sorting.journal import JOURNAL_DIR, undo
from catsort.sorting.lock import DestinationBusy, DestinationLock
from catsort.tagging.sidecar import TagSettings
from catsort.types import COPY, MOVE, PhotoResult, Reporter, RunSettings, SortPlan

LABELS = ("cat", "dog")


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return load_model(tiny_model, threads=1)


class Heard(Reporter):
    """Everything a session tells."""

    def __init__(self) -> None:
        self.results: list[PhotoResult] = []
        self.notes: list[str] = []

    def result(self, result: PhotoResult) -> None:
        self.results.append(result)

    def note(self, message: str) -> None:
        self.notes.append(message)


def decided(path: Path, label: str) -> PhotoResult:
    """A classified photo, as the pipeline gives it to the session."""
    return PhotoResult(path, Prediction(label, 0.9, {"cat": 0.9, "dog": 0.1}, 0.95))


def test_a_session_holds_the_lock_and_journal_while_open_and_lets_go_after(
    tmp_path, make_photo, classifier, read_tree
):
    photo = make_photo(tmp_path / "lib" / "2019" / "x.jpg", RED)
    (tmp_path / "lib" / "2019" / "x.xmp").write_bytes(b"<x/>")  # a companion
    before = read_tree(tmp_path / "lib")
    heard = Heard()
    plan = make_plan([tmp_path / "lib"], MOVE, labels=LABELS)
    with SortSession(classifier, plan, given=[tmp_path / "lib"], reporter=heard) as session:
        assert (tmp_path / "lib" / JOURNAL_DIR / "lock").is_file()
        with pytest.raises(DestinationBusy):  # a second run into the same folder waits
            DestinationLock.acquire(tmp_path / "lib" / JOURNAL_DIR)
        done = session.handle(decided(photo, "cat"))
    assert not (tmp_path / "lib" / JOURNAL_DIR / "lock").exists()
    assert done.destination == tmp_path / "lib" / "cat" / "2019" / "x.jpg"
    assert [c.destination.name for c in done.companions] == ["x.xmp"]
    assert heard.results == [done]
    summary = session.summary
    assert (summary.placed, summary.companions, summary.counts["cat"]) == (1, 1, 1)
    assert summary.journal is not None and summary.journal.is_file()
    assert summary.job_journals == [summary.journal]
    assert not undo(summary.journal).skipped
    assert read_tree(tmp_path / "lib") == before


def test_a_session_that_only_reads_takes_no_lock_and_writes_nothing(
    tmp_path, make_photo, classifier, read_tree
):
    photo = make_photo(tmp_path / "lib" / "x.jpg", RED)
    before = read_tree(tmp_path)
    for plan in (SortPlan(), make_plan([tmp_path / "lib"], MOVE, dry_run=True, labels=LABELS)):
        settings = RunSettings(cache=False)
        with SortSession(classifier, plan, settings, given=[tmp_path / "lib"]) as session:
            done = session.handle(decided(photo, "cat"))
        assert session.journal is None and session.summary.journal is None
        assert read_tree(tmp_path) == before
        assert not (tmp_path / "lib" / JOURNAL_DIR).exists()
    assert done.destination == tmp_path / "lib" / "cat" / "x.jpg"  # where a real run puts it


def test_a_failed_or_uncertain_result_is_counted_and_left_where_it_is(
    tmp_path, make_photo, classifier
):
    photo = make_photo(tmp_path / "lib" / "x.jpg", RED)
    plan = make_plan([tmp_path / "lib"], COPY, labels=LABELS)
    with SortSession(classifier, plan, given=[tmp_path / "lib"]) as session:
        broken = session.handle(PhotoResult(tmp_path / "lib" / "bad.jpg", error="truncated"))
        unsure = session.handle(decided(photo, "uncertain"))
    assert broken.destination is None and unsure.destination is None
    summary = session.summary
    assert (summary.errors, summary.reasons["truncated"], summary.counts["uncertain"]) == (1, 1, 1)
    assert summary.exit_code == 1 and summary.placed == 0
    assert summary.journal is None  # nothing was put anywhere: nothing to undo


def test_a_person_can_relabel_a_photo_through_the_same_door(tmp_path, make_photo, classifier):
    # What a review page does: the photo the model filed with the cats is a dog.
    photo = make_photo(tmp_path / "lib" / "cat" / "2019" / "x.jpg", BLUE)
    plan = make_plan([tmp_path / "lib"], MOVE, labels=LABELS)
    with SortSession(classifier, plan, given=[tmp_path / "lib"]) as session:
        done = session.handle(
            replace(decided(photo, "cat"), prediction=Prediction("dog", 1.0, {"dog": 1.0}, None))
        )
    assert done.destination == tmp_path / "lib" / "dog" / "2019" / "x.jpg"
    assert undo(session.summary.journal).restored == [photo]


def test_a_late_companion_follows_its_photo_journaled(tmp_path, make_photo, classifier):
    photo = make_photo(tmp_path / "inbox" / "IMG_1.HEIC", RED, format="PNG")
    heard = Heard()
    plan = SortPlan(MOVE, tmp_path / "inbox")
    with SortSession(
        classifier, plan, given=[tmp_path / "inbox"], reporter=heard, resumable=False
    ) as session:
        moved = session.handle(decided(photo, "cat")).destination
        video = tmp_path / "inbox" / "IMG_1.MOV"
        video.write_bytes(b"live photo")
        went = session.follow(video, photo, moved)
    assert went == tmp_path / "inbox" / "cat" / "IMG_1.MOV" and went.read_bytes() == b"live photo"
    assert heard.notes[-1] == f"IMG_1.MOV -> {went} (after IMG_1.HEIC)"
    assert session.summary.companions == 1 and session.job is None
    result = undo(session.summary.journal)
    assert sorted(p.name for p in result.restored) == ["IMG_1.HEIC", "IMG_1.MOV"]


def test_settings_are_checked_when_it_opens_and_nothing_is_left_open(tmp_path, classifier):
    (tmp_path / "lib").mkdir()
    plan = SortPlan(MOVE, tmp_path / "lib")
    settings = RunSettings(use_gate=False, gate_threshold=0.5)
    with pytest.raises(SettingsError, match="gate_threshold= and use_gate=False"):
        with SortSession(classifier, plan, settings, given=[tmp_path / "lib"]):
            pytest.fail("a session with settings that cannot work opened")
    assert not (tmp_path / "lib" / JOURNAL_DIR).exists()


def test_an_error_inside_the_session_still_closes_the_journal_and_the_lock(
    tmp_path, make_photo, classifier
):
    photo = make_photo(tmp_path / "lib" / "x.jpg", RED)
    plan = SortPlan(MOVE, tmp_path / "lib")
    with pytest.raises(KeyboardInterrupt):
        with SortSession(classifier, plan, given=[tmp_path / "lib"]) as session:
            session.handle(decided(photo, "cat"))
            raise KeyboardInterrupt
    assert not (tmp_path / "lib" / JOURNAL_DIR / "lock").exists()
    journal = session.summary.journal
    assert journal is not None and journal.read_text().rstrip().endswith('{"state": "closed"}')
    # The job was not finished (the walk stopped part way): the same run again resumes it.
    with SortSession(classifier, plan, given=[tmp_path / "lib"]) as again:
        assert [move.target for move in again.earlier_moves()] == [
            tmp_path / "lib" / "cat" / "x.jpg"
        ]


# --- a person's decision (what catsort review does through the session) -------------------------


def sorted_library(tmp_path: Path, make_photo, classifier) -> Path:
    """A library a --move run sorted: a cat photo with its sidecar in cat/2019/, an uncertain
    one left in 2019/; returns the library."""
    lib = tmp_path / "lib"
    make_photo(lib / "2019" / "x.jpg", RED)
    (lib / "2019" / "x.xmp").write_bytes(b"<x/>")
    make_photo(lib / "2019" / "unsure.jpg", BLUE)
    plan = make_plan([lib], MOVE, labels=LABELS)
    with SortSession(classifier, plan, given=[lib]) as session:
        session.handle(decided(lib / "2019" / "x.jpg", "cat"))
    return lib


def review_session(classifier, lib: Path, action: str = MOVE, **options) -> SortSession:
    """A session as catsort review opens one over a sorted library: no job to resume."""
    plan = make_plan([lib], action, labels=LABELS)
    return SortSession(classifier, plan, given=[lib], resumable=False, **options)


def test_a_decision_moves_the_photo_and_companions_to_the_label_folder_and_back(
    tmp_path, make_photo, classifier, read_tree
):
    lib = sorted_library(tmp_path, make_photo, classifier)
    sorted_tree = read_tree(lib)
    with review_session(classifier, lib) as session:
        decision = session.decide(decided(lib / "cat" / "2019" / "x.jpg", "cat"), "dog")
        assert session.cache is not None
        assert session.cache.decision(lib / "dog" / "2019" / "x.jpg") == "dog"
    assert decision.after.error is None and decision.after.decided_by == "person"
    assert decision.where == lib / "dog" / "2019" / "x.jpg"
    assert (lib / "dog" / "2019" / "x.xmp").read_bytes() == b"<x/>"  # with its companion
    assert not list((lib / "cat").rglob("x.*"))
    # catsort undo puts it back where the decision found it.
    assert not undo(session.summary.journal).skipped
    assert read_tree(lib) == sorted_tree


def test_not_a_pet_takes_a_photo_back_where_it_was_before_the_run(
    tmp_path, make_photo, classifier, read_tree
):
    lib = sorted_library(tmp_path, make_photo, classifier)
    with review_session(classifier, lib) as session:
        decision = session.decide(decided(lib / "cat" / "2019" / "x.jpg", "cat"), "other")
    assert decision.where == lib / "2019" / "x.jpg"
    assert (lib / "2019" / "x.xmp").is_file()
    assert not list((lib / "cat").rglob("x.*"))


def test_an_uncertain_photo_goes_where_a_run_puts_its_new_label(tmp_path, make_photo, classifier):
    lib = sorted_library(tmp_path, make_photo, classifier)
    with review_session(classifier, lib) as session:
        unsure = decided(lib / "2019" / "unsure.jpg", "uncertain")
        decision = session.decide(unsure, "dog")
        again = session.decide(replace(unsure, path=decision.where), "other")
    assert decision.where == lib / "dog" / "2019" / "unsure.jpg"
    assert again.where == lib / "2019" / "unsure.jpg"  # this session's move, followed back


def test_a_decision_is_taken_back_whole(tmp_path, make_photo, classifier, read_tree):
    lib = sorted_library(tmp_path, make_photo, classifier)
    sorted_tree = read_tree(lib)
    with review_session(classifier, lib) as session:
        photo = decided(lib / "cat" / "2019" / "x.jpg", "cat")
        decision = session.decide(photo, "dog")
        assert session.undo_decision(decision) == photo
        assert read_tree(lib) == sorted_tree
        assert session.cache is not None and session.cache.decision(photo.path) is None
        # Taken back again by catsort undo: nothing more to do, nothing left alone.
    result = undo(session.summary.journal)
    assert not result.skipped and read_tree(lib) == sorted_tree


def test_a_decision_that_cannot_be_taken_back_changes_nothing(tmp_path, make_photo, classifier):
    lib = sorted_library(tmp_path, make_photo, classifier)
    with review_session(classifier, lib) as session:
        decision = session.decide(decided(lib / "cat" / "2019" / "x.jpg", "cat"), "dog")
        make_photo(lib / "cat" / "2019" / "x.jpg", GREEN)  # its old place taken meanwhile
        with pytest.raises(CatsortError, match="is taken again"):
            session.undo_decision(decision)
    assert (lib / "dog" / "2019" / "x.jpg").is_file()


def test_in_a_copied_library_a_copy_moves_and_a_copy_not_a_pet_is_set_aside(
    tmp_path, make_photo, classifier
):
    photos, out = tmp_path / "photos", tmp_path / "sorted"
    original = make_photo(photos / "2019" / "x.jpg", RED)
    plan = make_plan([photos], COPY, dest=out, labels=LABELS)
    with SortSession(classifier, plan, given=[photos]) as session:
        copy = session.handle(decided(original, "cat")).destination
    assert copy == out / "cat" / "2019" / "x.jpg"
    review_plan = make_plan([photos], COPY, dest=out, labels=LABELS)
    with SortSession(classifier, review_plan, given=[out, photos], resumable=False) as session:
        as_dog = session.decide(decided(copy, "cat"), "dog")
        aside = session.decide(decided(as_dog.where, "dog"), "other")
        assert session.cache is not None
        assert session.cache.decision(original) == "other"  # the original is remembered
    assert as_dog.where == out / "dog" / "2019" / "x.jpg" and as_dog.original == original
    assert aside.where == out / JOURNAL_DIR / "set-aside" / "dog" / "2019" / "x.jpg"
    assert original.is_file() and not list(out.glob("*/2019/x.jpg"))
    assert not undo(session.summary.journal).skipped
    assert copy.is_file()


def test_a_decision_in_a_tagged_library_changes_the_keyword_and_undo_puts_it_back(
    tmp_path, make_photo, classifier
):
    lib = tmp_path / "lib"
    photo = make_photo(lib / "x.jpg", RED)
    tagging = TagSettings()
    with SortSession(classifier, SortPlan(), given=[lib], tagging=tagging) as session:
        tagged = session.handle(decided(photo, "cat"))
    assert tagged.sidecar == lib / "x.xmp"
    as_cat = tagged.sidecar.read_bytes()
    with SortSession(classifier, SortPlan(), given=[lib], tagging=tagging) as session:
        dog = session.decide(decided(photo, "cat"), "dog")
        assert "<rdf:li>dog</rdf:li>" in tagged.sidecar.read_text()
        assert "<rdf:li>cat</rdf:li>" not in tagged.sidecar.read_text()
        session.undo_decision(dog)
        assert tagged.sidecar.read_bytes() == as_cat
        no_pet = session.decide(decided(photo, "cat"), "other")
    assert no_pet.where == photo  # tags only: nothing moves
    text = tagged.sidecar.read_text()
    assert "Animals|Cat" not in text and "<rdf:li>cat</rdf:li>" not in text
    assert not undo(session.summary.journal).skipped
    assert tagged.sidecar.read_bytes() == as_cat


def test_in_a_copied_library_an_original_is_copied_and_undo_removes_the_copy(
    tmp_path, make_photo, classifier
):
    photos, out = tmp_path / "photos", tmp_path / "sorted"
    unsure = make_photo(photos / "2019" / "unsure.jpg", BLUE)
    plan = make_plan([photos], COPY, dest=out, labels=LABELS)
    with SortSession(classifier, plan, given=[out, photos], resumable=False) as session:
        decision = session.decide(decided(unsure, "uncertain"), "dog")
        assert decision.where == out / "dog" / "2019" / "unsure.jpg"  # copied, as the run does
        assert unsure.is_file() and decision.where.is_file()
        assert session.undo_decision(decision).path == unsure
    assert unsure.is_file() and not decision.where.exists()
    assert not undo(session.summary.journal).skipped  # the copy is gone already: nothing to do
