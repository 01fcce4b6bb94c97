"""The account pages: change one's own password, an administrator's reset of another's, 签收 of a notice, and the
receipts of the 督办 and 上报 one sent.

A password change is two writes in one transaction: the hash in Django's auth table (as before) and an event of
the directory — ``Account.PasswordChanged`` (one's own) or ``Account.PasswordReset`` (an administrator's) —
recording that it changed, for whom, by whom and when. Neither the password nor its hash is in the event: the log
is kept forever, copied to Kafka and the police mirror and read by auditors; a hash there could be attacked
offline and never taken back (``domain.directory.aggregate.Account``). If the event cannot be recorded, the
password is not changed either.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from api.auth import UserInactive, actor_for
from api.errors import STATUS_BY_KIND
from api.notifications import acknowledge, notice_for, sent_receipts
from api.services import execute
from api.web.page import visitor_label
from domain.errors import DomainError
from domain.policy import RESET_PASSWORD, Actor
from projections.eventstore import get_application
from projections.notifications import KIND_TITLES, for_actor
from projections.runner import catch_up_notifications

User = get_user_model()
INBOX_SIZE = 100

OLD_WRONG = "原密码不正确，请重新输入。"
MISMATCH = "两次输入的新密码不一致。"
# Django's password validators by their error codes (its own Chinese catalogue lacks some of these messages)
VALIDATOR_MESSAGES = {
    "password_too_short": "密码长度太短，至少需要 {min_length} 个字符。",
    "password_too_similar": "密码与用户名或姓名过于相似。",
    "password_too_common": "密码过于常见，请换一个。",
    "password_entirely_numeric": "密码不能全为数字。",
    "required": "此项不能为空。",
}


class ChineseErrors(forms.Form):
    """The validators' errors in Chinese, whatever language the browser asks for."""

    def full_clean(self) -> None:
        super().full_clean()
        for name, errors in list(self.errors.as_data().items()):
            self.errors[name] = self.error_class(
                [chinese_message(error) for error in errors],
                renderer=self.renderer,  # type: ignore[call-arg]
            )


def chinese_message(error: forms.ValidationError) -> str:
    """A validation error's message in Chinese (Django's password validators by their codes)."""
    text = VALIDATOR_MESSAGES.get(error.code or "")
    if text is None:
        return " ".join(error.messages)
    return text.format(**(error.params or {}))  # type: ignore[arg-type]


class OwnPasswordForm(ChineseErrors, PasswordChangeForm):
    """Django's password change (old password checked, validators applied) with Chinese labels and messages."""

    error_messages = {"password_incorrect": OLD_WRONG, "password_mismatch": MISMATCH}
    old_password = forms.CharField(label="原密码", strip=False, widget=forms.PasswordInput)
    new_password1 = forms.CharField(label="新密码", strip=False, widget=forms.PasswordInput)
    new_password2 = forms.CharField(label="再次输入新密码", strip=False, widget=forms.PasswordInput)


class ResetForm(ChineseErrors, SetPasswordForm):
    """An administrator's reset: the user's login name and the new password twice."""

    error_messages = {"password_mismatch": MISMATCH}
    username = forms.CharField(label="用户名", max_length=150)
    new_password1 = forms.CharField(label="新密码", strip=False, widget=forms.PasswordInput)
    new_password2 = forms.CharField(label="再次输入新密码", strip=False, widget=forms.PasswordInput)
    field_order = ["username", "new_password1", "new_password2"]

    def __init__(self, data: Any = None) -> None:
        super().__init__(None, data)  # type: ignore[arg-type]

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip()
        user = User.objects.filter(username=username).first()
        if user is None:
            raise forms.ValidationError("用户不存在。")
        self.user = user
        return username


class AccountPage(LoginRequiredMixin, View):
    """Login required; a visitor without a role now gets a Chinese page, as a refusal of the domain does."""

    login_url = reverse_lazy("web:login")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            with translation.override("zh-hans"):  # the validators' messages in Chinese, whatever the browser asks
                return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]
        except UserInactive as error:
            return render(request, "web/refused.html", {"message": str(error.detail)}, status=403)
        except DomainError as error:
            return render(request, "web/refused.html", {"message": error.detail}, status=STATUS_BY_KIND[error.kind])


class Account(AccountPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        return self.page(request, actor, OwnPasswordForm(request.user), ResetForm() if actor.is_admin else None)

    def post(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        if request.POST.get("action") == "reset":
            RESET_PASSWORD.check(actor)  # 403 before the input is read
            reset = ResetForm(request.POST)
            if not reset.is_valid():
                return self.page(request, actor, OwnPasswordForm(request.user), reset, status=400)
            target = reset.user
            if target.get_username() == actor.username:
                reset.add_error("username", "修改自己的密码请使用上方表单（须输入原密码）。")
                return self.page(request, actor, OwnPasswordForm(request.user), reset, status=400)
            if target.is_superuser and not request.user.is_superuser:  # type: ignore[union-attr]
                # an appointed administrator must not take over the installation's superuser login
                reset.add_error("username", "只有超级管理员可以重置超级管理员的密码。")
                return self.page(request, actor, OwnPasswordForm(request.user), reset, status=403)
            with transaction.atomic():
                reset.save()
                execute(lambda app: app.record_password_change(actor=actor, username=target.get_username()))
            messages.success(request, f"已重置用户“{target.get_username()}”的密码。")
            return redirect("web:account")
        own = OwnPasswordForm(request.user, request.POST)
        if not own.is_valid():
            return self.page(request, actor, own, ResetForm() if actor.is_admin else None, status=400)
        with transaction.atomic():
            user = own.save()
            execute(lambda app: app.record_password_change(actor=actor, username=actor.username))
        update_session_auth_hash(request, user)  # this session stays logged in; the others end
        messages.success(request, "密码已修改，请牢记新密码。")
        return redirect("web:account")

    @staticmethod
    def page(
        request: HttpRequest,
        actor: Actor,
        own: OwnPasswordForm,
        reset: ResetForm | None,
        *,
        status: int = 200,
    ) -> HttpResponse:
        account = get_application().get_account(actor.username)
        context = {
            "visitor": visitor_label(actor),
            "own": own,
            "reset": reset,
            "changed_at": account.password_changed_at if account else None,
        }
        return render(request, "web/account/account.html", context, status=status)


class Acknowledge(AccountPage):
    """签收 from a page's button: back where the button was (``next``), or to the 工作台."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        acknowledge(actor, notice_for(actor, pk))
        messages.success(request, "已签收。")
        target = request.POST.get("next", "") or reverse("web:notifications")
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
            target = "/"
        return redirect(target)


class Inbox(AccountPage):
    """The visitor's notices, newest first, each with its 签收 (a button while unsigned)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        catch_up_notifications(get_application())
        notices = list(for_actor(actor).order_by("-occurred_at", "-id")[:INBOX_SIZE])
        context = {"visitor": visitor_label(actor), "notices": notices, "kinds": KIND_TITLES, "size": INBOX_SIZE}
        return render(request, "web/account/inbox.html", context)


class Sent(AccountPage):
    """The 督办 and 上报 the visitor or their unit sent, with each recipient's 签收 and who has not signed."""

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        items = sent_receipts(actor)
        context = {"visitor": visitor_label(actor), "items": items, "back": reverse("web:account")}
        return render(request, "web/account/sent.html", context)
