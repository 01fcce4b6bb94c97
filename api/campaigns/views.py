"""Campaign templates (from the seeds) and campaigns (专项排查)."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import MAX_NAME, CanonicalUUID, Day, DeclaredQuery, Moment, Text, parse_uuid, validated
from api.idempotency import IdempotentCommand
from api.names import NamedList, PersonName, UnitName, UnitNames
from api.services import execute
from domain.campaign.aggregate import PHASE_KINDS, require_issuer
from domain.campaign.templates import TEMPLATES, get_template
from domain.errors import CampaignNotFound, InvalidValue, OutOfScope
from projections import scope
from projections.campaigns import CampaignView


class ChecklistItemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = Text(20, allow_blank=False)
    title = Text(1000, allow_blank=False)
    category = Text(100, allow_blank=False)


class PhaseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=PHASE_KINDS)
    start = Day(required=False, allow_null=True, default=None)
    end = Day(required=False, allow_null=True, default=None)


class TemplateOutput(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    title = serializers.CharField()
    document_no = serializers.CharField()
    issuer = serializers.CharField()
    source = serializers.CharField()
    items = ChecklistItemSerializer(many=True)
    statistics_cutoff = serializers.CharField()
    report_deadline = serializers.CharField()


class CampaignInput(serializers.Serializer):  # type: ignore[type-arg]
    title = Text(MAX_NAME, allow_blank=False)
    document_no = Text(100, required=False, default="")
    issuer = Text(MAX_NAME, required=False, default="", help_text="发文单位为当前用户所在单位；此字段仅作说明")
    template = serializers.CharField(required=False, default="", allow_blank=True, max_length=50)
    checklist = serializers.ListField(child=ChecklistItemSerializer(), required=False, max_length=500)
    phases = serializers.ListField(child=PhaseSerializer(), required=False, default=list, max_length=20)
    statistics_cutoff = Day()
    report_deadline = Day()
    scope = serializers.ListField(child=CanonicalUUID(), required=False, default=list, max_length=20000)
    recipients = serializers.ListField(child=CanonicalUUID(), required=False, default=list, max_length=100)
    occurred_at = Moment(required=False)


class AmendInput(serializers.Serializer):  # type: ignore[type-arg]
    phases = serializers.ListField(child=PhaseSerializer(), required=False, max_length=20)
    statistics_cutoff = Day(required=False)
    report_deadline = Day(required=False)
    scope = serializers.ListField(child=CanonicalUUID(), required=False, max_length=20000)
    occurred_at = Moment(required=False)
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31)


class Amendment(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField()
    amended_by = serializers.CharField()
    amended_at = serializers.DateTimeField()
    changes = serializers.DictField(help_text="修改的字段：{字段: {from, to}}")


class CoveredSchool(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.UUIDField()
    name = serializers.CharField()


class CampaignOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    """``scope`` holds units of any kind (a school, a district bureau, a city bureau, a police station; empty: every
    school under the issuer); ``schools_covered`` are the schools it covers in the directory as it is now — a school
    registered later in a scoped district is among them — limited to those the caller may see."""

    issuer_name = UnitName("issuer", help_text="发文单位名称")
    scope_names = UnitNames("scope", help_text="范围内单位名称（与 scope 顺序一致）")
    recipient_names = UnitNames("recipients", help_text="报送对象名称（与 recipients 顺序一致）")
    launched_by_name = PersonName("launched_by", help_text="发起人姓名")
    schools_covered_count = serializers.SerializerMethodField(help_text="本次专项排查覆盖的学校数（调用者可见范围内）")
    schools_covered = serializers.SerializerMethodField(help_text="本次专项排查覆盖的学校（调用者可见范围内）")
    amendments = Amendment(many=True, read_only=True, help_text="发文单位的修改记录（amend/），先后为序")

    def _covered(self, campaign: CampaignView) -> list[dict[str, str]]:
        cache: dict[object, list[dict[str, str]]] = self.context.setdefault("covered", {})
        if campaign.id not in cache:
            request = self.context.get("request")
            among = scope.units(actor_of(request)) if request is not None else None
            cache[campaign.id] = [{"id": str(s.id), "name": s.name} for s in scope.campaign_schools(campaign, among)]
        return cache[campaign.id]

    def get_schools_covered_count(self, campaign: CampaignView) -> int:
        return len(self._covered(campaign))

    @extend_schema_field(CoveredSchool(many=True))
    def get_schools_covered(self, campaign: CampaignView) -> list[dict[str, str]]:
        return self._covered(campaign)

    class Meta:
        model = CampaignView
        list_serializer_class = NamedList
        fields = [
            "id",
            "title",
            "document_no",
            "issuer",
            "issuer_name",
            "template",
            "checklist",
            "phases",
            "statistics_cutoff",
            "report_deadline",
            "scope",
            "scope_names",
            "recipients",
            "recipient_names",
            "schools_covered_count",
            "schools_covered",
            "launched_by",
            "launched_by_name",
            "launched_at",
            "amendments",
            "version",
        ]


class TemplateList(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = TemplateOutput
    pagination_class = None

    @extend_schema(responses=TemplateOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(TemplateOutput([asdict(t) for t in TEMPLATES], many=True).data)


class CampaignList(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = CampaignOutput

    @extend_schema(responses=CampaignOutput(many=True))
    def get(self, request: Request) -> Response:
        campaigns = [c for c in CampaignView.objects.all() if _visible(request, c)]
        page = self.paginate_queryset(campaigns)
        return self.get_paginated_response(CampaignOutput(page, many=True, context={"request": request}).data)

    @extend_schema(request=CampaignInput, responses={201: CampaignOutput})
    def post(self, request: Request) -> Response:
        data = validated(CampaignInput, request.data)
        data.pop("issuer")
        checklist = data.pop("checklist", None)
        if data["template"]:
            try:
                template = get_template(data["template"])
            except KeyError:
                raise InvalidValue("未知的专项排查模板", field="template") from None
            checklist = checklist or [
                {"code": i.code, "title": i.title, "category": i.category} for i in template.items
            ]
        if not checklist:
            raise InvalidValue("请选择模板或提供排查清单", field="checklist")
        actor = actor_of(request)
        in_scope = set(scope.units(actor).filter(id__in=data["scope"]).values_list("id", flat=True))
        if set(data["scope"]) - in_scope:  # unknown ids too: whether a unit exists out of scope is not told
            raise OutOfScope("排查范围中有不在您管辖范围内的单位", field="scope")
        campaign = execute(
            lambda app: app.launch_campaign(actor=actor, checklist=checklist, schools=scope.directory_schools(), **data)
        )
        return Response(
            CampaignOutput(CampaignView.objects.get(id=campaign.id), context={"request": request}).data, status=201
        )


class CampaignDetail(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = CampaignOutput

    def get(self, request: Request, pk: str) -> Response:
        return Response(CampaignOutput(_visible_campaign(request, pk), context={"request": request}).data)


class CampaignAmend(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = CampaignOutput

    @extend_schema(
        request=AmendInput, responses=CampaignOutput, summary="修改专项排查（阶段、统计截止日期、上报截止日期、范围）"
    )
    def post(self, request: Request, pk: str) -> Response:
        campaign = _visible_campaign(request, pk)
        actor = actor_of(request)
        require_issuer(actor, campaign.issuer)
        data = validated(AmendInput, request.data)
        if "scope" in data:
            in_scope = set(scope.units(actor).filter(id__in=data["scope"]).values_list("id", flat=True))
            if set(data["scope"]) - in_scope:
                raise OutOfScope("排查范围中有不在您管辖范围内的单位", field="scope")
        execute(lambda app: app.amend_campaign(campaign.id, actor=actor, schools=scope.directory_schools(), **data))
        return Response(CampaignOutput(CampaignView.objects.get(id=campaign.id), context={"request": request}).data)


def _visible_campaign(request: Request, pk: str) -> CampaignView:
    campaign = CampaignView.objects.filter(id=parse_uuid(pk, CampaignNotFound)).first()
    if campaign is None or not _visible(request, campaign):
        raise CampaignNotFound()
    return campaign


def _visible(request: Request, campaign: CampaignView) -> bool:
    return scope.sees_campaign(actor_of(request), campaign)
