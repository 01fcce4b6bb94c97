"""OpenAPI schema additions: the session login as a security scheme, and the error responses of every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme

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
LOGIN_ERRORS = {"429": "登录尝试过于频繁（按客户端地址和用户名限速），见 Retry-After"}


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
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
