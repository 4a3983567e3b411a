"""Conveyor's wiring: settings, the Celery app and the queue table."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
