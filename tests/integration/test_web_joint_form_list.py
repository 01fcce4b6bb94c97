"""/forms/joint/ (issue 17): the campaign column, each school's status for its station across its schools, and
新建 (the API's joint-forms POST) for the parties of a school's form only."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from api.demo import DEMO_PASSWORD, World
from api.services import execute
from projections.campaigns import CampaignView
from projections.jointforms import JointFormView


def _logged_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=DEMO_PASSWORD)
    return client


@pytest.mark.django_db
def test_the_station_sees_every_school_of_its_own_with_status_and_new_buttons(world: World) -> None:
    execute(
        lambda app: app.open_joint_form(
            actor=world.actor("hm_staff"), campaign=world.campaign, school=world.units["hongmei_school"]
        )
    )
    campaign = CampaignView.objects.get(id=world.campaign).title
    page = _logged_in("hm_officer").get("/forms/joint/").content.decode()
    assert f"<td>{campaign}</td><td>红梅实验小学</td>" in page and "填写中" in page
    assert "尚未建立" in page and "新建" in page
    assert "青龙" not in page  # another station's school
    text = re.sub(r"<[^>]+>", "", page)  # the visible text: ids only in the buttons' hidden fields
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text)


@pytest.mark.django_db
def test_new_opens_the_form_and_leads_to_it(world: World) -> None:
    client = _logged_in("hm_staff")
    school = world.units["hongmei_school"]
    page = client.get("/forms/joint/").content.decode()
    assert page.count('aria-label="新建') == 1  # his own school only
    done = client.post("/forms/joint/", {"campaign": str(world.campaign), "school": str(school)})
    form = JointFormView.objects.get(campaign=world.campaign, school=school)
    assert done.status_code == 302 and done["Location"] == f"/forms/joint/{form.id}/"
    assert "尚未建立" not in client.get("/forms/joint/").content.decode()
    again = client.post("/forms/joint/", {"campaign": str(world.campaign), "school": str(school)})
    assert again.status_code == 409 and "已存在" in again.content.decode()


@pytest.mark.django_db
def test_nobody_opens_another_schools_form(world: World) -> None:
    for username in ("ql_staff", "ql_chief"):
        refused = _logged_in(username).post(
            "/forms/joint/", {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
        )
        assert refused.status_code in (403, 404), username
    bureau = _logged_in("tn_inspector")
    assert "新建" not in bureau.get("/forms/joint/").content.decode()  # bureaus read, they are no party
    assert not JointFormView.objects.exists()
