"""Input guards of the platform: bounded JSON, finite numbers, allowed URLs, exposure.

Everything a client sends passes :func:`check_json` before it is stored or queued
(nesting depth and non-finite numbers, each refusal naming the JSON path); every
``http`` function's URL passes :class:`UrlPolicy` at registration and again before each
call; :func:`check_exposure` decides whether ``dagforge serve`` may start at all.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any
from urllib.parse import urlsplit

from dagforge.errors import RegistryError, SerializationError

MAX_DEPTH = 64


class BadInput(RegistryError):
    """A request body the platform refuses (422), with the JSON path at fault."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


def check_json(value: Any, where: str = "body", max_depth: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than ``max_depth`` and NaN/Infinity, naming the path.

    Iterative (no recursion), so a hostile body cannot exhaust the stack here.
    """
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= max_depth:
                raise BadInput(f"{path}: JSON nested deeper than {max_depth} levels", path)
            for k, v in item.items():
                if isinstance(v, (dict, list, float)):
                    stack.append((v, f"{path}.{k}", depth + 1))
        elif isinstance(item, list):
            if depth >= max_depth:
                raise BadInput(f"{path}: JSON nested deeper than {max_depth} levels", path)
            for i, v in enumerate(item):
                if isinstance(v, (dict, list, float)):
                    stack.append((v, f"{path}[{i}]", depth + 1))
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadInput(f"{path}: {item!r} is not a JSON number (NaN/Infinity refused)", path)


def check_outputs(node: str, outputs: Any) -> None:
    """A node's outputs must be JSON: a NaN/Infinity fails that node, naming the key."""
    try:
        check_json(outputs, "outputs", max_depth=10_000)
    except BadInput as exc:
        key = exc.path.removeprefix("outputs").lstrip(".") or "(the value)"
        raise SerializationError(
            f"node {node!r}: output {key!r} is not JSON-serialisable: {exc}"
        ) from None


class UrlPolicy:
    """Where ``http`` functions may point: URL prefixes and/or CIDR ranges.

    A prefix matches on parsed parts (scheme, host, port, then the path by whole
    segments), never on raw text, so ``http://ok.example`` does not let
    ``http://ok.example.evil.net`` or ``http://ok.example@evil.net`` through. A CIDR range
    matches URLs whose host is an IP address literal inside it (names are not resolved,
    so a DNS answer cannot move a URL into or out of a range).
    """

    def __init__(self, entries: tuple[str, ...] | list[str] | None):
        self.entries = tuple(entries or ())
        self._prefixes: list[tuple[str, str, int, str]] = []
        self._nets: list[Any] = []
        for entry in self.entries:
            if entry.startswith(("http://", "https://")):
                scheme, host, port, path = _parts(entry, "--allow-url")
                self._prefixes.append((scheme, host, port, path.rstrip("/")))
            else:
                try:
                    self._nets.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise RegistryError(
                        f"--allow-url {entry!r} is neither an http(s):// URL prefix nor a "
                        "CIDR range like 10.0.0.0/8"
                    ) from None

    def check(self, name: str, url: Any) -> str:
        """The URL if it is allowed; ``RegistryError`` naming the option otherwise."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise RegistryError(f"function {name!r}: kind 'http' needs an http(s) 'url'")
        if not self.entries:
            raise RegistryError(
                f"function {name!r}: http functions are disabled on this server; the "
                f"operator allows the url with --allow-url {_origin(url)} (a URL prefix or "
                "a CIDR range)"
            )
        scheme, host, port, path = _parts(url, f"function {name!r}: url")
        for p_scheme, p_host, p_port, p_path in self._prefixes:
            if (scheme, host, port) == (p_scheme, p_host, p_port) and (
                not p_path or path == p_path or path.startswith(p_path + "/")
            ):
                return url
        if self._nets:
            try:
                ip = ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                ip = None
            if ip is not None and any(ip in net for net in self._nets):
                return url
        raise RegistryError(
            f"function {name!r}: url {url!r} is outside the server's --allow-url list "
            f"{list(self.entries)}"
        )


def _parts(url: str, what: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RegistryError(f"{what} {url!r} is not a valid URL: {exc}") from None
    if parts.username is not None or parts.password is not None:
        raise RegistryError(f"{what} {url!r} must not hold credentials ('user@host')")
    if not parts.hostname:
        raise RegistryError(f"{what} {url!r} has no host")
    segments = parts.path.split("/")
    if any(seg in (".", "..") or "%2e" in seg.lower() or "%2f" in seg.lower() for seg in segments):
        raise RegistryError(f"{what} {url!r} must not hold '.'/'..' or encoded path segments")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default, parts.path or "/"


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/"
    except ValueError:
        return "URL"


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None, insecure: bool) -> str | None:
    """Refuse a non-loopback bind without a token; a warning text when ``insecure``."""
    if token or is_loopback(host):
        return None
    if not insecure:
        raise RegistryError(
            f"refusing to listen on {host!r} without --token: anyone who can reach it could "
            "register and run code; set --token (or DAGFORGE_TOKEN), bind 127.0.0.1, or "
            "pass --insecure if the network itself is trusted"
        )
    return (
        f"warning: listening on {host!r} without a token (--insecure): every client that "
        "can reach this address may register, run and read everything"
    )
