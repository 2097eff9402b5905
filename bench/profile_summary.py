"""Summarise a py-spy profile in raw (folded) format: the functions with the most samples.

    .venv/bin/python bench/profile_summary.py PROFILE.txt [--top 15] [--under sqlite_writer.py]

py-spy writes one line per distinct stack, "frame;frame;...;leaf COUNT", each frame "function (file:line)".
Self = samples where the function is the leaf (it was running); total = samples where it is anywhere on the
stack (counted once per stack). Percentages are of all samples, every thread together; `--under` keeps only
stacks through a frame whose text contains the given string (one thread's work, one request path).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def stacks(profile: Path) -> Iterator[tuple[list[str], int]]:
    """(frames from the root, without line numbers, as "file:function"; sample count) per profile line."""
    for line in profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield [frame_name(frame) for frame in stack.split(";")], int(count)


def frame_name(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return frame
    file = match["file"].split("site-packages/")[-1]
    return f"{file}:{match['function']}"


def summarise(profile: Path, under: str) -> tuple[Counter[str], Counter[str], int]:
    self_samples: Counter[str] = Counter()
    total_samples: Counter[str] = Counter()
    samples = 0
    for frames, count in stacks(profile):
        if under and not any(under in frame for frame in frames):
            continue
        samples += count
        self_samples[frames[-1]] += count
        for frame in set(frames):
            total_samples[frame] += count
    return self_samples, total_samples, samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--under", default="", help="only stacks with a frame containing this text")
    args = parser.parse_args(argv)
    self_samples, total_samples, samples = summarise(args.profile, args.under)
    if not samples:
        raise SystemExit(f"{args.profile}: no samples" + (f" under {args.under!r}" if args.under else ""))
    print(f"{samples} samples{f' under {args.under!r}' if args.under else ''}\n\nself time")
    for name, count in self_samples.most_common(args.top):
        print(f"  {count / samples:6.1%}  {name}")
    print("\ntotal time (on the stack)")
    for name, count in total_samples.most_common(args.top):
        print(f"  {count / samples:6.1%}  {name}")


if __name__ == "__main__":
    main()
