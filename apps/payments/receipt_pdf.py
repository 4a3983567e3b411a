"""A receipt drawn as a one-page PDF with ReportLab's canvas.

ReportLab because it is pure Python (a wheel, no system libraries: WeasyPrint needs Pango and
cairo, wkhtmltopdf a Qt build) and the documents queue already uses it. ``invariant=1`` fixes
what it would otherwise take from the clock and from chance (creation date, document id), and
everything drawn comes from the page given, never from "now": drawing the same receipt again
gives the same bytes, so the same SHA-256. The standard Helvetica fonts are not embedded,
which keeps a receipt near 2 KB and its text readable by any PDF reader.
"""

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

WIDTH, HEIGHT = A5
MARGIN = 16 * mm
VALUE_X = MARGIN + 42 * mm  # where a detail's value starts
REGULAR, BOLD = "Helvetica", "Helvetica-Bold"


@dataclass(frozen=True)
class ReceiptPage:
    """What a receipt shows, already worded: the seller's lines (name first), the details
    (label, value) and the totals (label, amount; the last is the total paid)."""

    number: str
    seller: tuple[str, ...]
    details: tuple[tuple[str, str], ...]
    totals: tuple[tuple[str, str], ...]
    footer: str = ""


def receipt_pdf(page: ReceiptPage) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5, invariant=1)
    pdf.setTitle(f"Receipt {page.number}")
    pdf.setAuthor(page.seller[0])
    y = _seller(pdf, page.seller, HEIGHT - MARGIN)
    y = _rule(pdf, y - 4 * mm)
    pdf.setFont(BOLD, 15)
    pdf.drawString(MARGIN, y - 8 * mm, "RECEIPT")
    pdf.setFont(BOLD, 11)
    pdf.drawRightString(WIDTH - MARGIN, y - 8 * mm, page.number)
    y -= 16 * mm
    for label, value in page.details:
        y = _detail(pdf, label, value, y)
    y = _rule(pdf, y - 2 * mm)
    for index, (label, amount) in enumerate(page.totals):
        last = index == len(page.totals) - 1
        pdf.setFont(BOLD if last else REGULAR, 10)
        pdf.drawString(MARGIN, y - 6 * mm, label)
        pdf.drawRightString(WIDTH - MARGIN, y - 6 * mm, amount)
        y -= 6 * mm
    if page.footer:
        pdf.setFont(REGULAR, 8)
        pdf.drawString(MARGIN, MARGIN, page.footer)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _seller(pdf: canvas.Canvas, lines: tuple[str, ...], y: float) -> float:
    pdf.setFont(BOLD, 13)
    pdf.drawString(MARGIN, y - 5 * mm, lines[0])
    y -= 5 * mm
    pdf.setFont(REGULAR, 9)
    for line in lines[1:]:
        for part in simpleSplit(line, REGULAR, 9, WIDTH - 2 * MARGIN):
            y -= 4.5 * mm
            pdf.drawString(MARGIN, y, part)
    return y


def _detail(pdf: canvas.Canvas, label: str, value: str, y: float) -> float:
    pdf.setFont(REGULAR, 9)
    pdf.drawString(MARGIN, y, label)
    pdf.setFont(BOLD, 9)
    for part in simpleSplit(value, BOLD, 9, WIDTH - MARGIN - VALUE_X) or [""]:
        pdf.drawString(VALUE_X, y, part)
        y -= 5 * mm
    return y


def _rule(pdf: canvas.Canvas, y: float) -> float:
    pdf.setLineWidth(0.5)
    pdf.line(MARGIN, y, WIDTH - MARGIN, y)
    return y
