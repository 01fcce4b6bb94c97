"""Attachments shown (issue 16 point 6, and point 7's dossier rendered to PNG), with real files: a red photo of the
hazard as found, a blue one of the rectified place and a PDF 验收单, uploaded over HTTP and recorded on discover,
rectify and verify. The history lists them with both SHA-256s and their addresses; the 隐患档案 PDF shows the
thumbnails 整改前 | 整改后 side by side with their SHA-256 (pixels of each colour in its half of the rendered page);
the 台账 counts them as of the moment asked; the Kafka envelope carries the refs in plain JSON and the police copy
keeps them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook
from PIL import Image
from reporthelpers import page_png, pdf_pages, pdf_text
from rest_framework.test import APIClient
from test_attachments import fetched, pdf_bytes, sha, upload

from api import demo
from api.services import execute
from consumers import envelope
from domain.application import SafetyApplication
from domain.attachments import AttachmentRef, attachments_of
from domain.hazard.aggregate import Hazard, Severity
from projections import integrity, policemirror
from projections.attachments import Attachment, StoredFile, blob_name, read_blob, ref_of
from projections.hazard.rows import HazardLedger
from projections.integrity import ChainLink
from projections.runner import catch_up

from apihelpers import API, assigned_hazard, ok

Client = Callable[[str], APIClient]
RED, BLUE = (215, 25, 25), (25, 55, 215)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


def solid_jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG", quality=90)
    return out.getvalue()


def ref(body: dict[str, Any]) -> AttachmentRef:
    """The ref a command records for the upload answered with ``body``."""
    return ref_of(Attachment.objects.get(id=body["id"]))


@pytest.fixture
def photographed(app: SafetyApplication, world: demo.World, user: Client) -> dict[str, Any]:
    """红梅实验小学's 消防通道 hazard: found with a red photo, assigned, rectified with a blue one, accepted with a
    PDF 验收单; ``before_rectified`` is a record time between discovery and rectification."""
    start = timezone.now() - timedelta(days=2)
    school = world.units["hongmei_school"]
    found = ok(upload(user("hm_staff"), "发现现场.jpg", solid_jpeg(RED), "image/jpeg", caption="通道堆满纸箱"), 201)
    fixed = ok(upload(user("hm_staff2"), "整改后.jpg", solid_jpeg(BLUE), "image/jpeg", caption="通道已清空"), 201)
    form = ok(upload(user("hm_principal"), "验收单.pdf", pdf_bytes(), "application/pdf"), 201)
    hazard = execute(
        lambda app: app.discover_hazard(
            actor=world.actor("hm_staff"),
            campaign=world.campaign,
            school=school,
            item="CZ-01",
            description="消防通道堆放杂物",
            severity=Severity.GENERAL,
            location="食堂后门",
            occurred_at=start,
            attachments=[ref(found)],
        )
    )
    assigned = {"owner": "hm_staff2", "owner_unit": str(school), "deadline": "2099-01-01", "standard": "通道畅通"}
    assigned["occurred_at"] = (start + timedelta(hours=1)).isoformat()
    ok(user("hm_principal").post(f"{API}hazards/{hazard.id}/assign/", assigned, format="json"))
    before_rectified = timezone.now()
    execute(
        lambda app: app.rectify_hazard(
            hazard.id,
            actor=world.actor("hm_staff2"),
            note="杂物已清理",
            occurred_at=start + timedelta(hours=2),
            attachments=[ref(fixed)],
        )
    )
    execute(
        lambda app: app.verify_hazard(
            hazard.id,
            actor=world.actor("hm_principal"),
            accepted=True,
            note="验收合格",
            occurred_at=start + timedelta(hours=3),
            attachments=[ref(form)],
        )
    )
    catch_up(app)
    return {"id": str(hazard.id), "found": found, "fixed": fixed, "form": form, "before_rectified": before_rectified}


# --- history ------------------------------------------------------------------------------------------------


def listed(body: dict[str, Any]) -> dict[str, Any]:
    """What a history item says of an upload: the event's hashes, size and type, the upload's name and addresses."""
    keys = ("id", "filename", "caption", "content_type", "size", "sha256", "sha256_original", "thumbnail_url", "url")
    return {k: body[k] for k in keys}


def test_history_items_list_their_attachments_with_both_hashes_and_addresses(
    app: SafetyApplication, user: Client, photographed: dict[str, Any]
) -> None:
    items = ok(user("hm_principal").get(f"{API}hazards/{photographed['id']}/history/"))
    by_type = {item["type"]: item for item in items}
    assert [item["type"] for item in items] == ["discovered", "assigned", "rectified", "verified"]
    assert by_type["discovered"]["attachments"] == [listed(photographed["found"])]
    assert by_type["assigned"]["attachments"] == []  # an event without attachments lists none
    assert by_type["rectified"]["attachments"] == [listed(photographed["fixed"])]
    (document,) = by_type["verified"]["attachments"]
    assert document == listed(photographed["form"]) and document["thumbnail_url"] is None  # a PDF: no thumbnail
    assert document["content_type"] == "application/pdf" and document["filename"] == "验收单.pdf"
    found = by_type["discovered"]["attachments"][0]
    assert found["caption"] == "通道堆满纸箱" and found["thumbnail_url"] == found["url"] + "thumbnail/"
    # the event's own data carries the refs in plain JSON, as the log recorded them
    assert by_type["rectified"]["data"]["attachments"] == [
        {k: photographed["fixed"][k] for k in ("id", "sha256", "sha256_original", "size", "content_type")}
    ]
    # the bytes at the address are those the event's SHA-256 names (fetched by the uploader)
    fixed = by_type["rectified"]["attachments"][0]
    assert sha(fetched(user("hm_staff2"), fixed["url"])) == fixed["sha256"]


def test_the_history_hash_is_the_chain_hash_and_covers_both_sha256s(
    app: SafetyApplication, user: Client, photographed: dict[str, Any]
) -> None:
    """The item's ``hash`` stays the event's chain hash: the names, captions and URLs listed beside the refs are not
    in the event and not hashed; the refs (both SHA-256s) are in the stored event the chain hashes."""
    items = ok(user("hm_principal").get(f"{API}hazards/{photographed['id']}/history/"))
    for item in items:
        link = ChainLink.objects.get(originator_id=UUID(photographed["id"]), originator_version=item["version"])
        assert item["hash"] == link.hash
        stored = app.recorder.select_notifications(start=link.position, limit=1)[0]
        previous = bytes.fromhex(ChainLink.objects.get(position=link.position - 1).hash)
        assert integrity.next_hash(previous, stored).hex() == link.hash
        for attachment in item["attachments"]:  # what the chain hashed holds both hashes of every ref
            state = bytes(stored.state).decode()
            assert attachment["sha256"] in state and attachment["sha256_original"] in state
            assert attachment["filename"] not in state


def test_an_event_recorded_before_attachments_lists_none(app: SafetyApplication, photographed: dict[str, Any]):
    """A Discovered event stored without the field (as every release before issue 16 stored it) reads as none."""
    (stored,) = app.recorder.select_events(UUID(photographed["id"]), lte=1)
    state = json.loads(bytes(stored.state))
    assert state.pop("attachments")
    older = type(stored)(stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode())
    event = app.mapper.to_domain_event(older)
    assert isinstance(event, Hazard.Discovered) and attachments_of(event) == ()
    assert attachments_of(app.mapper.to_domain_event(stored)) == (ref(photographed["found"]),)


# --- the dossier ----------------------------------------------------------------------------------------------


def dossier(user: Client, hazard: str, fmt: str) -> bytes:
    response = user("auditor").get(f"{API}reports/hazard-dossier/", {"format": fmt, "hazard": hazard})
    assert response.status_code == 200, response.content[:500]
    return bytes(response.content)


def images_in(pdf: bytes) -> int:
    return pdf.count(b"/Subtype /Image") + pdf.count(b"/Subtype/Image")


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], within: int = 45) -> bool:
    return all(abs(a - b) <= within for a, b in zip(pixel[:3], colour, strict=True))


def test_the_dossier_pdf_shows_thumbnails_before_and_after_side_by_side_with_their_sha256(
    user: Client, photographed: dict[str, Any]
) -> None:
    content = dossier(user, photographed["id"], "pdf")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "hazard-dossier-photos.pdf").write_bytes(content)
    flat = "".join(pdf_text(content).split())
    for words in ("五、整改前后照片对比", "整改前", "整改后", "发现现场.jpg", "整改后.jpg", "验收单.pdf", "附件：1个"):
        assert words in flat, words
    assert "PDF文件，无缩略图" in flat and "通道堆满纸箱" in flat
    for body in (photographed["found"], photographed["fixed"], photographed["form"]):
        assert f"SHA-256：{body['sha256']}" in flat and f"原件SHA-256：{body['sha256_original']}" in flat

    # the page with the photos, as a person sees it: red on the 整改前 side (left), blue on the 整改后 side (right)
    pages = range(1, pdf_pages(content) + 1)
    (page,) = [p for p in pages if "整改前后照片对比" in "".join(pdf_text(content, p, p).split())]
    png = page_png(content, page, keep_as=ARTIFACTS / "hazard-dossier-photos.png")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    red = [x for x in range(0, width, 2) for y in range(0, height, 2) if near(pixels[x, y], RED)]
    blue = [x for x in range(0, width, 2) for y in range(0, height, 2) if near(pixels[x, y], BLUE)]
    area = width * height / 4  # pixels sampled
    assert len(red) > 0.01 * area and len(blue) > 0.01 * area, (len(red), len(blue), area)
    assert max(red) < width / 2 < min(blue)  # side by side: 整改前 | 整改后


def test_the_dossier_json_and_xlsx_list_the_pictures_without_the_thumbnails(
    user: Client, photographed: dict[str, Any]
) -> None:
    data = json.loads(dossier(user, photographed["id"], "json"))
    (gallery,) = data["galleries"]
    assert gallery["title"] == "五、整改前后照片对比"
    (before_side, before), (after_side, after) = gallery["sides"]
    assert (before_side, after_side) == ("整改前", "整改后")
    assert [(p["filename"], p["sha256"]) for p in before] == [("发现现场.jpg", photographed["found"]["sha256"])]
    assert [p["filename"] for p in after] == ["整改后.jpg", "验收单.pdf"]
    assert all("thumbnail" not in p for p in (*before, *after))  # no base64 in the JSON

    sheet = load_workbook(io.BytesIO(dossier(user, photographed["id"], "xlsx"))).active
    rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    (found,) = [r for r in rows if "发现现场.jpg" in r]
    assert "整改前" in found and photographed["found"]["sha256"] in found
    (form,) = [r for r in rows if "验收单.pdf" in r]
    assert "整改后" in form and photographed["form"]["sha256_original"] in form


# --- the ledger -------------------------------------------------------------------------------------------------


def ledger_rows(user: Client, world: demo.World, fmt: str, **params: str) -> bytes:
    query = {"format": fmt, "school": str(world.units["hongmei_school"]), **params}
    response = user("hm_principal").get(f"{API}reports/school-ledger/", query)
    assert response.status_code == 200, response.content[:500]
    return bytes(response.content)


def test_the_school_ledger_counts_the_attachments_as_known_at_the_moment_asked(
    user: Client, world: demo.World, photographed: dict[str, Any]
) -> None:
    hazards = json.loads(ledger_rows(user, world, "json"))["tables"][0]
    assert hazards["columns"][-1] == "照片/附件数"
    assert [row[-1] for row in hazards["rows"]] == [3]
    then = json.loads(ledger_rows(user, world, "json", known_at=photographed["before_rectified"].isoformat()))
    assert [row[-1] for row in then["tables"][0]["rows"]] == [1]  # the photo of the hazard as found only

    sheet = load_workbook(io.BytesIO(ledger_rows(user, world, "xlsx"))).active
    rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    head = next(i for i, row in enumerate(rows) if row[:2] == ("序号", "隐患编号"))
    assert rows[head][8] == "照片/附件数" and rows[head + 1][8] == 3
    text = "".join(pdf_text(ledger_rows(user, world, "pdf")).split())
    assert "照片/附件数" in text


def test_the_attachment_count_is_rebuilt_from_the_events(
    app: SafetyApplication, user: Client, world: demo.World, photographed: dict[str, Any]
) -> None:
    HazardLedger.objects.filter(id=photographed["id"]).update(attachment_count=0)
    call_command("rebuild_projections")
    assert HazardLedger.objects.get(id=photographed["id"]).attachment_count == 3
    assert [row[-1] for row in json.loads(ledger_rows(user, world, "json"))["tables"][0]["rows"]] == [3]


# --- the Kafka envelope and the police copy ---------------------------------------------------------------------


def test_the_envelope_carries_the_refs_in_plain_json_and_the_police_copy_keeps_them(
    app: SafetyApplication, photographed: dict[str, Any]
) -> None:
    hazard = UUID(photographed["id"])
    copies = {}
    for n in app.recorder.select_notifications(start=1, limit=10_000):
        if n.originator_id != hazard:
            continue
        event = app.mapper.to_domain_event(n)
        chain_hash = integrity.hash_of(hazard, n.originator_version)
        assert chain_hash is not None
        message = envelope.encode(envelope.build(n, event, chain_hash, event_school(app, hazard)))
        body = envelope.parse(message)  # what a consumer reads: JSON
        assert body["data"].get("attachments", []) == [plain_ref(r) for r in attachments_of(event)]
        assert attachments_of(envelope.to_event(app, body)) == attachments_of(event)  # decoded back the same
        policemirror.apply_event(body)
        copies[body["type"]] = policemirror.PoliceEventCopy.objects.get(position=n.id)
    fixed, form = photographed["fixed"], photographed["form"]
    assert copies["rectified"].attachments == [
        {"id": fixed["id"], "sha256": fixed["sha256"], "sha256_original": fixed["sha256_original"],
         "size": fixed["size"], "content_type": "image/jpeg"}
    ]  # fmt: skip
    assert copies["verified"].attachments[0]["sha256_original"] == form["sha256_original"] == sha(pdf_bytes_of(form))
    assert copies["assigned"].attachments == [] and copies["discovered"].hash == integrity.hash_of(hazard, 1)


def plain_ref(ref: AttachmentRef) -> dict[str, Any]:
    return {
        "id": str(ref.id),
        "sha256": ref.sha256,
        "sha256_original": ref.sha256_original,
        "size": ref.size,
        "content_type": ref.content_type,
    }


def event_school(app: SafetyApplication, hazard: UUID) -> UUID | None:
    first = app.mapper.to_domain_event(app.recorder.select_events(hazard, lte=1)[0])
    return envelope.school_of_first_event(first)


def pdf_bytes_of(body: dict[str, Any]) -> bytes:
    return read_blob(body["sha256_original"])


def test_a_dossier_without_attachments_says_so_and_a_lost_thumbnail_is_named(
    world: demo.World, user: Client, past: Callable[[float], str], photographed: dict[str, Any]
) -> None:
    bare = assigned_hazard(user, world, past)
    flat = "".join(pdf_text(dossier(user, bare, "pdf")).split())
    assert "五、整改前后照片对比" in flat and "截至填报时未上传照片或文件。" in flat and "整改后" not in flat

    missing = "〔缩略图缺失或与记录不符，未显示〕"
    whole = dossier(user, photographed["id"], "pdf")
    assert missing not in "".join(pdf_text(whole).split()) and images_in(whole) == 2
    red, blue = (Attachment.objects.get(id=photographed[k]["id"]).thumbnail_sha256 for k in ("found", "fixed"))
    assert red is not None and blue is not None
    StoredFile.objects.filter(name=blob_name(red)).delete()  # the red thumbnail lost from the store
    StoredFile.objects.filter(name=blob_name(blue)).update(content=solid_jpeg(RED, (32, 24)))  # the blue one swapped
    content = dossier(user, photographed["id"], "pdf")
    flat = "".join(pdf_text(content).split())
    assert flat.count(missing) == 2 and f"SHA-256：{photographed['found']['sha256']}" in flat
    assert images_in(content) == 0  # no picture it cannot vouch for
