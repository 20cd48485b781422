"""Staff in a real browser under the gateway's content security policy: the analytics page draws
its charts (Chart.js served by the project) from real web-chat turns, and the bottleneck report
downloaded from its page parses and names the top procedure with its counts."""

from __future__ import annotations

from docx import Document
from playwright.sync_api import expect

from tests.admin.test_bottleneck import seed_bottlenecks, summary_of
from tests.browser.admin_pages import staff_opens
from tests.integration.conftest import button


def chart_data(page, name: str) -> dict:
    return page.evaluate(
        """(name) => {
        const chart = Chart.getChart(document.querySelector(`[data-chart=${name}] canvas`));
        return {type: chart.config.type, labels: chart.data.labels,
                datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data}))};
    }""",
        name,
    )


def test_the_analytics_page_draws_its_charts_from_real_turns(page, stack, chat):
    chat("lệ phí đăng ký khai sinh bao nhiêu")
    chat(button(chat("Đăng ký khai sinh"), "Hướng dẫn từng bước"))  # starts the guide: the funnel has a row

    errors = staff_opens(page, stack.gateway_url, "analytics")
    page.wait_for_function("""() => window.Chart && document.querySelectorAll('#tab-analytics canvas').length === 8
        && [...document.querySelectorAll('#tab-analytics canvas')].every((c) => Chart.getChart(c))""")

    procedures = chart_data(page, "procedures")
    assert procedures["type"] == "bar"
    birth = procedures["labels"].index("Đăng ký khai sinh")
    assert procedures["datasets"][0]["data"][birth] >= 1

    conversations = chart_data(page, "conversations")
    assert conversations["type"] == "line" and "Web" in [d["label"] for d in conversations["datasets"]]
    web = next(d for d in conversations["datasets"] if d["label"] == "Web")
    assert web["data"][-1] >= 1  # today, the last day of the default period

    outcomes = chart_data(page, "outcomes")
    answered = outcomes["labels"].index("Đã trả lời")
    assert outcomes["datasets"][0]["data"][answered] >= 1

    funnel = chart_data(page, "funnel")
    assert "Bắt đầu hướng dẫn" in funnel["labels"][0] and funnel["datasets"][0]["data"][0] >= 1

    csv_link = page.locator("[data-chart=procedures] a.csv")
    assert "/admin/api/analytics/procedures.csv?from=" in csv_link.get_attribute("href")
    expect(page.locator("[data-chart=containment] .figures")).to_contain_text("Tỉ lệ tự giải đáp")
    assert page.evaluate("window.cspViolations") == []
    assert errors == []


def test_the_downloaded_bottleneck_report_names_the_top_procedure(page, stack):
    seed_bottlenecks((2026, 7, 1))
    errors = staff_opens(page, stack.gateway_url, "bottleneck")
    expect(page.locator("#bottleneck-to")).not_to_have_value("")  # the first (default) period is shown
    page.fill("#bottleneck-from", "2026-07-01")
    page.fill("#bottleneck-to", "2026-07-01")
    page.locator("#tab-bottleneck form.period button").click()
    expect(page.locator("#tab-bottleneck table").first).to_contain_text("Đăng ký khai sinh")
    expect(page.locator("#bottleneck-download")).to_have_attribute(
        "href", "/admin/api/bottleneck.docx?from=2026-07-01&to=2026-07-01"
    )

    with page.expect_download() as download:
        page.locator("#bottleneck-download").click()
    assert download.value.suggested_filename == "bao-cao-diem-nghen-2026-07-01_2026-07-01.docx"
    document = Document(download.value.path())
    assert document.paragraphs[0].text == "Báo cáo điểm nghẽn"
    assert summary_of(document)[1][:6] == ["1", "Đăng ký khai sinh", "3", "2", "1", "1"]
    assert page.evaluate("window.cspViolations") == []
    assert errors == []
