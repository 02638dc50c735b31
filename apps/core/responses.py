"""HTTP answers every resource gives the same way: a 201 names what it created."""

import json

from django.http import HttpResponse
from django.urls import reverse

# The URL namespace of the one NinjaAPI (project.api passes it): what `reverse` needs to name
# an operation's URL from an app, which must not import the project.
API_NAMESPACE = "api-1.0.0"


def api_url(url_name: str, **kwargs: object) -> str:
    """The path of the API operation registered with `url_name` (e.g. `calculation_detail`)."""
    return reverse(f"{API_NAMESPACE}:{url_name}", kwargs=kwargs)


def created_response(*, body: dict, location: str) -> HttpResponse:
    """201 with `body` and the new resource's URL in `Location`."""
    response = HttpResponse(json.dumps(body), status=201, content_type="application/json")
    response["Location"] = location
    return response
