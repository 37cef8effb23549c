"""A loopback fake LLM vendor: OpenAI chat-completions, Anthropic messages and Gemini generateContent.

A stdlib :class:`~http.server.ThreadingHTTPServer` on ``127.0.0.1``, port 0 (the OS picks a
free one).  The real SDKs are pointed at :attr:`FakeVendor.url` by base URL:

- OpenAI / OpenAI-compatible: ``base_url = url + "/v1"`` → ``POST /v1/chat/completions``
- Anthropic: ``base_url = url`` → ``POST /v1/messages``
- Gemini: ``base_url = url`` → ``POST /v1beta/models/{model}:generateContent``

Every request is recorded (:attr:`FakeVendor.requests`: path, headers, JSON body, the prompt).
Replies: :meth:`FakeVendor.script` queues scripted items per model (:class:`Fault` — a status
with headers, a delay, a raw body — or :class:`Answer` text, possibly trickled a byte at a time),
consumed in order; otherwise
:attr:`FakeVendor.answer` (``(vendor, model, prompt) -> text``) answers, by default with the
code in :attr:`FakeVendor.codes` whose label occurs in the prompt, else :attr:`default_code`.
:attr:`FakeVendor.latency` delays every reply (seconds).

Run as a script (``python tests/fake_vendor.py --latency 0.05``) it serves in its own process and
prints its URL on the first line of stdout (the benchmark does this, so that the server does not
share the client's interpreter lock).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Fault:
    """A scripted failure: HTTP ``status`` with ``headers`` and ``body``, after ``delay`` seconds."""

    status: int = 500
    headers: dict = field(default_factory=dict)
    body: bytes | None = None  # raw body; None = the vendor's error JSON
    delay: float = 0.0


@dataclass
class Answer:
    """A scripted answer text (``usage`` = (input, output) tokens reported), after ``delay`` seconds.

    ``trickle``: send the body one byte every ``trickle`` seconds (each read is quick, the reply slow).
    """

    text: str
    usage: tuple[int, int] = (100, 20)
    delay: float = 0.0
    trickle: float = 0.0


@dataclass
class Recorded:
    vendor: str
    path: str
    headers: dict
    body: dict
    model: str
    prompt: str


_GEMINI = re.compile(r"/models/([^/:]+):generateContent$")
_LABEL = re.compile(r"직업 응답: (.*)")


def answer_json(code: str, confidence: float = 0.9, reason: str = "가짜 응답") -> str:
    return json.dumps({"code": code, "confidence": confidence, "reason": reason}, ensure_ascii=False)


class FakeVendor:
    def __init__(self, latency: float = 0.0):
        self.latency = latency
        self.requests: list[Recorded] = []
        self.codes: dict[str, str] = {}
        self.default_code = "94111"
        self.answer: Callable[[str, str, str], str] | None = None
        self.usage = (100, 20)
        self.record = True
        self.inflight = 0
        self.max_inflight = 0
        self._scripts: dict[str, deque] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in separate writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms on Linux) — a fake-server artefact no real vendor adds
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                try:
                    fake._handle(self)
                except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address):  # a client that hung up is not an error here
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        """Forget requests, scripts and settings; first wait (up to 5 s) for replies still being written —
        a test whose client gave up on a slow reply leaves one behind, and it must not count in the next."""
        deadline = time.monotonic() + 5.0
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            self.requests.clear()
            self._scripts.clear()
        self.codes = {}
        self.default_code = "94111"
        self.answer = None
        self.latency = 0.0
        self.usage = (100, 20)
        self.max_inflight = 0

    def script(self, model: str, *items: Fault | Answer) -> None:
        """Queue replies for requests naming ``model`` (in order; then the default answer)."""
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(items)

    def requests_for(self, model: str) -> list[Recorded]:
        return [r for r in self.requests if r.model == model]

    # ------------------------------------------------------------------ wire formats

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", "0") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        path = h.path.split("?", 1)[0]
        if path.endswith("/chat/completions"):
            vendor, model = "openai", str(body.get("model", ""))
            prompt = _content(body.get("messages", [{}])[-1].get("content", ""))
        elif path.endswith("/v1/messages"):
            vendor, model = "anthropic", str(body.get("model", ""))
            prompt = _content(body.get("messages", [{}])[-1].get("content", ""))
        elif _GEMINI.search(path):
            vendor, model = "gemini", _GEMINI.search(path).group(1)
            parts = (body.get("contents") or [{}])[-1].get("parts", [{}])
            prompt = "".join(p.get("text", "") for p in parts)
        else:
            self._send(h, 404, {"error": {"message": f"no route {path}"}})
            return
        with self._lock:
            if self.record:
                self.requests.append(Recorded(vendor, path, dict(h.headers.items()), body, model, prompt))
            queue = self._scripts.get(model)
            item = queue.popleft() if queue else None
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            status, data, headers = self._reply(vendor, model, prompt, item)
        finally:
            # leave the in-flight count before the reply goes out: the client may send its next
            # request the moment it has this one, before this thread would run a `finally`
            with self._lock:
                self.inflight -= 1
        self._send_raw(h, status, data, headers, trickle=item.trickle if isinstance(item, Answer) else 0.0)

    def _reply(self, vendor: str, model: str, prompt: str, item) -> tuple[int, bytes, dict | None]:
        if self.latency:
            time.sleep(self.latency)
        if isinstance(item, Fault):
            if item.delay:
                time.sleep(item.delay)
            if item.body is not None:
                return item.status, item.body, item.headers
            return item.status, _dumps(_error(vendor, item.status)), item.headers
        if isinstance(item, Answer):
            if item.delay:
                time.sleep(item.delay)
            text, usage = item.text, item.usage
        else:
            text, usage = self._default(vendor, model, prompt), self.usage
        return 200, _dumps(_reply(vendor, model, text, usage)), None

    def _default(self, vendor: str, model: str, prompt: str) -> str:
        if self.answer is not None:
            return self.answer(vendor, model, prompt)
        m = _LABEL.search(prompt)
        label = m.group(1).strip() if m else ""
        return answer_json(self.codes.get(label, self.default_code))

    def _send(self, h, status: int, obj: dict, headers: dict | None = None) -> None:
        self._send_raw(h, status, _dumps(obj), headers)

    @staticmethod
    def _send_raw(h, status: int, data: bytes, headers: dict | None = None, trickle: float = 0.0) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, str(v))
        h.end_headers()
        if trickle:
            h.wfile.flush()
            for i in range(len(data)):  # until the client hangs up (BrokenPipeError ends the handler)
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
                time.sleep(trickle)
            return
        h.wfile.write(data)
        h.wfile.flush()


def _dumps(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _content(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict))


def _reply(vendor: str, model: str, text: str, usage: tuple[int, int]) -> dict:
    n_in, n_out = usage
    if vendor == "openai":
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": f"{model}-fake-0001",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
        }
    if vendor == "anthropic":
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": f"{model}-fake-0001",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": n_in, "output_tokens": n_out},
        }
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": n_in, "candidatesTokenCount": n_out, "totalTokenCount": n_in + n_out},
        "modelVersion": f"{model}-fake-0001",
    }


def _error(vendor: str, status: int) -> dict:
    if vendor == "anthropic":
        kind = {429: "rate_limit_error", 401: "authentication_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": f"fake {status}"}}
    if vendor == "gemini":
        kind = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED", 400: "INVALID_ARGUMENT"}.get(status, "INTERNAL")
        return {"error": {"code": status, "message": f"fake {status}", "status": kind}}
    return {"error": {"message": f"fake {status}", "type": "server_error", "code": None}}


def main() -> None:
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args()
    fake = FakeVendor(latency=args.latency)
    fake.record = False
    print(fake.url, flush=True)
    try:
        sys.stdin.read()  # serve until the parent closes our stdin
    finally:
        fake.close()


if __name__ == "__main__":
    main()


# --------------------------------------------------------------------------- test helpers

FAKE_KEY = "sk-FAKE-do-not-leak-7f3a9c"
"""A recognisable fake key: tests assert it appears in no file, log or message."""

MEMBERS = {
    "oa": ("openai", "fake-gpt", "/v1", "OPENAI_API_KEY"),
    "an": ("anthropic", "fake-claude", "", "ANTHROPIC_API_KEY"),
    "ge": ("gemini", "fake-gemini", "", "GEMINI_API_KEY"),
    "cx": ("openai-compatible", "fake-hcx", "/v1", "CLOVASTUDIO_API_KEY"),
}


def write_panel(path, url: str, ids=("oa", "an", "ge"), **fields) -> str:
    """A panel TOML for members of :data:`MEMBERS` at the fake server; ``fields`` apply to every member."""
    base = {"temperature": 0.0, "timeout_s": 5.0, "max_concurrency": 4, "backoff_s": 0.01, "retries": 2}
    base.update(fields)
    out = []
    for mid in ids:
        vendor, model, suffix, env = MEMBERS[mid]
        out.append("[[member]]")
        row = {"id": mid, "vendor": vendor, "model": model, "base_url": url + suffix, "api_key_env": env, **base}
        for k, v in row.items():
            out.append(f"{k} = {json.dumps(v)}")
        out.append("")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out))
    return str(path)


def write_prices(path, models=("fake-gpt", "fake-claude", "fake-gemini", "fake-hcx"), price=(1.0, 2.0)) -> str:
    lines = []
    for m in models:
        lines += [f'[models."{m}"]', f"input = {price[0]}", f"output = {price[1]}", 'seen = "2026-12-01"', ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return str(path)


def dead_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def set_keys(monkeypatch, key: str = FAKE_KEY) -> None:
    for _, _, _, env in MEMBERS.values():
        monkeypatch.setenv(env, key)
