"""Read latency at two sizes in one run: ``ownership/?at=`` and ``accountability/``, small against the size measured.

    python -m benchmarks.queries --url URL --small bench_small_20261123 --large bench_medium_20261123

Both databases live in the same PostgreSQL server and hold a generated history projected by the real
projectors. Requests go through Django's test client in this process (token auth, scope, DRF, pagination,
JSON) and alternate between the two databases in rounds of 20 (the first pair of requests after a switch is
not timed: it opens the connections, Django's and the event store's pool), so machine drift hits both sizes alike:
- ``ownership/?at=T&school=S`` as the district inspector, T random in the last 140 days;
- ``accountability/?campaign=C`` as a school's 校长 (the findings R1–R7 of the school's hazards in the campaign).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import Figure, figure, percentile, setup_django, use_database

ROUND = 20


class Site:
    """One database: its logins and what to ask it."""

    def __init__(self, database: str) -> None:
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from domain.policy import Role
        from projections.campaigns import CampaignView
        from projections.directory import StaffView, UnitView
        from projections.eventstore import get_application
        from projections.runner import catch_up

        self.database = database
        use_database(database)
        catch_up(get_application(), batch_size=5000)  # a no-op when the rebuild measurement made the read models
        self.schools = [
            str(u) for u in UnitView.objects.filter(kind="school", district="第1区").values_list("id", flat=True)
        ]
        self.campaigns = [str(c) for c in CampaignView.objects.values_list("id", flat=True)]
        principals = dict(
            StaffView.objects.filter(role=Role.SCHOOL_PRINCIPAL.value, unit__in=self.schools).values_list(
                "unit", "username"
            )
        )
        users = get_user_model().objects
        self.tokens: dict[str, str] = {}
        for username in ["d0_inspector", *principals.values()]:
            user = users.filter(username=username).first() or users.create_user(username, password=None)
            self.tokens[username] = Token.objects.get_or_create(user=user)[0].key
        self.principals = {str(unit): name for unit, name in principals.items()}

    def requests(self, rng: random.Random) -> list[tuple[str, str, str, dict[str, str]]]:
        now = datetime.now(UTC)
        at = (now - timedelta(days=rng.uniform(1, 140))).isoformat()
        school = rng.choice(self.schools)
        return [
            ("ownership", "d0_inspector", "/api/v1/ownership/", {"at": at, "school": school}),
            (
                "accountability",
                self.principals[school],
                "/api/v1/accountability/",
                {"campaign": rng.choice(self.campaigns)},
            ),
        ]


def measure(args: dict[str, Any]) -> list[Figure]:
    setup_django(args["url"], args["small"])
    from rest_framework.test import APIClient

    sites = {"small": Site(args["small"]), "large": Site(args["large"])}
    timings: dict[str, dict[str, list[float]]] = {s: {"ownership": [], "accountability": []} for s in sites}
    rng = random.Random(7)
    client = APIClient()
    rounds = max(1, int(args.get("requests", 300)) // ROUND)
    for r in range(rounds + 1):  # the first round warms both up and is not counted
        for size, site in sites.items():
            use_database(site.database)
            for request in site.requests(rng):  # opens the connections (accountability/ reads the event store)
                _ask(client, site, request)
            for _ in range(ROUND):
                for kind, elapsed in _round(client, site, rng):
                    if r:
                        timings[size][kind].append(elapsed)
    return [
        _figure("ownership/?at=T&school=S p99", timings, "ownership", 10),
        _figure("accountability/?campaign=C p99", timings, "accountability", 50),
    ]


def _round(client: Any, site: Site, rng: random.Random) -> list[tuple[str, float]]:
    import time

    measured = []
    for request in site.requests(rng):
        started = time.perf_counter()
        _ask(client, site, request)
        measured.append((request[0], (time.perf_counter() - started) * 1000))
    return measured


def _ask(client: Any, site: Site, request: tuple[str, str, str, dict[str, str]]) -> None:
    _, user, path, params = request
    client.credentials(HTTP_AUTHORIZATION=f"Token {site.tokens[user]}")
    response = client.get(path, params)
    if response.status_code != 200:
        raise RuntimeError(f"{path} {params} -> {response.status_code}: {response.content[:300]!r}")


def _figure(name: str, timings: dict[str, dict[str, list[float]]], kind: str, limit: float) -> Figure:
    small, large = timings["small"][kind], timings["large"][kind]
    p99, base = percentile(large, 99), percentile(small, 99)
    return figure(
        name,
        p99,
        base,
        "ms",
        f"p99 ≤ {limit:g} ms, ratio ≤ 2 (vs small)",
        p99 <= limit and p99 / base <= 2,
        detail=f"{len(large)} requests a size; p50 {percentile(large, 50):.1f} ms (small {percentile(small, 50):.1f})",
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--small", required=True, help="database of the small history")
    parser.add_argument("--large", required=True, help="database of the size measured")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per size and query")
    args = parser.parse_args(argv)
    print(json.dumps(measure(vars(args)), ensure_ascii=False, indent=2))
    use_database("postgres")  # closes the application before the interpreter goes away
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
