import hashlib

from django.conf import settings
from django.db import models


def token_digest(raw: str) -> str:
    # Tokens are 256-bit random strings, so a plain SHA-256 is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the REST and websocket APIs. Only its digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, help_text="First characters, to recognise a token.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Without it a staff user may only create tokens for themselves (apps.accounts.permissions).
        permissions = [("add_apitoken_for_others", "Can add API tokens for other users")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
