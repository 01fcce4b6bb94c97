"""Joint form shapes for the OpenAPI schema: the form as a party sees it (``service.form_json``), its history."""

from __future__ import annotations

from rest_framework import serializers

from api.common import CanonicalUUID, CommandInput
from api.hazards.serializers import HistoryItem
from api.reports.submissions import SubmittedCopyOutput
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


class JointFormHistoryItem(HistoryItem):
    """One change of the form, with its actor; police-only changes are left out for the education side."""

    stream = serializers.ChoiceField(
        choices=["police_notes"],
        required=False,
        help_text="仅公安单位用户可见：公安专属内容的变更（单独的事件序列，version 为该序列的版本号）",
    )
    attachments = None  # the form's events carry no attachments (yet): a hazard history's field only


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


# PATCH joint-forms/{id}/: any of the form's fields, with occurred_at and expected_version.
JointFormPatch = type("JointFormPatch", (CommandInput,), {spec.key: _input(spec) for spec in FIELDS})
