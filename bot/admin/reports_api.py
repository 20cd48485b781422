"""Analytics and the bottleneck report, for staff: JSON for the pages, CSV per chart, a Word document.
Plain `def` routes: the queries run in the thread pool, off the event loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response

from bot.admin import analytics, bottleneck
from bot.admin.access import Staff
from bot.admin.context import AdminContext
from bot.admin.schemas import Analytics, Bottleneck
from bot.openapi import not_json
from bot.storage.db import session_scope

DAY = r"^\d{4}-\d{2}-\d{2}$"
From = Annotated[str | None, Query(alias="from", pattern=DAY, max_length=10)]  # default: 30 days back from `to`
To = Annotated[str | None, Query(alias="to", pattern=DAY, max_length=10)]  # default: today, local time
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def routes(context: AdminContext) -> APIRouter:
    router = APIRouter()

    def period(first: str | None, last: str | None) -> analytics.Period:
        try:
            return analytics.Period.parse(first, last, context.settings.timezone)
        except analytics.PeriodError as error:
            raise HTTPException(422, str(error)) from None

    def attachment(body: str | bytes, media_type: str, filename: str) -> Response:
        return Response(
            body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    @router.get("/api/analytics", response_model=Analytics)
    def analytics_data(_: Staff, first: From = None, last: To = None) -> dict:
        chosen = period(first, last)
        with session_scope() as session:
            charts = analytics.charts(session, chosen)
        return {
            "from": chosen.first.isoformat(),
            "to": chosen.last.isoformat(),
            "charts": {name: chart.as_dict() for name, chart in charts.items()},
        }

    @router.get("/api/analytics/{chart}.csv", **not_json("text/csv"))
    def analytics_csv(
        _: Staff, chart: Annotated[str, Path(max_length=40)], first: From = None, last: To = None
    ) -> Response:
        if chart not in analytics.CHARTS:
            raise HTTPException(404, "Không có biểu đồ này.")
        chosen = period(first, last)
        with session_scope() as session:
            table = analytics.charts(session, chosen)[chart]
        return attachment(analytics.csv_text(table), "text/csv; charset=utf-8", f"thong-ke-{chart}-{chosen.slug}.csv")

    @router.get("/api/bottleneck", response_model=Bottleneck)
    def bottleneck_data(_: Staff, first: From = None, last: To = None) -> dict:
        chosen = period(first, last)
        with session_scope() as session:
            return bottleneck.report(session, chosen)

    @router.get("/api/bottleneck.docx", **not_json(DOCX))
    def bottleneck_docx(_: Staff, first: From = None, last: To = None) -> Response:
        chosen = period(first, last)
        with session_scope() as session:
            data = bottleneck.report(session, chosen)
        return attachment(bottleneck.docx_bytes(data), DOCX, f"bao-cao-diem-nghen-{chosen.slug}.docx")

    return router
