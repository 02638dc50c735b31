"""The chart image, for the admin's <img> tags and for API clients.

`/charts/<id>/<version>.png` carries the image's content hash: it never changes meaning, so
it is cached for a year (`immutable`); a refreshed chart has a new URL. A request for an old
version is redirected to the current one. `/charts/<id>.png` always serves the current
image with an ETag and `no-cache`, so a browser revalidates (304) instead of showing a stale
one. Both follow the one access policy (`apps.accounts.permissions`): a session or a bearer
token whose user has `charts.view_function`.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import quote_etag

from apps.accounts.permissions import view_requires
from apps.charts.models import Function
from apps.charts.selectors import function_image, function_image_hash, function_image_url
from apps.core.errors import NotFoundError
from apps.core.http import REVALIDATE, conditional_response, error_response

IMMUTABLE = "private, max-age=31536000, immutable"


def chart_png_response(request: HttpRequest, *, function_id: int, immutable: bool) -> HttpResponse:
    """The current PNG with its ETag, or 304 when the client already has it, or 404."""
    image_hash = function_image_hash(function_id=function_id)
    if not image_hash:
        return error_response(NotFoundError(f"Function {function_id} has no chart yet."))

    def build() -> HttpResponse:
        image = function_image(function_id=function_id)
        if image is None:  # deleted between the two reads
            return error_response(NotFoundError(f"Function {function_id} has no chart yet."))
        response = HttpResponse(image[0], content_type="image/png")
        response["ETag"] = quote_etag(image[1])
        return response

    return conditional_response(
        request, etag=image_hash, build=build, cache_control=IMMUTABLE if immutable else REVALIDATE
    )


@view_requires("view", Function)
def chart_image(request: HttpRequest, function_id: int, version: str | None = None) -> HttpResponse:
    if version is None:
        return chart_png_response(request, function_id=function_id, immutable=False)
    image_hash = function_image_hash(function_id=function_id)
    if image_hash and not image_hash.startswith(version):
        # An old version: the page that asked is stale. Send it to the current image.
        url = function_image_url(function_id=function_id, image_hash=image_hash)
        assert url is not None  # an image hash has its URL
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-cache"
        return response
    return chart_png_response(request, function_id=function_id, immutable=True)
