import pytest
from django.test import Client
@pytest.mark.django_db
def test_probe():
    c = Client()
    for path in ["/api/", "/api/docs", "/api/openapi.json", "/api/nope", "/healthz", "/admin/", "/admin/nope/", "/charts/1.png"]:
        r = c.get(path)
        print(path, r.status_code, r.headers.get("Content-Type"), r.headers.get("Location"), r.content[:100])
    r = c.delete("/api/calculations"); print("DELETE", r.status_code, r.headers.get("Content-Type"), r.content[:100])
    r = c.post("/admin/logout/"); print("logout", r.status_code)
