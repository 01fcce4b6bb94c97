"""OpenAPI schema additions: the session login as a security scheme, the error responses of every operation, and
the ``Idempotency-Key`` header of every command."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.authentication import SessionScheme

from api import idempotency

ERROR_SCHEMA = {
    "type": "object",
    "description": "错误：稳定的错误码 code 与中文说明 detail；输入错误时 errors 或 field 指出字段",
    "properties": {
        "code": {"type": "string", "example": "hazard_not_found"},
        "detail": {"type": "string", "example": "隐患不存在"},
        "field": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {}},
    },
    "required": ["code", "detail"],
}
ERRORS = {
    "400": "输入有误（字段错误、无效的查询参数、非JSON请求体）",
    "401": "未登录、令牌无效或已注销、账号已停用",
    "403": "角色无权执行、超出管辖范围、审计人员只读、职责分离",
    "404": "对象不存在或不在您的管辖范围内",
    "409": "状态冲突（version_conflict、invalid_transition、form_locked 等）",
}
WRITE_ERRORS = {"413": "请求体超过1MB"}
COMMAND_ERRORS = {"422": "idempotency_key_reused：该幂等键已用于另一个请求"}
LOGIN_ERRORS = {"429": "登录尝试过于频繁（按客户端地址和用户名限速），见 Retry-After"}


# The Chinese one-line summary of every operation that does not give its own (``@extend_schema(summary=…)``):
# what an official sees in the API docs. ``tests/integration/test_query_parameters.py`` checks none is missing.
SUMMARIES = {
    "GET /api/v1/accountability/": "倒查追责：按专项排查和单位列出责任认定",
    "GET /api/v1/audit/checkpoints/": "审计：哈希链检查点列表",
    "GET /api/v1/audit/police-access/": "审计：公安专有内容查阅记录",
    "GET /api/v1/audit/public-key/": "审计：检查点签名公钥",
    "GET /api/v1/audit/verify/": "审计：校验事件哈希链",
    "GET /api/v1/campaign-templates/": "专项排查模板（来自通知原文，含检查项目）",
    "GET /api/v1/campaigns/": "专项排查列表",
    "POST /api/v1/campaigns/": "发起专项排查",
    "GET /api/v1/campaigns/{id}/": "专项排查详情（含覆盖的学校）",
    "GET /api/v1/hazards/": "隐患台账列表（可按状态、等级、学校、专项、责任人、逾期、督办、上报、发现时间筛选）",
    "POST /api/v1/hazards/": "登记隐患",
    "GET /api/v1/hazards/{id}/": "隐患详情（可查看过去某时刻或某版本的状态）",
    "GET /api/v1/hazards/{id}/accountability/": "单个隐患的倒查追责认定",
    "GET /api/v1/hazards/{id}/history/": "隐患的全部事件记录（含哈希）",
    "GET /api/v1/hazards/{id}/owners/": "隐患的整改责任人变更区间",
    "GET /api/v1/inspections/": "检查列表",
    "POST /api/v1/inspections/": "登记检查（自查、实地检查、督导检查、联合检查）",
    "GET /api/v1/inspections/{id}/": "检查详情",
    "POST /api/v1/inspections/{id}/assessments/": "录入检查项目结果",
    "POST /api/v1/inspections/{id}/complete/": "完成检查",
    "GET /api/v1/joint-forms/": "学校及周边安全排查整改情况表列表",
    "POST /api/v1/joint-forms/": "新建学校与属地派出所联合填报表",
    "GET /api/v1/joint-forms/{id}/": "联合填报表详情（字段、内容哈希、签名）",
    "PATCH /api/v1/joint-forms/{id}/": "填写本方字段",
    "GET /api/v1/joint-forms/{id}/history/": "联合填报表的修改与签名记录",
    "POST /api/v1/joint-forms/{id}/sign/": "校长或所长签字确认",
    "POST /api/v1/joint-forms/{id}/submit/": "双方签字后报送（教育、公安两条线）",
    "GET /api/v1/notifications/": "我的通知（逾期、督办、上报等）",
    "GET /api/v1/ownership/": "谁负责：某时刻在办隐患及其责任人、时限、是否逾期",
    "GET /api/v1/reports/{name}/": "报表（JSON、PDF或XLSX）",
    "GET /api/v1/submissions/": "报送记录列表",
    "POST /api/v1/submissions/": "报送报表（按接收单位分教育、公安两条线存档）",
    "GET /api/v1/submissions/{id}/": "报送记录详情（各条线的回执）",
    "GET /api/v1/submissions/{id}/copies/{line}/": "下载某条线报送的原件",
    "GET /api/v1/units/": "单位列表（管辖范围内）",
    "POST /api/v1/units/": "登记单位",
    "GET /api/v1/units/{id}/staff/": "单位某时刻的在岗人员及角色",
    "POST /api/v1/users/": "新建用户",
    "POST /api/v1/users/{username}/deactivate/": "停用用户",
    "POST /api/v1/users/{username}/role/": "任免：变更用户的单位与角色",
}


def summaries(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the Chinese summary of ``SUMMARIES`` on every operation without its own."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            summary = SUMMARIES.get(f"{method.upper()} {path}")
            if summary and not operation.get("summary"):
                operation["summary"] = summary
    return result


class ActorSessionScheme(SessionScheme):
    """The API's session authentication (the web pages' login) is Django's session cookie."""

    target_class = "api.auth.ActorSessionAuthentication"


def error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: every operation documents the project's error shape ``{"code", "detail"}``."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            errors = dict(ERRORS)
            if method in ("post", "put", "patch"):
                errors.update(WRITE_ERRORS)
            if path.endswith("/auth/token/"):
                errors.update(LOGIN_ERRORS)
            if any(p.get("name") == idempotency.HEADER for p in operation.get("parameters", [])):
                errors.update(COMMAND_ERRORS)
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the ``Idempotency-Key`` header on every command (``IdempotentCommand``)."""

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = super().get_override_parameters()
        if isinstance(self.view, idempotency.IdempotentCommand) and self.method in idempotency.COMMAND_METHODS:
            return [*parameters, idempotency.PARAMETER]
        return parameters
