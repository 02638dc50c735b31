import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

# The password .env.example and scripts/dev show: fine on a laptop, never on a server.
EXAMPLE_PASSWORD = "admin-change-me"  # noqa: S105 - the known example this command refuses


class Command(BaseCommand):
    help = (
        "Create the first admin user DJANGO_SUPERUSER_USERNAME (and optional DJANGO_SUPERUSER_EMAIL) "
        "if it does not exist yet, with DJANGO_SUPERUSER_PASSWORD, or a generated password printed "
        "once when that is unset. Under production settings a weak or example password is refused. "
        "Does nothing without a user name."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        if not username:
            self.stdout.write("DJANGO_SUPERUSER_USERNAME not set: no admin user created.")
            return
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} already exists.")
            return
        generated = not password
        if generated:
            password = secrets.token_urlsafe(18)
        elif settings.ADMIN_PASSWORD_STRICT:
            self._refuse_weak(password, username=username, email=email)
        users.create_superuser(username=username, password=password, email=email)
        if generated:
            # Printed once: only its hash is stored. Change it in the admin after logging in.
            self.stdout.write(f"Admin user {username!r} created with the generated password: {password}")
        else:
            self.stdout.write(f"Admin user {username!r} created.")

    def _refuse_weak(self, password: str, *, username: str, email: str) -> None:
        if password == EXAMPLE_PASSWORD:
            raise CommandError(
                "DJANGO_SUPERUSER_PASSWORD is the example password from .env.example: set a strong "
                "one, or leave it empty to have one generated and printed once."
            )
        try:
            validate_password(password, user=get_user_model()(username=username, email=email))
        except ValidationError as exc:
            raise CommandError("DJANGO_SUPERUSER_PASSWORD is too weak: " + " ".join(exc.messages)) from exc
