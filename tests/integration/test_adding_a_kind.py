"""Adding a kind is two pieces — its params and declaration, and its body — and it then
registers, validates, routes and runs end to end like every kind (docs/design.md)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

KIND = "aiops.word_count"


def test_a_kind_declared_in_one_module_with_its_body_in_another_runs_end_to_end(
    stack: Stack,
) -> None:
    with stack.client() as client:
        listed = {k["kind"]: k for k in client.http.get("/kinds").json()}
        typo = client.http.post("/jobs", json={"kind": KIND, "params": {"txt": "a b"}})
        done = client.wait(
            client.submit(KIND, {"text": "to be or not to be", "top": 2})["id"], timeout_s=60
        )
        document = httpx.get(f"{stack.api_url}/openapi.json", timeout=30)
    assert listed[KIND]["queue"] == "aiops"
    assert set(listed[KIND]["params_schema"]["properties"]) == {"text", "top"}
    assert typo.status_code == 422
    messages = [d["msg"] for d in typo.json()["error"]["details"]]
    assert any("unknown field 'txt'; did you mean 'text'?" in m for m in messages), messages
    assert done["status"] == "succeeded", done["error"]
    assert done["worker"].startswith("aiops@") and done["queue"] == "aiops"
    assert done["result"] == {"words": 6, "top": [["to", 2], ["be", 2]]}
    mapping = document.json()["components"]["schemas"]["JobSubmit"]["discriminator"]["mapping"]
    assert KIND in mapping
