"""URL routes: /api/v1/ (DRF), OpenAPI schema and Swagger UI, admin, health check, metrics."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import attachments
from api.audit import AuditCheckpoints, AuditPublicKey, AuditVerify
from api.campaigns import views as campaigns
from api.directory import views as directory
from api.hazards import views as hazards
from api.hazards.accountability import Accountability, HazardAccountability
from api.hazards.ownership import Ownership
from api.health import healthz
from api.inspections import views as inspections
from api.jointforms import views as jointforms
from api.metrics import metrics
from api.notifications import NotificationAcknowledge, Notifications, NotificationsSent
from api.policeaccess import PoliceAccessLog
from api.reports.submissions import SubmissionCopyView, SubmissionDetail, Submissions
from api.reports.views import ReportView
from api.root import api_root
from api.statistics import StatisticsView
from api.token import ObtainToken, RevokeToken
from api.web import errorpages
from api.web.login import throttled_login

v1 = [
    path("", api_root, name="api-root"),
    path("auth/token/", ObtainToken.as_view(), name="auth-token"),
    path("auth/token/revoke/", RevokeToken.as_view(), name="auth-token-revoke"),
    path("units/", directory.UnitList.as_view(), name="units"),
    path("units/<str:pk>/staff/", directory.UnitStaff.as_view(), name="unit-staff"),
    path("units/<str:pk>/change/", directory.UnitChange.as_view(), name="unit-change"),
    path("users/", directory.UserCreate.as_view(), name="users"),
    path("users/<str:username>/role/", directory.UserRole.as_view(), name="user-role"),
    path("users/<str:username>/deactivate/", directory.UserDeactivate.as_view(), name="user-deactivate"),
    path("campaign-templates/", campaigns.TemplateList.as_view(), name="campaign-templates"),
    path("campaigns/", campaigns.CampaignList.as_view(), name="campaigns"),
    path("campaigns/<str:pk>/", campaigns.CampaignDetail.as_view(), name="campaign-detail"),
    path("campaigns/<str:pk>/amend/", campaigns.CampaignAmend.as_view(), name="campaign-amend"),
    path("inspections/", inspections.InspectionList.as_view(), name="inspections"),
    path("inspections/<str:pk>/", inspections.InspectionDetail.as_view(), name="inspection-detail"),
    path("inspections/<str:pk>/assessments/", inspections.InspectionAssess.as_view(), name="inspection-assess"),
    path("inspections/<str:pk>/complete/", inspections.InspectionComplete.as_view(), name="inspection-complete"),
    path("hazards/", hazards.HazardList.as_view(), name="hazards"),
    path("hazards/<str:pk>/", hazards.HazardDetail.as_view(), name="hazard-detail"),
    path("hazards/<str:pk>/history/", hazards.HazardHistory.as_view(), name="hazard-history"),
    path("hazards/<str:pk>/owners/", hazards.HazardOwners.as_view(), name="hazard-owners"),
    path("hazards/<str:pk>/accountability/", HazardAccountability.as_view(), name="hazard-accountability"),
    path("ownership/", Ownership.as_view(), name="ownership"),
    path("accountability/", Accountability.as_view(), name="accountability"),
    *[path(f"hazards/<str:pk>/{name}/", view, name=f"hazard-{name}") for name, view in hazards.COMMANDS.items()],
    path("joint-forms/", jointforms.JointFormList.as_view(), name="joint-forms"),
    path("joint-forms/<str:pk>/", jointforms.JointFormDetail.as_view(), name="joint-form-detail"),
    path("joint-forms/<str:pk>/sign/", jointforms.JointFormSign.as_view(), name="joint-form-sign"),
    path("joint-forms/<str:pk>/submit/", jointforms.JointFormSubmit.as_view(), name="joint-form-submit"),
    path("joint-forms/<str:pk>/history/", jointforms.JointFormHistory.as_view(), name="joint-form-history"),
    path("reports/<str:name>/", ReportView.as_view(), name="report"),
    path("submissions/", Submissions.as_view(), name="submissions"),
    path("submissions/<str:pk>/", SubmissionDetail.as_view(), name="submission-detail"),
    path("submissions/<str:pk>/copies/<str:line>/", SubmissionCopyView.as_view(), name="submission-copy"),
    path("attachments/", attachments.AttachmentUpload.as_view(), name="attachments"),
    path("attachments/<str:pk>/", attachments.AttachmentFile.as_view(), name="attachment-file"),
    path("attachments/<str:pk>/thumbnail/", attachments.AttachmentThumbnail.as_view(), name="attachment-thumbnail"),
    path("attachments/<str:pk>/original/", attachments.AttachmentOriginal.as_view(), name="attachment-original"),
    path("attachments/<str:pk>/meta/", attachments.AttachmentMeta.as_view(), name="attachment-meta"),
    path("notifications/", Notifications.as_view(), name="notifications"),
    path("notifications/sent/", NotificationsSent.as_view(), name="notifications-sent"),
    path("notifications/<str:pk>/acknowledge/", NotificationAcknowledge.as_view(), name="notification-acknowledge"),
    path("audit/verify/", AuditVerify.as_view(), name="audit-verify"),
    path("audit/checkpoints/", AuditCheckpoints.as_view(), name="audit-checkpoints"),
    path("audit/public-key/", AuditPublicKey.as_view(), name="audit-public-key"),
    path("audit/police-access/", PoliceAccessLog.as_view(), name="audit-police-access"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL, so the page needs no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("statistics/", StatisticsView.as_view(), name="statistics"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("admin/login/", throttled_login(admin.site.login)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("", include("api.web.urls")),
]

# JSON under /api/, Chinese pages elsewhere (templates/404.html …); never a traceback with DEBUG off.
handler400 = errorpages.bad_request
handler403 = errorpages.permission_denied
handler404 = errorpages.not_found
handler500 = errorpages.server_error
