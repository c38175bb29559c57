"""A scripted OpenAI-compatible HTTP endpoint on loopback: replies exactly as told, hostile ones included."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def completion(text: str = "hi") -> dict:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


class Endpoint:
    def __init__(self) -> None:
        self.replies: list[tuple[int, str, bytes]] = []  # (status, content type, body); the last one repeats
        self.requests: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                n = int(self.headers.get("Content-Length") or 0)
                endpoint.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": self.rfile.read(n)})
                status, ctype, body = endpoint.replies.pop(0) if len(endpoint.replies) > 1 else endpoint.replies[0]
                if callable(body):
                    body = body(endpoint.requests[-1])
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, status: int, body, ctype: str = "application/json") -> "Endpoint":
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.replies.append((status, ctype, body))
        return self


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.server.shutdown()
    ep.server.server_close()
