from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    verbose_name = "读模型（投影）"
    default_auto_field = "django.db.models.BigAutoField"
