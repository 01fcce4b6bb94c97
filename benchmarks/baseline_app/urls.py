from django.http import HttpRequest, HttpResponse
from django.urls import path

from benchmarks.baseline_app.views import ReportProgress


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("hazards/<int:pk>/progress/", ReportProgress.as_view()),
    path("healthz", healthz),
]
