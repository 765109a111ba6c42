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
    """The URL, if it is an absolute http(s) URL; UsageError otherwise (checked before any work)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"--alert-webhook must be an http:// or https:// URL, not {describe_url(url)!r}")
    return url


def describe_url(url: str) -> str:
    """``scheme://host[:port]`` only: webhook paths and queries often carry tokens."""
    parsed = urllib.parse.urlsplit(url)
    if not parsed.scheme or not parsed.netloc:
        return redact(url.split("?", 1)[0])[:40]
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}/…"


def post_report(url: str, report: dict[str, Any], timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """POST the JSON report. Returns (delivered, one-line description); never raises for network errors."""
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
