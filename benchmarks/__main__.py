"""``python -m benchmarks run [--size small|medium|large] [--seed N] [--quick] [--only …]`` (see benchmarks.run)."""

from __future__ import annotations

import sys

from benchmarks import run

USAGE = "usage: python -m benchmarks run [--size small|medium|large] [--seed N] [--quick] [--only NAME …]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "run":
        print(USAGE, file=sys.stderr)
        return 2
    return run.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
