"""``hdap``: the pruning side of the testbed. Its commands arrive with the zoo and HDAP issues."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hdap", description="Homogeneous-Device Aware Pruning against a fleet.")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
