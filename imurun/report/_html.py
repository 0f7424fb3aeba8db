"""Small HTML building blocks shared by the run report and the weekly summary.

Every page is one self-contained file: inline CSS, images as ``data:`` URIs, no script, and a
Content-Security-Policy that forbids loading anything else, so a page opens offline and cannot
reach the network even if a text slipped through unescaped. Every text that comes from a file or
a person (athlete names, file names, notes) goes through :func:`esc`; the helpers here escape
their text arguments themselves and take already-built HTML only in arguments named ``*_html``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Sequence
from typing import Final

#: Forbid every fetch: images only as data: URIs, styles only inline, no scripts at all.
CSP: Final = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              "base-uri 'none'; form-action 'none'")

CSS: Final = """
:root { --fg:#1d2327; --muted:#5b6670; --line:#d9dee3; --card:#f5f7f9; --accent:#1f5f99;
        --ok:#2e7d32; --warn:#a15c00; --strong:#b3261e; --info:#3d5a80; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 18px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       sans-serif; color: var(--fg); background: #fff;
       overflow-wrap: break-word; }  /* a long name or file name breaks, never widens the page */
main { max-width: 980px; margin: 0 auto; padding: 12px 16px 48px; }
header.page { border-bottom: 3px solid var(--accent); margin-bottom: 8px; }
h1 { font-size: 1.6em; line-height: 1.25; margin: 12px 0 4px; }
h2 { font-size: 1.3em; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 1.08em; margin: 16px 0 4px; }
p { margin: 6px 0 10px; }
.sub, .muted, figcaption, .small { color: var(--muted); }
.small { font-size: 0.86em; }
nav.toc { font-size: 0.92em; margin: 8px 0; }
nav.toc a { display: inline-block; margin: 2px 10px 2px 0; color: var(--accent); }
.note { background: #eef4fa; border-left: 4px solid var(--accent); padding: 8px 12px;
        margin: 10px 0; }
/* a card is at least as wide as its longest label ("Pelvic drop, right stance") and value
   ("164 steps/min") on one line each: narrower columns (150 px, 4 of them at 675 px) wrapped
   both; below 600 px two columns, where only a label may take a second line */
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(12em, 1fr));
         gap: 10px; margin: 10px 0; }
.card { background: var(--card); border-radius: 10px; padding: 10px 12px; min-width: 0; }
.card .label { font-size: 0.85em; color: var(--muted); }
.card .value { font-size: 1.55em; font-weight: 650; line-height: 1.2; white-space: nowrap; }
.card .unit { font-size: 0.6em; font-weight: 400; color: var(--muted); }
.card .base { font-size: 0.8em; color: var(--muted); }
figure { margin: 14px 0 18px; }
figure img { width: 100%; max-width: 640px; height: auto; display: block;
             border: 1px solid var(--line); border-radius: 6px; }
figcaption { font-size: 0.88em; margin-top: 4px; }
figure.load .bars { display: flex; gap: 8px; height: 160px; max-width: 640px;
                    padding: 6px 10px 4px; border: 1px solid var(--line); border-radius: 6px; }
figure.load .col { flex: 1; display: flex; flex-direction: column; min-width: 0; }
figure.load .t { flex: 1; display: flex; align-items: flex-end; justify-content: center;
                 padding-top: 1.4em; border-bottom: 1px solid var(--fg); }
figure.load .b { position: relative; width: 70%; background: #9fb4c7;
                 border-radius: 3px 3px 0 0; }
figure.load .now .b { background: var(--accent); }
figure.load .v { position: absolute; bottom: 100%; left: -20%; right: -20%;
                 text-align: center; font-size: 0.9em; font-variant-numeric: tabular-nums; }
figure.load .w { font-size: 0.8em; line-height: 1.2; color: var(--muted); text-align: center;
                 padding-top: 2px; min-height: 2.4em; }
.table-wrap { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: var(--card); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.num .small { white-space: normal; }  /* a number's note under it may wrap */
table.ids td { overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 0.82em;
         font-weight: 600; color: #fff; white-space: nowrap; }
.badge.not_raised, .badge.ok { background: var(--ok); }
.badge.raised, .badge.look { background: var(--warn); }
.badge.strongly_raised, .badge.check_in { background: var(--strong); }
.badge.info, .badge.unknown, .badge.no_data { background: var(--info); }
.indicator { border: 1px solid var(--line); border-radius: 10px; padding: 8px 14px;
             margin: 10px 0; }
.indicator.raised { border-left: 6px solid var(--warn); }
.indicator.strongly_raised { border-left: 6px solid var(--strong); }
.indicator h3 { margin-top: 4px; }
.evidence { font-size: 0.86em; color: var(--muted); }
.athlete { border: 1px solid var(--line); border-radius: 10px; padding: 6px 14px 10px;
           margin: 14px 0; }
.athlete.check_in { border-left: 6px solid var(--strong); }
.athlete.look { border-left: 6px solid var(--warn); }
ul.reasons { margin: 4px 0 8px; padding-left: 20px; }
footer { margin-top: 36px; font-size: 0.82em; color: var(--muted);
         border-top: 1px solid var(--line); padding-top: 8px; }
@media (max-width: 600px) {
  body { font-size: 17px; }
  main { padding: 8px 10px 40px; }
  h1 { font-size: 1.35em; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .card { padding: 8px 10px; }
  th, td { padding: 5px 5px; }
  /* a table too wide for a phone: each row a small block, each value with its column's name */
  table.stack thead { display: none; }
  table.stack tr { display: block; padding: 6px 0; border-bottom: 1px solid var(--line); }
  table.stack td { display: inline-block; border: none; padding: 1px 12px 1px 0;
                   text-align: left; }
  table.stack td:first-child { display: block; font-weight: 600; overflow-wrap: anywhere; }
  table.stack td[data-label]::before { content: attr(data-label) ": "; color: var(--muted);
                                       font-size: 0.85em; font-weight: 400; }
}
@media print { h2 { break-after: avoid; } figure, .indicator, .athlete { break-inside: avoid; } }
"""


def esc(text: object) -> str:
    """``text`` as HTML text (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


def page(title: str, body_html: str, *, lang: str = "en") -> str:
    """A whole document: doctype, viewport, CSP, inline style, ``body_html`` inside ``<main>``."""
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="color-scheme" content="light">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body_html}\n</main>\n</body>\n</html>\n"
    )


def section(sid: str, title: str, body_html: str) -> str:
    return f'<section id="{esc(sid)}">\n<h2>{esc(title)}</h2>\n{body_html}\n</section>\n'


def card(label: str, value: str, unit: str = "", base: str = "") -> str:
    u = f' <span class="unit">{esc(unit)}</span>' if unit and value != "–" else ""
    b = f'<div class="base">{esc(base)}</div>' if base else ""
    return (f'<div class="card"><div class="label">{esc(label)}</div>'
            f'<div class="value">{esc(value)}{u}</div>{b}</div>')


def cards(items: Iterable[str]) -> str:
    return '<div class="cards">' + "".join(items) + "</div>"


def badge(kind: str, text: str) -> str:
    return f'<span class="badge {esc(kind)}">{esc(text)}</span>'


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *,
          numeric: Sequence[bool] | None = None, cls: str = "", stack: bool = False) -> str:
    """A table of plain-text cells (escaped here), numeric columns right-aligned.

    ``stack``: on a phone each row becomes a block, its first cell a title and every other
    value labelled with its column's name (for tables too wide to fit, which would otherwise
    hide their last columns behind a sideways scroll).
    """
    num = list(numeric) if numeric is not None else [False] * len(header)

    def cell(tag: str, text: str, k: int) -> str:
        c = ' class="num"' if num[k] else ""
        if stack and tag == "td" and k > 0 and header[k]:
            c += f' data-label="{esc(header[k])}"'
        return f"<{tag}{c}>{esc(text)}</{tag}>"

    head = "".join(cell("th", h, k) for k, h in enumerate(header))
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    body = "".join("<tr>" + "".join(cell("td", t, k) for k, t in enumerate(r)) + "</tr>"
                   for r in rows)
    classes = " ".join(x for x in (cls, "stack" if stack else "") if x)
    c = f' class="{esc(classes)}"' if classes else ""
    return f'<div class="table-wrap"><table{c}>{thead}<tbody>{body}</tbody></table></div>'


def figure(fid: str, data_uri: str, alt: str, caption: str) -> str:
    if not data_uri.startswith("data:image/png;base64,"):
        raise ValueError("figures are inline PNG data URIs")
    return (f'<figure id="{esc(fid)}" class="plot"><img src="{data_uri}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def fmt(x: float | int | None, spec: str = ".0f", unit: str = "") -> str:
    """A number for people: ``–`` when unknown; a space before the unit, ``%`` included.

    The project's convention (``docs/conventions.md``, SI style): ``50.5 %``, ``240 ms``; only
    the degree sign of an angle sticks to the number (``7.5°``).
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    text = f"{x:{spec}}"
    if text[:1] == "-" and not text.strip("-+0.,"):  # no "-0.0": a rounded zero has no sign
        text = ("+" if "+" in spec else "") + text[1:]
    if not unit:
        return text
    return text + (unit if unit == "°" else f" {unit}")


def day(d: dt.date, *, weekday: bool = True, year: bool = False) -> str:
    """A date as a person writes it: "Mon 3 Nov" (``%d`` would give "Mon 03 Nov")."""
    text = f"{d.day} {d:%b}"
    if weekday:
        text = f"{d:%a} {text}"
    return f"{text} {d.year}" if year else text


def duration(seconds: float | None) -> str:
    """``h:mm:ss`` or ``m:ss``; ``–`` when unknown.

    As :func:`imurun._timetext.time_text` does, a nonzero time is never shown as zero: under
    half a second (as rounded) it is ``<0:01``; exactly zero is ``0:00``.
    """
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds > 0 and round(seconds) < 1:
        return "<0:01"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def shown_difference(a: float, b: float, spec: str, unit: str = "") -> str:
    """``a - b`` as the difference of the two values as they are shown with ``spec``.

    Each is rounded as :func:`fmt` shows it before subtracting, so that a row of a table adds
    up: 0.26 against 0.25 is +0.01, not the +0.02 of the unrounded 0.264 - 0.246. The sign is
    always shown. A difference of two percentages is in percentage points: ``unit`` ``"%"``
    becomes ``"pt"``. ``spec`` is a fixed-point format such as ``".1f"``.
    """
    if not (math.isfinite(a) and math.isfinite(b)):
        return "–"
    digits = int(spec.lstrip("+")[1:-1])
    d = round(a, digits) - round(b, digits)
    d = round(d, digits) + 0.0  # no float dust, no "-0.0"
    return fmt(d, "+" + spec.lstrip("+"), "pt" if unit == "%" else unit)
