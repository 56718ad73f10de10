"""One benchmark run on several checkouts of the code, printed side by side.

Runs `python -m bench.<module> <args>` once per tree and round, the trees alternating within each round (so
that a change of load on the machine falls on every tree alike), each with the tree first on PYTHONPATH and
this directory as the working directory (so every tree reads the same data set under ./.usagegraph-bench).
Each --pattern is a regular expression matched against every output line: its group `label` names a case
(a label seen again is numbered #2, #3 in the order of the output), its groups v0, v1, ... are figures. For
each case and figure the best (lowest) of the rounds is printed per tree, then the last tree over the first.

    python -m bench.side_by_side --tree before=/tmp/before --tree after=. --names standard,compiled \
        --pattern '^(?P<label>.{30}) +[\\d,]+ +(?P<v0>[\\d.]+) +(?P<v1>[\\d.]+)' -- compiled_bench --runs 15
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path


def _rows(output: str, patterns: list[re.Pattern[str]]) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    for line in output.splitlines():
        for pattern in patterns:
            match = pattern.search(line)
            if match is None:
                continue
            label = " ".join(match.group("label").split())
            figures = [float(value) for name, value in sorted(match.groupdict().items()) if name != "label"]
            seen = sum(1 for key in rows if key == label or key.startswith(label + " #"))
            rows[label if not seen else f"{label} #{seen + 1}"] = figures
            break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH, in the order to print")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pattern", action="append", required=True)
    parser.add_argument("--names", default="ms", help="the figures' names, comma-separated")
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- module [its arguments]")
    args = parser.parse_args()
    bench = [part for part in args.bench if part != "--"]
    trees = [tuple(tree.split("=", 1)) for tree in args.tree]
    patterns = [re.compile(pattern) for pattern in args.pattern]
    names = args.names.split(",")
    best: dict[str, dict[str, list[float]]] = {name: {} for name, _ in trees}
    order: list[str] = []
    for _ in range(args.rounds):
        for name, path in trees:
            env = {**os.environ, "PYTHONPATH": str(Path(path).resolve())}
            command = [sys.executable, "-P", "-m", f"bench.{bench[0]}", *bench[1:]]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            for label, figures in _rows(done.stdout, patterns).items():
                if label not in order:
                    order.append(label)
                kept = best[name].setdefault(label, figures)
                best[name][label] = [min(a, b) for a, b in zip(kept, figures, strict=True)]
    width = max(len(label) for label in order)
    print(f"python -m bench.{' '.join(bench)}: best of {args.rounds} rounds per tree, ms")
    header = " ".join(f"{tree + ' ' + figure:>18}" for figure in names for tree, _ in trees)
    print(f"{'case':<{width}} {header} {trees[-1][0] + '/' + trees[0][0]:>14}")
    for label in order:
        cells, ratios = [], []
        for k in range(len(names)):
            values = [best[tree][label][k] if label in best[tree] else None for tree, _ in trees]
            cells += [f"{v:>18.2f}" if v is not None else f"{'-':>18}" for v in values]
            if values[0] and values[-1] is not None:
                ratios.append(f"{values[-1] / values[0]:.2f}")
        print(f"{label:<{width}} {' '.join(cells)} {'/'.join(ratios):>14}")


if __name__ == "__main__":
    main()
