"""``limit``/``offset`` pages: the same pages, counts and links as DRF's paginator, without a COUNT query for a
short page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api.common import LimitOffset

CASES = [(0, {}), (7, {}), (7, {"limit": "3"}), (7, {"limit": "3", "offset": "6"}), (7, {"limit": "3", "offset": "3"})]
CASES += [(7, {"limit": "7"}), (7, {"limit": "3", "offset": "7"}), (7, {"offset": "9"}), (0, {"offset": "2"})]


def paged(paginator: LimitOffsetPagination, rows: Any, query: dict[str, str]) -> tuple[Any, ...]:
    request = Request(APIRequestFactory().get("/api/v1/things/", query))
    page = paginator.paginate_queryset(rows, request)
    return page, paginator.count, paginator.get_next_link(), paginator.get_previous_link()


@pytest.fixture
def users(db: None) -> Any:
    def make(n: int) -> Any:
        for i in range(n):
            get_user_model().objects.create_user(f"reader{i}", password=None)
        return get_user_model().objects.filter(username__startswith="reader").order_by("username")

    return make


@pytest.mark.parametrize(("n", "query"), CASES)
def test_pages_counts_and_links_are_drfs(users: Any, n: int, query: dict[str, str]) -> None:
    rows = users(n)

    assert paged(LimitOffset(), rows, query) == paged(LimitOffsetPagination(), rows, query)
    assert paged(LimitOffset(), list(rows), query) == paged(LimitOffsetPagination(), list(rows), query)


def test_a_short_page_is_one_query_and_a_full_page_is_counted(users: Any) -> None:
    rows = users(5)

    with CaptureQueriesContext(connection) as short:
        paged(LimitOffset(), rows, {"limit": "10"})
    with CaptureQueriesContext(connection) as full:
        assert paged(LimitOffset(), rows, {"limit": "2"})[1] == 5

    assert len(short) == 1 and len(full) == 2
