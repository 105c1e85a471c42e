"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat completions API.

Tests and benchmarks point litellm's ``openai/`` provider at it through
``api_base``, exactly as a user points promptops at their provider. It answers
from a rule table (judge prompts too: a rule matches any text of the last user
message, which for a judge holds the graded output), serves ``/v1/embeddings``
with deterministic bag-of-words vectors (texts sharing words are similar), can
add latency, and can inject faults (429 with
Retry-After, 500, hanging past the client's timeout, connection resets) either
from a script (the next N requests) or at a random rate.

Run it alone with ``python tests/fake_openai.py --port 8999 --latency-ms 200``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[list[dict[str, Any]], dict[str, Any]], str]

FAULT_KINDS = ("429", "500", "503", "timeout", "reset")
EMBEDDING_DIM = 64


def bag_of_words_vector(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """A unit vector from the hashed lower-case words of ``text``: shared words make texts similar."""
    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        bucket = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16) % dim
        vector[bucket] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


AUTHORIZATION = "{authorization}"
"""In a scripted reply's body, replaced by the request's Authorization header (a provider echoing the key)."""
BARE_KEY = "{key}"
"""In a scripted reply's body, replaced by the key alone (the Authorization header without "Bearer ")."""


@dataclass
class Reply:
    """A scripted answer sent exactly as given: any status, any JSON body (or raw text).

    ``completion(content)`` builds the body of an ordinary answer whose content may be
    anything JSON can carry: ``None``, a lone surrogate, 200 KB of brackets.
    """

    status: int = 200
    body: Any = None
    """A dict or list is sent as JSON; a str is sent as it is."""

    @staticmethod
    def completion(content: Any, **choice: Any) -> Reply:
        message = {"role": "assistant", "content": content}
        return Reply(
            200,
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 0,
                "model": "fake",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", **choice}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


def echo_last_user(messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
    """Default answer: the last user message, echoed back."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


@dataclass(frozen=True)
class Deficiency:
    """How a scripted deficient model fails one case, and which intervention makes it answer right."""

    needle: str
    """Substring of the last user message that identifies the case."""
    gap: str
    """``knowledge``: right only when ``fact`` is in the messages; ``behavior``: right only when shown an
    example (an assistant turn or an example output); ``skill``: right only with worked examples
    (assistant turns) when ``teachable``; ``reliability``: right at temperature 0, else by the seed."""
    right: str
    wrong: str
    fact: str = ""
    teachable: bool = True


@dataclass
class DeficientModel:
    """An ``Answer`` that responds to interventions as a deficient model does (for probes)."""

    cases: list[Deficiency]
    strong: str | None = None
    """A model name that always answers right (a stronger reference model)."""
    default: Answer = echo_last_user

    def __call__(self, messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
        user = echo_last_user(messages, body)
        case = next((c for c in self.cases if c.needle in user), None)
        if case is None:
            return self.default(messages, body)
        if self.strong is not None and body.get("model") == self.strong:
            return case.right
        others = [str(m.get("content", "")) for m in messages if str(m.get("content", "")) != user]
        shown = any(m.get("role") == "assistant" for m in messages)
        if case.gap == "knowledge":
            return case.right if case.fact and any(case.fact in text for text in others) else case.wrong
        if case.gap == "behavior":
            example = shown or any("example" in text.lower() for text in others)
            return case.right if example else case.wrong
        if case.gap == "skill":
            return case.right if shown and case.teachable else case.wrong
        if float(body.get("temperature") or 0) == 0:
            return case.right
        return case.right if int(body.get("seed") or 0) % 2 == 0 else case.wrong


@dataclass
class FakeState:
    """What the server answers and what it has seen."""

    answers: dict[str, str] = field(default_factory=dict)
    """Substring of the last user message -> answer text. First match wins."""
    replies: dict[str, Reply] = field(default_factory=dict)
    """Substring of the last user message ("" matches all) -> scripted reply, sent before any fault."""
    pass_rates: dict[tuple[str, str], float] = field(default_factory=dict)
    """(model name, substring of the last user message) -> chance of answering ``pass_answer`` rather
    than ``fail_answer``: a sampled case with a known pass rate. First match wins, before ``answers``."""
    pass_answer: str = "pass"
    fail_answer: str = "fail"
    default_answer: Answer = echo_last_user
    latency_s: float = 0.0
    fault_script: list[str] = field(default_factory=list)
    """Faults for the next requests, consumed in order ("ok" lets one through)."""
    fault_rate: float = 0.0
    """Share of requests (after the script) that get a random fault."""
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    retry_after_s: float | None = 0.05
    hang_s: float = 5.0
    """How long a "timeout" fault holds the request before answering."""
    seed: int = 0
    served_model: str | None = None
    """``model`` of each answer; None echoes the requested model (a provider can answer with another)."""
    system_fingerprint: str | None = None
    """``system_fingerprint`` of each answer; None leaves it out."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every request body received, faults included."""
    completions: int = 0
    """Requests that got a successful answer."""
    authorizations: list[str] = field(default_factory=list)
    """Authorization header of every chat request."""
    embedding_inputs: list[str] = field(default_factory=list)
    """Every text sent to ``/v1/embeddings``."""
    in_flight: int = 0
    max_in_flight: int = 0
    """Most chat requests being handled at the same time."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.embedding_inputs.clear()
            self.completions = 0
            self.max_in_flight = 0
            self.fault_script.clear()

    def next_fault(self) -> str | None:
        with self.lock:
            if self.fault_script:
                fault = self.fault_script.pop(0)
                return None if fault == "ok" else fault
            if self.fault_rate and self.rng.random() < self.fault_rate:
                return self.rng.choice(self.fault_kinds)
            return None

    def answer(self, messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
        last_user = echo_last_user(messages, body)
        for (model, needle), rate in self.pass_rates.items():
            if body.get("model") == model and needle in last_user:
                with self.lock:
                    draw = self.rng.random()
                return self.pass_answer if draw < rate else self.fail_answer
        for needle, text in self.answers.items():
            if needle in last_user:
                return text
        return self.default_answer(messages, body)


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server: _Server
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes; with Nagle on, the second waits ~40 ms for an ACK
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send_json(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state = self.server.state
            if self.path.rstrip("/").endswith("/stats"):
                with state.lock:
                    stats = {
                        "requests": len(state.requests),
                        "completions": state.completions,
                        "max_in_flight": state.max_in_flight,
                    }
                self._send_json(200, stats)
            elif self.path.rstrip("/").endswith("/models"):
                self._send_json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
            else:
                self._send_json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            # read once per request: a request still in flight from an earlier test keeps that test's state
            state = self.server.state
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send_json(400, {"error": {"message": "invalid json", "type": "invalid_request_error"}})
                return
            with state.lock:
                state.requests.append(body)
                state.authorizations.append(self.headers.get("Authorization", ""))
            if self.path.rstrip("/").endswith("/embeddings"):
                self._embeddings(state, body)
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                self._chat(state, body)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _embeddings(self, state: FakeState, body: dict[str, Any]) -> None:
            fault = state.next_fault()
            if fault is not None and fault.isdigit():
                status = int(fault)
                headers = {"Retry-After": f"{state.retry_after_s:g}"} if status == 429 else {}
                self._send_json(status, {"error": {"message": f"injected {status}"}}, headers)
                return
            texts = body.get("input", [])
            texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
            with state.lock:
                state.embedding_inputs.extend(texts)
            data = [
                {"object": "embedding", "index": i, "embedding": bag_of_words_vector(t)}
                for i, t in enumerate(texts)
            ]
            tokens = sum(len(t.split()) for t in texts)
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model", "fake-embedding"),
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

        def _scripted(self, state: FakeState, body: dict[str, Any]) -> bool:
            last_user = echo_last_user(body.get("messages", []), body)
            reply = next((r for needle, r in state.replies.items() if needle in last_user), None)
            if reply is None:
                return False
            raw = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            authorization = self.headers.get("Authorization", "")
            raw = raw.replace(AUTHORIZATION, authorization).replace(BARE_KEY, authorization.split(" ")[-1])
            data = raw.encode("utf-8", "surrogatepass")
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True

        def _chat(self, state: FakeState, body: dict[str, Any]) -> None:
            if self._scripted(state, body):
                return
            fault = state.next_fault()
            if state.latency_s:
                time.sleep(state.latency_s)
            if fault == "429":
                headers = {}
                if state.retry_after_s is not None:
                    headers["Retry-After"] = f"{state.retry_after_s:g}"
                error = {"error": {"message": "rate limited", "type": "rate_limit_error"}}
                self._send_json(429, error, headers)
                return
            if fault is not None and fault.isdigit():
                status = int(fault)
                kind = "server_error" if status >= 500 else "invalid_request_error"
                self._send_json(status, {"error": {"message": f"injected {status}", "type": kind}})
                return
            if fault == "timeout":
                time.sleep(state.hang_s)
            if fault == "reset":
                # Close the socket without an answer: the client sees a reset.
                self.close_connection = True
                try:
                    import socket
                    import struct

                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                self.connection.close()
                return
            messages = body.get("messages", [])
            text = state.answer(messages, body)
            stops = body.get("stop") or []
            if isinstance(stops, str):
                stops = [stops]
            for stop in stops:
                if stop and stop in text:
                    text = text[: text.index(stop)]
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
            completion_tokens = len(text.split())
            with state.lock:
                state.completions += 1
                serial = state.completions
            payload: dict[str, Any] = {"system_fingerprint": state.system_fingerprint}
            self._send_json(
                200,
                payload
                | {
                    "id": f"chatcmpl-fake-{serial}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": state.served_model or body.get("model", "fake"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                },
            )

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # read at listen(); the default of 5 drops connections when many calls start at once
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], state: FakeState) -> None:
        self.state = state
        super().__init__(address, _handler())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up mid-answer (a timed-out or interrupted call) is what the
        # tests provoke; socketserver would print its traceback into the next test's output
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


# How often serve_forever looks for a shutdown request: stop() waits up to this long (the
# standard library's 0.5 s made stopping the server the slowest step of many tests).
_POLL_INTERVAL_S = 0.02


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server:``; ``server.api_base`` is the URL."""

    def __init__(self, state: FakeState | None = None, port: int = 0) -> None:
        self.httpd = _Server(("127.0.0.1", port), FakeState())
        self.use(state or FakeState())
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": _POLL_INTERVAL_S}, daemon=True
        )

    @property
    def state(self) -> FakeState:
        """What the server answers now and what it has seen since the last :meth:`use`."""
        return self.httpd.state

    def use(self, state: FakeState) -> FakeState:
        """Answer from ``state`` from now on: a running server serves one test after another."""
        state.rng.seed(state.seed)
        self.httpd.state = state
        return state

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_asyncio(state: FakeState, port: int) -> None:
    """The same API on aiohttp's event loop: for benchmarks, where a thread per request adds its own latency.

    Latency and 429/5xx faults are supported; answers come from the rule table.
    """
    import asyncio

    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        with state.lock:
            state.requests.append({"model": body.get("model")})
        fault = state.next_fault()
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        if fault is not None and fault.isdigit():
            headers = (
                {"Retry-After": f"{state.retry_after_s:g}"} if fault == "429" and state.retry_after_s else {}
            )
            return web.json_response(
                {"error": {"message": f"injected {fault}"}}, status=int(fault), headers=headers
            )
        messages = body.get("messages", [])
        text = state.answer(messages, body)
        with state.lock:
            state.completions += 1
            serial = state.completions
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        return web.json_response(
            {
                "id": f"chatcmpl-fake-{serial}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(text.split()),
                    "total_tokens": prompt_tokens + len(text.split()),
                },
            }
        )

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": len(state.requests),
                "completions": state.completions,
                "max_in_flight": state.max_in_flight,
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/stats", stats)
    print(f"fake OpenAI API on http://127.0.0.1:{port}/v1", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--asyncio", action="store_true", help="serve on aiohttp's event loop (benchmarks)")
    args = parser.parse_args()
    state = FakeState(latency_s=args.latency_ms / 1000, fault_rate=args.fault_rate, seed=args.seed)
    state.rng.seed(args.seed)
    if args.asyncio:
        serve_asyncio(state, args.port)
        return
    server = FakeOpenAIServer(state, port=args.port)
    print(f"fake OpenAI API on {server.api_base}", flush=True)
    try:
        server.httpd.serve_forever(poll_interval=_POLL_INTERVAL_S)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
