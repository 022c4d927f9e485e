#!/usr/bin/env python3
"""Draws Table 3 (mean absolute errors of the anchor predictions, mexp vs Kovacs et al.) as a
grouped bar chart, from the `table` stage's JSON. A `command` stage of
experiments/vae_nd2fe14b_table3_plot.toml runs it:

    python3 plot_table3.py TABLE_JSON OUT_SVG

With numpy and matplotlib installed it draws with matplotlib (SVG, no date, fixed ids: the same
input gives the same bytes); without them it writes a plain SVG with the standard library, so the
stage also runs on a bare interpreter. Which of the two ran is part of the stage's key through its
`version` program.
"""
import json
import sys


def load(path):
    with open(path) as f:
        doc = json.load(f)
    names = [r["name"] for r in doc["rows"]]
    columns = doc["columns"]
    values = [[(v if v is not None else 0.0) for v in r["values"]] for r in doc["rows"]]
    return doc["title"], names, columns, values


def with_matplotlib(title, names, columns, values, out):
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "mexp"
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(names))
    width = 0.8 / max(len(columns), 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, col in enumerate(columns):
        ax.bar(x + (k - (len(columns) - 1) / 2) * width, [row[k] for row in values], width, label=col)
    ax.set_xticks(x, names)
    ax.set_ylabel("mean absolute error")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})


def plain_svg(title, names, columns, values, out):
    w, h, left, bottom, top = 640, 360, 60, 40, 40
    vmax = max([v for row in values for v in row] + [1e-12])
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    group = (w - left - 20) / max(len(names), 1)
    bar = 0.8 * group / max(len(columns), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
        f'<text x="{w / 2}" y="20" text-anchor="middle">{title}</text>',
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 20}" y2="{h - bottom}" stroke="black"/>',
        f'<text x="12" y="{top}" >{vmax:.4f}</text>',
    ]
    for i, name in enumerate(names):
        x0 = left + i * group + 0.1 * group
        for k in range(len(columns)):
            v = values[i][k]
            bh = (h - bottom - top) * v / vmax
            parts.append(
                f'<rect x="{x0 + k * bar:.1f}" y="{h - bottom - bh:.1f}" width="{bar:.1f}" '
                f'height="{bh:.1f}" fill="{colors[k % len(colors)]}"/>'
            )
        parts.append(f'<text x="{x0 + 0.4 * group:.1f}" y="{h - bottom + 15}" text-anchor="middle">{name}</text>')
    for k, col in enumerate(columns):
        parts.append(f'<rect x="{w - 160}" y="{top + 14 * k}" width="10" height="10" fill="{colors[k % len(colors)]}"/>')
        parts.append(f'<text x="{w - 145}" y="{top + 9 + 14 * k}">{col}</text>')
    parts.append("</svg>\n")
    with open(out, "w") as f:
        f.write("\n".join(parts))


def main():
    table, out = sys.argv[1], sys.argv[2]
    title, names, columns, values = load(table)
    try:
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        print("numpy/matplotlib not installed: writing a plain SVG", file=sys.stderr)
        plain_svg(title, names, columns, values, out)
    else:
        with_matplotlib(title, names, columns, values, out)
    print(f"wrote {out}: {len(names)} rows x {len(columns)} columns")


if __name__ == "__main__":
    main()
