"""The cells of a worksheet part in its plain form, read in a few steps per cell.

Reading a sheet by expat costs about seven handler calls per cell (``<c>``, ``<is>``,
``<t>``, their text and ends), most of the time of reading a national plan. Excel,
LibreOffice and openpyxl write the cells in one plain form: ``<row r="2" ...>`` holding
``<c r="A2" s="5" t="inlineStr"><is><t>text</t></is></c>`` or ``<c r="F2"><v>1.5</v></c>``.
:func:`scan_sheet` reads that form with one regular expression per cell (no backtracking
beyond a tag) and hands each row and cell to the same :class:`SheetHandler` methods the
parser's events reach, so every value, limit and refusal is the handler's own.

Anything else (a formula, rich text, a prefixed or redeclared namespace, attributes in
another order or quoting, a carriage return, an unknown entity, a part larger than
``SCAN_MAX_BYTES``, any error at all) makes it give up (at once for a part holding a
formula or a rich-text run): the caller then reads the part
with expat from the start, as it always has, and that reading decides what is accepted,
refused or reported. The part up to ``<sheetData>`` is always read by expat (DTDs and
entities refused, hidden columns noted). Within it the pattern is well-formed XML by
construction (names, attribute values and text hold only what expat passes on unchanged;
references and their characters are checked), and like expat's reading the scan stops at
``</sheetData>``. ``tests/test_xlsx_scan.py`` holds it to expat's reading, mutations
included.
"""

from __future__ import annotations

import re

from cipmodel.io.xlsx import MAIN_NS, expat_parser
from cipmodel.io.xlsx_cells import SheetHandler

__all__ = ["SCAN_MAX_BYTES", "scan_sheet"]

#: Parts larger than this are streamed by expat (the scan holds a part in memory, and its
#: text: a national plan's largest part is about 6 MB).
SCAN_MAX_BYTES = 16 << 20
#: Elements the scan does not read (a formula, a rich-text or phonetic run): a part holding
#: one is left to expat at once.
_NOT_PLAIN = re.compile(rb"<(?:f[ \t\r\n>/]|r>|rPh)")

_SHEET_DATA = f"{MAIN_NS}}}sheetData"
_S = "[ \t\r\n]"  # XML white space
# an attribute value expat passes on unchanged: no entity, no white space but the space,
# none of the characters XML refuses
_VALUE = '"([^"<&\\x00-\\x1f\\ufffe\\uffff]*)"'
_NAME = "[A-Za-z_][A-Za-z0-9_.\\-]*"
_ROW = re.compile(
    f'{_S}*<row((?:{_S}+{_NAME}(?::{_NAME})?="[^"<&\\x00-\\x1f\\ufffe\\uffff]*")*){_S}*(/?)>'
)
_ROW_ATTR = re.compile(f"{_S}+({_NAME}(?::{_NAME})?)={_VALUE}")
_ROW_END = re.compile(f"{_S}*</row{_S}*>")
_SHEET_DATA_END = re.compile(f"{_S}*</sheetData{_S}*>")
# character data expat passes on unchanged but for the references (&amp;...): no markup,
# no carriage return (read as a line feed), none of the characters XML refuses
_TEXT = "([^<\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\r\\ufffe\\uffff]*)"
_CELL = re.compile(
    f'{_S}*<c r="([A-Z]{{1,3}})([0-9]{{1,7}})"(?: s={_VALUE})?(?: t={_VALUE})?{_S}*'
    f'(?:/>|>(?:<v>{_TEXT}</v>|(<v/>)|<is><t(?: xml:space="preserve")?>{_TEXT}</t></is>)?'
    "</c>)"
)
_REFERENCE = re.compile("&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class _GiveUp(Exception):
    """The part is not in the plain form: read it with expat."""


class _Found(Exception):
    """Raised at the start of ``<sheetData>``."""


def _text(raw: str) -> str:
    """Character data with its references resolved, as expat passes it."""
    if "]]>" in raw:
        raise _GiveUp  # not allowed in character data
    if "&" not in raw:
        return raw
    out = _REFERENCE.sub(_resolve, raw)
    if "&" in _REFERENCE.sub("", raw):
        raise _GiveUp  # an entity XML does not define (expat refuses it)
    return out


def _resolve(m: re.Match[str]) -> str:
    if m[1]:
        return _ENTITIES[m[1]]
    code = int(m[2]) if m[2] else int(m[3], 16)
    if not (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    ):
        raise _GiveUp  # not a character XML allows
    return chr(code)


def _prefix(data: bytes, handler: SheetHandler) -> tuple[int, dict[str, list[str]]]:
    """Parse up to ``<sheetData>`` with expat, through ``handler``: the byte offset of the
    ``<sheetData`` tag and the namespace prefixes in scope there (prefix -> URIs)."""
    parser = expat_parser(intern={_SHEET_DATA: _SHEET_DATA})
    scope: dict[str, list[str]] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        handler.start(name, attrs)
        if name == _SHEET_DATA:
            raise _Found(parser.CurrentByteIndex)

    parser.StartElementHandler = start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.characters
    parser.StartNamespaceDeclHandler = lambda p, uri: scope.setdefault(p or "", []).append(uri)
    parser.EndNamespaceDeclHandler = lambda p: scope[p or ""].pop()
    try:
        parser.Parse(data, True)
    except _Found as found:
        return int(found.args[0]), {p: u for p, u in scope.items() if u}
    raise _GiveUp  # no sheetData


def _row_attrs(raw: str, scope: dict[str, list[str]]) -> dict[str, str]:
    """A row's attributes as expat passes them: unprefixed by name, prefixed by
    ``uri}name``; a namespace declaration or a repeated attribute gives up."""
    attrs: dict[str, str] = {}
    pairs = _ROW_ATTR.findall(raw)
    for name, value in pairs:
        prefix, _, local = name.rpartition(":")
        if name == "xmlns" or prefix == "xmlns":
            raise _GiveUp
        if prefix:
            uris = scope.get(prefix)
            if prefix == "xml":
                uri = "http://www.w3.org/XML/1998/namespace"
            elif uris:
                uri = uris[-1]
            else:
                raise _GiveUp  # an unbound prefix: expat refuses it
            name = f"{uri}}}{local}"
        attrs[name] = value
    if len(attrs) != len(pairs):
        raise _GiveUp  # a repeated attribute: expat refuses it
    return attrs


def _cells(text: str, pos: int, handler: SheetHandler) -> int:
    """Read the cells of one row from ``pos``; the position after them."""
    match = _CELL.match
    cell = handler.plain_cell
    while (m := match(text, pos)) is not None:
        letters, digits, s, t, v, empty_v, inline = m.groups()
        if empty_v:
            v = ""
        elif v is not None and ("&" in v or "]]>" in v):
            v = _text(v)
        if inline is not None and ("&" in inline or "]]>" in inline):
            inline = _text(inline)
        cell(letters, digits, s, t, v, inline)
        pos = m.end()
    return pos


def scan_sheet(data: bytes, handler: SheetHandler) -> bool:
    """Read the cells of a worksheet part (``data``) into a new ``handler``, as
    :func:`cipmodel.io.xlsx_cells.parse_part` does; False if the part is not in the plain
    form or anything went wrong (``handler`` is then spoilt: read the part with a new one).
    """
    if len(data) > SCAN_MAX_BYTES or not data.startswith((b"<?xml", b"<")):
        return False
    if _NOT_PLAIN.search(data):
        return False
    try:
        return _scan(data, handler)
    except Exception:  # noqa: BLE001 - whatever it is, expat's reading will say it
        return False


def _scan(data: bytes, handler: SheetHandler) -> bool:
    head = data[: data.find(b"?>") + 2] if data.startswith(b"<?xml") else b""
    if b"encoding" in head and not re.search(rb"""encoding=["']utf-8["']""", head, re.I):
        return False  # offsets and text are read as UTF-8
    start, scope = _prefix(data, handler)
    if not handler.between_elements:
        return False
    rest = data[start:].decode("utf-8")  # strict: bad bytes give up
    tag = re.compile(f"<sheetData((?:{_S}[^<>]*)?)>").match(rest)
    if tag is None or tag[1].endswith("/"):
        return False
    pos = tag.end()
    row = _ROW.match
    while (m := row(rest, pos)) is not None:
        handler.plain_row(_row_attrs(m[1], scope))
        pos = m.end()
        if m[2]:  # <row .../>
            continue
        pos = _cells(rest, pos, handler)
        end = _ROW_END.match(rest, pos)
        if end is None:
            return False
        pos = end.end()
    return _SHEET_DATA_END.match(rest, pos) is not None
