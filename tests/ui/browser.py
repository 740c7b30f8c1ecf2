"""Headless Chromium for the console's browser tests and screenshots: Debian's
/usr/bin/chromium (or $TRIOPS_CHROMIUM) driven by Playwright; no browser is downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """The Chromium to drive: $TRIOPS_CHROMIUM, else Debian's, else one on PATH."""
    for candidate in (os.environ.get("TRIOPS_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright: Any, executable: str) -> Any:
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def sign_in(page: Any, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/ui/sign-in")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/ui")
