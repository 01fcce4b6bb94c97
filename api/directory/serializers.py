"""Input and output shapes of the unit directory endpoints."""

from __future__ import annotations

from rest_framework import serializers

from api.common import MAX_NAME, CanonicalUUID, CommandInput, Moment, Text, enum_choices
from api.names import NamedOutput, UnitName
from domain.policy import Role, UnitKind

ASSIGNABLE_ROLES = [r for r in enum_choices(Role) if r != Role.SYSTEM.value]


class UnitInput(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=enum_choices(UnitKind))
    name = Text(MAX_NAME, allow_blank=False)
    district = Text(100, required=False, default="")
    parent = CanonicalUUID(required=False, allow_null=True, default=None)
    police_station = CanonicalUUID(required=False, allow_null=True, default=None)
    stage = Text(50, required=False, default="")
    boarding = serializers.BooleanField(required=False, default=False)
    code = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=10,
        help_text="学校代码（1–10位字母或数字，区内唯一，隐患编号前缀，如 HM01）；不填则按区内登记顺序给默认代码 S001…",
    )


class UnitChangeInput(CommandInput):
    name = Text(MAX_NAME, required=False, allow_blank=False, help_text="新名称")
    district = Text(100, required=False, help_text="新区域")
    police_station = CanonicalUUID(required=False, help_text="新的属地派出所（仅学校）")
    code = serializers.CharField(
        required=False,
        max_length=10,
        help_text="新的学校代码（区内唯一）：此后登记的隐患用新代码编号，已有编号不变",
    )
    effective_from = Moment(help_text="变更生效的业务时间：此前的报表仍用原名称、原区域、原属地派出所")


class UnitOutput(NamedOutput):
    id = CanonicalUUID()
    kind = serializers.CharField()
    name = serializers.CharField()
    code = serializers.CharField(
        help_text="学校代码（隐患编号前缀）；登记时未给代码的学校为系统默认代码 S001…；非学校为空"
    )
    district = serializers.CharField()
    parent = CanonicalUUID(allow_null=True)
    parent_name = UnitName("parent", help_text="上级单位名称")
    police_station = CanonicalUUID(allow_null=True)
    police_station_name = UnitName("police_station", help_text="属地派出所名称")
    stage = serializers.CharField()
    boarding = serializers.BooleanField()
    version = serializers.IntegerField()


class UserInput(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(min_length=8, max_length=128, write_only=True)
    display_name = Text(100, allow_blank=False)
    phone = Text(50, required=False, default="")
    unit = CanonicalUUID(required=False, allow_null=True, default=None)
    role = serializers.ChoiceField(choices=ASSIGNABLE_ROLES)
    effective_from = Moment(required=False)


class RoleInput(serializers.Serializer):  # type: ignore[type-arg]
    unit = CanonicalUUID(allow_null=True)
    role = serializers.ChoiceField(choices=ASSIGNABLE_ROLES)
    effective_from = Moment(required=False)
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31)


class DeactivateInput(serializers.Serializer):  # type: ignore[type-arg]
    effective_from = Moment(required=False)
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31)


class UserOutput(NamedOutput):
    username = serializers.CharField()
    display_name = serializers.CharField()
    phone = serializers.CharField()
    unit = CanonicalUUID(allow_null=True)
    unit_name = UnitName("unit")
    role = serializers.CharField()
    active = serializers.BooleanField()
    version = serializers.IntegerField()


class StaffAtOutput(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    to = serializers.DateTimeField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # "from" is a Python keyword, so the field cannot be declared as a class attribute.
        return {**super().get_fields(), "from": serializers.DateTimeField()}
