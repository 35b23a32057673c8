"""Synthetic NCMEC hash-sharing entries documents for the ingest benchmark (seeded).

:func:`write_synthetic` writes one ``queryResult`` document (FORMATS.md §3.2) of ``n``
entries in the shape the hash-sharing API returns, pretty-printed: about nine images to
one video, about 3 % of them tombstones (``deletedImage``/``deletedVideo``), random md5 and
sha1 fingerprints, random PhotoDNA-shaped values (base64 of 144 random bytes) on a third
of the images, ``tmk-pdqf`` links on the videos, A1-B2 classifications (some missing) and
an occasional ``feedback`` block. Nothing in it is real list data.

    python benchmarks/synthetic_ncmec.py out.xml --entries 500000 --seed 1
"""

from __future__ import annotations

import argparse
import base64
import random
from pathlib import Path
from typing import TextIO

__all__ = ["NAMESPACE", "write_synthetic"]

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
_CLASSIFICATIONS = ("A1", "A2", "B1", "B2", None)
_MEMBERS = [(9000 + n, f"Synthetic Member {n}") for n in range(1, 41)]
_VIDEO_SHARE = 0.1
_TOMBSTONE_SHARE = 0.03
_PDNA_SHARE = 0.33
_FEEDBACK_SHARE = 0.05


def _entry(out: TextIO, rng: random.Random, media: str, number: int) -> None:
    """One live entry or tombstone of ``media`` ("image" or "video")."""
    member, name = rng.choice(_MEMBERS)
    stamp = f"2024-03-{1 + number % 28:02d}T{number % 24:02d}:{number % 60:02d}:00Z"
    if rng.random() < _TOMBSTONE_SHARE:
        tag = "deleted" + media.capitalize()
        out.write(
            f"    <{tag}>\n"
            f'      <member id="{member}">{name}</member>\n'
            f"      <id>syn-{media}-{number}</id>\n"
            f"      <timestamp>{stamp}</timestamp>\n"
            f"    </{tag}>\n"
        )
        return
    parts = [
        f"    <{media}>\n",
        f'      <member id="{member}">{name}</member>\n',
        f"      <timestamp>{stamp}</timestamp>\n",
        f"      <id>syn-{media}-{number}</id>\n",
    ]
    classification = rng.choice(_CLASSIFICATIONS)
    if classification is not None:
        parts.append(f"      <classification>{classification}</classification>\n")
    parts.append("      <fingerprints>\n")
    parts.append(f"        <md5>{rng.randbytes(16).hex()}</md5>\n")
    parts.append(f"        <sha1>{rng.randbytes(20).hex()}</sha1>\n")
    if media == "image" and rng.random() < _PDNA_SHARE:
        pdna = base64.b64encode(rng.randbytes(144)).decode("ascii")
        parts.append(f"        <pdna>{pdna}</pdna>\n")
    if media == "video":
        parts.append(
            f'        <tmk-pdqf rel="self" href="/v2/entries/{number}/fingerprints/TMK_PDQF"/>\n'
        )
    parts.append("      </fingerprints>\n")
    if rng.random() < _FEEDBACK_SHARE:
        parts.append(
            f'      <feedback lastUpdateTimestamp="{stamp}">\n'
            f'        <affirmativeFeedback type="Md5" lastUpdateTimestamp="{stamp}">\n'
            f'          <members timestamp="{stamp}">'
            f'<member id="{member}">{name}</member></members>\n'
            "        </affirmativeFeedback>\n"
            "      </feedback>\n"
        )
    else:
        parts.append("      <feedback/>\n")
    parts.append(f"    </{media}>\n")
    out.write("".join(parts))


def write_synthetic(path: Path, n: int, seed: int) -> None:
    """Write an entries document of ``n`` entries (live and deleted) to ``path``."""
    rng = random.Random(seed)
    videos = round(n * _VIDEO_SHARE)
    images = n - videos
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
        out.write(f'<queryResult xmlns="{NAMESPACE}">\n')
        for media, count, first in (("image", images, 1), ("video", videos, images + 1)):
            if not count:
                continue
            out.write(f'  <{media}s count="{count}" maxTimestamp="2024-03-28T23:59:00Z">\n')
            for number in range(first, first + count):
                _entry(out, rng, media, number)
            out.write(f"  </{media}s>\n")
        out.write(
            "  <paging><next>/v2/entries?from=2024-03-01T00%3A00%3A00.000Z"
            "&amp;to=2024-03-29T00%3A00%3A00.000Z&amp;start=1001&amp;size=1000"
            "&amp;max=2000</next></paging>\n"
        )
        out.write("</queryResult>\n")


def main(argv: list[str] | None = None) -> None:
    """Write one synthetic document from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--entries", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    write_synthetic(args.path, args.entries, args.seed)


if __name__ == "__main__":
    main()
