"""HTTP helpers shared by the API and the plain views: conditional GETs by Django's own rules."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import quote_etag

REVALIDATE = "private, no-cache"


def client_copy_current(request: HttpRequest, *, etag: str) -> bool:
    """Whether the client already holds the representation with this ETag (`If-None-Match`,
    weak comparison, `*`), as Django's `get_conditional_response` decides."""
    response = get_conditional_response(request, etag=quote_etag(etag))
    return response is not None and response.status_code == 304


def conditional_response(
    request: HttpRequest,
    *,
    etag: str,
    build: Callable[[], HttpResponse],
    cache_control: str = REVALIDATE,
) -> HttpResponse:
    """A 304 when the client's copy is current, else `build()`; both carry the ETag (`build`
    may set a newer one), the cache policy and `Vary` on the credentials (a private image).
    An error `build()` returns goes out as it is."""
    response: HttpResponse = HttpResponseNotModified() if client_copy_current(request, etag=etag) else build()
    if response.status_code not in (200, 304):
        return response
    if not response.has_header("ETag"):
        response["ETag"] = quote_etag(etag)
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, ["Authorization", "Cookie"])
    return response
