#!/usr/bin/env node
// Writes a synthetic test picture as an 8-bit RGB PNG (no dependencies, deterministic): a landscape with sky,
// sun, clouds, mountain ridges, a lake with reflections, and a textured foreground; plus fine stripes and text-like
// detail in a corner so the codecs have edges to get wrong.
//   node web/tools/make-sample.mjs OUT.png [WIDTH HEIGHT [SEED]]
// web/assets/sample.png is `make-sample.mjs web/assets/sample.png 768 512 1`.
import fs from 'node:fs';
import zlib from 'node:zlib';

export function makePicture(W, H, seed = 1) {
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
  const P = 256, perm = new Uint8Array(2 * P), grad = new Float32Array(P);
  for (let i = 0; i < P; ++i) perm[i] = i, grad[i] = rand() * 2 - 1;
  for (let i = P - 1; i > 0; --i) { const j = Math.floor(rand() * (i + 1)); [perm[i], perm[j]] = [perm[j], perm[i]]; }
  for (let i = 0; i < P; ++i) perm[P + i] = perm[i];
  const fade = (t) => t * t * (3 - 2 * t);
  const val = (ix, iy) => grad[perm[(perm[ix & 255] + iy) & 255]];
  const noise = (x, y) => {
    const ix = Math.floor(x), iy = Math.floor(y), fx = fade(x - ix), fy = fade(y - iy);
    const a = val(ix, iy), b = val(ix + 1, iy), c = val(ix, iy + 1), d = val(ix + 1, iy + 1);
    return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
  };
  const fbm = (x, y, oct) => { let v = 0, amp = 0.5, f = 1; for (let o = 0; o < oct; ++o) { v += amp * noise(x * f, y * f); amp *= 0.5; f *= 2; } return v; };
  const mix = (a, b, t) => a + (b - a) * t;
  const rgb = new Uint8Array(W * H * 3);
  const horizon = 0.58 * H, sunX = 0.72 * W, sunY = 0.30 * H, sunR = 0.06 * H;
  const ridge = (x, k) => H * (0.30 + 0.09 * k) + H * (0.16 - 0.03 * k) * fbm(x / W * (3 + k), 10 * k + 3, 5);
  for (let y = 0; y < H; ++y) {
    for (let x = 0; x < W; ++x) {
      let r, g, b;
      const sky = (yy) => {
        const t = yy / horizon;
        let cr = mix(60, 250, t), cg = mix(110, 190, t), cb = mix(200, 150, t);
        const d = Math.hypot(x - sunX, yy - sunY);
        const glow = Math.exp(-d / (0.25 * H));
        cr += 60 * glow; cg += 40 * glow; cb += 10 * glow;
        if (d < sunR) { cr = 255; cg = 240; cb = 200; }
        const cloud = Math.max(0, fbm(x / W * 6, yy / H * 14, 6) * 1.6 - 0.1) * (1 - t * 0.6);
        cr = mix(cr, 250, cloud); cg = mix(cg, 245, cloud); cb = mix(cb, 245, cloud);
        return [cr, cg, cb];
      };
      const land = (yy) => {
        for (let k = 2; k >= 0; --k) {
          if (yy > ridge(x, k)) {
            const shade = 0.55 + 0.45 * fbm(x / W * 20, yy / H * 20, 4) + 0.15 * k;
            const base = [[95, 100, 130], [70, 95, 80], [50, 80, 45]][k];
            return base.map((c) => c * shade + 30 * (2 - k));
          }
        }
        return null;
      };
      if (y < horizon) {
        [r, g, b] = land(y) || sky(y);
      } else {
        // lake: reflection of what is above, rippled and darkened; foreground grass below
        const shore = H * 0.80 + H * 0.05 * fbm(x / W * 4, 7, 4);
        if (y < shore) {
          const ry = 2 * horizon - y + 6 * noise(x / 9, y / 2.5);
          const src = ry > 0 ? (land(ry) || sky(ry)) : sky(0);
          const t = (y - horizon) / (shore - horizon);
          [r, g, b] = [src[0] * 0.7 + 10, src[1] * 0.75 + 20 * t, src[2] * 0.8 + 30];
        } else {
          const n = fbm(x / 6, y / 3, 5), blade = Math.abs(Math.sin(x * 0.9 + 6 * noise(x / 20, y / 8)));
          [r, g, b] = [60 + 50 * n + 25 * blade, 105 + 60 * n + 30 * blade, 35 + 25 * n];
        }
      }
      // test card in the lower right: stripes of increasing frequency and a checkerboard
      const cx = x - 0.80 * W, cy = y - 0.84 * H;
      if (cx >= 0 && cy >= 0 && cx < 0.17 * W && cy < 0.12 * H) {
        const u = cx / (0.17 * W);
        if (cy < 0.06 * H) { const v = Math.sin(cx * (0.2 + 1.4 * u)) > 0 ? 235 : 25; r = g = b = v; }
        else { const v = ((x >> 2) + (y >> 2)) & 1 ? 220 : 40; r = v; g = 40 + v * 0.5; b = 255 - v; }
      }
      const i = (y * W + x) * 3;
      rgb[i] = Math.max(0, Math.min(255, Math.round(r)));
      rgb[i + 1] = Math.max(0, Math.min(255, Math.round(g)));
      rgb[i + 2] = Math.max(0, Math.min(255, Math.round(b)));
    }
  }
  return rgb;
}

const CRC = new Int32Array(256).map((_, n) => { let c = n; for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c; });
function crc32(buf) { let c = -1; for (const b of buf) c = CRC[(c ^ b) & 255] ^ (c >>> 8); return (c ^ -1) >>> 0; }
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

export function encodePng(rgb, W, H) {
  const raw = Buffer.alloc((W * 3 + 1) * H);
  for (let y = 0; y < H; ++y) { raw[y * (W * 3 + 1)] = 0; Buffer.from(rgb.buffer, rgb.byteOffset + y * W * 3, W * 3).copy(raw, y * (W * 3 + 1) + 1); }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0); ihdr.writeUInt32BE(H, 4); ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const [out, w = '768', h = '512', seed = '1'] = process.argv.slice(2);
  if (!out) { console.error('usage: make-sample.mjs OUT.png [WIDTH HEIGHT [SEED]]'); process.exit(2); }
  const W = Number(w), H = Number(h);
  fs.writeFileSync(out, encodePng(makePicture(W, H, Number(seed)), W, H));
}
