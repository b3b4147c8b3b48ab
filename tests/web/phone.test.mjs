// The demo on a phone: headless Chromium as a 390x844 CSS px phone at device pixel ratio 3 with a touch
// screen (a mobile viewport that honours the page's <meta name="viewport">). The view comes first at the
// page's width, the controls follow and scroll with a finger, the title never meets the status text, one
// finger drags the divider and pans, two pinch to zoom, and the file picker offers the photo library (with
// EXIF orientation applied to what it gives). Run with tests/web/run.sh.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launch, openDemo, outDir, path2, screenshot, startServer, touch } from './browser.mjs';

const T = { timeout: 180000 };
const PHONE = { width: 390, height: 844, deviceScaleFactor: 3 };
let server, browser, page;

const state = () => page.evaluate(() => window.aecodec.state());
const frames = () => page.evaluate(() => window.aecodec.state().render.frames);
// Waits until the page has drawn its last frame (none for 300 ms).
async function settle(timeoutMs = 10000) {
  const t0 = Date.now();
  let f = await frames();
  for (;;) {
    await page.waitForTimeout(300);
    const g = await frames();
    if (g === f) return;
    if (Date.now() - t0 > timeoutMs) throw new Error('the page keeps drawing');
    f = g;
  }
}
const inside = (r, x, y) => x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
const overlap = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
const tap = async (x, y) => {
  await touch(page, [[[x, y]], []]);
  await settle();
};

// A JPEG made by the browser (left half red, right half blue), with an EXIF orientation and an ICC profile
// segment inserted after its SOI marker, as a phone's camera writes them.
async function phoneJpeg(w, h, orientation) {
  const jpeg = Buffer.from(await page.evaluate(async ([w, h]) => {
    const c = new OffscreenCanvas(w, h);
    const g = c.getContext('2d');
    g.fillStyle = '#d02020';
    g.fillRect(0, 0, w / 2, h);
    g.fillStyle = '#2040d0';
    g.fillRect(w / 2, 0, w / 2, h);
    const b = await c.convertToBlob({ type: 'image/jpeg', quality: 0.95 });
    return Array.from(new Uint8Array(await b.arrayBuffer()));
  }, [w, h]));
  // APP1 Exif: a big-endian TIFF header and IFD0 with one entry, Orientation (0x0112), SHORT, count 1.
  const tiff = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0,
                            0, 0, 0, 0]);
  const exif = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (exif.length + 2) >> 8, (exif.length + 2) & 255]), exif]);
  // APP2 ICC_PROFILE (chunk 1 of 1; its contents do not matter for the note)
  const icc = Buffer.concat([Buffer.from('ICC_PROFILE\0', 'latin1'), Buffer.from([1, 1]), Buffer.alloc(16, 0)]);
  const app2 = Buffer.concat([Buffer.from([0xff, 0xe2, (icc.length + 2) >> 8, (icc.length + 2) & 255]), icc]);
  return Buffer.concat([jpeg.subarray(0, 2), app1, app2, jpeg.subarray(2)]);
}

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  server = await startServer();
  browser = await launch({ ...PHONE, phone: true });
  page = await openDemo(browser.context, server.url);
  await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core', effort: 0 }));
});

after(async () => {
  if (page) fs.writeFileSync(path.join(outDir, 'console-phone.log'), page.aecLog.join('\n') + '\n');
  await browser?.close();
  await server?.stop();
});

describe('aecodec browser demo on a phone (390x844, touch)', () => {
  test('the view comes first at the page\'s width, the controls follow; text at the device\'s pixels', T, async () => {
    await settle();
    const s = await state();
    const page_ = await page.evaluate(() => ({ w: innerWidth, h: innerHeight, dpr: devicePixelRatio,
                                               touch: navigator.maxTouchPoints }));
    assert.deepEqual([page_.w, page_.h, page_.dpr], [390, 844, 3], 'a phone viewport');
    assert.ok(page_.touch > 0, 'a touch screen');
    assert.equal(s.layout.narrow, true);
    const [x0, y0, x1, y1] = s.view.canvas;
    assert.ok(x1 - x0 >= 350, `the image view is ${x1 - x0} px wide`);
    assert.ok(y1 - y0 >= 250, `the image view is ${y1 - y0} px tall`);
    assert.ok(x0 >= 0 && x1 <= 390 && y1 <= 844, `the view within the page: ${s.view.canvas}`);
    assert.ok(s.layout.panel[1] >= s.layout.view[3], `the controls (${s.layout.panel}) below the view (${s.layout.view})`);
    assert.ok(s.layout.panel[3] <= 844 && s.layout.panel[2] <= 390, 'the controls within the page');
    assert.ok(!overlap(s.layout.title, s.layout.status), `title ${s.layout.title} and status ${s.layout.status} apart`);
    assert.ok(s.layout.status[2] <= 390, 'the status text within the page');
    // Drawn at the device's pixels: the backing store is 3x the CSS size, the font rasterised at 3x.
    assert.equal(s.render.dpr, 3);
    assert.deepEqual(s.render.framebuffer, [1170, 2532]);
    assert.ok(s.render.font_px >= 13, `font ${s.render.font_px} CSS px`);
    assert.equal(s.render.font_device_px, s.render.font_px * 3, 'the font rasterised at the device pixel ratio');
    await screenshot(page, 'phone-01-layout');
  });

  test('while work runs, the status (label, progress bar, Cancel) stays clear of the title', T, async () => {
    const seen = await page.evaluate(async () => {
      const a = window.aecodec;
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const out = [];
      const encoding = a.encode({ effort: 4 });
      const t0 = performance.now();
      while (performance.now() - t0 < 60000) {
        const s = a.state();
        if (!s.busy && out.length) break;
        if (s.busy) out.push({ title: s.layout.title, status: s.layout.status, progress: s.progress });
        await sleep(100);
      }
      await encoding;
      await a.select({ effort: 0 });
      return out;
    });
    assert.ok(seen.length > 0, 'the page was busy');
    assert.ok(seen.some((x) => x.progress !== null), 'with a progress bar');
    for (const x of seen) {
      assert.ok(!overlap(x.title, x.status), `title ${x.title} and status ${x.status} apart`);
      assert.ok(x.status[0] >= 0 && x.status[2] <= 390, `status ${x.status} within the page`);
    }
  });

  test('one finger drags the divider and pans the image; two fingers pinch to zoom', T, async () => {
    await page.evaluate(() => window.aecodec.showTab('compare'));
    await settle();
    let v = (await state()).view;
    const [x0, y0, x1, y1] = v.canvas;
    const cy = (y0 + y1) / 2;
    // The divider's handle, dragged 100 px left.
    const dx = x0 + v.divider * (x1 - x0);
    await touch(page, [...path2([dx, cy], [dx - 100, cy]).map((p) => [p]), []]);
    await settle();
    let w = (await state()).view;
    assert.ok(Math.abs(w.divider - (v.divider - 100 / (x1 - x0))) < 0.03, `divider ${v.divider} -> ${w.divider}`);
    assert.equal(w.touch, true, 'the page knows a finger drives it');
    // A finger away from the divider pans: the image point under it follows the finger.
    v = w;
    const from = [x0 + (x1 - x0) * 0.75, cy + 30], to = [from[0] - 40, from[1] - 25];
    await touch(page, [...path2(from, to).map((p) => [p]), []]);
    await settle();
    w = (await state()).view;
    assert.ok(Math.abs((w.center[0] - v.center[0]) * v.zoom - 40) < 2, `pan x: ${v.center} -> ${w.center}`);
    assert.ok(Math.abs((w.center[1] - v.center[1]) * v.zoom - 25) < 2, `pan y: ${v.center} -> ${w.center}`);
    assert.equal(w.zoom, v.zoom);
    // Two fingers spreading from 60 to 180 px apart about a point: 3x the zoom, that point stays put.
    v = w;
    const c = [x0 + (x1 - x0) * 0.6, cy];
    const imgAt = (vw, p) => [vw.center[0] + (p[0] - (x0 + x1) / 2) / vw.zoom, vw.center[1] + (p[1] - cy) / vw.zoom];
    const before = imgAt(v, c);
    const steps = [];
    for (let i = 0; i <= 10; ++i) {
      const r = 30 + 6 * i;
      steps.push([[c[0] - r, c[1]], [c[0] + r, c[1]]]);
    }
    await touch(page, [[steps[0][0]], ...steps, []]);
    await settle();
    w = (await state()).view;
    assert.ok(Math.abs(w.zoom / v.zoom - 3) < 0.05, `pinch: zoom ${v.zoom} -> ${w.zoom}`);
    const afterPt = imgAt(w, c);
    for (let k = 0; k < 2; ++k) assert.ok(Math.abs(afterPt[k] - before[k]) < 2, `the point under the fingers: ${before} -> ${afterPt}`);
    await screenshot(page, 'phone-02-pinched');
    // Fingers off: nothing stays hovered.
    assert.equal(w.hover, null);
  });

  test('the controls scroll with a finger and their buttons work by touch', T, async () => {
    let s = await state();
    const panel = s.layout.panel;
    assert.ok(s.layout.panel_scroll[1] > 0, 'the controls are taller than their room');
    const completed = s.completed;
    // Scroll until "Encode + decode" is in the panel, dragging from a point on its buttons and text alike.
    for (let i = 0; i < 6; ++i) {
      s = await state();
      const e = s.controls.encode;
      if (e && e[1] >= panel[1] + 4 && e[3] <= panel[3] - 4) break;
      const x = (panel[0] + panel[2]) / 2;
      await touch(page, path2([x, panel[3] - 20], [x, panel[1] + 40], 10).map((p) => [p]).concat([[]]));
      await settle();
    }
    s = await state();
    assert.ok(s.layout.panel_scroll[0] > 0, `scrolled: ${s.layout.panel_scroll}`);
    assert.equal(s.completed, completed, 'dragging across the buttons clicked none');
    const e = s.controls.encode;
    assert.ok(e && e[1] >= panel[1] && e[3] <= panel[3], `"Encode + decode" (${e}) within the panel (${panel})`);
    await tap((e[0] + e[2]) / 2, (e[1] + e[3]) / 2);
    await page.evaluate(() => window.aecodec.idle());
    s = await state();
    assert.ok(s.completed > completed, 'a tap on "Encode + decode" coded the image');
    assert.equal(s.error, '');
    await screenshot(page, 'phone-03-scrolled');
    // Back to the top: a drag downwards.
    for (let i = 0; i < 6 && (await state()).layout.panel_scroll[0] > 0; ++i) {
      const x = (panel[0] + panel[2]) / 2;
      await touch(page, path2([x, panel[1] + 30], [x, panel[3] - 10], 10).map((p) => [p]).concat([[]]));
      await settle();
    }
    assert.equal((await state()).layout.panel_scroll[0], 0);
  });

  test('"Open image..." offers the photo library (image/*, no camera capture); a photo comes the right way up', T,
       async () => {
    await settle();
    const s = await state();
    const o = s.controls.open;
    assert.ok(o && inside(s.layout.panel, (o[0] + o[2]) / 2, (o[1] + o[3]) / 2), `"Open image..." at ${o}`);
    const chooser = page.waitForEvent('filechooser', { timeout: 10000 });
    await touch(page, [[[(o[0] + o[2]) / 2, (o[1] + o[3]) / 2]], []]);
    const fc = await chooser;
    const attrs = await fc.element().evaluate((e) => ({ accept: e.accept, capture: e.hasAttribute('capture'), multiple: e.multiple }));
    assert.deepEqual(attrs, { accept: 'image/*', capture: false, multiple: false });
    // A phone photo stored sideways (EXIF orientation 6: turn 90 degrees clockwise to show).
    const file = path.join(outDir, 'phone-photo.jpg');
    fs.writeFileSync(file, await phoneJpeg(64, 32, 6));
    const before = s.completed;
    await fc.setFiles(file);
    await page.waitForFunction((n) => window.aecodec.state().completed > n && !window.aecodec.state().busy, before, { timeout: 60000 });
    await page.evaluate(() => window.aecodec.idle());
    const t = await state();
    assert.equal(t.error, '');
    assert.equal(t.image.name, 'phone-photo.jpg');
    assert.deepEqual([t.image.width, t.image.height], [32, 64], 'turned upright: 64x32 stored, 32x64 shown');
    assert.ok(t.image.notes.some((n) => /EXIF orientation 6 applied/.test(n)), `notes: ${t.image.notes}`);
    assert.ok(t.image.notes.some((n) => /ICC colour profile was ignored/.test(n)), `notes: ${t.image.notes}`);
    assert.ok(t.result && t.result.width === 32 && t.result.height === 64, 'and coded');
    await screenshot(page, 'phone-04-photo');
    // The .aec picker is the other input.
    assert.equal(await page.evaluate(() => document.getElementById('file-aec').accept), '.aec,application/octet-stream');
  });
});
