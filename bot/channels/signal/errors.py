"""What can go wrong talking to signal-cli, as named exceptions.

signal-cli answers a failed call with a JSON-RPC error (codes from its
``SignalJsonRpcCommandHandler``): -1 user error, -3 I/O error, -4 untrusted identity, -5 rate
limit, -6 captcha rejected, and the JSON-RPC codes -32700/-32600/-32601/-32602/-32603. A ``send``
in which no recipient got the message fails after writing its result, which then sits in the
error's ``data.response``: its per-recipient ``type`` says why (``UNREGISTERED_FAILURE``,
``RATE_LIMIT_FAILURE`` with ``retryAfterSeconds`` and, when Signal wants a captcha, a ``token``).

The daemon's own message text can name a phone number, so ``str()`` of these errors holds the
method and the code only; the text is kept in ``daemon_message`` for whoever needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

USER_ERROR = -1
IO_ERROR = -3
UNTRUSTED_KEY_ERROR = -4
RATELIMIT_ERROR = -5
CAPTCHA_REJECTED_ERROR = -6
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class SignalCliError(Exception):
    """Anything that kept a call to signal-cli from succeeding."""


class DaemonUnavailable(SignalCliError):
    """No answer: whether the daemon carried out the call is unknown."""

    def __init__(self, method: str, why: str) -> None:
        super().__init__(f"{method}: {why}")
        self.method = method


class NotConnected(DaemonUnavailable):
    def __init__(self, method: str) -> None:
        super().__init__(method, "not connected to signal-cli")


class ConnectionLost(DaemonUnavailable):
    def __init__(self, method: str) -> None:
        super().__init__(method, "connection to signal-cli lost before the answer")


class RequestTimedOut(DaemonUnavailable):
    def __init__(self, method: str, timeout: float) -> None:
        super().__init__(method, f"no answer from signal-cli within {timeout:g}s")


class RpcError(SignalCliError):
    """signal-cli answered with a JSON-RPC error."""

    def __init__(self, method: str, code: int, daemon_message: str = "", data: Any = None) -> None:
        super().__init__(f"{method}: signal-cli error {code}")
        self.method = method
        self.code = code
        self.daemon_message = daemon_message
        self.data = data


class RateLimited(RpcError):
    """Signal refuses for now; try again after ``retry_after_seconds`` (None: it did not say)."""

    def __init__(
        self,
        method: str,
        code: int,
        daemon_message: str = "",
        data: Any = None,
        *,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(method, code, daemon_message, data)
        self.retry_after_seconds = retry_after_seconds


class ProofRequired(RateLimited):
    """A rate limit that lifts only after the operator solves a captcha (``token``)."""

    def __init__(
        self,
        method: str,
        code: int,
        daemon_message: str = "",
        data: Any = None,
        *,
        retry_after_seconds: int | None = None,
        token: str,
    ) -> None:
        super().__init__(
            method, code, daemon_message, data, retry_after_seconds=retry_after_seconds
        )
        self.token = token


class UntrustedIdentity(RpcError):
    """The recipient's safety number changed; the operator must trust it again."""


class CaptchaRejected(RpcError):
    """Signal wants (another) captcha before this account may go on."""


class Unregistered(RpcError):
    """The recipient has no Signal account (any more)."""


class SendFailed(RpcError):
    """No recipient got the message, for another reason (``failure_types`` says which)."""

    def __init__(
        self,
        method: str,
        code: int,
        daemon_message: str = "",
        data: Any = None,
        *,
        failure_types: Sequence[str] = (),
    ) -> None:
        super().__init__(method, code, daemon_message, data)
        self.failure_types = tuple(failure_types)


class MethodNotFound(RpcError):
    """This signal-cli does not know the method (too old, or a typo)."""


class InvalidRequest(RpcError):
    """signal-cli could not parse or accept the request: a programming error on our side."""


def error_from_response(method: str, error: Mapping[str, Any]) -> RpcError:
    """The named exception for a JSON-RPC ``error`` object signal-cli answered to ``method``."""
    code = error.get("code")
    code = code if isinstance(code, int) else INTERNAL_ERROR
    text = error.get("message")
    text = text if isinstance(text, str) else ""
    data = error.get("data")
    results = _results_of(data)
    if code == RATELIMIT_ERROR:
        retry_after = _max_retry_after(results)
        token = next((r["token"] for r in results if isinstance(r.get("token"), str)), None)
        if token is not None:
            return ProofRequired(
                method, code, text, data, retry_after_seconds=retry_after, token=token
            )
        return RateLimited(method, code, text, data, retry_after_seconds=retry_after)
    if code == UNTRUSTED_KEY_ERROR:
        return UntrustedIdentity(method, code, text, data)
    if code == CAPTCHA_REJECTED_ERROR:
        return CaptchaRejected(method, code, text, data)
    if code == METHOD_NOT_FOUND:
        return MethodNotFound(method, code, text, data)
    if code in (PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS):
        return InvalidRequest(method, code, text, data)
    if code == USER_ERROR:
        types = [r.get("type") for r in results]
        # A recipient that unregistered since we last wrote shows up in the results; a number
        # Signal never knew fails earlier, with only this sentence (SendCommand).
        if "UNREGISTERED_FAILURE" in types or text.endswith("is not registered."):
            return Unregistered(method, code, text, data)
        if results:
            failures = [t for t in types if isinstance(t, str) and t != "SUCCESS"]
            return SendFailed(method, code, text, data, failure_types=failures)
    return RpcError(method, code, text, data)


def _results_of(data: Any) -> list[Mapping[str, Any]]:
    if not isinstance(data, Mapping):
        return []
    response = data.get("response")
    if not isinstance(response, Mapping):
        return []
    results = response.get("results")
    if not isinstance(results, list):
        return []
    return [r for r in results if isinstance(r, Mapping)]


def _max_retry_after(results: Sequence[Mapping[str, Any]]) -> int | None:
    """The longest wait any recipient was given, as signal-cli itself takes for the whole call."""
    waits = [r["retryAfterSeconds"] for r in results if isinstance(r.get("retryAfterSeconds"), int)]
    return max(waits) if waits else None
