"""The console adds no heavy import to the API process: its pages render with pandas,
scikit-learn and friends never loaded (checked in a fresh interpreter, on SQLite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import re, sys
from fastapi.testclient import TestClient
from core.config import Settings
from core.migrate import upgrade
settings = Settings.from_env({"TRIOPS_HOME": sys.argv[1], "TRIOPS_API_TOKEN": "light-0123456789"})
upgrade(settings)
from api.main import create_app
with TestClient(create_app(settings)) as client:
    form = client.get("/ui/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    client.post("/ui/sign-in", data={"token": "light-0123456789", "csrf": csrf})
    for path in ("/ui", "/ui/jobs", "/ui/incidents", "/ui/logs", "/ui/metrics", "/ui/models",
                 "/ui/data", "/ui/schedules"):
        assert client.get(path).status_code == 200, path
print([m for m in ("pandas", "sklearn", "matplotlib", "scipy", "numpy", "pyarrow")
       if m in sys.modules])
"""


def test_console_pages_render_without_the_heavy_libraries(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
