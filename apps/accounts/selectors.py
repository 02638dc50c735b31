from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from apps.accounts.models import ApiToken, token_digest

# Touching last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_user(*, raw: str) -> AbstractBaseUser | None:
    """The active user a raw bearer token belongs to, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
