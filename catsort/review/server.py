"""The review page's server: a Starlette app on uvicorn, bound to 127.0.0.1 only.

Only its user can reach it, as Jupyter's server does it: a random token in the URL it prints,
required on every request (401 without it, 403 when wrong), a Host header that must name this
machine (403 otherwise: a DNS-rebinding page cannot talk to it), and decisions only by POST
with the token in a header, which no other site's page can send. It serves the page and the
photos under review by their id, never a path taken from a request.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from html import escape
from importlib.resources import files
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from catsort.errors import CatsortError
from catsort.review.items import FIELDS, Item
from catsort.review.review import Review
from catsort.thumbnails import thumbnail_jpeg

#: The host names the page answers to: this machine's.
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost"})
#: The header carrying the token on a decision (a page of another site cannot set it).
TOKEN_HEADER = "x-catsort-token"
#: Thumbnails in the grid, and the photo in focus, in pixels (the longer side).
THUMB_SIZE = 360
LARGE_SIZE = 1600
#: Photos whose thumbnails are made as the server starts: a screen's worth, and a row more.
FIRST_SCREEN = 24
# What the page may load: only from this server, its own inline script and style.
_POLICY = (
    "default-src 'none'; img-src 'self' data:; connect-src 'self'; "
    "script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class Guard:
    """ASGI middleware letting through only requests from this machine, with the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope)
            if refused is not None:
                status, text = refused
                await PlainTextResponse(text, status, headers=_NO_STORE)(scope, receive, send)
                return
        elif scope["type"] != "lifespan":
            return  # websockets: the page has none
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """The status and reason a request is refused with, or None to let it through."""
        headers = Headers(scope=scope)
        if _host_name(headers.get("host", "")) not in LOCAL_NAMES:
            return 403, "catsort review answers requests to 127.0.0.1 or localhost only"
        origin = headers.get("origin")
        if origin is not None and _host_name(urlsplit(origin).netloc) not in LOCAL_NAMES:
            return 403, "catsort review answers its own page only"
        given = headers.get(TOKEN_HEADER)
        if scope["method"] == "GET" and given is None:
            given = QueryParams(scope["query_string"].decode("latin-1")).get("token")
        if not given:
            return 401, "a token is needed: open the URL catsort review printed"
        if not secrets.compare_digest(given.encode(), self.token):
            return 403, "wrong token: open the URL catsort review printed"
        return None


def _host_name(host: str) -> str:
    """The name part of a Host header (``127.0.0.1:8000`` -> ``127.0.0.1``), lower case."""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 address: [::1]:8000
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


class Thumbnails:
    """The photos' JPEGs by id and size, made with catsort's decoding, kept (least recently
    used out) so that scrolling back costs nothing."""

    def __init__(self, review: Review, keep_bytes: int = 96 << 20) -> None:
        self.review = review
        self.keep_bytes = keep_bytes
        self._kept: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._making: dict[tuple[int, int], threading.Event] = {}
        self._size = 0
        self._lock = threading.Lock()

    def first_screen(self, count: int = FIRST_SCREEN) -> None:
        """Make the first photo large, then the first photos' thumbnails."""
        if self.review.items:
            self.get(0, LARGE_SIZE)
        for item in self.review.items[:count]:
            self.get(item.id, THUMB_SIZE)

    def get(self, item_id: int, size: int) -> bytes | None:
        """The photo's JPEG at ``size`` pixels, or None (no such photo, unreadable, gone).

        A JPEG being made for another request is waited for, not made twice."""
        key = (item_id, size)
        while True:
            with self._lock:
                data = self._kept.get(key)
                if data is not None:
                    self._kept.move_to_end(key)
                    return data
                making = self._making.get(key)
                if making is None:
                    making = self._making[key] = threading.Event()
                    break
            making.wait()  # then look again: made, or this request makes it
        try:
            item = self.review.item(item_id)
            data = None if item is None else thumbnail_jpeg(item.path, size, quality=80)
            if data is not None:
                with self._lock:
                    self._kept[key] = data
                    self._size += len(data)
                    while self._size > self.keep_bytes and self._kept:
                        _, dropped = self._kept.popitem(last=False)
                        self._size -= len(dropped)
            return data
        finally:
            with self._lock:
                del self._making[key]
            making.set()


class Page:
    """The page: HTML, CSS and JavaScript from the package, with the photos' data inline.

    Each photo's JSON is kept until the photo changes: with 10,000 photos, making it all again
    for each load would cost more than the rest of the page.
    """

    def __init__(self, review: Review) -> None:
        self.review = review
        static = files("catsort.review").joinpath("static")
        self.template = static.joinpath("page.html").read_text(encoding="utf-8")
        self.css = static.joinpath("review.css").read_text(encoding="utf-8")
        self.js = static.joinpath("review.js").read_text(encoding="utf-8")
        self._json: dict[int, tuple[tuple[object, ...], str]] = {}
        self._lock = threading.Lock()

    def items_json(self) -> str:
        """Every photo's values (``Item.to_row``), as one JSON array."""
        parts = []
        with self._lock:
            for item in self.review.items:
                key = (item.shown, item.decided, item.state, item.message)
                kept = self._json.get(item.id)
                if kept is None or kept[0] != key:
                    text = json.dumps(item.to_row(), ensure_ascii=False, separators=(",", ":"))
                    kept = self._json[item.id] = (key, text)
                parts.append(kept[1])
        return "[" + ",".join(parts) + "]"

    def render(self, token: str, nonce: str) -> str:
        """The whole page, for one load (``nonce``: its inline script's and style's)."""
        review = self.review
        data: dict[str, object] = {
            "token": token,
            "kind": review.kind,
            "folder": str(review.folder),
            "labels": list(review.labels),
            "choices": list(review.choices),
            "fields": list(FIELDS),
        }
        head = json.dumps(data, ensure_ascii=False)[:-1]
        parts = {
            "nonce": nonce,
            "title": escape(str(review.source.given)),
            "css": self.css,
            "js": self.js,
            # Inside <script>: no "<" at all, so no "</script>" can end it early.
            "data": f'{head},"items":{self.items_json()}}}'.replace("<", "\\u003c"),
        }
        return re.sub(r"\{\{(\w+)\}\}", lambda match: parts[match.group(1)], self.template)


def make_app(review: Review, token: str, thumbnails: Thumbnails | None = None) -> Starlette:
    """The review page's app: the page, the photos by id, decisions and undo by POST."""
    thumbnails = thumbnails if thumbnails is not None else Thumbnails(review)
    whole = Page(review)
    whole.items_json()  # made once now, so that the first load is as quick as the next

    async def page(request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        html = await run_in_threadpool(whole.render, token, nonce)
        headers = {
            **_NO_STORE,
            "Content-Security-Policy": _POLICY.format(nonce=nonce),
            "Referrer-Policy": "no-referrer",
        }
        return HTMLResponse(html, headers=headers)

    async def items(request: Request) -> Response:
        return JSONResponse([item.to_json() for item in review.items], headers=_NO_STORE)

    def photo(size: int) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            data = await run_in_threadpool(thumbnails.get, request.path_params["id"], size)
            if data is None:
                return PlainTextResponse("no such photo, or it cannot be shown", 404)
            headers = {
                "Cache-Control": "private, max-age=3600",
                "X-Content-Type-Options": "nosniff",
            }
            return Response(data, media_type="image/jpeg", headers=headers)

        return serve

    async def decide(request: Request) -> Response:
        try:
            body = await request.json()
            ids, label = body["ids"], body["label"]
            if not isinstance(ids, list) or not isinstance(label, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _error('send {"ids": [photo ids], "label": a label}', 400)
        try:
            done = await run_in_threadpool(review.decide, ids, label)
        except CatsortError as exc:
            return _error(str(exc), 400)
        return _answer(review, done)

    async def undo(request: Request) -> Response:
        try:
            done = await run_in_threadpool(review.undo)
        except CatsortError as exc:
            return _error(str(exc), 409)
        return _answer(review, done)

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/api/items", items, methods=["GET"]),
        Route("/thumb/{id:int}", photo(THUMB_SIZE), methods=["GET"]),
        Route("/photo/{id:int}", photo(LARGE_SIZE), methods=["GET"]),
        Route("/api/decide", decide, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, token=token)])


def _answer(review: Review, items: list[Item]) -> Response:
    summary = review.summary()
    return JSONResponse(
        {
            "items": [item.to_json() for item in items],
            "decided": summary.total,
            "undo": review.can_undo,
            "warning": review.unsaved,  # decided, but the corrected CSV could not be written
        },
        headers=_NO_STORE,
    )


def _error(message: str, status: int) -> Response:
    return JSONResponse({"error": message}, status, headers=_NO_STORE)


class ReviewServer:
    """The page's server on 127.0.0.1, its socket bound (a free port for ``port=0``) and
    listening before ``run``, so its ``url`` can be opened at once."""

    def __init__(self, review: Review, port: int = 0) -> None:
        self.token = secrets.token_urlsafe(32)
        self.socket = _listen(port)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"
        self.thumbnails = Thumbnails(review)
        config = uvicorn.Config(
            make_app(review, self.token, self.thumbnails),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)

    def run(self) -> None:
        """Serve until ``stop``, or Ctrl-C in the main thread (then KeyboardInterrupt)."""
        # The first screen's photos, made while the browser starts: the rest as they scroll in.
        threading.Thread(target=self.thumbnails.first_screen, daemon=True).start()
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def stop(self) -> None:
        """Ask ``run`` to finish the requests under way and return."""
        self._server.should_exit = True

    @property
    def started(self) -> bool:
        """Whether it is answering requests."""
        return self._server.started


def _listen(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:port; CatsortError (usage) when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise CatsortError(
            f"127.0.0.1:{port}: cannot listen there ({exc.strerror}); choose another --port, "
            "or leave it out for a free one"
        ) from None
    return sock
