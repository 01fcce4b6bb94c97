"""Load the demo district (units, a user for every role, a campaign, hazards in every status)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from api import demo
from projections.eventstore import get_application
from projections.runner import catch_up, catch_up_notifications


class Command(BaseCommand):
    help = "载入演示数据（一个区教育局、市公安局、两个派出所、三所学校、各角色用户及各状态隐患）"

    def handle(self, *args: Any, **options: Any) -> None:
        app = get_application()
        if app.recorder.max_notification_id():
            raise CommandError("事件日志中已有数据：演示数据只能载入空库 (the event log is not empty)")
        with transaction.atomic():
            user_model = get_user_model()
            if not user_model.objects.filter(username="admin").exists():
                user_model.objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
            demo.load(app, timezone.now())
            catch_up(app)  # projected and chained in the same transaction: the demo is loaded whole or not at all
        catch_up_notifications(app)  # the demo's notices (what may lag: after the commit; with Kafka, the group's)
        self.stdout.write(self.style.SUCCESS("演示数据已载入 (demo data loaded)"))
