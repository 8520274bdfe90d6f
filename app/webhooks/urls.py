"""Where webhooks may go: https to public addresses only, checked at registration and again at every connect.

The connect-time check sits in the network backend of the HTTP client: it resolves the host itself, refuses when
any address is not public (a name that resolves to both a public and a private address is refused: an attacker
controls which one a later lookup returns), and opens the socket to the address it checked, so a DNS answer that
changes between the check and the connect (rebinding) cannot slip through. TLS still verifies the certificate
against the URL's host name (the backend changes only the address the socket connects to). Redirects are not
followed and proxies from the environment are ignored, so nothing else decides where a request goes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not caught by the ipaddress flags on every Python version: carrier-grade NAT, the cloud metadata service and the
# deprecated IPv6 site-local range (RFC 3879), which routers may still treat as internal.
_EXTRA_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fec0::/10"),
)
# What RFC 3986 lets a URI carry: no space, line break, control or non-ASCII character, however the parsers below
# would read it (urlsplit drops tabs and line breaks without a word, so "https://127.0.0.1\n.example.com/" would be
# looked up as 127.0.0.1.example.com). A non-ASCII host name is written in its xn-- form.
URI_CHARACTERS = r"([A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
_URI = re.compile(URI_CHARACTERS)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(ValueError):
    """The URL or an address it resolves to may not receive webhooks."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    if any(address in network for network in _EXTRA_BLOCKED if network.version == address.version):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_addresses(host: str, addresses: Iterable[str]) -> list[str]:
    """The addresses, if every one of them is public; otherwise UnsafeTarget."""
    checked = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public(address):
            raise UnsafeTarget(f"{host} resolves to {address}, which is not a public address")
        checked.append(str(address))
    if not checked:
        raise UnsafeTarget(f"{host} does not resolve")
    return checked


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"{host} does not resolve ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, *, allow_private: bool) -> str:
    """Refuse a URL webhooks may not go to (scheme, credentials, host and, unless allowed, its addresses)."""
    if not _URI.fullmatch(url):
        raise UnsafeTarget(
            "the URL may hold only what RFC 3986 allows: no spaces, line breaks, control or non-ASCII characters "
            "(percent-encode them; a non-ASCII host name in its xn-- form)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget(f"not a URL: {exc}") from None
    if parts.scheme not in (("https", "http") if allow_private else ("https",)):
        raise UnsafeTarget("the URL must be https")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("the URL may not carry credentials; authenticate with the signature")
    if parts.fragment:
        raise UnsafeTarget("the URL may not have a fragment")
    if not allow_private:
        check_addresses(parts.hostname, resolve(parts.hostname, port))
    return url


class PublicOnlyBackend(httpcore.SyncBackend):
    """Connects only to public addresses, resolving the host once and connecting to what it checked."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = check_addresses(host, resolve(host, port))
        except UnsafeTarget as exc:
            raise httpcore.ConnectError(str(exc)) from None
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error


class PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's own transport on the public-only network backend, for https only: a URL stored while private
    targets were allowed is refused here as at registration."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # httpx has no parameter for the network backend: its pool is rebuilt with ours (same TLS context).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=PublicOnlyBackend()
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            raise httpx.UnsupportedProtocol("the URL must be https", request=request)
        return super().handle_request(request)


def transport(*, allow_private: bool) -> httpx.HTTPTransport:
    """httpx's own transport; unless private targets are allowed, checked at every connect."""
    return httpx.HTTPTransport(trust_env=False) if allow_private else PublicOnlyTransport()
