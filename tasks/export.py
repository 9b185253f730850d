"""Tables for analysts: DataFrames as an XLSX workbook, the same bytes for the same data."""

from __future__ import annotations

import io

import pandas as pd

from tasks.render import FIXED_TIME, stable_zip

#: Excel refuses sheet names longer than 31 characters or holding []:*?/\
_BAD_SHEET = str.maketrans(dict.fromkeys("[]:*?/\\", "-"))


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name for ``name``."""
    base = name.translate(_BAD_SHEET)[:31] or "sheet"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """One sheet per frame, header row frozen; fixed workbook properties and zip times."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    for name, frame in sheets.items():
        ws = wb.create_sheet(sheet_name(name, taken))
        ws.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        ws.freeze_panes = "A2"
        for i, column in enumerate(frame.columns, start=1):
            width = max([len(str(column)), *(len(str(v)) for v in frame[column].head(200))])
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width + 2))
    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.properties.creator = wb.properties.lastModifiedBy = "tonghop"
    buf = io.BytesIO()
    wb.save(buf)
    return stable_zip(buf.getvalue())


def _cell(value: object) -> object:
    if not isinstance(value, list | tuple) and pd.isna(value):
        return None
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return value.item() if hasattr(value, "item") else value
