"""Post a drift report to a webhook (chat / paging integrations): ``migtui drift --alert-webhook URL``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from migtui.errors import UsageError
from migtui.redact import redact

TIMEOUT_SECONDS = 10.0


def check_webhook_url(url: str) -> str:
    """The URL, if it is an absolute http(s) URL with a valid host and port; UsageError otherwise (checked
    before any work: a malformed IPv6 host or a port above 65535 makes urllib raise ValueError)."""
    try:
        parsed = urllib.parse.urlsplit(url)
        parsed.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise UsageError(f"--alert-webhook {describe_url(url)!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"--alert-webhook must be an http:// or https:// URL, not {describe_url(url)!r}")
    return url


def describe_url(url: str) -> str:
    """``scheme://host[:port]`` only: webhook paths and queries often carry tokens."""
    try:
        parsed = urllib.parse.urlsplit(url)
        port = f":{parsed.port}" if parsed.port else ""
    except ValueError:
        return redact(url.split("?", 1)[0].rsplit("@", 1)[-1])[:40]
    if not parsed.scheme or not parsed.netloc:
        return redact(url.split("?", 1)[0])[:40]
    host = parsed.hostname or ""
    return f"{parsed.scheme}://{host}{port}/…"


def post_report(url: str, report: dict[str, Any], timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """POST the JSON report. Returns (delivered, one-line description); never raises for network errors.

    ``timeout`` bounds the whole delivery: urllib's own timeout is per socket operation, so a server sending
    a byte every few seconds would hold drift indefinitely. The request runs in a daemon thread; past the
    deadline drift goes on and the thread is abandoned.
    """
    import threading

    outcome: list[tuple[bool, str]] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_post(url, report, timeout)), name="migtui-webhook", daemon=True
    )
    worker.start()
    worker.join(timeout)
    if not outcome:
        return False, f"alert webhook {describe_url(url)} failed: no answer within {timeout:g}s"
    return outcome[0]


def _post(url: str, report: dict[str, Any], timeout: float) -> tuple[bool, str]:
    body = json.dumps(report).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "migtui-drift"},
    )
    where = describe_url(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return True, f"alert posted to {where} (HTTP {response.status})"
    except urllib.error.HTTPError as exc:
        return False, f"alert webhook {where} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"alert webhook {where} failed: {redact(str(reason))}"
