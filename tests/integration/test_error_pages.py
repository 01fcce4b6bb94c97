"""Errors outside /api/ are Chinese pages, under /api/ JSON; none shows a traceback (DEBUG off)."""

from __future__ import annotations

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import get_resolver


def test_a_missing_page_is_the_chinese_404_page(db: None) -> None:
    response = Client().get("/forms/nothing-here/")

    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert "页面不存在" in response.content.decode()


def test_a_missing_api_url_stays_json(db: None) -> None:
    response = Client().get("/api/v1/nothing-here/")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["/forms/joint/", "/admin/", "/"])
def test_a_server_error_on_a_page_is_the_chinese_500_page_without_a_traceback(path: str) -> None:
    handler = get_resolver().resolve_error_handler(500)

    response = handler(RequestFactory().get(path))

    page = response.content.decode()
    assert response.status_code == 500 and "服务器内部错误" in page
    assert "Traceback" not in page and "Server Error (500)" not in page


def test_a_server_error_under_api_is_json() -> None:
    handler = get_resolver().resolve_error_handler(500)

    response = handler(RequestFactory().get("/api/v1/hazards/"))

    assert response.status_code == 500 and json.loads(response.content)["code"]


def test_a_form_posted_without_its_csrf_token_gets_the_chinese_403_page(db: None) -> None:
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403 and "页面已过期" in response.content.decode()
    assert "CSRF verification failed" not in response.content.decode()


def test_a_forbidden_page_is_the_chinese_403_page() -> None:
    handler = get_resolver().resolve_error_handler(403)

    response = handler(RequestFactory().get("/forms/joint/"), PermissionError("no"))

    assert response.status_code == 403 and "无权访问" in response.content.decode()
