"""Every page carries the site's Content-Security-Policy unless it sets a stricter one."""

import pytest
from django.conf import settings


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs", "/api/openapi.json"])
def test_the_admin_and_the_api_docs_carry_the_policy(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert policy == settings.CONTENT_SECURITY_POLICY
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == "'self'"  # no inline, no eval, no other origin
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_a_response_with_its_own_policy_keeps_it(rf, settings):
    from django.http import HttpResponse

    from apps.core.middleware import ContentSecurityPolicyMiddleware

    def view(request):
        response = HttpResponse("<svg/>", content_type="image/svg+xml")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    assert (
        ContentSecurityPolicyMiddleware(view)(rf.get("/"))["Content-Security-Policy"] == "default-src 'none'"
    )
