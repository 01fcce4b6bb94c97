"""Hazard shapes: command inputs, the hazard JSON (from a ledger row or a past aggregate state), history."""

from __future__ import annotations

from rest_framework import serializers

from api.attachments import AttachmentRefOutput
from api.common import MAX_NAME, AttachmentIds, CanonicalUUID, CommandInput, Day, Moment, Text, enum_choices
from api.names import NamedOutput, PersonName, UnitName
from domain.hazard.aggregate import Severity, Status


class DiscoverInput(serializers.Serializer):  # type: ignore[type-arg]
    campaign = CanonicalUUID()
    school = CanonicalUUID()
    inspection = CanonicalUUID(required=False, allow_null=True, default=None)
    item = serializers.CharField(required=False, default="", allow_blank=True, max_length=20)
    category = Text(100, required=False, default="")
    description = Text(allow_blank=False, help_text="问题表现")
    severity = serializers.ChoiceField(choices=enum_choices(Severity))
    location = Text(MAX_NAME, required=False, default="")
    rectified_on_spot = serializers.BooleanField(required=False, default=False, help_text="立行立改（仅一般隐患）")
    occurred_at = Moment(required=False)
    attachments = AttachmentIds(help_text="附件 id 列表（隐患现场照片等，先上传到 attachments/）")


class AssignInput(CommandInput):
    owner = serializers.CharField(max_length=150)
    owner_unit = CanonicalUUID()
    deadline = Day(help_text="整改时限（当日24:00截止）")
    standard = Text(required=False, default="", help_text="整改标准")


class TransferInput(CommandInput):
    owner = serializers.CharField(max_length=150)
    owner_unit = CanonicalUUID()
    reason = Text(allow_blank=False)


class PlanInput(CommandInput):
    measures = Text(allow_blank=False, help_text="整改措施")
    funds = Text(MAX_NAME, required=False, default="", help_text="资金落实")
    deadline = Day(help_text="完成时间")
    contingency = Text(required=False, default="", help_text="预案")
    beyond_capacity = serializers.BooleanField(required=False, default=False, help_text="学校无力整改")


class InterimMeasuresInput(CommandInput):
    measures = Text(allow_blank=False, help_text="临时安全防范措施")
    attachments = AttachmentIds()


class ProgressInput(CommandInput):
    note = Text(required=False, default="")
    percent = serializers.IntegerField(min_value=0, max_value=100)
    attachments = AttachmentIds()


class ExtendInput(CommandInput):
    new_deadline = Day()
    reason = Text(allow_blank=False)


class EscalateInput(CommandInput):
    to_unit = CanonicalUUID()
    reason = Text(allow_blank=False)


class SuperviseInput(CommandInput):
    note = Text(required=False, default="")


class RectifyInput(CommandInput):
    note = Text(allow_blank=False, help_text="整改情况")
    evidence = serializers.ListField(child=Text(500), required=False, default=list, max_length=50)
    attachments = AttachmentIds(
        help_text="附件 id 列表（先上传到 attachments/）：整改后的照片，默认须至少一张（JPEG/PNG/WebP）"
    )


class VerifyInput(CommandInput):
    accepted = serializers.BooleanField()
    note = Text(required=False, default="")
    attachments = AttachmentIds()


class ReopenInput(CommandInput):
    reason = Text(allow_blank=False)
    attachments = AttachmentIds()


class VoidInput(CommandInput):
    reason = Text(allow_blank=False, help_text="作废原因（如：误录、重复登记）")


class HazardOutput(NamedOutput):
    """The hazard JSON of DESIGN §5; reads a ledger row or a (past) aggregate state alike."""

    id = CanonicalUUID()
    number = serializers.CharField(help_text="隐患编号：学校代码-年份-序号（如 HM01-2026-0001）；旧编号为 年份-序号")
    campaign = CanonicalUUID()
    school = CanonicalUUID()
    school_name = UnitName("school", help_text="学校名称")
    category = serializers.CharField()
    description = serializers.CharField()
    severity = serializers.ChoiceField(choices=enum_choices(Severity))
    location = serializers.CharField()
    status = serializers.ChoiceField(choices=enum_choices(Status))
    owner = serializers.CharField(allow_null=True)
    owner_name = PersonName("owner", help_text="整改责任人姓名")
    owner_unit = CanonicalUUID(allow_null=True)
    owner_unit_name = UnitName("owner_unit", help_text="责任单位名称")
    deadline = serializers.DateField(allow_null=True)
    standard = serializers.CharField()
    escalated = serializers.BooleanField()
    supervised = serializers.BooleanField()
    beyond_capacity = serializers.BooleanField()
    overdue = serializers.BooleanField()
    interim_measures = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField()
    discovered_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    voided = serializers.BooleanField(default=False, help_text="已作废：不计入任何统计和列表")
    voided_at = serializers.DateTimeField(allow_null=True, default=None, help_text="作废的业务时间")
    void_reason = serializers.CharField(default="", help_text="作废原因")


class HistoryItem(NamedOutput):
    version = serializers.IntegerField()
    type = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    actor = serializers.CharField()
    actor_name = PersonName("actor", help_text="记录人姓名")
    data = serializers.DictField()
    hash = serializers.CharField(
        allow_null=True, help_text="该事件在哈希链中的哈希（SHA-256，十六进制）；尚未入链时为 null"
    )
    attachments = AttachmentRefOutput(
        many=True, help_text="该事件记录的附件（照片、文件），两个 SHA-256 随事件入哈希链；此前记录的事件为空"
    )


class OwnerInterval(NamedOutput):
    owner = serializers.CharField()
    owner_name = PersonName("owner", help_text="整改责任人姓名")
    owner_unit = CanonicalUUID()
    owner_unit_name = UnitName("owner_unit", help_text="责任单位名称")
    to = serializers.DateTimeField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # "from" is a Python keyword, so the field cannot be declared as a class attribute.
        fields = super().get_fields()
        return {
            "owner": fields["owner"],
            "owner_name": fields["owner_name"],
            "owner_unit": fields["owner_unit"],
            "owner_unit_name": fields["owner_unit_name"],
            "from": serializers.DateTimeField(),
            "to": fields["to"],
        }


class OwnershipItem(NamedOutput):
    hazard = CanonicalUUID()
    number = serializers.CharField()
    school = CanonicalUUID()
    school_name = UnitName("school", help_text="学校名称")
    owner = serializers.CharField(allow_null=True)
    owner_name = PersonName("owner", help_text="整改责任人姓名")
    owner_unit = CanonicalUUID(allow_null=True)
    owner_unit_name = UnitName("owner_unit", help_text="责任单位名称")
    owner_since = serializers.DateTimeField(allow_null=True)
    deadline = serializers.DateField(allow_null=True)
    status = serializers.CharField()
    overdue = serializers.BooleanField()
