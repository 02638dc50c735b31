import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first admin user from DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD "
        "(and optional DJANGO_SUPERUSER_EMAIL) if it does not exist yet. Does nothing when unset."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not username or not password:
            self.stdout.write("DJANGO_SUPERUSER_USERNAME/PASSWORD not set: no admin user created.")
            return
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} already exists.")
            return
        users.create_superuser(username=username, password=password, email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""))
        self.stdout.write(f"Admin user {username!r} created.")
