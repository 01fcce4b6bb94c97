"""Django admin: units and staff roles are edited through commands (events); read models are read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from api.auth import actor_for
from api.services import execute
from domain.errors import DomainError
from domain.policy import ROLE_LABELS, UNIT_KIND_LABELS, Role, UnitKind
from projections.directory import code_taken
from projections.models import (
    CampaignView,
    HazardLedger,
    InspectionView,
    StaffInterval,
    StaffView,
    UnitVersion,
    UnitView,
)

admin.site.site_header = "校园安全隐患排查整治 管理后台"
admin.site.site_title = "校园安全隐患排查整治"
admin.site.site_url = "/"  # 查看站点: the 工作台


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read models only reflect the event log: nobody edits or deletes them here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CommandAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Saving the form issues a command; the row appears once the event is projected."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def run(self, request: HttpRequest, command: Any) -> None:
        try:
            execute(command)
        except DomainError as error:
            self.message_user(request, f"操作被拒绝：{error.detail}", level=messages.ERROR)


class UnitForm(forms.ModelForm):  # type: ignore[type-arg]
    kind = forms.ChoiceField(label="类型", choices=[(k.value, v) for k, v in UNIT_KIND_LABELS.items()])

    class Meta:
        model = UnitView
        fields = ["kind", "name", "code", "district", "parent", "police_station", "stage", "boarding"]


@admin.register(UnitView)
class UnitAdmin(CommandAdmin):
    form = UnitForm
    list_display = ["name", "code", "kind", "district", "stage", "boarding"]
    list_filter = ["kind", "district"]
    search_fields = ["name"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # a registered unit is a fact; the list stays browsable

    def save_model(self, request: HttpRequest, obj: UnitView, form: Any, change: bool) -> None:
        data = form.cleaned_data
        self.run(
            request,
            lambda app: app.register_unit(
                actor=actor_for(request.user),
                kind=UnitKind(data["kind"]),
                name=data["name"],
                district=data["district"],
                parent=data["parent"],
                police_station=data["police_station"],
                stage=data["stage"],
                boarding=data["boarding"],
                code=data["code"],
                code_in_use=code_taken,
            ),
        )


class StaffForm(forms.ModelForm):  # type: ignore[type-arg]
    role = forms.ChoiceField(
        label="角色", choices=[(r.value, v) for r, v in ROLE_LABELS.items() if r is not Role.SYSTEM]
    )
    effective_from = forms.DateTimeField(label="生效时间", initial=timezone.now)

    class Meta:
        model = StaffView
        fields = ["username", "display_name", "phone", "unit", "role"]


@admin.register(StaffView)
class StaffAdmin(CommandAdmin):
    form = StaffForm
    list_display = ["username", "display_name", "role", "unit", "active"]
    list_filter = ["role", "active"]
    search_fields = ["username", "display_name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["username", "display_name", "phone"] if obj else []

    def save_model(self, request: HttpRequest, obj: StaffView, form: Any, change: bool) -> None:
        data, actor = form.cleaned_data, actor_for(request.user)
        if change:
            self.run(
                request,
                lambda app: app.change_role(
                    actor=actor,
                    username=obj.username,
                    unit=data["unit"],
                    role=Role(data["role"]),
                    effective_from=data["effective_from"],
                ),
            )
        else:
            self.run(
                request,
                lambda app: app.appoint_staff(
                    actor=actor,
                    username=data["username"],
                    display_name=data["display_name"],
                    phone=data["phone"],
                    unit=data["unit"],
                    role=Role(data["role"]),
                    effective_from=data["effective_from"],
                ),
            )


@admin.register(StaffInterval)
class StaffIntervalAdmin(ReadOnlyAdmin):
    list_display = ["username", "role", "unit", "valid_from", "valid_to", "recorded_at"]
    list_filter = ["role"]


@admin.register(UnitVersion)
class UnitVersionAdmin(ReadOnlyAdmin):
    list_display = ["unit", "version", "name", "district", "police_station", "valid_from", "recorded_at"]


@admin.register(CampaignView)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["title", "document_no", "statistics_cutoff", "report_deadline"]


@admin.register(InspectionView)
class InspectionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "school", "status", "started_at"]
    list_filter = ["kind", "status"]


@admin.register(HazardLedger)
class HazardLedgerAdmin(ReadOnlyAdmin):
    list_display = ["number", "description", "severity", "status", "owner", "deadline", "overdue", "supervised"]
    list_filter = ["status", "severity", "overdue", "supervised", "voided"]
    search_fields = ["number", "description"]
