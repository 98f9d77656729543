"""The batch's HTML pages (issue 16): one static report for course staff (--report) and one small
page per student (--student-pages).

The staff report is one self-contained file (inline CSS and JS, no URL of any kind) written the
way harness.grade.outputs.AppendOnlyJson writes JSON, at a flat cost per submission: the head (CSS,
the app's JS, the page's skeleton), then one appended chunk per student (its data as JSON for the
summary, charts and table, and its section with the terminal report), then a short trailer (the
state of the batch and the call that draws the page from the chunks), written again after each
chunk. After every add the file is a complete page; nothing before the trailer is ever rewritten.

Everything a submission controls (its output, messages, even its file name) is escaped: HTML
text through html.escape, JSON inside <script> with <, > and & as \\u escapes. The page's
Content-Security-Policy admits only its own two scripts (by hash) and loads nothing.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from pathlib import Path

from ..drive.problems import Verdict
from .checks import Graded
from .diagnose import CAUSES
from .report import gradescope, render
from .students import StudentIds

CSS = """
:root { font: 15px/1.45 system-ui, sans-serif; color: #1b1b1b; background: #fff; }
body { max-width: 1200px; margin: 0 auto; padding: 0 1rem 2rem; }
h1 { font-size: 1.5rem; margin: 1rem 0 .25rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1rem; margin: .2rem 0; }
table { border-collapse: collapse; margin: .5rem 0; } caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .2rem .6rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
.state { font-size: 1.1rem; padding: .6rem 1rem; border-radius: 4px; background: #e8f0fe; border: 1px solid #4a6fb5; }
.state.interrupted { background: #fde8e8; border: 2px solid #b00020; color: #6b0010; }
.state.complete { background: #e6f4ea; border-color: #2e7d32; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; list-style: none; padding: 0; }
.counts li { border: 1px solid #ccc; border-radius: 4px; padding: .3rem .7rem; }
.counts .n { font-size: 1.3rem; font-weight: 700; margin-right: .3rem; }
.v { font-weight: 600; } .v-passed { color: #1e6b24; } .v-failed { color: #a04a00; } .v-other { color: #b00020; }
.controls { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
th { white-space: nowrap; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th button:focus-visible, summary:focus-visible { outline: 2px solid #1a57c9; }
th[aria-sort=ascending] button::after { content: " \\25B2"; } th[aria-sort=descending] button::after { content: " \\25BC"; }
.grid { display: flex; flex-wrap: wrap; gap: 2rem; }
svg text { font: 11px system-ui, sans-serif; fill: #333; } svg rect.bar { fill: #4a6fb5; }
.who a + a::before { content: ", "; }
section.student { border-top: 1px solid #eee; padding: .3rem 0; }
"""

# Defines renderReport(): reads the rows (script.row), draws the counts, the histogram, the
# causes, the pass rates and the table once; sorting and filtering redraw only the table body.
JS = r"""
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const num = (x) => String(Math.round(x * 1e6) / 1e6);
const pct = (n, d) => (d ? Math.round(100 * n / d) : 0) + "%";
const collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
const cmp = (a, b) => typeof a === "number" ? a - b : collator.compare(a, b);
const table = (caption, head, rows) => `<table><caption>${caption}</caption><thead><tr>` +
  head.map((h) => `<th scope="col">${h}</th>`).join("") + `</tr></thead><tbody>` +
  rows.map((r) => `<tr><th scope="row">${r[0]}</th>` + r.slice(1).map((c) => typeof c === "number" ?
    `<td class="n">${c}</td>` : `<td>${c}</td>`).join("") + "</tr>").join("") + "</tbody></table>";
const link = (r) => `<a href="#s${r.i}">${esc(r.s)}</a>`;
let ROWS = [], META = {}, SORT = {key: "student", dir: 1};
const KEYS = {student: (r) => r.s, verdict: (r) => r.o, score: (r) => r.sc, max: (r) => r.mx,
              cause: (r) => r.m, seconds: (r) => r.t};

function renderReport() {
  const t0 = performance.now();
  META = JSON.parse($("meta").textContent);
  ROWS = Array.from(document.querySelectorAll("script.row"), (s) => JSON.parse(s.textContent));
  for (const r of ROWS) {
    r.o = META.verdicts.indexOf(r.v);
    r.q = `${r.s} ${r.v} ${r.m}`.toLowerCase();
    r.h = `<tr><th scope="row">${link(r)}</th><td class="v ${r.k === "passed" ? "v-passed" : r.k === "failed" ?
      "v-failed" : "v-other"}">${esc(r.v)}</td><td class="n">${num(r.sc)}</td><td class="n">${num(r.mx)}</td>` +
      `<td>${esc(r.m)}</td><td class="n">${r.t.toFixed(1)}</td></tr>`;
  }
  const state = $("state");
  if (state) $("state-slot").append(state);
  drawCounts(); drawHistogram(); drawCauses(); drawRates(); setUpTable(); drawTable();
  openFromHash();
  addEventListener("hashchange", openFromHash);
  window.reportRenderMs = performance.now() - t0;
  $("render-ms").textContent = `Drawn from ${ROWS.length} students in ${Math.round(window.reportRenderMs)} ms.`;
}

function drawCounts() {
  const counts = {};
  for (const r of ROWS) counts[r.v] = (counts[r.v] || 0) + 1;
  const present = META.verdicts.filter((v) => counts[v]);
  $("counts").innerHTML = present.length ? `<ul class="counts">` + present.map((v) =>
    `<li><span class="n">${counts[v]}</span> ${esc(v)}</li>`).join("") + "</ul>" : "<p>No submission graded yet.</p>";
  $("f-verdict").innerHTML = `<option value="">all verdicts</option>` +
    present.map((v) => `<option value="${esc(v)}">${esc(v)} (${counts[v]})</option>`).join("");
}

function drawHistogram() {
  const bins = Array(11).fill(0), labels = bins.map((_, i) => i < 10 ? `${10 * i}-${10 * i + 9}%` : "100%");
  for (const r of ROWS) {
    const part = r.mx ? r.sc / r.mx : 0;
    bins[part >= 1 - 1e-9 ? 10 : Math.floor(10 * part + 1e-9)]++;
  }
  const top = Math.max(1, ...bins), w = 50, h = 150;
  const text = labels.map((l, i) => `${l}: ${bins[i]}`).join(", ");
  const bars = bins.map((n, i) => {
    const bh = Math.round(h * n / top), x = 10 + i * w;
    return `<rect class="bar" x="${x + 4}" y="${20 + h - bh}" width="${w - 8}" height="${bh}"></rect>` +
      `<text x="${x + w / 2}" y="${15 + h - bh}" text-anchor="middle">${n || ""}</text>` +
      `<text x="${x + w / 2}" y="${h + 35}" text-anchor="middle">${labels[i]}</text>`;
  }).join("");
  $("histogram").innerHTML = `<svg viewBox="0 0 ${20 + 11 * w} ${h + 45}" width="${20 + 11 * w}" role="img" ` +
    `aria-label="Students per score range: ${text}"><title>Students per score range: ${text}</title>${bars}</svg>`;
  $("histogram-table").innerHTML = table("Students per score range", ["Score", "Students"],
    labels.map((l, i) => [l, bins[i]]));
}

function drawCauses() {
  const by = {};
  for (const r of ROWS) for (const c of r.c) (by[c] = by[c] || []).push(r);
  const ids = Object.keys(by).sort((a, b) => by[b].length - by[a].length || cmp(a, b));
  $("causes").innerHTML = ids.length ? table("Diagnosed causes (a student with several counts under each)",
    ["Cause", "Students", "Who"], ids.map((c) => [esc(META.causes[c] || c), by[c].length,
      `<span class="who">${by[c].map(link).join("")}</span>`])) : "<p>No cause diagnosed.</p>";
}

function drawRates() {
  const cases = {}, params = {};
  const add = (m, k, ok) => { const e = m[k] = m[k] || [0, 0]; e[0] += ok; e[1]++; };
  for (const r of ROWS) {
    const all = {};
    for (const [c, p, s] of r.x) { all[c] = (all[c] ?? true) && s === 1; add(params, p, s === 1); }
    for (const c in all) add(cases, c, all[c]);
  }
  const rate = ([n, d]) => `${pct(n, d)} (${n} of ${d}) <meter min="0" max="1" value="${d ? n / d : 0}" ` +
    `aria-hidden="true"></meter>`;
  $("rates").innerHTML = table("Students passing every check of a case", ["Case", "Passed"],
    Object.keys(cases).map((c) => [esc(c) + (META.cases[c] && META.cases[c] !== "visible" ? ` (${esc(META.cases[c])})` :
      ""), rate(cases[c])])) + table("Checks passed, per parameter or check (all cases)", ["Check", "Passed"],
    Object.keys(params).map((p) => [esc(p), rate(params[p])]));
}

function setUpTable() {
  for (const b of document.querySelectorAll("#students th button")) {
    b.addEventListener("click", () => {
      const key = b.parentElement.dataset.key;
      SORT = {key, dir: SORT.key === key ? -SORT.dir : (key === "student" || key === "cause" ? 1 : -1)};
      drawTable();
    });
  }
  $("f-verdict").addEventListener("change", drawTable);
  $("f-text").addEventListener("input", drawTable);
}

function drawTable() {
  const v = $("f-verdict").value, q = $("f-text").value.trim().toLowerCase(), get = KEYS[SORT.key];
  const shown = ROWS.filter((r) => (!v || r.v === v) && (!q || r.q.includes(q)));
  shown.sort((a, b) => cmp(get(a), get(b)) * SORT.dir || cmp(a.s, b.s));
  $("students-body").innerHTML = shown.map((r) => r.h).join("");
  $("shown").textContent = `${shown.length} of ${ROWS.length} students shown`;
  for (const th of document.querySelectorAll("#students th[data-key]")) {
    th.setAttribute("aria-sort", th.dataset.key === SORT.key ? (SORT.dir > 0 ? "ascending" : "descending") : "none");
  }
}

function openFromHash() {
  const target = location.hash.length > 1 && document.getElementById(location.hash.slice(1));
  const details = target && target.querySelector("details");
  if (details) details.open = true;
}
"""
RUN_JS = "renderReport();"
COLUMNS = (("student", "Student"), ("verdict", "Verdict"), ("score", "Score"), ("max", "Max"),
           ("cause", "Main cause"), ("seconds", "Seconds"))
STUDENT_CSS = """
:root { font: 15px/1.45 system-ui, sans-serif; color: #1b1b1b; }
body { max-width: 900px; margin: 0 auto; padding: 0 1rem 2rem; }
table { border-collapse: collapse; } th, td { border-bottom: 1px solid #ddd; padding: .2rem .6rem; text-align: left; }
pre { background: #f6f6f6; padding: .6rem; white-space: pre-wrap; word-break: break-word; }
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _csp(styles: tuple[str, ...], scripts: tuple[str, ...] = ()) -> str:
    """Nothing loads from anywhere; only these exact inline styles and scripts apply (an injected
    script or event handler would not run even if escaping failed)."""
    script = " ".join(map(_hash, scripts)) or "'none'"
    return (f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            f'style-src {" ".join(map(_hash, styles))}; script-src {script}">')


def _json(data) -> str:
    """JSON that cannot end its <script> or open a comment in it."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _status_class(status: Verdict) -> str:
    return {Verdict.PASSED: "v-passed", Verdict.FAILED: "v-failed"}.get(status, "v-other")


def _th(column: tuple[str, str]) -> str:
    key, label = column
    sort = "ascending" if key == "student" else "none"
    number = ' class="n"' if key in ("score", "max", "seconds") else ""
    return f'<th scope="col" data-key="{key}" aria-sort="{sort}"{number}><button type="button">{label}</button></th>'


def _head(assignment, total: int) -> str:
    name, title = _esc(assignment.name), _esc(getattr(assignment, "title", ""))
    meta = {"total": total, "verdicts": [v.word for v in Verdict], "causes": {k: c.summary for k, c in CAUSES.items()},
            "cases": {c.name: getattr(c, "visibility", "visible") for c in getattr(assignment, "cases", ())}}
    heads = "".join(map(_th, COLUMNS))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{_csp((CSS,), (JS, RUN_JS))}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Batch report: {name}</title><style>{CSS}</style><script>{JS}</script></head>
<body><header><h1>Batch report: {name}</h1><p>{title} &middot; {total} submission(s)</p>
<div id="state-slot"></div>
<noscript><p>The summary, charts and table need JavaScript; each student's report is below.</p></noscript></header>
<main><script type="application/json" id="meta">{_json(meta)}</script>
<section aria-labelledby="h-counts"><h2 id="h-counts">Verdicts</h2><div id="counts"></div></section>
<section aria-labelledby="h-scores"><h2 id="h-scores">Scores</h2>
<figure><figcaption>Students per score range (percent of the maximum)</figcaption><div id="histogram"></div></figure>
<details><summary>The histogram as a table</summary><div id="histogram-table"></div></details></section>
<section aria-labelledby="h-causes"><h2 id="h-causes">Diagnosed causes across the class</h2><div id="causes"></div></section>
<section aria-labelledby="h-rates"><h2 id="h-rates">Pass rates</h2><div id="rates" class="grid"></div></section>
<section aria-labelledby="h-students"><h2 id="h-students">Students</h2>
<div class="controls"><label for="f-verdict">Verdict</label> <select id="f-verdict"></select>
<label for="f-text">Search</label> <input id="f-text" type="search" placeholder="name, verdict or cause">
<p id="shown" aria-live="polite"></p></div>
<table id="students"><caption>Students (sort: the column headers' buttons)</caption>
<thead><tr>{heads}</tr></thead><tbody id="students-body"></tbody></table></section>
<section aria-labelledby="h-each"><h2 id="h-each">Each student's report</h2>
"""


def _main_cause(g: Graded) -> str:
    if g.diagnosis.primary:
        return CAUSES[g.diagnosis.primary].summary
    return "" if g.passed else (g.problem.splitlines() or [""])[0][:160]


def _chunk(g: Graded, n: int, student: str) -> str:
    row = {"i": n, "s": student, "v": g.status.word, "k": g.status.value, "sc": g.score, "mx": g.max_score,
           "c": list(dict.fromkeys(f.cause for f in g.diagnosis.findings)), "m": _main_cause(g),
           "t": round(g.seconds, 2), "x": [[c.case, c.id.short, 1 if c.passed else (0 if c.checked else -1)]
                                            for c in g.checks]}
    who = _esc(student)
    return (f'<script type="application/json" class="row">{_json(row)}</script>\n'
            f'<section class="student" id="s{n}" aria-labelledby="h-s{n}"><h3 id="h-s{n}">{who} '
            f'<span class="v {_status_class(g.status)}">{_esc(g.status.word)}</span> {g.score:g} / {g.max_score:g}</h3>'
            f'<details><summary>Report of {who}</summary><pre>{_esc(render(g))}</pre></details></section>\n')


def _trailer(state: str, graded: int, total: int) -> str:
    says = {"running": f"<strong>In progress:</strong> {graded} of {total} graded (reload for more).",
            "complete": f"<strong>Complete:</strong> {graded} of {total} graded.",
            "interrupted": f"<strong>Interrupted:</strong> {graded} of {total} graded; the batch was stopped "
                           "before it finished, so this report is incomplete."}[state]
    return (f'</section></main>\n<p id="state" class="state {state}" role="status">{says}</p>\n'
            f'<footer><p id="render-ms"></p></footer><script>{RUN_JS}</script>\n</body></html>\n')


class HtmlReport:
    """The staff's page: add(g) appends one student at a flat cost; after each, a complete page."""

    def __init__(self, path: str | Path, assignment, submissions):
        self.total, self.count, self.student = len(submissions), 0, StudentIds(submissions)
        self.fh = open(path, "wb")
        self.fh.write(_head(assignment, self.total).encode("utf-8", "replace"))
        self.end = self.fh.tell()          # where the trailer begins: nothing before it is rewritten
        self._trailer("running")

    def add(self, g: Graded) -> None:
        self.fh.seek(self.end)
        self.fh.truncate()
        self.fh.write(_chunk(g, self.count, self.student(g.submission)).encode("utf-8", "replace"))
        self.end, self.count = self.fh.tell(), self.count + 1
        self._trailer("running")

    def _trailer(self, state: str) -> None:
        self.fh.seek(self.end)
        self.fh.truncate()
        self.fh.write(_trailer(state, self.count, self.total).encode())
        self.fh.flush()

    def close(self, complete: bool) -> None:
        """The final state; a chunk cut short by an interrupt is dropped (the page ends at the last
        complete one)."""
        if not self.fh.closed:
            self._trailer("complete" if complete else "interrupted")
            self.fh.close()


# --- one page per student: only what Gradescope would show them ----------------------------
def _file_name(student: str, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", student).lstrip(".") or "student"
    base, i = name, 1
    while name in taken:
        i += 1
        name = f"{base}-{i}"
    taken.add(name)
    return name


def _scrub(text: str, submission: str) -> str:
    """The submission's path as the staff's machine spells it, cut down to its file name."""
    folders = {str(Path(submission).parent), str(Path(submission).resolve().parent)} - {"", "."}
    for folder in sorted(folders, key=len, reverse=True):
        text = text.replace(folder + os.sep, "")
    return text


def student_page(g: Graded, assignment, student: str) -> str:
    """The student's page: gradescope()'s summary and its visible tests; the total only when every
    test is visible."""
    r = gradescope(g, assignment.show_output)
    visible = [t for t in r["tests"] if t["visibility"] == "visible"]
    lines = r["output"].split("\n")
    if lines and lines[0].startswith(f"{g.status.word}:"):       # the verdict and the total: said below
        lines = lines[1:]
    if len(visible) == len(r["tests"]):
        total = f"Score: {g.score:g} / {g.max_score:g}"
    else:
        total = (f"Visible tests: {sum(t['score'] for t in visible):g} / {sum(t['max_score'] for t in visible):g}. "
                 "The total is released later.")
    rows = "".join(f"<tr><th scope=\"row\">{_esc(t['name'])}</th><td>{_esc(t['status'])}</td>"
                   f"<td>{t['score']:g} / {t['max_score']:g}</td></tr>" for t in visible)
    failed: dict[str, list[str]] = {}              # each message once, under the tests it failed
    for t in visible:
        if t["status"] == "failed" and t["output"]:
            failed.setdefault(_scrub(t["output"], g.submission), []).append(t["name"])
    details = "".join(f"<p><strong>{_esc('; '.join(names))}</strong></p><pre>{_esc(text)}</pre>"
                      for text, names in failed.items())
    name, who = _esc(assignment.name), _esc(student)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{_csp((STUDENT_CSS,))}
<title>{name}: results of {who}</title><style>{STUDENT_CSS}</style></head>
<body><main><h1>{name}: results of {who}</h1>
<p><strong>{_esc(g.status.word)}</strong>. {total}</p>
<h2>Summary</h2><pre>{_esc(_scrub(chr(10).join(lines).strip(), g.submission))}</pre>
<h2>Tests</h2><table><caption>Visible tests</caption><thead><tr><th scope="col">Test</th><th scope="col">Result</th>
<th scope="col">Score</th></tr></thead><tbody>{rows}</tbody></table>
{"<h2>What went wrong</h2>" + details if details else ""}</main></body></html>
"""


class StudentPages:
    """DIR/<student>.html per student, each written whole (a temporary file, then renamed)."""

    def __init__(self, folder: str | Path, assignment, submissions):
        self.folder, self.assignment = Path(folder), assignment
        self.folder.mkdir(parents=True, exist_ok=True)
        self.student, self.taken = StudentIds(submissions), set()

    def add(self, g: Graded) -> None:
        student = self.student(g.submission)
        target = self.folder / f"{_file_name(student, self.taken)}.html"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(student_page(g, self.assignment, student).encode("utf-8", "replace"))
        os.replace(tmp, target)

    def close(self, complete: bool) -> None:
        """Nothing to finish: each page is complete when written."""
