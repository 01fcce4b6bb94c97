"""Issue 16 points 2 and 3 over HTTP: commands take ``attachments: [id, …]`` (uploads of ``POST attachments/``),
pinned in the command's transaction; rectify needs a photo unless the installation relaxes it; an attachment is
seen by whoever may see a hazard or inspection that references it (the original by auditors and bureaus), and every
byte served hashes to the SHA-256 its event recorded."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from api.demo import World
from api.services import execute
from projections import attachments as attachment_store
from projections.attachments import Attachment, purge_unpinned
from projections.attachmentuse import AttachmentUse
from projections.eventstore import get_application
from projections.runner import catch_up, clear_read_models

from apihelpers import API, jpeg, ok, other_district_inspector, post, refused, upload, with_photo

Client = Callable[[str], APIClient]
Past = Callable[[float], str]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf() -> bytes:
    from weasyprint import HTML

    return bytes(HTML(string="<h1>整改验收单</h1>").write_pdf())


def assigned(user: Client, world: World, past: Past, *, owner: str = "hm_staff") -> str:
    """A general hazard of 红梅实验小学 found by hm_staff, assigned by the 校长 to ``owner``."""
    school = str(world.units["hongmei_school"])
    body = {"campaign": str(world.campaign), "school": school, "item": "CZ-01", "severity": "general",
            "description": "南校门缺少升降柱", "location": "南校门", "occurred_at": past(1)}  # fmt: skip
    hazard = post(user("hm_staff"), "hazards/", body, 201)["id"]
    post(user("hm_principal"), f"hazards/{hazard}/assign/",
         {"owner": owner, "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2)})  # fmt: skip
    return str(hazard)


def event_refs(hazard: str) -> list[dict[str, Any]]:
    """Every attachment reference the hazard's events recorded, as they are stored (decoded from the log)."""
    events = get_application().hazard_events(UUID(hazard))
    return [ref.as_dict() for e in events for ref in getattr(e, "attachments", ())]


def versions(hazard: str) -> int:
    return len(get_application().hazard_events(UUID(hazard)))


# --- attached to the commands ------------------------------------------------------------------------------


def test_a_hazard_is_found_fixed_and_accepted_with_photos(user: Client, world: World, past: Past) -> None:
    staff, principal = user("hm_staff"), user("hm_principal")
    school = str(world.units["hongmei_school"])
    before = upload(staff, jpeg(color=(150, 60, 50)), "整改前.jpg")
    body = {"campaign": str(world.campaign), "school": school, "item": "CZ-01", "severity": "general",
            "description": "危化品柜未加锁", "occurred_at": past(1), "attachments": [before["id"]]}  # fmt: skip
    hazard = post(staff, "hazards/", body, 201)["id"]
    post(principal, f"hazards/{hazard}/assign/",
         {"owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2)})  # fmt: skip
    interim = upload(staff, jpeg(color=(200, 200, 40)), "围挡.jpg")
    post(staff, f"hazards/{hazard}/interim-measures/", {"measures": "临时围挡", "attachments": [interim["id"]]})
    progress = upload(staff, jpeg(color=(40, 200, 200)), "进度.jpg")
    post(staff, f"hazards/{hazard}/progress/", {"percent": 50, "attachments": [progress["id"]]})
    after, sheet = upload(staff, jpeg(color=(40, 160, 60)), "整改后.jpg"), upload(staff, pdf(), "验收单.pdf")
    rectified = post(staff, f"hazards/{hazard}/rectify/", {"note": "已加锁", "attachments": [after["id"], sheet["id"]]})
    assert rectified["status"] == "rectified"
    accepted = upload(principal, jpeg(color=(90, 90, 200)), "验收.jpg")
    closed = post(principal, f"hazards/{hazard}/verify/", {"accepted": True, "attachments": [accepted["id"]]})
    assert closed["status"] == "closed"

    uploads = [before, interim, progress, after, sheet, accepted]
    keys = ("id", "sha256", "sha256_original", "size", "content_type")
    assert event_refs(hazard) == [{k: (UUID(u[k]) if k == "id" else u[k]) for k in keys} for u in uploads]
    assert all(Attachment.objects.filter(id__in=[u["id"] for u in uploads]).values_list("pinned", flat=True))
    history = ok(staff.get(f"{API}hazards/{hazard}/history/"))
    rectify_item = next(item for item in history if item["type"] == "rectified")
    assert [a["id"] for a in rectify_item["data"]["attachments"]] == [after["id"], sheet["id"]]
    uses = AttachmentUse.objects.filter(aggregate=hazard).order_by("version", "id")
    assert {(str(u.attachment), u.event, u.school) for u in uses} == {
        (before["id"], "Discovered", world.units["hongmei_school"]),
        (interim["id"], "InterimMeasuresRecorded", world.units["hongmei_school"]),
        (progress["id"], "ProgressReported", world.units["hongmei_school"]),
        (after["id"], "Rectified", world.units["hongmei_school"]),
        (sheet["id"], "Rectified", world.units["hongmei_school"]),
        (accepted["id"], "Verified", world.units["hongmei_school"]),
    }
    # reject and reopen take photos too
    hazard2 = assigned(user, world, past)
    post(staff, f"hazards/{hazard2}/rectify/", with_photo(staff, {"note": "已整改"}))
    reject = upload(principal, jpeg(color=(10, 10, 10)))
    post(principal, f"hazards/{hazard2}/verify/", {"accepted": False, "note": "不合格", "attachments": [reject["id"]]})
    post(staff, f"hazards/{hazard2}/rectify/", with_photo(staff, {"note": "再次整改"}))
    post(principal, f"hazards/{hazard2}/verify/", {"accepted": True})
    again = upload(user("tn_inspector"), jpeg(color=(250, 10, 10)))
    post(user("tn_inspector"), f"hazards/{hazard2}/reopen/", {"reason": "复发", "attachments": [again["id"]]})
    assert [u.event for u in AttachmentUse.objects.filter(aggregate=hazard2).order_by("version")] == [
        "Rectified", "Rejected", "Rectified", "Reopened"]  # fmt: skip


def test_an_inspection_item_assessed_with_a_photo(user: Client, world: World) -> None:
    inspector = user("tn_inspector")
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "kind": "onsite",
            "inspectors": ["tn_inspector"]}  # fmt: skip
    inspection = post(inspector, "inspections/", body, 201)["id"]
    photo = upload(inspector, jpeg(color=(1, 2, 3)), "围墙.jpg")
    post(inspector, f"inspections/{inspection}/assessments/",
         {"item": "CZ-01", "result": "fail", "note": "围墙破损", "attachments": [photo["id"]]}, 201)  # fmt: skip
    (use,) = AttachmentUse.objects.filter(attachment=photo["id"])
    assert (use.kind, use.event, str(use.aggregate)) == ("inspection", "ItemAssessed", inspection)
    served = user("hm_principal").get(photo["url"])  # the school sees what the bureau found there
    assert served.status_code == 200 and sha(served.content) == photo["sha256"]
    refused(user("ql_principal").get(photo["url"]), 404, "attachment_not_found")


# --- rectify needs a photo -------------------------------------------------------------------------------


def test_rectify_needs_a_photo_of_the_result_by_default(user: Client, world: World, past: Past) -> None:
    staff = user("hm_staff")
    hazard = assigned(user, world, past)
    sheet = upload(staff, pdf(), "验收单.pdf")
    for attachments in ([], [sheet["id"]]):
        body = refused(staff.post(f"{API}hazards/{hazard}/rectify/", {"note": "已整改", "attachments": attachments},
                                  format="json"), 400, "photo_required", "attachments")  # fmt: skip
        assert "照片" in body["detail"]
    assert versions(hazard) == 2
    assert not Attachment.objects.get(id=sheet["id"]).pinned  # the refused command's pin rolled back
    photo = upload(staff, jpeg())
    body = {"note": "已整改", "attachments": [sheet["id"], photo["id"]]}
    assert post(staff, f"hazards/{hazard}/rectify/", body)["status"] == "rectified"
    # 立行立改: closed at discovery, no photo needed
    on_spot = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "severity": "general",
               "description": "消防通道堆放杂物", "rectified_on_spot": True}  # fmt: skip
    assert post(staff, "hazards/", on_spot, 201)["status"] == "closed"


def test_the_installation_can_relax_the_photo_rule(user: Client, world: World, past: Past, settings: Any) -> None:
    settings.RECTIFY_REQUIRES_PHOTO = False
    hazard = assigned(user, world, past)
    assert post(user("hm_staff"), f"hazards/{hazard}/rectify/", {"note": "已整改"})["status"] == "rectified"


# --- what may be attached ----------------------------------------------------------------------------------


def test_an_attachment_that_is_unknown_foreign_or_removed_is_refused(user: Client, world: World, past: Past) -> None:
    staff = user("hm_staff")
    hazard = assigned(user, world, past)
    unknown = str(uuid4())
    foreign = upload(user("ql_staff"), jpeg(color=(5, 5, 5)))["id"]  # another school's upload, same bytes or not
    removed = upload(staff, jpeg(color=(6, 6, 6)))["id"]
    Attachment.objects.filter(id=removed).update(uploaded_at=timezone.now() - timedelta(days=2))
    assert purge_unpinned() == 1
    mine = upload(staff, jpeg(color=(7, 7, 7)))["id"]
    for bad in (unknown, foreign, removed):
        body = refused(staff.post(f"{API}hazards/{hazard}/rectify/", {"note": "x", "attachments": [mine, bad]},
                                  format="json"), 400, "invalid_attachment", "attachments")  # fmt: skip
        assert bad in body["detail"]
    refused(staff.post(f"{API}hazards/{hazard}/rectify/", {"note": "x", "attachments": ["not-an-id"]}, format="json"),
            400, "invalid", "attachments")  # fmt: skip
    refused(staff.post(f"{API}hazards/{hazard}/rectify/", {"note": "x", "attachments": [mine, mine]}, format="json"),
            400, "invalid_value", "attachments")  # fmt: skip
    assert versions(hazard) == 2 and not Attachment.objects.get(id=mine).pinned
    assert not Attachment.objects.get(id=foreign).pinned


def test_someone_who_sees_an_attachment_may_attach_it_again(user: Client, world: World, past: Past) -> None:
    staff, principal = user("hm_staff"), user("hm_principal")
    first, second = assigned(user, world, past), assigned(user, world, past, owner="hm_principal")
    photo = upload(staff, jpeg(color=(8, 8, 8)))
    post(staff, f"hazards/{first}/progress/", {"percent": 10, "attachments": [photo["id"]]})
    post(principal, f"hazards/{second}/rectify/", {"note": "同一处", "attachments": [photo["id"]]})  # sees it now
    assert AttachmentUse.objects.filter(attachment=photo["id"]).count() == 2


def test_a_failed_command_leaves_its_upload_unpinned_and_purgeable(user: Client, world: World, past: Past) -> None:
    staff, principal = user("hm_staff"), user("hm_principal")
    hazard = assigned(user, world, past)
    photo = upload(principal, jpeg(color=(9, 9, 9)))
    refused(principal.post(f"{API}hazards/{hazard}/verify/", {"accepted": True, "attachments": [photo["id"]]},
                           format="json"), 409, "invalid_transition")  # not rectified yet  # fmt: skip
    stale = upload(staff, jpeg(color=(11, 11, 11)))
    refused(staff.post(f"{API}hazards/{hazard}/progress/",
                       {"percent": 5, "expected_version": 1, "attachments": [stale["id"]]}, format="json"),
            409, "version_conflict")  # fmt: skip
    assert versions(hazard) == 2
    assert not Attachment.objects.filter(id__in=[photo["id"], stale["id"]], pinned=True).exists()
    Attachment.objects.filter(id__in=[photo["id"], stale["id"]]).update(uploaded_at=timezone.now() - timedelta(days=2))
    assert purge_unpinned() == 2


def test_a_retry_with_the_same_idempotency_key_records_the_photo_once(user: Client, world: World, past: Past) -> None:
    staff = user("hm_staff")
    hazard = assigned(user, world, past)
    body = with_photo(staff, {"note": "已整改"})
    first = staff.post(f"{API}hazards/{hazard}/rectify/", body, format="json", HTTP_IDEMPOTENCY_KEY="rectify-1")
    again = staff.post(f"{API}hazards/{hazard}/rectify/", body, format="json", HTTP_IDEMPOTENCY_KEY="rectify-1")
    assert ok(first) == ok(again) and again["Idempotent-Replayed"] == "true"
    assert versions(hazard) == 3 and len(event_refs(hazard)) == 1


# --- pinning and the purge: a photo being attached is never removed ------------------------------------------


def test_the_purge_before_or_after_the_command(user: Client, world: World, past: Past) -> None:
    staff = user("hm_staff")
    day_ago = timezone.now() - timedelta(days=1, minutes=1)
    purged_first, attached_first = (upload(staff, jpeg(color=(c, 0, 0))) for c in (20, 30))
    Attachment.objects.filter(id__in=[purged_first["id"], attached_first["id"]]).update(uploaded_at=day_ago)
    hazard = assigned(user, world, past)
    post(staff, f"hazards/{hazard}/progress/", {"percent": 5, "attachments": [attached_first["id"]]})
    assert purge_unpinned() == 1  # the other one
    refused(staff.post(f"{API}hazards/{hazard}/rectify/", {"note": "x", "attachments": [purged_first["id"]]},
                       format="json"), 400, "invalid_attachment")  # fmt: skip
    served = staff.get(attached_first["url"])
    assert sha(served.content) == event_refs(hazard)[0]["sha256"] == attached_first["sha256"]


@pytest.mark.django_db(transaction=True)  # each thread has its own connection: the world is committed
def test_a_purge_racing_a_command_never_leaves_an_event_naming_a_removed_upload(
    user: Client, world: World, past: Past, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both orders under the row lock. The command holds the lock first: the purge waits and keeps the upload.
    The purge holds it first (the row deleted, not yet committed): the command waits, then is refused (400)."""
    staff = user("hm_staff")
    hazard = assigned(user, world, past)
    day_ago = timezone.now() - timedelta(days=1, minutes=1)
    kept, lost = (upload(staff, jpeg(color=(0, c, 0))) for c in (40, 50))
    Attachment.objects.filter(id__in=[kept["id"], lost["id"]]).update(uploaded_at=day_ago)
    concurrent = connection.vendor == "postgresql"  # SQLite has one writer at a time: one after the other

    def in_thread(target: Callable[[], Any]) -> threading.Thread:
        def run() -> None:
            try:
                target()
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    # 1. the command's transaction pins and holds the lock; the purge meanwhile
    pinned, release, purged = threading.Event(), threading.Event(), []

    def command() -> None:
        def progress(app: Any) -> Any:
            refs = attachment_store.pin(world.actor("hm_staff"), [UUID(kept["id"])])
            pinned.set()
            release.wait(10 if concurrent else 0)
            actor = world.actor("hm_staff")
            return app.report_progress(UUID(hazard), actor=actor, note="", percent=20, attachments=refs)

        execute(progress)

    if concurrent:
        holder = in_thread(command)
        assert pinned.wait(10)
        purger = in_thread(lambda: purged.append(purge_unpinned()))
        purger.join(0.5)
        assert purger.is_alive()  # waiting for the command's lock
        release.set()
        holder.join(10)
        purger.join(10)
    else:
        command()
        purged.append(purge_unpinned())
    assert Attachment.objects.filter(id=kept["id"], pinned=True).exists()
    assert purged == [1] and not Attachment.objects.filter(id=lost["id"]).exists()  # ``lost`` went instead

    # 2. the purge holds the lock (its row deleted, not committed) while a command tries to attach the upload
    doomed = upload(staff, jpeg(color=(0, 0, 60)))
    Attachment.objects.filter(id=doomed["id"]).update(uploaded_at=day_ago)
    deleting, finish, answers = threading.Event(), threading.Event(), []
    remove_unused = attachment_store._remove_unused_blobs

    def slow_remove(hashes: set[str]) -> None:
        remove_unused(hashes)
        deleting.set()
        finish.wait(10 if concurrent else 0)

    monkeypatch.setattr(attachment_store, "_remove_unused_blobs", slow_remove)
    body = {"note": "已整改", "attachments": [doomed["id"]]}
    if concurrent:
        purger = in_thread(purge_unpinned)
        assert deleting.wait(10)
        sender = in_thread(lambda: answers.append(staff.post(f"{API}hazards/{hazard}/rectify/", body, format="json")))
        sender.join(0.5)
        assert sender.is_alive()  # waiting for the purge's lock
        finish.set()
        purger.join(10)
        sender.join(10)
    else:
        purge_unpinned()
        answers.append(staff.post(f"{API}hazards/{hazard}/rectify/", body, format="json"))
    refused(answers[0], 400, "invalid_attachment")
    assert versions(hazard) == 3  # found, assigned, the progress of part 1: nothing more
    for ref in event_refs(hazard):  # every upload an event names is still there, its bytes as recorded
        assert sha(staff.get(f"{API}attachments/{ref['id']}/").content) == ref["sha256"]


# --- who sees an attachment ------------------------------------------------------------------------------


SEE = ("hm_staff", "hm_staff2", "hm_principal", "hm_officer", "hm_chief", "tn_inspector", "tn_leader", "cz_police",
       "auditor")  # fmt: skip
ORIGINAL = ("hm_staff", "tn_inspector", "tn_leader", "cz_police", "auditor")  # the uploader, bureaus, auditors
NOT_SEE = ("ql_staff", "ql_principal", "ql_chief")


def test_a_photo_on_a_hazard_is_seen_by_who_sees_the_hazard(user: Client, world: World, past: Past) -> None:
    staff = user("hm_staff")
    hazard = assigned(user, world, past)
    photo, unreferenced = upload(staff, jpeg(color=(70, 80, 90))), upload(staff, jpeg(color=(90, 80, 70)))
    post(staff, f"hazards/{hazard}/rectify/", {"note": "已整改", "attachments": [photo["id"]]})
    (ref,) = event_refs(hazard)
    elsewhere = other_district_inspector()
    for who in SEE:
        client = user(who)
        assert ok(client.get(f"{API}hazards/{hazard}/"))["id"] == hazard  # sees the hazard, so the photo
        served = client.get(photo["url"])
        assert served.status_code == 200, (who, served.content[:200])
        assert sha(served.content) == ref["sha256"] == served["X-Content-SHA256"]
        thumbnail = client.get(photo["thumbnail_url"])  # made after the upload: its SHA-256 is the row's
        thumbnail_sha256 = Attachment.objects.get(id=photo["id"]).thumbnail_sha256
        assert sha(thumbnail.content) == thumbnail["X-Content-SHA256"] == thumbnail_sha256
        original = client.get(photo["url"] + "original/")
        if who in ORIGINAL:
            assert original.status_code == 200 and sha(original.content) == ref["sha256_original"], who
        else:
            refused(original, 404, "attachment_not_found")
        if who != "hm_staff":  # an upload no event references: its uploader's alone
            refused(client.get(unreferenced["url"]), 404, "attachment_not_found")
    for who in (*NOT_SEE, elsewhere):
        client = user(who)
        refused(client.get(f"{API}hazards/{hazard}/"), 404, "hazard_not_found")
        for suffix in ("", "thumbnail/", "meta/", "original/"):
            refused(client.get(f"{photo['url']}{suffix}"), 404, "attachment_not_found")
    assert sha(staff.get(unreferenced["url"]).content) == unreferenced["sha256"]  # the uploader's own, still


@pytest.mark.django_db(transaction=True)  # PostgreSQL: the rebuild's worker processes need the world committed
def test_who_references_what_is_rebuilt_from_the_log(user: Client, world: World, past: Past) -> None:
    staff, inspector = user("hm_staff"), user("tn_inspector")
    for _ in range(3):
        hazard = assigned(user, world, past)
        post(staff, f"hazards/{hazard}/rectify/", with_photo(staff, with_photo(staff, {"note": "已整改"})))
    body = {"campaign": str(world.campaign), "school": str(world.units["qinglong_school"]), "kind": "onsite",
            "inspectors": ["tn_inspector"]}  # fmt: skip
    inspection = post(inspector, "inspections/", body, 201)["id"]
    post(inspector, f"inspections/{inspection}/assessments/",
         with_photo(inspector, {"item": "CZ-01", "result": "fail"}), 201)  # fmt: skip
    fields = ("attachment", "aggregate", "kind", "version", "event", "school", "police_only")
    projected = sorted(AttachmentUse.objects.values_list(*fields))
    assert len(projected) == 7

    call_command("rebuild_projections", stdout=io.StringIO())  # PostgreSQL: in worker processes

    assert sorted(AttachmentUse.objects.values_list(*fields)) == projected
    clear_read_models()
    assert not AttachmentUse.objects.exists()
    catch_up(get_application())
    assert sorted(AttachmentUse.objects.values_list(*fields)) == projected
