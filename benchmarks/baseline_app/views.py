"""``POST /hazards/<id>/progress/``: validate, lock the row, check the state, update it, answer the hazard."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from benchmarks.baseline_app.models import Hazard


class ProgressInput(serializers.Serializer):  # type: ignore[type-arg]
    note = serializers.CharField()
    percent = serializers.IntegerField(min_value=0, max_value=100)


class HazardOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Hazard
        exclude: list[str] = []


class ReportProgress(APIView):
    def post(self, request: Request, pk: int) -> Response:
        data = ProgressInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            hazard = get_object_or_404(Hazard.objects.select_for_update(), pk=pk)
            if hazard.status != "assigned":
                return Response({"code": "invalid_transition"}, status=409)
            hazard.progress, hazard.progress_note = data.validated_data["percent"], data.validated_data["note"]
            hazard.version += 1
            hazard.save()
        return Response(HazardOutput(hazard).data)
