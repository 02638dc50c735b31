# Load Celery with Django so `@shared_task` binds to this app and `.delay()` works anywhere.
from project.celery import app as celery_app

__all__ = ("celery_app",)
