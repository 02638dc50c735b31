"""The Content-Security-Policy in a real browser (Debian's chromium through Playwright): the
admin's pages and the API's Swagger page work under it, through the front door, and the
browser reports no violation; an injected inline script is refused."""

from datetime import date

import pytest

from apps.calculations.models import Calculation
from apps.calculations.services import calculation_run
from tests.live.test_browser import (  # noqa: F401  (fixtures)
    LOGIN_TIMEOUT_MS,
    PASSWORD,
    browser,
    collected_static,
    daphne,
    in_thread,
    staff,
    wait_connected,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every violation the page reports, kept where the test can read it.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener(
  "securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`)
);
"""


def logged_in(browser, base_url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.errors, page.console_csp = [], []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: "Content Security Policy" in m.text and page.console_csp.append(m.text))
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", "live-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/", timeout=LOGIN_TIMEOUT_MS)
    return page


def assert_no_violation(page) -> None:
    assert page.evaluate("window.__csp") == []
    assert page.console_csp == [] and page.errors == []


def test_the_admin_pages_work_under_the_policy(browser, daphne, staff):
    calculation = Calculation.objects.create(
        name="csp", status="queued", date_start=date(2020, 1, 1), date_fin=date(2020, 12, 31), lag=7
    )
    in_thread(calculation_run, calculation_id=calculation.pk)
    page = logged_in(browser, daphne.base_url)
    assert "script-src 'self'" in page.evaluate(
        "async () => (await fetch('/admin/')).headers.get('content-security-policy')"
    )
    assert_no_violation(page)

    # The live widget: its module script and the websocket.
    page.goto(f"{daphne.base_url}/admin/calculations/calculation/")
    wait_connected(page)
    assert_no_violation(page)

    # A run's page: the vendored Highcharts draws its three charts.
    page.goto(f"{daphne.base_url}/admin/calculations/calculation/{calculation.pk}/change/")
    page.wait_for_function(
        "() => document.querySelectorAll('#cb-calc svg.highcharts-root').length === 3", timeout=30_000
    )
    assert_no_violation(page)

    # An add form with Django's own scripts (prepopulated fields, actions, calendars).
    page.goto(f"{daphne.base_url}/admin/charts/function/add/")
    page.wait_for_selector("#function_form")
    assert_no_violation(page)
    page.context.close()


def test_the_swagger_page_works_under_the_policy(browser, daphne, staff):
    page = logged_in(browser, daphne.base_url)
    response = page.goto(f"{daphne.base_url}/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    assert page.locator(".opblock").count() > 10
    # "Try it out" runs a request from the page (connect-src).
    page.locator(".opblock-get .opblock-summary-path", has_text="/api/calculations").first.click()
    page.click("button.try-out__btn")
    page.click("button.execute")
    page.wait_for_selector(".live-responses-table tbody td.response-col_status", timeout=30_000)
    assert (
        page.locator(".live-responses-table tbody td.response-col_status").first.inner_text().strip() == "200"
    )
    assert_no_violation(page)
    page.context.close()


def test_an_injected_inline_script_does_not_run(browser, daphne, staff):
    page = logged_in(browser, daphne.base_url)
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__injected = true";
            document.body.append(script);
        }"""
    )
    assert page.evaluate("window.__injected === undefined")
    assert any(entry.startswith("script-src") for entry in page.evaluate("window.__csp"))
    page.context.close()
