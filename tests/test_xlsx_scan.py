"""The plain-form cell scan (``cipmodel.io.xlsx_scan``) against expat's reading.

Whenever the scan reads a part, what it read (every cell with its type, the hidden rows
and columns) must be what the expat handlers read from the same part; a part it cannot
read exactly is left to expat (``scan_sheet`` returns False), so anything expat refuses
must never be read by the scan. The parts below are the forms the scan reads, the forms
it must leave alone (each taken from what expat reads differently or refuses), and
random mutations of a plain part.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import random

import pytest

from cipmodel.io.xlsx import MAIN_NS
from cipmodel.io.xlsx_cells import SheetEnd, SheetHandler, parse_part
from cipmodel.io.xlsx_scan import scan_sheet

EPOCH = dt.datetime(1899, 12, 30)
STRINGS = ["shared zero", "shared one", ""]
DATE_STYLES = {"9"}


def _handler(max_cells: int = 500_000) -> SheetHandler:
    return SheetHandler(list(STRINGS), DATE_STYLES, set(), EPOCH, max_cells, max_cells)


def _seen(handler: SheetHandler) -> str:
    # repr tells 1 from 1.0 from True, which == does not
    return repr((handler.rows, handler.hidden.rows, handler.hidden.cols))


def by_expat(xml: bytes, max_cells: int = 500_000) -> str:
    """What the expat handlers read from a part, or the exception they raise."""
    handler = _handler(max_cells)
    try:
        with contextlib.suppress(SheetEnd):
            parse_part(io.BytesIO(xml), handler)
    except Exception as exc:  # noqa: BLE001 - any refusal is an outcome to compare
        return f"refused: {type(exc).__name__}: {exc}"
    return _seen(handler)


def by_scan(xml: bytes, max_cells: int = 500_000) -> str | None:
    """What the scan read, or None if it left the part to expat."""
    handler = _handler(max_cells)
    return _seen(handler) if scan_sheet(xml, handler) else None


def sheet(rows: str, *, head: str = "", root_attrs: str = "", after: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN_NS}"{root_attrs}>{head}'
        f"<sheetData>{rows}</sheetData>{after}</worksheet>"
    ).encode()


PLAIN = sheet(
    '<row r="1"><c r="A1" s="3" t="inlineStr"><is><t>trust_code</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t xml:space="preserve"> name </t></is></c>'
    '<c r="C1"><v>12.5</v></c></row>'
    '<row r="2" hidden="1"><c r="A2" s="5" t="inlineStr"><is><t>RXX</t></is></c>'
    '<c r="B2" s="5" t="inlineStr"><is><t>A&amp;E &lt;&#x1F600;&#60;&gt;&quot;&apos;</t></is></c>'
    '<c r="C2" s="7" t="n"><v>-1.5E3</v></c><c r="D2" s="6"><v>7</v></c>'
    '<c r="E2" s="6"/><c r="F2"></c><c r="G2"><v/></c>'
    '<c r="H2" t="inlineStr"><is><t></t></is></c></row>'
    '<row r="4" spans="1:8"/><row r="5"><c r="A5" s="9"><v>43191</v></c>'
    '<c r="B5" t="s"><v>1</v></c><c r="C5" t="b"><v>1</v></c><c r="D5" t="e"><v>#N/A</v></c>'
    '<c r="E5" t="str"><v>text</v></c><c r="F5" t="d"><v>2018-04-01T00:00:00</v></c>'
    '<c r="XFD5" t="inlineStr"><is><t>last</t></is></c></row>',
    head='<cols><col min="2" max="3" hidden="1" width="9"/></cols>',
)

# Forms the scan reads (it must read them, as expat does)
READ = {
    "plain": PLAIN,
    "excel row attributes": sheet(
        '<row r="1" spans="1:3" x14ac:dyDescent="0.25" hidden="true">'
        '<c r="A1" s="1" t="inlineStr"><is><t>x</t></is></c></row>',
        root_attrs=' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"',
    ),
    "white space between elements": sheet(
        '\n  <row r="1">\n    <c r="A1"><v>1</v></c>\n    <c r="B1"><v>2</v></c>\n  </row>\n'
    ),
    "empty sheet data": sheet(""),
    "shared texts, as LibreOffice and Excel save them": sheet(
        '<row r="1" customFormat="false" ht="15" hidden="false" customHeight="false" '
        'outlineLevel="0" collapsed="false"><c r="A1" s="3" t="s"><v>0</v></c>'
        '<c r="B1" t="s"><v>2</v></c><c r="C1" t="s"><v> 1 </v></c><c r="D1" t="s"><v/></c>'
        '<c r="E1" s="9" t="s"><v>1</v></c><c r="F1" t="s"><is><t>runs</t></is></c></row>'
    ),
    # both stop at </sheetData>
    "damaged after the cells": sheet('<row r="1"><c r="A1"><v>1</v></c></row>', after="<open>"),
}

# Forms the scan must leave to expat; several are read differently or refused by it
LEFT = {
    "formula": sheet('<row r="1"><c r="A1"><f>1+1</f><v>2</v></c></row>'),
    "rich text": sheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c></row>'
    ),
    "phonetic run": sheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t><rPh><t>b</t></rPh></is></c></row>'
    ),
    "carriage return": sheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a\r\nb\rc</t></is></c></row>'
    ),
    "CDATA": sheet('<row r="1"><c r="A1"><v><![CDATA[1]]></v></c></row>'),
    "comment": sheet('<row r="1"><!-- x --><c r="A1"><v>1</v></c></row>'),
    "prefixed cells": sheet(
        '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>', root_attrs=f' xmlns:x="{MAIN_NS}"'
    ),
    "row in another namespace": sheet('<row r="1" xmlns="urn:other"><c r="A1"><v>1</v></c></row>'),
    "unbound prefix": sheet('<row r="1" q:a="1"><c r="A1"><v>1</v></c></row>'),
    "repeated attribute": sheet('<row r="1" r="2"><c r="A1"><v>1</v></c></row>'),
    "same attribute twice by two prefixes": sheet(
        '<row r="1" a:x="1" b:x="2"><c r="A1"><v>1</v></c></row>',
        root_attrs=' xmlns:a="urn:same" xmlns:b="urn:same"',
    ),
    "cell without a reference": sheet('<row r="1"><c><v>1</v></c><c t="n"><v>2</v></c></row>'),
    "lower-case reference": sheet('<row r="1"><c r="a1"><v>1</v></c></row>'),
    "attributes in another order": sheet('<row r="1"><c t="n" r="A1"><v>1</v></c></row>'),
    "single quotes": sheet("<row r='1'><c r='A1'><v>1</v></c></row>"),
    "tab in an attribute": sheet('<row r="1\t"><c r="A1"><v>1</v></c></row>'),
    "entity in an attribute": sheet('<row r="&#49;"><c r="A1"><v>1</v></c></row>'),
    "unknown entity": sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>&nbsp;</t></is></c></row>'),
    "control character": sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>&#1;</t></is></c></row>'),
    "]]> in text": sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>a]]>b</t></is></c></row>'),
    "DTD": b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e "x">]>'
    + PLAIN[PLAIN.index(b"<worksheet") :],
    "latin-1": f'<?xml version="1.0" encoding="ISO-8859-1"?><worksheet xmlns="{MAIN_NS}"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>caf\xe9</t></is></c></row></sheetData>'
    "</worksheet>".encode("latin-1"),
    "byte order mark": b"\xef\xbb\xbf" + PLAIN,
    "self-closing sheet data": PLAIN.replace(
        PLAIN[PLAIN.index(b"<sheetData>") : PLAIN.index(b"</sheetData>") + 12], b"<sheetData/>"
    ),
    "sheet data nested in a value": sheet("", head="<v><sheetData></sheetData></v>").replace(
        b"<sheetData></sheetData></worksheet>", b"</worksheet>"
    ),
}

# Values and limits the scan hands to the handler, which refuses them as expat's reading does
REFUSED = {
    "number in other digits": sheet('<row r="1"><c r="A1"><v>\u0661\u0662</v></c></row>'),
    "number with underscores": sheet('<row r="1"><c r="A1"><v>2_4_0</v></c></row>'),
    "not a number": sheet('<row r="1"><c r="A1"><v>nan</v></c></row>'),
    "row out of range": sheet('<row r="1048577"><c r="A1"><v>1</v></c></row>'),
    "column out of range": sheet('<row r="1"><c r="XFE1"><v>1</v></c></row>'),
    "row 0": sheet('<row r="1"><c r="A0"><v>1</v></c></row>'),
    "unknown cell type": sheet('<row r="1"><c r="A1" t="x"><v>1</v></c></row>'),
    "shared text out of range": sheet('<row r="1"><c r="A1" t="s"><v>3</v></c></row>'),
}


@pytest.mark.parametrize("name", sorted(READ))
def test_the_scan_reads_the_plain_form_as_expat_does(name: str) -> None:
    xml = READ[name]
    scanned = by_scan(xml)
    assert scanned is not None, "the scan should read this part"
    assert scanned == by_expat(xml)
    assert not scanned.startswith("refused")


def test_the_plain_part_holds_what_each_cell_says() -> None:
    """Independent of both readers: the values typed into PLAIN, by type."""
    handler = _handler()
    assert scan_sheet(PLAIN, handler)
    rows = {r: {c: cell.value for c, cell in cells.items()} for r, cells in handler.rows.items()}
    assert rows[1] == {1: "trust_code", 2: " name ", 3: 12.5}
    assert rows[2] == {1: "RXX", 2: "A&E <\U0001f600<>\"'", 3: -1500.0, 4: 7}
    assert type(rows[2][4]) is int and type(rows[2][3]) is float
    assert rows[5][1] == dt.datetime(2018, 4, 1)  # style 9 is a date: Excel day 43191
    assert [rows[5][c] for c in (2, 3, 5, 6)] == [
        "shared one",
        True,
        "text",
        dt.datetime(2018, 4, 1),
    ]
    assert handler.rows[5][4].kind == "error" and handler.rows[5][4].value == "#N/A"
    assert rows[5][16_384] == "last"
    assert 4 not in rows  # an empty row holds nothing
    assert handler.hidden.rows == [(2, 2)] and handler.hidden.cols == [(2, 3)]


@pytest.mark.parametrize("name", sorted(LEFT))
def test_the_scan_leaves_other_forms_to_expat(name: str) -> None:
    assert by_scan(LEFT[name]) is None


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_values_expat_refuses_are_never_read_by_the_scan(name: str) -> None:
    assert by_expat(REFUSED[name]).startswith("refused: Damaged")
    assert by_scan(REFUSED[name]) is None


@pytest.mark.parametrize("max_cells", [1, 2, 3, 5, 8])
def test_limits_stop_the_scan_where_they_stop_expat(max_cells: int) -> None:
    """Past the row, cell or element limit the scan gives up; within it, reads the same."""
    scanned, read = by_scan(PLAIN, max_cells), by_expat(PLAIN, max_cells)
    assert read.startswith("refused: OverLimit")
    assert scanned is None
    assert by_scan(PLAIN, 100) == by_expat(PLAIN, 100)


_MUTATIONS = ['"', "'", "<", ">", "/", "&", ";", " ", "\r", "\n", "=", "r", "t", "x", "1", "#", "]"]


@pytest.mark.parametrize("seed", range(8))
def test_random_mutations_read_the_same_or_are_left_to_expat(seed: int) -> None:
    """A byte replaced, inserted or deleted anywhere in the plain part, 150 times a seed."""
    rng = random.Random(seed)
    text = PLAIN.decode()
    read = 0
    for _ in range(150):
        i = rng.randrange(len(text))
        how = rng.choice(("replace", "insert", "delete"))
        ch = rng.choice(_MUTATIONS)
        mutated = {
            "replace": text[:i] + ch + text[i + 1 :],
            "insert": text[:i] + ch + text[i:],
            "delete": text[:i] + text[i + 1 :],
        }[how].encode()
        scanned = by_scan(mutated)
        if scanned is not None:
            read += 1
            assert scanned == by_expat(mutated), (how, i, ch)
    assert read > 0  # some mutations leave a part the scan reads


def _with_elements(left: int) -> SheetHandler:
    handler = _handler()
    handler._elements_left = left  # the element budget itself, to find its edge
    return handler


def test_the_scan_counts_elements_as_expat_does() -> None:
    """At every element budget around PLAIN's count, the scan reads the part exactly when
    expat does: it counts no element more (it would leave a part expat reads) or less (it
    would read a part expat refuses)."""
    edge = None
    for left in range(200):
        expat = _with_elements(left)
        try:
            with contextlib.suppress(SheetEnd):
                parse_part(io.BytesIO(PLAIN), expat)
        except Exception:  # noqa: BLE001 - over the budget
            assert not scan_sheet(PLAIN, _with_elements(left))
            continue
        edge = left if edge is None else edge
        scanned = _with_elements(left)
        assert scan_sheet(PLAIN, scanned), left
        assert _seen(scanned) == _seen(expat)
    assert edge is not None and edge > 30  # PLAIN holds some 60 elements
