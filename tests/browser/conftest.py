"""The browser tests' Chromium (Playwright driving the system's, headless) and a staff login."""

import os
import shutil

import pytest

from tests.support.factories import MemberFactory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-staff-password-1"


@pytest.fixture
def browser():
    if not CHROMIUM:
        if os.environ.get("REQUIRE_BROWSER"):  # CI installs it: there, missing is a failure
            pytest.fail("Chromium is required here (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE")


def sign_in(page, live_server) -> None:
    """A new superuser signs in through admin's form and lands on the operations page."""
    staff = MemberFactory(is_staff=True, is_superuser=True)
    staff.set_password(PASSWORD)
    staff.save()
    page.goto(f"{live_server.url}/admin/ops/")
    page.fill("#id_username", staff.phone)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/ops/")
