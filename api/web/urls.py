"""Web page routes: session login and logout, the joint form pages."""

from django.contrib.auth import views as auth
from django.urls import path, reverse_lazy

from api.web import account, bulkimport, capture, hazard, hazard_actions, home, ledger, views
from api.web.dashboard import Dashboard
from api.web.forms import LoginForm
from api.web.login import LoginView
from api.web.oversight import Audit, Ownership, Reports, Supervision

app_name = "web"

urlpatterns = [
    path(
        "accounts/login/",
        LoginView.as_view(
            authentication_form=LoginForm,
            next_page=reverse_lazy("web:home"),
        ),
        name="login",
    ),
    path("accounts/logout/", auth.LogoutView.as_view(next_page=reverse_lazy("web:login")), name="logout"),
    path("forms/joint/", views.JointFormList.as_view(), name="joint-forms"),
    path("forms/joint/<uuid:pk>/", views.JointFormPage.as_view(), name="joint-form"),
    path("forms/joint/<uuid:pk>/pdf/", views.JointFormPdf.as_view(), name="joint-form-pdf"),
    path("", home.HomePage.as_view(), name="home"),
    path("hazards/", ledger.LedgerPage.as_view(), name="ledger"),
    path("hazards/<uuid:pk>/", hazard.HazardPage.as_view(), name="hazard"),
    path("hazards/new/", capture.HazardNew.as_view(), name="hazard-new"),
    path("hazards/<uuid:pk>/do/<str:command>/", hazard_actions.HazardAction.as_view(), name="hazard-action"),
    path("dashboard/", Dashboard.as_view(), name="dashboard"),
    path("supervision/", Supervision.as_view(), name="supervision"),
    path("ownership/", Ownership.as_view(), name="ownership"),
    path("audit/", Audit.as_view(), name="audit"),
    path("reports/", Reports.as_view(), name="reports"),
    path("account/", account.Account.as_view(), name="account"),
    path("notifications/", account.Inbox.as_view(), name="notifications"),
    path("notifications/sent/", account.Sent.as_view(), name="notifications-sent"),
    path("notifications/<int:pk>/ack/", account.Acknowledge.as_view(), name="notification-ack"),
    path("admin-tools/import/", bulkimport.Import.as_view(), name="admin-import"),
    path("admin-tools/import/template.xlsx", bulkimport.ImportTemplate.as_view(), name="admin-import-template"),
]

