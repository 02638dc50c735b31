import secrets

from django.contrib.auth.models import User
from django.utils import timezone

from apps.accounts.models import ApiToken, token_digest
from apps.accounts.signals import access_revoked


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw value, which is never stored or shown again."""
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:8], digest=token_digest(raw))
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token: the API refuses it from now on and its open websockets are closed."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        access_revoked.send(sender=ApiToken, user_id=token.user_id, token_id=token.pk)
