"""Joint form shapes for the OpenAPI schema: the form as a party sees it (``service.form_json``), its history."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.attachments import AttachmentRefOutput
from api.common import CanonicalUUID, CommandInput
from api.hazards.serializers import HistoryItem
from api.reports.submissions import SubmittedCopyOutput
from domain.attachments import MAX_PER_EVENT
from domain.jointform.fields import FIELDS, MAX_TEXT, FormField


class SignatureOutput(serializers.Serializer):  # type: ignore[type-arg]
    role = serializers.CharField()
    user = serializers.CharField(allow_null=True)
    user_name = serializers.CharField(allow_null=True, help_text="签字人姓名")
    hash = serializers.CharField(allow_null=True, help_text="签字时的内容哈希")
    signed_at = serializers.CharField(allow_null=True)
    valid = serializers.BooleanField(help_text="签字的哈希与当前内容一致且未作废")
    voided = serializers.BooleanField()


class MissingCell(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    label = serializers.CharField(help_text="表中栏目名称")
    party = serializers.ChoiceField(choices=["school", "police"], help_text="由哪一方填写")


class JointFormOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = CanonicalUUID()
    campaign = CanonicalUUID()
    school = CanonicalUUID()
    school_name = serializers.CharField(allow_null=True, help_text="学校名称")
    station = CanonicalUUID(help_text="属地派出所")
    station_name = serializers.CharField(allow_null=True, help_text="属地派出所名称")
    status = serializers.ChoiceField(choices=["draft", "signed", "submitted"])
    version = serializers.IntegerField()
    content_hash = serializers.CharField(help_text="表格内容的 SHA-256（不含公安专属内容）")
    fields = serializers.DictField(
        help_text="栏目键 → 值（未填为 null；不适用为 “/”）；sensitive_notes 仅公安单位用户可见"
    )
    attachments = serializers.DictField(
        help_text="栏目键 → 该栏目的附件 [{id, sha256, sha256_original, size, content_type}]"
        "（attachments/{id}/ 可下载）；仅列出有附件的栏目，随内容哈希签字；公安专属栏目的附件仅公安单位用户可见，"
        "加密记录，不入内容哈希"
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="总隐患数、整改数、未整改数（截至统计截止日）"
    )
    count_labels = serializers.DictField(child=serializers.CharField())
    signatures = SignatureOutput(many=True)
    missing = MissingCell(
        many=True,
        help_text="签字前尚须填写的栏目（“/”仅限无宿舍、无校车；公安专属内容不在其中）；签字后为空",
    )
    submitted_at = serializers.DateTimeField(allow_null=True)
    submission = CanonicalUUID(allow_null=True, help_text="报送后：报送记录 submissions/{id}/，其副本即所报送的字节")
    copies = SubmittedCopyOutput(
        many=True,
        required=False,
        help_text="仅报送时返回：每条报送线的回执，与 submissions/{id}/ 的 copies 相同",
    )


class JointFormAttachmentOutput(AttachmentRefOutput):
    field = serializers.CharField(help_text="附件所在栏目的键")


class JointFormHistoryItem(HistoryItem):
    """One change of the form, with its actor; police-only changes are left out for the education side."""

    stream = serializers.ChoiceField(
        choices=["police_notes"],
        required=False,
        help_text="仅公安单位用户可见：公安专属内容的变更（单独的事件序列，version 为该序列的版本号）",
    )
    attachments = JointFormAttachmentOutput(
        many=True,
        help_text="该事件记录的栏目附件（field 为栏目键，每栏列出其此后的全部附件；被清除的栏目见 "
        "data.attachments 中的空列表），两个 SHA-256 随事件入哈希链；此前记录的事件为空",
    )


def _input(spec: FormField) -> serializers.Field:  # type: ignore[type-arg]
    """How a field is typed in a PATCH (documentation: the domain checks the values, and who may set them)."""
    party = "学校" if spec.party == "school" else "派出所"
    help_text = f"{spec.label}（{party}填写{'；仅公安单位可见' if spec.police_only else ''}）"
    if spec.slash_allowed:
        help_text += "；不适用填 “/”（null 同义）" + ("，寄宿制学校不可" if spec.kind == "bool" else "")
    if spec.kind == "bool":
        return serializers.BooleanField(required=False, allow_null=spec.slash_allowed, help_text=help_text)
    if spec.kind == "int":
        return serializers.IntegerField(required=False, min_value=0, max_value=10**7, help_text=help_text)
    return serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=MAX_TEXT, help_text=help_text
    )


class FieldAttachmentIds(serializers.DictField):  # type: ignore[type-arg]
    """``attachments`` of a PATCH: field key → the ids of uploads the field has from now on."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "栏目键 → 附件 id 列表（先上传到 attachments/）：该栏目此后的全部附件，[] 清除；"
            "公安专属栏目的附件随专属内容加密，仅公安单位可见",
        )
        child = serializers.ListField(child=CanonicalUUID(), max_length=MAX_PER_EVENT)
        super().__init__(child=child, required=False, allow_empty=True, **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and len(data) > len(FIELDS):
            raise serializers.ValidationError(f"最多{len(FIELDS)}个栏目")
        return dict(super().to_internal_value(data))


class JointFormPatchMeta(CommandInput):
    """What a PATCH carries beside the fields' values."""

    attachments = FieldAttachmentIds()


# PATCH joint-forms/{id}/: any of the form's fields, with occurred_at, expected_version and attachments.
JointFormPatch = type("JointFormPatch", (JointFormPatchMeta,), {spec.key: _input(spec) for spec in FIELDS})
