"""Domain errors: each refusal is a specific class with a stable code and a Chinese message."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

Kind = Literal["invalid", "forbidden", "not_found", "conflict"]


class DomainError(Exception):
    """A business rule refused a command; nothing was recorded."""

    code: ClassVar[str] = "domain_error"
    kind: ClassVar[Kind] = "invalid"
    message: ClassVar[str] = "操作被拒绝"

    def __init__(self, detail: str | None = None, **context: Any) -> None:
        self.detail = detail or self.message
        self.context = context
        super().__init__(self.detail)


# --- bad input (400) ---------------------------------------------------------------------------


class InvalidValue(DomainError):
    code = "invalid_value"
    message = "输入值无效"


class PhotoRequired(InvalidValue):
    code = "photo_required"
    message = "登记整改完成须附至少一张整改后的照片"

    def __init__(self, detail: str | None = None, **context: object) -> None:
        super().__init__(detail, field="attachments", **context)


class InvalidAttachment(InvalidValue):
    """An id in ``attachments`` that is no upload the actor may attach (unknown, not theirs to see, removed)."""

    code = "invalid_attachment"
    message = "附件不存在、已被清理或您无权使用"

    def __init__(self, detail: str | None = None, **context: object) -> None:
        super().__init__(detail, field="attachments", **context)


class SchoolCodeTaken(DomainError):
    code = "school_code_taken"
    message = "该学校代码已被本区其他学校使用"


class UnknownParameter(DomainError):
    code = "unknown_parameter"
    message = "未知的查询参数"


class OccurredAtNotAware(DomainError):
    code = "occurred_at_naive"
    message = "发生时间必须带时区"


class OccurredInFuture(DomainError):
    code = "occurred_in_future"
    message = "发生时间不能晚于当前时间（允许误差5分钟）"


class MomentInFuture(DomainError):
    code = "moment_in_future"
    message = "查询时间不能晚于当前时间（允许误差5分钟）"


class OccurredOutOfOrder(DomainError):
    code = "occurred_out_of_order"
    message = "发生时间不能早于该记录的最近一次事件"


class EffectiveFromOutOfOrder(DomainError):
    code = "effective_from_out_of_order"
    message = "生效时间不能早于该人员最近一次任职变动"


class RoleNotForUnit(DomainError):
    code = "role_not_for_unit"
    message = "该角色不适用于此类单位"


class OnSpotRequiresGeneral(DomainError):
    code = "on_spot_requires_general"
    message = "只有一般隐患可以立行立改"


class DeadlineInPast(DomainError):
    code = "deadline_in_past"
    message = "整改时限不能早于发生日期"


class DeadlineNotLater(DomainError):
    code = "deadline_not_later"
    message = "延期后的整改时限必须晚于原时限"


class UnknownChecklistItem(DomainError):
    code = "unknown_item"
    message = "检查项目不在本次专项排查清单中"


class InvalidEscalationTarget(DomainError):
    code = "invalid_escalation_target"
    message = "只能向上级教育或公安主管部门上报"


class NotASchool(DomainError):
    code = "not_a_school"
    message = "指定单位不是学校"


class SchoolNotInCampaign(DomainError):
    code = "school_not_in_campaign"
    message = "该学校不在本次专项排查范围内"


# --- not allowed (403) -------------------------------------------------------------------------


class NotPermitted(DomainError):
    code = "role_not_permitted"
    kind = "forbidden"
    message = "当前角色无权执行此操作"


class ReadOnlyRole(NotPermitted):
    code = "read_only_role"
    message = "审计人员只能查阅，不能修改"


class NotCurrentOwner(NotPermitted):
    code = "not_current_owner"
    message = "只有当前整改责任人或校长可以执行此操作"


class SeparationOfDuties(NotPermitted):
    code = "separation_of_duties"
    message = "验收人不能是录入整改的同一人（职责分离）"


class MajorRequiresBureau(NotPermitted):
    code = "major_requires_bureau"
    message = "重大隐患只能由主管部门验收"


class OutOfScope(NotPermitted):
    code = "out_of_scope"
    message = "该单位不在您的管辖范围内"


# --- missing (404) -----------------------------------------------------------------------------


class NotFound(DomainError):
    code = "not_found"
    kind = "not_found"
    message = "对象不存在或不在您的管辖范围内"


class UnitNotFound(NotFound):
    code = "unit_not_found"
    message = "单位不存在"


class StaffNotFound(NotFound):
    code = "user_not_found"
    message = "用户不存在"


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    message = "专项排查不存在"


class InspectionNotFound(NotFound):
    code = "inspection_not_found"
    message = "检查不存在"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    message = "附件不存在或不在您的管辖范围内"


class HazardNotFound(NotFound):
    code = "hazard_not_found"
    message = "隐患不存在"


# --- state conflicts (409) ---------------------------------------------------------------------


class Conflict(DomainError):
    code = "conflict"
    kind = "conflict"
    message = "状态冲突"


class VersionConflict(Conflict):
    code = "version_conflict"
    message = "记录已被他人修改，请刷新后重试"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "当前状态下不能执行此操作"


class HazardVoided(Conflict):
    code = "hazard_voided"
    message = "该隐患已作废，不能再办理"


class AlreadyExists(Conflict):
    code = "already_exists"
    message = "对象已存在"


class StaffAlreadyLeft(Conflict):
    code = "staff_left"
    message = "该人员已离任"


class InspectionCompleted(Conflict):
    code = "inspection_completed"
    message = "检查已完成，不能再修改"


class AlreadySupervised(Conflict):
    code = "already_supervised"
    message = "该隐患已挂牌督办"


class DeadlineAlreadyMissed(Conflict):
    code = "deadline_already_missed"
    message = "该整改时限的逾期已记录"


# --- joint form (常州 附件1) ----------------------------------------------------------------------


class UnknownField(InvalidValue):
    code = "unknown_field"
    message = "表中没有该栏目"


class FieldNotYours(NotPermitted):
    code = "field_not_yours"
    message = "该栏目由另一方填写，您不能修改"


class NotAParty(NotPermitted):
    code = "not_a_party"
    message = "只有该校及其属地派出所的人员可以填写本表"


class NotSignatory(NotPermitted):
    code = "not_signatory"
    message = "只有签字时在任的本校校长或属地派出所所长可以签字"


class StaleHash(Conflict):
    code = "stale_hash"
    message = "表格内容已变化，请核对最新内容后再签字"


class FormLocked(Conflict):
    code = "form_locked"
    message = "校长和所长均已签字，表格已锁定"


class FormIncomplete(Conflict):
    code = "form_incomplete"
    message = "表格尚未填写完整，不能签字"


class FormNotSigned(Conflict):
    code = "form_not_signed"
    message = "校长和所长均签字后才能报送"


class FormAlreadySubmitted(Conflict):
    code = "form_already_submitted"
    message = "该报表已报送，请查看已有的报送记录"


class JointFormNotFound(NotFound):
    code = "joint_form_not_found"
    message = "报表不存在或不在您的管辖范围内"
