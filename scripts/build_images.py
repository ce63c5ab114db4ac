#!/usr/bin/env python3
"""Build the Docker images the sandboxes run in, on this machine, without a registry."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from arena.errors import SandboxError
from arena.images import build_images, image_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Build the sandbox images locally. arena-rootfs is a minimal Debian bookworm made with "
            "debootstrap (needs root and the Debian mirror; about a minute) and imported into Docker; "
            "every other image is built from arena/images/<name>.Dockerfile on top of it. An image "
            "is rebuilt only when its inputs (recipe, Dockerfile, parent) changed, so running this "
            "again is quick."
        ),
        epilog=f"images: {', '.join(image_names())}",
    )
    parser.add_argument("names", nargs="*", help="images to build (default: all); their parents come along")
    parser.add_argument("--force", action="store_true", help="rebuild the named images even if up to date")
    args = parser.parse_args(argv)
    try:
        build_images(args.names or None, force=args.force)
    except SandboxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
