"""The staff's HTML report and the students' pages (issue 16): one self-contained page, complete
after every submission and appended at a flat cost; whatever a submission prints, raises or is
named is text, never markup; a student's page holds only what that student may see. The browser
tests (headless Chromium through Selenium; skipped, saying why, where either is missing) load the
pages from disk: sorting, filtering, searching, no console error, 1,000 students drawn in < 2 s."""
import dataclasses
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.cli import main
from harness.drive.assignment import load
from harness.drive.problems import Verdict
from harness.grade.batch import grade_many
from harness.grade.html import JS, RUN_JS, HtmlReport, StudentPages
from harness.grade.outputs import BatchOutputs
from harness.grade.report import render

from . import browser, misbehaving

INJECTIONS = ("</script><script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</pre>", "<!--")
HOSTILE = (f"import subprocess  # noqa: F401  (a staff flag)\nprint({INJECTIONS[0]!r})\nprint({INJECTIONS[1]!r})\n"
           f"import sys\nprint({INJECTIONS[2] + INJECTIONS[3]!r}, file=sys.stderr)\n" + misbehaving.XOR)
SOURCES = {
    "good": misbehaving.XOR,
    "sign_flipped": misbehaving.XOR.replace("        error = y - y_hat\n", "        error = y_hat - y\n"),
    "crashes": f"raise ValueError({INJECTIONS[2] + INJECTIONS[0]!r})\n" + misbehaving.XOR,
    "loops": misbehaving.source("endless_loop"),
    "hidden_bug": misbehaving.XOR.replace("        error = y - y_hat\n", "        error = y - y_hat\n"
                                          "        if X.shape[1] == 4:\n            error = error * 2\n"),
}
VOID = {"meta", "input", "br", "img", "hr", "link", "wbr", "col", "area", "base", "source", "track", "embed"}


def _hostile_name(folder: Path) -> str:
    """A file name with markup in it, where the file system takes one."""
    for name in ("<b>hostile<img src=x onerror=alert(1)>", "<b>hostile", "hostile"):
        try:
            (folder / f"{name}.py").write_text(HOSTILE)
            return name
        except OSError:
            continue
    raise AssertionError("cannot write the hostile submission")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The mixed batch, graded for real (the endless loop stops at a 3 s timeout)."""
    folder = tmp_path_factory.mktemp("class")
    for name, source in SOURCES.items():
        (folder / f"{name}.py").write_text(source)
    hostile = _hostile_name(folder)
    assert SOURCES["sign_flipped"] != misbehaving.XOR and SOURCES["hidden_bug"] != misbehaving.XOR
    subs = sorted(str(p) for p in folder.glob("*.py"))
    graded = list(grade_many(subs, load("xor"), jobs=2, timeout_s=3))
    by = {Path(g.submission).stem: g for g in graded}
    assert by["good"].passed and by["sign_flipped"].status is Verdict.FAILED
    assert by["crashes"].status is Verdict.IMPORT or by["crashes"].status is Verdict.EXCEPTION
    assert by["loops"].status is Verdict.TIMEOUT and by[hostile].passed and by[hostile].staff_flags
    assert by["hidden_bug"].status is Verdict.FAILED
    return subs, graded, by, hostile


class Page(HTMLParser):
    """The elements a browser would build, as far as these assertions need: every start tag closed
    in order, the scripts (type, text), the <pre> texts, and any event-handler attribute."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.scripts, self.pres = [], [], Counter(), [], []
        self.ids = Counter()
        self._text: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        attrs = dict(attrs)
        self.ids[attrs.get("id")] += 1
        self.errors += [f"<{tag} {k}=...>" for k in attrs if k.startswith("on")]
        self.errors += [f"<{tag} {k}={v!r}>" for k, v in attrs.items()
                        if k in ("src", "href") and not str(v).startswith("#")]
        if tag not in VOID:
            self.stack.append((tag, attrs))
        if tag in ("script", "pre"):
            self._text = []

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> while open: {[t for t, _ in self.stack[-3:]]}")
            return
        _, attrs = self.stack.pop()
        if tag == "script":
            self.scripts.append((attrs.get("type", ""), "".join(self._text)))
        elif tag == "pre":
            self.pres.append("".join(self._text))
        if tag in ("script", "pre"):
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def check_page(text: str, graded: list) -> Page:
    """A complete page with exactly the app's two scripts, the students' data and their reports."""
    page = Page(text)
    assert not page.errors and not page.stack, (page.errors, page.stack[-3:])
    assert page.tags["html"] == page.tags["body"] == page.tags["main"] == 1 and page.tags["img"] == 0
    assert not re.search(r"https?:|src=\"//|url\(", text)
    code = [s for t, s in page.scripts if t != "application/json"]
    assert code == [JS, RUN_JS]
    rows = [json.loads(s) for t, s in page.scripts if t == "application/json"][1:]       # [0]: the page's meta
    assert [r["s"] for r in rows] == [student(g) for g in graded]
    assert [r["v"] for r in rows] == [g.status.word for g in graded]
    assert sorted(page.pres) == sorted(render(g) for g in graded)           # escaped, and read back exactly
    assert all(n == 1 for i, n in page.ids.items() if i is not None)          # ids unique
    return page


def student(g) -> str:
    return Path(g.submission).stem


def _file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def test_the_report_is_a_complete_safe_page_after_every_submission(tmp_path, batch):
    subs, graded, by, hostile = batch
    path = tmp_path / "report.html"
    out = BatchOutputs(load("xor"), subs, report=str(path))
    check_page(path.read_text(), [])
    assert "In progress:</strong> 0 of 6 graded" in path.read_text()
    for i, g in enumerate(graded):
        out.add(g)
        text = path.read_text()
        check_page(text, graded[:i + 1])
        assert f"In progress:</strong> {i + 1} of 6 graded" in text
    out.close(True)
    text = path.read_text()
    check_page(text, graded)
    assert "Complete:</strong> 6 of 6 graded" in text and "In progress" not in text
    for s in (INJECTIONS[0], INJECTIONS[1], INJECTIONS[3]):      # text only: in <pre> escaped, in JSON \u escaped
        assert s not in text
    assert text.count("</pre>") == text.count("<pre>") == len(graded)
    assert html_escape(INJECTIONS[0]) in text and html_escape(INJECTIONS[1]) in text
    assert html_escape(hostile) in text and "\\u003cb\\u003ehostile" in text
    assert "imports subprocess" in text               # staff flags are for the staff's page
    rows = [json.loads(s) for t, s in Page(text).scripts if t == "application/json"][1:]
    assert Counter(r["v"] for r in rows) == Counter(g.status.word for g in graded)
    flipped = next(r for r in rows if r["s"] == "sign_flipped")
    assert flipped["c"] == list(dict.fromkeys(f.cause for f in by["sign_flipped"].diagnosis.findings)) != []


def html_escape(s: str) -> str:
    import html
    return html.escape(s, quote=True)


def test_an_interrupted_batch_says_so_and_drops_a_chunk_cut_short(tmp_path, batch):
    subs, graded, _, _ = batch
    path = tmp_path / "report.html"
    report = HtmlReport(path, load("xor"), subs)
    report.add(graded[0])
    report.add(graded[1])
    report.fh.write(b'<script type="application/json" class="row">{"cut')      # Ctrl-C mid-write
    report.close(False)
    text = path.read_text()
    check_page(text, graded[:2])
    assert "Interrupted:</strong> 2 of 6 graded" in text and "incomplete" in text
    report.close(False)                               # twice: harmless


def test_each_submission_adds_the_same_bytes_and_nothing_is_rewritten(tmp_path, batch):
    _, graded, by, _ = batch
    names = [f"class/student_{i:04d}.py" for i in range(1000)]
    path = tmp_path / "big.html"
    report = HtmlReport(path, load("xor"), names)
    base, written, snapshot = by["sign_flipped"], [], None
    for i, name in enumerate(names):
        before, end = path.stat().st_size, report.end
        report.add(dataclasses.replace(base, submission=name))
        trailer = path.stat().st_size - report.end
        written.append(report.end - end + trailer)        # this add's chunk, and the trailer after it
        assert abs(path.stat().st_size - before - (report.end - end)) <= 1     # the trailer: a digit more at most
        if i % 100 == 0:                                  # what came before the trailer is never rewritten
            data = path.read_bytes()
            if snapshot is not None:
                assert data[:len(snapshot)] == snapshot
            snapshot = data[:report.end]
    report.close(True)
    assert max(written) <= min(written) + 16, (min(written), max(written))
    assert abs(written[999] - written[9]) <= 16
    check_page(path.read_text(), [dataclasses.replace(base, submission=n) for n in names])


# --- the students' pages --------------------------------------------------------------------
def test_student_pages_show_only_what_the_student_may_see(tmp_path, batch):
    subs, graded, by, hostile = batch
    folder = tmp_path / "pages"
    assignment = dataclasses.replace(load("xor"), show_output=True)      # the code's own output shown: escaped
    grader_error = dataclasses.replace(by["good"], submission=str(Path(subs[0]).parent / "ghost.py"),
                                       status=Verdict.GRADER, problem="the grader failed",
                                       staff_detail="Traceback: SECRET_STAFF_DETAIL")
    pages = StudentPages(folder, assignment, subs + [grader_error.submission])
    for g in [*graded, grader_error]:
        pages.add(g)
    pages.close(True)
    files = {p.stem: p.read_text() for p in folder.glob("*.html")}
    assert len(files) == 7 and not list(folder.glob(".*"))
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in files)
    hostile_page = next(t for n, t in files.items() if "hostile" in n)
    assert html_escape(INJECTIONS[0]) in hostile_page and html_escape(INJECTIONS[1]) in hostile_page
    folder_path = str(Path(subs[0]).parent)
    for name, text in files.items():
        page = Page(text)
        assert not page.errors and not page.stack and page.tags["script"] == 0 and page.tags["img"] == 0
        assert not re.search(r"https?:|//", text.replace("</", ""))      # no URL (src, href: Page)
        assert "other seed and batch" not in text            # the hidden case, never named
        assert "Tripwire" not in text and "subprocess" not in text and "SECRET_STAFF_DETAIL" not in text
        assert folder_path not in text and "/tmp" not in text
        others = [html_escape(student(g)) for g in graded if _file(student(g)) != name]
        assert not [o for o in others if o in text], name
        assert "The total is released later" in text and "Score:" not in text    # xor has a hidden case
    hidden = files["hidden_bug"]
    assert "not visible yet failed" in hidden and "Diagnosis" not in hidden and "Mismatched" not in hidden
    assert "Visible tests: 30 / 30" in hidden and "40" not in hidden.split("<h2>Tests")[0]
    assert "crashes.py:1" in files["crashes"] and html_escape(INJECTIONS[2]) in files["crashes"]


def test_the_total_shows_when_every_test_is_visible(tmp_path, batch):
    subs, _, by, _ = batch
    xor = load("xor")
    assignment = dataclasses.replace(xor, cases=tuple(dataclasses.replace(c, visibility="visible") for c in xor.cases))
    g = dataclasses.replace(by["good"], checks=tuple(dataclasses.replace(c, visibility="visible")
                                                     for c in by["good"].checks))
    pages = StudentPages(tmp_path, assignment, subs)
    pages.add(g)
    pages.add(g)                                          # the same name twice: a second page, not overwritten
    text = (tmp_path / "good.html").read_text()
    assert "Score: 40 / 40" in text and "released later" not in text and "other seed and batch" in text
    assert (tmp_path / "good-2.html").exists()


def test_the_cli_writes_both(tmp_path, capsys):
    (tmp_path / "class").mkdir()
    for name in ("good", "crashes"):
        (tmp_path / "class" / f"{name}.py").write_text(SOURCES[name])
    report, pages = tmp_path / "report.html", tmp_path / "pages"
    code = main(["grade", str(tmp_path / "class"), "-a", "xor", "--report", str(report), "--student-pages", str(pages)])
    assert code == 1 and f"results written to {report}" in capsys.readouterr().out
    text = report.read_text()
    assert "Complete:</strong> 2 of 2 graded" in text and text.count('class="row"') == 2
    assert sorted(p.name for p in pages.iterdir()) == ["crashes.html", "good.html"]
    assert "(at crashes.py:1)" in (pages / "crashes.html").read_text()


# --- in a browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def driver():
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    d = browser.chrome()
    yield d
    d.quit()


@pytest.fixture(scope="module")
def mixed_report(tmp_path_factory, batch):
    subs, graded, _, _ = batch
    path = tmp_path_factory.mktemp("report") / "report.html"
    out = BatchOutputs(load("xor"), subs, report=str(path))
    for g in graded:
        out.add(g)
    out.close(True)
    return path


def _table(driver) -> list[list[str]]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#students-body tr'), tr => Array.from(tr.cells, c => c.textContent))")


def test_the_report_works_in_a_browser(driver, mixed_report, batch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    _, graded, by, hostile = batch
    browser.load(driver, mixed_report)
    assert browser.problems(driver) == []
    assert driver.execute_script("return document.querySelectorAll('img, script:not([type])').length") == 2
    assert "Complete: 6 of 6 graded" in driver.find_element(By.CSS_SELECTOR, "header #state").text
    counts = driver.find_element(By.ID, "counts").text
    assert all(f"{n} {v}" in counts for v, n in Counter(g.status.word for g in graded).items())
    assert [r[0] for r in _table(driver)] == sorted(student(g) for g in graded)
    header = driver.find_element(By.CSS_SELECTOR, "th[data-key=score]")
    header.find_element(By.TAG_NAME, "button").click()
    rows = _table(driver)
    assert [float(r[2]) for r in rows] == sorted((g.score for g in graded), reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    header.find_element(By.TAG_NAME, "button").send_keys(Keys.ENTER)        # by keyboard: the other way
    assert [float(r[2]) for r in _table(driver)] == sorted(g.score for g in graded)
    assert header.get_attribute("aria-sort") == "ascending"
    assert driver.find_element(By.CSS_SELECTOR, "th[data-key=student]").get_attribute("aria-sort") == "none"
    Select(driver.find_element(By.ID, "f-verdict")).select_by_value("FAILED")
    assert sorted(r[0] for r in _table(driver)) == sorted(student(g) for g in graded if g.status is Verdict.FAILED)
    Select(driver.find_element(By.ID, "f-verdict")).select_by_value("")
    search = driver.find_element(By.ID, "f-text")
    search.send_keys("HOSTILE")
    assert [r[0] for r in _table(driver)] == [hostile]
    search.clear()
    search.send_keys(" ")
    assert len(_table(driver)) == len(graded)
    causes = driver.find_element(By.ID, "causes")
    cause = causes.find_element(By.LINK_TEXT, "sign_flipped")
    cause.click()
    section = driver.find_element(By.CSS_SELECTOR, driver.execute_script("return location.hash"))
    assert section.find_element(By.TAG_NAME, "details").get_attribute("open") is not None
    assert section.find_element(By.TAG_NAME, "pre").text.startswith(by["sign_flipped"].submission)
    assert "sign" in causes.text.lower()
    assert browser.problems(driver) == []
    driver.execute_script("location.hash = ''; window.scrollTo(0, 0)")
    browser.screenshot(driver, "/tmp/report_screenshot.png")


def test_an_interrupted_report_says_so_at_the_top_in_a_browser(driver, tmp_path, batch):
    from selenium.webdriver.common.by import By

    subs, graded, _, _ = batch
    report = HtmlReport(tmp_path / "cut.html", load("xor"), subs)
    report.add(graded[0])
    report.close(False)
    browser.load(driver, tmp_path / "cut.html")
    assert browser.problems(driver) == []
    state = driver.find_element(By.CSS_SELECTOR, "header #state")
    assert state.text.startswith("Interrupted: 1 of 6 graded") and state.get_attribute("role") == "status"


def test_a_thousand_students_draw_in_under_two_seconds(driver, tmp_path, batch):
    _, graded, _, _ = batch
    names = [f"class/student_{i:04d}.py" for i in range(1000)]
    report = HtmlReport(tmp_path / "big.html", load("xor"), names)
    for i, name in enumerate(names):
        report.add(dataclasses.replace(graded[i % len(graded)], submission=name))
    report.close(True)
    browser.load(driver, tmp_path / "big.html")
    drawn = driver.execute_script("return window.reportRenderMs")
    loaded = driver.execute_script("const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd")
    size = (tmp_path / "big.html").stat().st_size
    print(f"\n1,000 students ({size / 1e6:.1f} MB): drawn in {drawn:.0f} ms by the page's render function; "
          f"page loaded in {loaded:.0f} ms")
    assert browser.problems(driver) == []
    assert len(_table(driver)) == 1000
    assert drawn < 2000


def test_the_browser_checks_would_see_an_injection_and_the_students_pages_load_cleanly(driver, mixed_report, tmp_path,
                                                                                       batch):
    """The control: markup that escaped escaping is refused by the page's policy, and that shows."""
    text = mixed_report.read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(text.replace("<pre>", "<pre><img src=x onerror=alert(1)><script>alert(2)</script>", 1))
    browser.load(driver, broken)
    found = browser.problems(driver)
    assert any("Content Security Policy" in p for p in found) and not any(p.startswith("alert") for p in found)
    subs, graded, _, _ = batch
    pages = StudentPages(tmp_path / "pages", dataclasses.replace(load("xor"), show_output=True), subs)
    for g in graded:
        pages.add(g)
    for page in (tmp_path / "pages").glob("*.html"):
        browser.load(driver, page, drawn=False)
        assert browser.problems(driver) == [], page.name
        assert driver.execute_script("return document.querySelectorAll('img, script').length") == 0
