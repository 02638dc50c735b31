"""Response headers every page of the site carries."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Sends CONTENT_SECURITY_POLICY on every response that has no policy of its own (an
    exported SVG sets a stricter one). The admin and the API's Swagger page load scripts from
    this site only, with no inline script, so an injected `<script>` or event handler never
    runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response
