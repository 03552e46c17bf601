"""Suggested replies: personal data never reaches the endpoint (a real local HTTP server speaking
the OpenAI chat API records what it got) and comes back in the draft; without an endpoint, the
closest resolved case's reply."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conveyor import service
from conveyor.decide import DecideError
from conveyor.decide.draft import Redactor
from conveyor.workspace import init_workspace, open_workspace
from tests.decide.test_triage import _tickets, _write

PERSONAL = {
    "email": "maria.rossi@example.com",
    "phone": "+44 20 7946 0958",
    "iban": "DE89 3704 0044 0532 0130 00",
    "name": "Maria Rossi",
}


def test_redaction_round_trip() -> None:
    red = Redactor(["Maria Rossi", "Tom"])
    text = (
        f"Hi, {PERSONAL['name']} here ({PERSONAL['email']}, {PERSONAL['phone']}). Refund to "
        f"{PERSONAL['iban']} please; maria rossi again. Tomorrow Tom calls. Order 12345 is fine."
    )
    out = red.redact(text)
    for value in PERSONAL.values():
        assert value not in out
    assert "Tomorrow" in out  # whole words only
    assert "Order 12345" in out  # short numbers are not phone numbers
    assert out.count("[NAME_1]") == 2  # the same person, any case, one placeholder
    assert "[NAME_2]" in out
    assert red.restore(out) == text.replace("maria rossi", "Maria Rossi")


class _Chat(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Chat.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        answer = {
            "choices": [
                {"message": {"role": "assistant", "content": "Dear [NAME_1], we reset it and will write to [EMAIL_1]."}}
            ]
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def chat_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Chat.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _workspace(tmp_path: Path, url: str = "") -> Path:
    rows = _tickets(80)
    for r in rows:
        r["reply"] = f"Hello, we looked at '{r['title']}' and fixed it. Regards, Service Desk"
    data = _write(tmp_path / "tickets.csv", rows)
    root = init_workspace(tmp_path / "ws")
    (root / "names.txt").write_text("Maria Rossi\n")
    (root / "conveyor.toml").write_text(
        f'[drafting]\nurl = "{url}"\nmodel = "local-model"\nnames_file = "names.txt"\napi_key_env = "DRAFT_KEY"\n'
    )
    with open_workspace(root) as ws:
        service.triage_train(ws, file=str(data), text=["title", "body"], label="queue", outcome=["reply"], name="t")
    return root


def test_drafts_through_a_real_endpoint(tmp_path: Path, chat_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFT_KEY", "sk-test")
    root = _workspace(tmp_path, chat_server)
    item = {
        "title": "vpn drops every few minutes in Lyon",
        "body": f"I am {PERSONAL['name']}, mail {PERSONAL['email']}, call {PERSONAL['phone']}, IBAN {PERSONAL['iban']}",
    }
    with open_workspace(root, read_only=True) as ws:
        result = service.draft(ws, "t", item=item)
    assert result["source"] == "endpoint"
    assert result["draft"] == f"Dear {PERSONAL['name']}, we reset it and will write to {PERSONAL['email']}."
    assert result["redacted"] == {"NAME": 1, "EMAIL": 1, "PHONE": 1, "IBAN": 1}
    (call,) = _Chat.seen
    assert call["path"] == "/v1/chat/completions"
    assert call["auth"] == "Bearer sk-test"
    assert call["body"]["model"] == "local-model"
    sent = json.dumps(call["body"])
    for value in PERSONAL.values():
        assert value not in sent
    assert "[EMAIL_1]" in sent
    assert "Past ticket" in sent  # the similar resolved cases' replies go along as examples


def test_without_an_endpoint_the_closest_reply(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    with open_workspace(root, read_only=True) as ws:
        result = service.draft(ws, "t", item={"title": "invoice 12 charged twice"})
        assert result["source"] == "closest case"
        assert "invoice" in result["draft"]
        with pytest.raises(DecideError, match="keeps no column 'answer'"):
            service.draft(ws, "t", item={"title": "x"}, reply="answer")
