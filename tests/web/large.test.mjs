// Photos in the demo: a synthetic 4000x3000 photo (12 Mpx, as a phone takes them) opened in the page, coded
// by the core's tiles with a progress bar into the very file the CLI makes, measured as the CLI measures it,
// and viewed through tiled textures (?max_texture=1024: 4 x 3 tiles) and an overview; a 6000x4000 camera
// JPEG codes too. The test models are small, so this takes about half a minute on 2 cores (mostly the
// metrics and the browser's JPEG/WebP at the same size). Run with tests/web/run.sh.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { launch, openDemo, outDir, root, screenshot, startServer } from './browser.mjs';

const CLI = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const SITE = process.env.AEC_WEB_SITE || path.join(root, 'build', 'web', 'site');
const T = { timeout: 300000 };
const W = 4000, H = 3000;
let server, browser, page;
const files = {};
const state = () => page.evaluate(() => window.aecodec.state());

function modelFile(name) {
  const manifest = JSON.parse(fs.readFileSync(path.join(SITE, 'models', 'manifest.json'), 'utf8'));
  return path.join(SITE, manifest.models.find((x) => x.name === name).file);
}

// A photo-like picture, fast to make: smooth gradients, ripples and a fine texture (every pixel differs from
// its neighbours, so a misplaced tile shows).
function picture(w, h) {
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0, i = 0; y < h; ++y) {
    const sy = Math.sin(y / 37);
    for (let x = 0; x < w; ++x, i += 3) {
      rgb[i] = Math.max(0, Math.min(255, (x * 200) / w + 40 * sy + ((x * 7 + y * 3) & 15)));
      rgb[i + 1] = Math.max(0, Math.min(255, (y * 220) / h + 30 * Math.sin((x + y) / 53) + ((x ^ y) & 7)));
      rgb[i + 2] = Math.max(0, Math.min(255, 120 + 80 * Math.sin(x / 91) * Math.cos(y / 73) + ((x * y) & 15)));
    }
  }
  return rgb;
}

function png(rgb, w, h) {
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (buf) => {
    let c = -1;
    for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, tail]);
  };
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; ++y) rgb.copy(raw, y * (w * 3 + 1) + 1, y * w * 3, (y + 1) * w * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
                        chunk('IDAT', zlib.deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}

// One row of device pixels of the page (dpr 1) at CSS y, from x0 to x1: [[r, g, b], ...].
async function screenRow(x0, x1, y) {
  const shot = await page.screenshot({ clip: { x: x0, y, width: x1 - x0, height: 1 } });
  const rgba = await page.evaluate(async (b64) => {
    const bmp = await createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob(),
                                        { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    return Array.from(g.getImageData(0, 0, bmp.width, 1).data);
  }, shot.toString('base64'));
  const row = [];
  for (let i = 0; i < rgba.length; i += 4) row.push([rgba[i], rgba[i + 1], rgba[i + 2]]);
  return row;
}

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  assert.ok(fs.existsSync(CLI), `${CLI} (cmake --build build/release --target aecodec)`);
  files.rgb = picture(W, H);
  // Served with the site, so the page fetches it as it would a photo's URL.
  files.dir = path.join(SITE, 'test-photos');
  fs.mkdirSync(files.dir, { recursive: true });
  files.png = path.join(files.dir, `photo-${W}x${H}.png`);
  fs.writeFileSync(files.png, png(files.rgb, W, H));
  server = await startServer();
  browser = await launch({ width: 1280, height: 800 });
  // Tiles of at most 1024 px: the photo's textures are 4 x 3 tiles (SwiftShader's limit, 8192, would be one).
  page = await openDemo(browser.context, server.url, { query: '?image=&max_texture=1024' });
  await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core', effort: 0 }));
});

after(async () => {
  if (page) fs.writeFileSync(path.join(outDir, 'console-large.log'), page.aecLog.join('\n') + '\n');
  await browser?.close();
  await server?.stop();
  if (files.dir) fs.rmSync(files.dir, { recursive: true, force: true });
});

describe('photos in the page', () => {
  test(`a ${W}x${H} photo: coded by tiles with a progress bar, the CLI's file and numbers`, T, async () => {
    const t0 = Date.now();
    const out = await page.evaluate(async (src) => {
      const a = window.aecodec;
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const seen = [];
      let on = true;
      (async () => {
        while (on) {
          const s = a.state();
          if (s.busy) seen.push({ label: s.busy_label, progress: s.progress, cancellable: s.cancellable,
                                  title: s.layout.title, status: s.layout.status });
          await sleep(50);
        }
      })();
      try {
        return { state: await a.loadImage(src), seen };
      } finally {
        on = false;
      }
    }, `test-photos/${path.basename(files.png)}`);
    if (process.env.AEC_TEST_VERBOSE) console.log(`${W}x${H}: ${Date.now() - t0} ms`);
    const s = out.state;
    assert.equal(s.error, '');
    assert.deepEqual([s.image.width, s.image.height], [W, H]);
    const r = s.result;
    assert.ok(r && r.width === W && r.height === H && r.bytes > 0, 'coded');
    // The progress bar: the job reports the tiles (encode) and the bands of rows (decode).
    const tiled = out.seen.filter((x) => /by tiles/.test(x.label));
    assert.ok(tiled.length > 0, `a job coding by tiles: ${[...new Set(out.seen.map((x) => x.label))].join('; ')}`);
    const ps = tiled.map((x) => x.progress).filter((p) => p !== null);
    assert.ok(ps.some((p) => p > 0 && p < 1), `progress reported: ${ps.join(' ')}`);
    for (let i = 1; i < ps.length; ++i) assert.ok(ps[i] >= ps[i - 1], `progress never goes back: ${ps.join(' ')}`);
    assert.ok(tiled.some((x) => x.cancellable), 'a photo\'s coding can be cancelled');
    for (const x of out.seen) assert.ok(x.status[0] >= x.title[2], `the status ${x.status} clear of the title ${x.title}`);

    // The same file as the CLI's (which codes the photo by the same tiles), and the CLI's PSNR and MS-SSIM.
    const pageAec = path.join(outDir, 'photo-page.aec');
    fs.writeFileSync(pageAec, Buffer.from(await page.evaluate(() => Array.from(window.aecodec.resultBytes()))));
    const cliAec = path.join(outDir, 'photo-cli.aec');
    execFileSync(CLI, ['encode', files.png, '-m', modelFile(r.model), '-o', cliAec]);
    assert.ok(fs.readFileSync(pageAec).equals(fs.readFileSync(cliAec)), 'the page\'s .aec is the CLI\'s, byte for byte');
    const dec = execFileSync(CLI, ['decode', cliAec, '-m', modelFile(r.model), '-o', path.join(outDir, 'photo-cli.png'),
                                   '--reference', files.png], { encoding: 'utf8' });
    const psnr = Number(dec.match(/PSNR ([\d.]+) dB/)[1]), msssim = Number(dec.match(/MS-SSIM ([\d.]+)/)[1]);
    assert.equal(r.psnr.toFixed(3), psnr.toFixed(3), `PSNR: page ${r.psnr}, CLI ${psnr}`);
    assert.equal(r.ms_ssim.toFixed(5), msssim.toFixed(5), `MS-SSIM (the page's by bands): page ${r.ms_ssim}, CLI ${msssim}`);
    // The browser's JPEG and WebP at the same size, measured too.
    for (const c of [s.jpeg, s.webp]) assert.ok(c && c.psnr > 10 && c.ms_ssim > 0, `${c?.codec}: ${JSON.stringify(c)}`);
    const heap = s.memory.heap_bytes / 2 ** 20;
    if (process.env.AEC_TEST_VERBOSE) console.log(`peak heap ${heap.toFixed(0)} MiB`);
    assert.ok(heap < 1024, `the WASM heap peaked at ${heap.toFixed(0)} MiB`);
    await screenshot(page, 'large-01-photo');
  });

  test('the view: an overview when fitted, the tiles when zoomed, no seam between tiles', T, async () => {
    await page.evaluate(() => window.aecodec.showTab('compare'));
    await page.waitForTimeout(300);
    let v = (await state()).view;
    assert.deepEqual(v.textures, { tiles: 12, tile_side: 1024, overview: [2000, 1500] });
    assert.equal(v.drawn, 'overview', `fitted at ${v.zoom}x: the overview`);
    // The divider to the right edge (the original on the whole view), then 2x about the tile corner
    // (2048, 1024).
    const [x0, y0, x1, y1] = v.canvas;
    const cy = (y0 + y1) / 2, dx = x0 + v.divider * (x1 - x0);
    // (A frame between the steps: the page reads the mouse once a frame.)
    await page.mouse.move(dx, cy);
    await page.waitForTimeout(100);
    await page.mouse.down();
    await page.waitForTimeout(100);
    for (let i = 1; i <= 5; ++i) {
      await page.mouse.move(dx + (x1 - 1 - dx) * i / 5, cy);
      await page.waitForTimeout(60);
    }
    await page.mouse.up();
    await page.waitForTimeout(100);
    const target = [2048, 1024];
    for (let i = 0; i < 12; ++i) {
      v = (await state()).view;
      if (v.zoom >= 2) break;
      const at = [v.image[0] + target[0] * v.zoom, v.image[1] + target[1] * v.zoom];
      await page.mouse.move(at[0], at[1]);
      await page.mouse.wheel(0, -100);
      await page.waitForTimeout(150);
    }
    await page.waitForTimeout(300);
    v = (await state()).view;
    assert.ok(v.zoom >= 2 && v.divider > 0.99, `zoom ${v.zoom}, divider ${v.divider}`);
    assert.equal(v.drawn, 'tiles');
    // A row of the screen across the tile boundary at x = 2048 shows the photo's pixels, nearest-neighbour.
    const yImg = target[1] + 5, ySc = Math.floor(v.image[1] + (yImg + 0.5) * v.zoom);
    const xa = Math.ceil(v.image[0] + (target[0] - 6) * v.zoom), xb = Math.floor(v.image[0] + (target[0] + 6) * v.zoom);
    const row = await screenRow(xa, xb, ySc);
    // (A pixel centre within 5 % of a texel of its edge may sample either texel: the GPU interpolates the
    // texture coordinates to a few bits under the pixel.)
    const near = (px, ix) => {
      const want = files.rgb.subarray((yImg * W + ix) * 3, (yImg * W + ix) * 3 + 3);
      return !px.some((c, k) => Math.abs(c - want[k]) > 2);
    };
    let bad = 0;
    row.forEach((px, i) => {
      const u = (xa + i + 0.5 - v.image[0]) / v.zoom, ix = Math.floor(u), f = u - ix;
      if (!(near(px, ix) || (f < 0.05 && near(px, ix - 1)) || (f > 0.95 && near(px, ix + 1)))) {
        ++bad;
        if (process.env.AEC_TEST_VERBOSE) {
          const w = (k) => Array.from(files.rgb.subarray((yImg * W + k) * 3, (yImg * W + k) * 3 + 3));
          console.log(`screen x ${xa + i}: ${px}, image x ${u.toFixed(4)}: ${w(ix - 1)} | ${w(ix)} | ${w(ix + 1)}`);
        }
      }
    });
    assert.equal(bad, 0, `${bad} of ${row.length} screen pixels differ from the photo's across the tile boundary`);
    await screenshot(page, 'large-02-tiles');
  });

  test('a 6000x4000 camera JPEG codes without error; ONNX Runtime refuses it with the reason', T, async () => {
    const out = await page.evaluate(async () => {
      const a = window.aecodec;
      const c = new OffscreenCanvas(6000, 4000);
      const g = c.getContext('2d');
      const grd = g.createLinearGradient(0, 0, 6000, 4000);
      grd.addColorStop(0, '#3070c0');
      grd.addColorStop(0.5, '#e0c080');
      grd.addColorStop(1, '#206030');
      g.fillStyle = grd;
      g.fillRect(0, 0, 6000, 4000);
      for (let i = 0; i < 300; ++i) {
        g.fillStyle = `hsl(${(i * 37) % 360} 60% ${30 + (i * 13) % 50}%)`;
        g.beginPath();
        g.arc((i * 7919) % 6000, (i * 104729) % 4000, 20 + (i * 31) % 200, 0, 7);
        g.fill();
      }
      const jpeg = await c.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
      const s = await a.loadImage(jpeg, { name: 'camera.jpg' });
      let ort = null;
      if (s.models.find((m) => m.name === s.model)?.onnx) {
        ort = await a.encode({ backend: 'ort' }).then(() => 'coded', (e) => e.message);
        await a.select({ backend: 'core' });
      }
      return { s, ort };
    });
    const s = out.s;
    assert.equal(s.error, '');
    assert.deepEqual([s.image.width, s.image.height], [6000, 4000]);
    assert.ok(s.result && s.result.width === 6000 && s.result.height === 4000 && s.result.bytes > 0);
    assert.ok(s.result.psnr > 0 && s.result.ms_ssim > 0);
    if (out.ort !== null) assert.match(out.ort, /ONNX Runtime backend runs whole images, up to 4 Mpx/);
    if (process.env.AEC_TEST_VERBOSE) console.log(`6000x4000: peak heap ${(s.memory.heap_bytes / 2 ** 20).toFixed(0)} MiB`);
    await screenshot(page, 'large-03-camera');
  });
});
