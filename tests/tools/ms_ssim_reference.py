#!/usr/bin/env python3
"""Independent MS-SSIM reference (numpy only, float64) for aecodec's metrics tests.

It follows pytorch_msssim.ms_ssim(X, Y, data_range=255) (Gaussian 11x11 window, sigma 1.5, 'valid'
filtering, K1 0.01, K2 0.03, relu on cs/ssim, avg_pool2d(kernel 2, padding = side % 2, count_include_pad)),
plus aecodec's rule for small images (see ms_ssim in shared/aecodec/metrics.cpp): L = the largest scale count
in 1..5 with min side > 10 * 2^(L-1), first L weights renormalised when L < 5, window n x n with
n = min(11, min side). Written separately from the C++ (2-D window applied as a whole, padding with np.pad)
so that the two can check each other.

Usage: ms_ssim_reference.py A.ppm B.ppm [WxH ...]
  Prints the FNV-1a 64 hash of each image's RGB bytes, then the MS-SSIM of the pair and of each top-left
  crop WxH. The test pair is dumped by the hidden Catch test: core_tests "[ms_ssim_dump]" (see test_metrics.cpp).
"""
import sys

import numpy as np

WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def read_ppm(path):
    data = open(path, "rb").read()
    fields = []
    pos = 0
    while len(fields) < 4:  # magic, width, height, maxval (no comments: the test writes none)
        while data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    pos += 1  # the single whitespace byte after maxval
    assert fields[0] == b"P6" and fields[3] == b"255", path
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos:pos + w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def window(n, sigma=1.5):
    d = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    g = np.exp(-(d ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    return np.outer(g, g)


def filt(img, win):
    view = np.lib.stride_tricks.sliding_window_view(img, win.shape)
    return np.einsum("yxij,ij->yx", view, win)


def pool(img):
    ph, pw = img.shape[0] % 2, img.shape[1] % 2
    p = np.pad(img, ((ph, ph), (pw, pw)))
    h, w = (p.shape[0] // 2) * 2, (p.shape[1] // 2) * 2  # the trailing pad row/column is never used
    p = p[:h, :w]
    return p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def ssim_cs(x, y, win):
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = filt(x, win), filt(y, win)
    vx = filt(x * x, win) - mx ** 2
    vy = filt(y * y, win) - my ** 2
    cxy = filt(x * y, win) - mx * my
    cs = (2 * cxy + c2) / (vx + vy + c2)
    ssim = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1) * cs
    return ssim.mean(), cs.mean()


def ms_ssim(a, b):
    side = min(a.shape[0], a.shape[1])
    levels = max(L for L in range(1, 6) if L == 1 or side > 10 * 2 ** (L - 1))
    w = WEIGHTS if levels == 5 else WEIGHTS[:levels] / WEIGHTS[:levels].sum()
    win = window(min(11, side))
    values = []
    for c in range(3):
        x = a[:, :, c].astype(np.float64)
        y = b[:, :, c].astype(np.float64)
        terms = []
        for j in range(levels):
            s, cs = ssim_cs(x, y, win)
            if j < levels - 1:
                terms.append(max(cs, 0.0))
                x, y = pool(x), pool(y)
            else:
                terms.append(max(s, 0.0))
        values.append(np.prod(np.array(terms) ** w))
    return float(np.mean(values))


def main():
    a, b = read_ppm(sys.argv[1]), read_ppm(sys.argv[2])
    print("fnv1a64 a = 0x%016x" % fnv1a64(a.tobytes()))
    print("fnv1a64 b = 0x%016x" % fnv1a64(b.tobytes()))
    print("%dx%d ms_ssim = %.12f" % (a.shape[1], a.shape[0], ms_ssim(a, b)))
    for size in sys.argv[3:]:
        w, h = (int(v) for v in size.split("x"))
        print("%dx%d ms_ssim = %.12f" % (w, h, ms_ssim(a[:h, :w], b[:h, :w])))


if __name__ == "__main__":
    main()
