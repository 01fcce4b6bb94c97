"""A swapped or missing photo is named by verify (issue 16 points 4 and 7): a JPEG made here is uploaded over HTTP
and referenced by hazards' events; then, as someone with access to the database or the disk, its bytes are altered
or removed, and ``verify_integrity`` and ``audit/verify/`` must name the hazard, the event and the attachment."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from django.core.management import call_command
from rest_framework.test import APIClient
from test_attachments import image_bytes, jpeg_with_exif_and_gps, upload

from api import demo
from api.services import execute
from domain.attachments import AttachmentRef
from domain.hazard.aggregate import Severity
from domain.inspection.aggregate import AssessmentResult, InspectionKind
from projections.attachments import Attachment, StoredFile, blob_name, ref_of
from projections.hazard.rows import HazardLedger
from projections.integrity import ChainLink

from apihelpers import ok, other_district_inspector

Client = Callable[[str], APIClient]


def photo_ref(client: APIClient, data: bytes | None = None, name: str = "危化品柜.jpg") -> AttachmentRef:
    body = ok(upload(client, name, data or jpeg_with_exif_and_gps(), "image/jpeg"), 201)
    return ref_of(Attachment.objects.get(id=body["id"]))


def discovered(world: demo.World, ref: AttachmentRef, description: str = "危化品柜未上锁") -> tuple[UUID, str, int]:
    """A hazard of 红梅实验小学 found with the photo: its id, its 序号 and the log position of its Discovered."""
    hazard = execute(
        lambda app: app.discover_hazard(
            actor=world.actor("hm_staff"),
            campaign=world.campaign,
            school=world.units["hongmei_school"],
            description=description,
            severity=Severity.GENERAL,
            location="化学实验室",
            attachments=[ref],
        )
    )
    number = HazardLedger.objects.get(id=hazard.id).number
    position = int(ChainLink.objects.get(originator_id=hazard.id, originator_version=1).position)
    return hazard.id, number, position


def verify_command() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_integrity", stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def verify_api(client: APIClient) -> dict[str, Any]:
    response = client.get("/api/v1/audit/verify/")
    assert response.status_code == 200, response.content
    return dict(response.json())


def blob_problems(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in body["problems"] if p["kind"].startswith("blob_")]


def test_untouched_photos_verify(user: Client, world: demo.World) -> None:
    ref = photo_ref(user("hm_staff"))
    discovered(world, ref)
    ok(upload(user("hm_staff"), "未引用.png", image_bytes("PNG")), 201)  # an upload no event references yet
    code, out, err = verify_command()
    assert code == 0, err
    files = set().union(*(row.blob_hashes() for row in Attachment.objects.all()))  # each distinct file once
    assert len(files) >= 5  # served, original, thumbnail of the JPEG; the PNG's
    assert out.startswith("OK: ") and out.rstrip().endswith(f"; {len(files)} attachment files verified")
    body = verify_api(user("auditor"))
    assert body["ok"] is True and body["problems"] == [] and body["blobs_checked"] == len(files)


def test_photo_altered_in_the_database_is_named_with_each_hazard_and_event(user: Client, world: demo.World) -> None:
    ref = photo_ref(user("hm_staff"))
    first, first_number, first_at = discovered(world, ref)
    second, second_number, second_at = discovered(world, ref, "同一柜门铰链松动")  # one photo, two events
    StoredFile.objects.filter(name=blob_name(ref.sha256)).update(content=b"\xff\xd8\xff another photo")

    code, _, err = verify_command()
    assert code == 1
    assert f"blob_modified at position {first_at}" in err and first_number in err and str(ref.id) in err

    body = verify_api(user("auditor"))
    assert body["ok"] is False and body["blobs_checked"] == 3  # the shared file read once
    assert blob_problems(body) == [
        {
            "kind": "blob_modified",
            "position": at,
            "detail": body["problems"][i]["detail"],
            "subject": {"kind": "hazard", "id": str(hazard), "number": number},
            "event": {"type": "discovered", "version": 1, "position": at},
            "attachment": str(ref.id),
            "blob": "sha256",
        }
        for i, (hazard, number, at) in enumerate(((first, first_number, first_at), (second, second_number, second_at)))
    ]
    detail = body["problems"][0]["detail"]
    assert first_number in detail and str(first) in detail and "discovered" in detail and ref.sha256 in detail


def test_a_deleted_photo_and_a_deleted_upload_row_are_missing(user: Client, world: demo.World) -> None:
    ref = photo_ref(user("hm_staff"))
    _, number, at = discovered(world, ref)
    StoredFile.objects.filter(name=blob_name(ref.sha256_original)).delete()
    code, _, err = verify_command()
    assert code == 1 and f"blob_missing at position {at}" in err and number in err
    (problem,) = blob_problems(verify_api(user("auditor")))
    assert (problem["kind"], problem["blob"], problem["attachment"]) == ("blob_missing", "sha256_original", str(ref.id))

    Attachment.objects.filter(id=ref.id).delete()  # the upload's row gone: nothing can serve the photo
    (problem,) = blob_problems(verify_api(user("auditor")))
    assert problem["kind"] == "blob_missing" and "blob" not in problem and problem["subject"]["number"] == number
    assert "上传记录已被删除" in problem["detail"]


def test_an_upload_row_pointed_at_other_bytes_is_modified(user: Client, world: demo.World) -> None:
    """Swapping the photo by rewriting its row's hashes to another upload's files, whose bytes are intact."""
    staff = user("hm_staff")
    ref, other = photo_ref(staff), photo_ref(staff, jpeg_with_exif_and_gps(320, 240), "另一张.jpg")
    _, number, at = discovered(world, ref)
    Attachment.objects.filter(id=ref.id).update(sha256=other.sha256, sha256_original=other.sha256_original)
    (problem,) = blob_problems(verify_api(user("auditor")))
    assert (problem["kind"], problem["position"], problem["attachment"]) == ("blob_modified", at, str(ref.id))
    assert number in problem["detail"]


def test_an_unreferenced_uploads_thumbnail_is_checked_against_its_row(user: Client, world: demo.World) -> None:
    body = ok(upload(user("hm_staff"), "未引用.jpg", jpeg_with_exif_and_gps()), 201)
    StoredFile.objects.filter(name=blob_name(body["thumbnail_sha256"])).update(content=b"not the thumbnail")
    code, _, err = verify_command()
    assert code == 1 and "blob_modified at position 0" in err and body["id"] in err
    (problem,) = blob_problems(verify_api(user("auditor")))
    assert problem == {
        "kind": "blob_modified",
        "position": 0,
        "detail": problem["detail"],
        "attachment": body["id"],
        "blob": "thumbnail_sha256",
    }


def test_a_bureau_of_another_district_is_not_told_whose_photo(user: Client, world: demo.World, app: Any) -> None:
    ref = photo_ref(user("hm_staff"))
    hazard, number, at = discovered(world, ref)
    other_district_inspector()
    StoredFile.objects.filter(name=blob_name(ref.sha256)).delete()

    for who in ("tn_inspector", "auditor"):  # 天宁区's bureau sees 红梅实验小学
        (problem,) = blob_problems(verify_api(user(who)))
        assert problem["subject"]["number"] == number and problem["attachment"] == str(ref.id)
    body = verify_api(user("wj_inspector"))
    assert body["ok"] is False
    assert body["problems"] == [
        {"kind": "blob_missing", "position": at, "detail": "其他单位的附件文件校验未通过（无权查看详情）"}
    ]
    text = str(body)
    assert number not in text and str(hazard) not in text and str(ref.id) not in text


def test_a_photo_altered_or_removed_on_disk_is_named(
    user: Client, world: demo.World, settings: Any, tmp_path: Path
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "allow_overwrite": True},
        },
    }
    ref = photo_ref(user("hm_staff"))
    _, number, at = discovered(world, ref)
    assert StoredFile.objects.count() == 0
    assert verify_command()[0] == 0

    served = tmp_path / blob_name(ref.sha256)
    swapped = jpeg_with_exif_and_gps(640, 481)
    served.write_bytes(swapped)  # another photo in its place
    code, _, err = verify_command()
    assert code == 1 and f"blob_modified at position {at}" in err and number in err and str(ref.id) in err

    served.unlink()
    (problem,) = blob_problems(verify_api(user("auditor")))
    assert (problem["kind"], problem["blob"], problem["position"]) == ("blob_missing", "sha256", at)
    assert problem["subject"]["number"] == number and problem["event"]["type"] == "discovered"


def test_a_photo_on_an_inspection_assessment_is_named_with_the_inspection(user: Client, world: demo.World) -> None:
    ref = photo_ref(user("hm_staff"))
    staff, school = world.actor("hm_staff"), world.units["hongmei_school"]
    inspection = execute(
        lambda app: app.schedule_inspection(
            actor=staff, campaign=world.campaign, school=school, kind=InspectionKind.SELF, inspectors=["hm_staff"]
        )
    )
    execute(
        lambda app: app.assess_item(
            inspection.id, actor=staff, item="CZ-01", result=AssessmentResult.FAIL, note="缺升降柱", attachments=[ref]
        )
    )
    at = int(ChainLink.objects.filter(originator_id=inspection.id).order_by("-position").first().position)  # type: ignore[union-attr]
    StoredFile.objects.filter(name=blob_name(ref.sha256)).update(content=b"swapped")
    (problem,) = blob_problems(verify_api(user("auditor")))
    assert problem["subject"] == {"kind": "inspection", "id": str(inspection.id), "number": None}
    assert problem["event"]["type"] == "item_assessed" and problem["position"] == at == problem["event"]["position"]
    assert f"检查 {inspection.id}" in problem["detail"]
    assert blob_problems(verify_api(user("tn_inspector"))) == [problem]  # the district's bureau sees the school
