#!/usr/bin/python3
"""Summary of a recipe A/B (scripts/data-ab.sh, scripts/crop-ab.sh): each arm's last validation in its log.csv.

    ab-summary.py OUT ARM...

A channel run gets one row per arm: every quality's bpp / PSNR and the BD-rate against the first arm. A family
run (its validation carries the cross paths) gets one row per arm and quality: the up path's and the down
path's lead over their baselines and the medium member's own codec.
"""
import csv
import math
import os
import sys


def load(out, arm):
    """{quality: (bpp, psnr, extras)} of the arm's last validation, or None."""
    path = os.path.join(out, arm, "log.csv")
    if not os.path.exists(path):
        return None
    rows = [r for r in csv.reader(open(path)) if r and r[0] == "valid"]
    if not rows:
        return None
    last = max(int(r[1]) for r in rows)
    extras = lambda r: dict(kv.split("=", 1) for kv in r[10].split(";") if "=" in kv) if len(r) > 10 else {}
    return {int(r[9]): (float(r[6]), float(r[7]), extras(r)) for r in rows if int(r[1]) == last}


def bd_rate(a, b):
    """Mean log-rate difference of b against a over the common PSNR range, piecewise linear in PSNR."""
    pa = sorted((p, math.log(r)) for r, p, _ in a.values())
    pb = sorted((p, math.log(r)) for r, p, _ in b.values())
    lo, hi = max(pa[0][0], pb[0][0]), min(pa[-1][0], pb[-1][0])

    def at(pts, x):
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if x0 <= x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    n = 400
    d = sum(at(pb, lo + (hi - lo) * (i + .5) / n) - at(pa, lo + (hi - lo) * (i + .5) / n) for i in range(n)) / n
    return 100 * (math.exp(d) - 1), lo, hi


def channel_table(arms, runs):
    first = runs[arms[0]]
    qualities = sorted(first)
    print("| arm | " + " | ".join("Q%d bpp / dB" % q for q in qualities) + " | BD-rate vs %s |" % arms[0])
    print("|---|" + "---|" * (len(qualities) + 1))
    for arm in arms:
        v = runs[arm]
        cells = " | ".join("%.4f / %.2f" % v[q][:2] for q in sorted(v))
        b = "(anchor)" if arm == arms[0] else "%+.2f %% [%.1f-%.1f dB]" % bd_rate(first, v)
        print("| %s | %s | %s |" % (arm, cells, b))


def family_table(arms, runs):
    print("| arm | Q | up / bicubic (dB) | up Δ | down / box (dB) | down Δ | medium bpp / dB |")
    print("|---|---:|---|---:|---|---:|---|")
    for arm in arms:
        for q, (_, _, x) in sorted(runs[arm].items()):
            up, bic = float(x["cross_m2h"]), float(x["baseline_m2h_bicubic"])
            down, box = float(x["cross_h2m"]), float(x["baseline_h2m_box"])
            print("| %s | %d | %.3f / %.3f | %+.3f | %.3f / %.3f | %+.3f | %.3f / %.2f |" %
                  (arm, q, up, bic, up - bic, down, box, down - box, float(x["medium_bpp"]), float(x["medium"])))


def main():
    out, arms = sys.argv[1], sys.argv[2:]
    runs = {arm: v for arm in arms if (v := load(out, arm)) is not None}
    arms = [arm for arm in arms if arm in runs]
    if not arms:
        sys.exit("ab-summary: no arm of %s has a validation yet" % out)
    if all("cross_m2h" in x for _, _, x in runs[arms[0]].values()):
        family_table(arms, runs)
    else:
        channel_table(arms, runs)


if __name__ == "__main__":
    main()
