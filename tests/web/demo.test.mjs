// End-to-end tests of the browser demo in headless Chromium: the page's numbers against the native CLI's, the
// .aec round trip in both directions, the ONNX Runtime backend against the core, the comparisons, cross-decoding,
// and the error paths. Run with tests/web/run.sh (or `node --test tests/web/` with a built site).
// Screenshots of each state: tests/out/web/*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { encodePng, makePicture } from '../../web/tools/make-sample.mjs';
import { frameDriver, launch, openDemo, outDir, root, screenshot, startServer } from './browser.mjs';

const CLI = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const SITE = process.env.AEC_WEB_SITE || path.join(root, 'build', 'web', 'site');
const PSNR_TOL = 0.01;  // dB: the page and the CLI run the same core
// ONNX Runtime vs the core: the transforms are computed by different kernels (float rounding differs), so a latent
// value near a quantisation boundary may round the other way. Tolerance: the two reconstructions within 40 dB
// PSNR of each other, the PSNRs against the original within 0.1 dB, the rates within 1%.
const ORT_TOL = { between_db: 40, psnr_db: 0.1, rate: 0.01 };
// Encoder effort, page against CLI: the refinement's many steps can amplify the kernels' 1e-5 differences into
// other choices of symbols; stated agreement within 1% in size and 0.05 dB in PSNR.
const EFFORT_TOL = { rate: 0.01, psnr_db: 0.05 };

const T = { timeout: 180000 };
let server, browser, page;
const files = {};

function cli(args) {
  return execFileSync(CLI, args, { encoding: 'utf8' });
}
// Parses "..., 0.1860 bpp, ... PSNR 7.967 dB, MS-SSIM 0.26929" from the CLI.
function cliNumbers(text) {
  const bpp = Number(text.match(/([\d.]+) bpp/)[1]);
  const psnr = text.match(/PSNR ([\d.inf]+) dB/);
  const bytes = text.match(/(\d+) bytes/);
  return { bpp, psnr: psnr ? Number(psnr[1]) : null, bytes: bytes ? Number(bytes[1]) : null };
}
// A model's file in the site: an entry's, or a codec's member's.
function modelFile(name) {
  const manifest = JSON.parse(fs.readFileSync(path.join(SITE, 'models', 'manifest.json'), 'utf8'));
  const m = manifest.models.find((x) => x.name === name) ||
            manifest.models.flatMap((x) => x.members || []).find((x) => x.name === name);
  assert.ok(m, `model ${name} in the site's manifest`);
  return path.join(SITE, m.file);
}
const state = () => page.evaluate(() => window.aecodec.state());
const ui = frameDriver(() => page);
const summary = () => page.locator('#summary').textContent();
const render = (p = page) => p.evaluate(() => window.aecodec.state().render);
const view = (p = page) => p.evaluate(() => window.aecodec.state().view);

// The CLI's figures for a family on an image (`aecodec rd`, no classic codecs): its rd.json family rows, one per
// quality (`qualities`, for a variable-rate family; a single-rate family has one row), each with the image's
// paths: high_to_medium (cross_decode, decode_then_downscale2x_box) and medium_to_high (cross_decode,
// decode_then_bicubic_x2), with bpp per original pixel.
function cliFamily(image, high, medium, qualities = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aec-rd-'));
  try {
    fs.mkdirSync(path.join(dir, 'images'));
    fs.copyFileSync(image, path.join(dir, 'images', path.basename(image)));
    cli(['rd', path.join(dir, 'images'), '-o', path.join(dir, 'out'), '-m', modelFile(high), '-m', modelFile(medium),
         '--codecs', 'none', ...(qualities.length ? ['--qualities', qualities.join(',')] : [])]);
    return JSON.parse(fs.readFileSync(path.join(dir, 'out', 'rd.json'), 'utf8')).families;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// A cross-decode on the page against the CLI's family row for the same image (cliFamily): the same files (bytes,
// quality) and, to PSNR_TOL, the same PSNR on each path and each baseline; the gains and the times as the
// page derives them from those.
function checkCross(c, row, { width, height }) {
  const cli = row.images[0];
  const h2m = c.high_to_medium, m2h = c.medium_to_high;
  const bytes = (bpp) => Math.round(bpp * width * height / 8);
  assert.equal(h2m.bytes, bytes(cli.high_to_medium.bpp), 'high file: the CLI\'s size');
  assert.equal(m2h.bytes, bytes(cli.medium_to_high.bpp), 'medium file: the CLI\'s size');
  const near = (page, native, what) =>
    assert.ok(Math.abs(page - native) <= PSNR_TOL, `${what}: page ${page} dB, CLI ${native} dB`);
  near(h2m.psnr, cli.high_to_medium.cross_decode.psnr, 'down: cross-decode');
  near(h2m.full_decode.psnr, cli.high_to_medium.decode_then_downscale2x_box.psnr, 'down: full decode, box-downscaled');
  near(m2h.psnr, cli.medium_to_high.cross_decode.psnr, 'up: cross-decode');
  near(m2h.bicubic_psnr, cli.medium_to_high.decode_then_bicubic_x2.psnr, 'up: medium decode, bicubic x2');
  assert.deepEqual([h2m.full_decode.width, h2m.full_decode.height], [h2m.width, h2m.height]);
  assert.ok(Math.abs(h2m.gain_db - (h2m.psnr - h2m.full_decode.psnr)) < 1e-9, `down gain ${h2m.gain_db}`);
  assert.ok(Math.abs(m2h.gain_db - (m2h.psnr - m2h.bicubic_psnr)) < 1e-9, `up gain ${m2h.gain_db}`);
  for (const v of [h2m.decode_ms, h2m.full_decode.decode_ms, m2h.decode_ms, m2h.bicubic.decode_ms])
    assert.ok(Number.isFinite(v) && v > 0, `decode time ${v} ms`);
  for (const v of [h2m.full_decode.downscale_ms, m2h.bicubic.upscale_ms])
    assert.ok(Number.isFinite(v) && v >= 0, `resampling time ${v} ms`);
  assert.ok(Math.abs(h2m.full_decode.ms - (h2m.full_decode.decode_ms + h2m.full_decode.downscale_ms)) < 1e-9);
  assert.ok(Math.abs(h2m.time_ratio - h2m.decode_ms / h2m.full_decode.ms) < 1e-9, `time ratio ${h2m.time_ratio}`);
  assert.ok(Math.abs(m2h.bicubic.ms - (m2h.bicubic.decode_ms + m2h.bicubic.upscale_ms)) < 1e-9);
}

// Waits until the page has drawn its last frame (no new frame for 400 ms); returns the frame count.
async function settle(p = page, timeoutMs = 10000) {
  const t0 = Date.now();
  let f = (await render(p)).frames;
  for (;;) {
    await p.waitForTimeout(400);
    const g = (await render(p)).frames;
    if (g === f) return g;
    if (Date.now() - t0 > timeoutMs) throw new Error(`the page keeps drawing (${g - f} frames in 400 ms)`);
    f = g;
  }
}

// Wheel notches over the point (x, y) (CSS px) until the split view's zoom passes `until` (a predicate).
async function wheelUntil(p, x, y, deltaY, until) {
  await p.mouse.move(x, y);
  for (let i = 0; i < 60 && !until((await view(p)).zoom); ++i) {
    // The frame count before the notch: read after it, the notch's own frame may already be counted, and
    // the wait would be for a frame that never comes (the page draws only on changes).
    const before = (await render(p)).frames;
    await p.mouse.wheel(0, deltaY);
    await p.waitForFunction((f) => window.aecodec.state().render.frames > f, before);
  }
  await settle(p);
  const v = await view(p);
  assert.ok(until(v.zoom), `zoom ${v.zoom}`);
  return v;
}

// One row of device pixels of the page as it is on screen, at CSS y, from CSS x0 to x1: [[r, g, b], ...].
async function screenRow(p, x0, x1, y) {
  const png = await p.screenshot({ clip: { x: x0, y, width: x1 - x0, height: 1 } });
  const rgba = await p.evaluate(async (b64) => {
    const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
    const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    return Array.from(g.getImageData(0, 0, bmp.width, 1).data);
  }, png.toString('base64'));
  const row = [];
  for (let i = 0; i < rgba.length; i += 4) row.push([rgba[i], rgba[i + 1], rgba[i + 2]]);
  return row;
}

// Runs of pixels in `row` that differ from `flat` (by more than 20 in a channel): [{start, width}], leaving out
// the device pixels in `skip` ([from, to) ranges).
function runsOff(row, flat, skip = []) {
  const runs = [];
  row.forEach((px, i) => {
    if (skip.some(([a, b]) => i >= a && i < b)) return;
    if (!px.some((v, c) => Math.abs(v - flat[c]) > 20)) return;
    const last = runs[runs.length - 1];
    if (last && last.start + last.width === i) ++last.width;
    else runs.push({ start: i, width: 1 });
  });
  return runs;
}

async function upload(file) {
  const t0 = Date.now();
  const before = await page.evaluate(() => {
    const s = window.aecodec.state();
    return { completed: s.completed, errors: s.error_serial };
  });
  await page.setInputFiles('#file', file);
  // The upload is handled asynchronously: wait until the page has finished with it (a job completed, or an error).
  await page.waitForFunction((b) => {
    const s = window.aecodec.state();
    return (s.completed > b.completed || s.error_serial > b.errors) && !s.busy;
  }, before, { timeout: 120000, polling: 50 });
  await page.evaluate(() => window.aecodec.idle());
  if (process.env.AEC_TEST_VERBOSE) console.log(`upload ${path.basename(file)}: ${Date.now() - t0} ms`);
}

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  assert.ok(fs.existsSync(CLI), `${CLI} (cmake --build build/release --target aecodec)`);
  // A test picture of an odd size (exercises the codec's padding and cropping).
  files.image = path.join(outDir, 'upload.png');
  fs.writeFileSync(files.image, encodePng(makePicture(250, 171, 7), 250, 171));
  server = await startServer();
  browser = await launch();
  page = await openDemo(browser.context, server.url);
});

after(async () => {
  if (page) fs.writeFileSync(path.join(outDir, 'console.log'), page.aecLog.join('\n') + '\n');
  await browser?.close();
  await server?.stop();
});

describe('aecodec browser demo', () => {
  test('loads the bundled models and the sample image, and codes it', T, async () => {
    const s = await state();
    assert.ok(s.models.length >= 1, 'models listed');
    for (const m of s.models) assert.equal(m.state, 'loaded', `model ${m.name}: ${m.error}`);
    assert.equal(s.image.name, 'sample.png');
    assert.ok(s.result && s.result.bytes > 0, 'sample coded');
    assert.equal(s.threaded, true, 'threaded WASM (the server sends COOP/COEP)');
    assert.match(await summary(), /PSNR [\d.]+ dB/);
    await screenshot(page, '01-sample');
  });

  test('an uploaded image gives the bpp and PSNR the CLI reports', T, async () => {
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core' }));
    await upload(files.image);
    const s = await state();
    assert.equal(s.error, '');
    assert.equal(s.image.name, 'upload.png');
    assert.deepEqual([s.image.width, s.image.height], [250, 171]);
    const r = s.result;
    assert.equal(r.model, 'test-factorized');
    assert.equal(r.backend, 'core');

    files.cliAec = path.join(outDir, 'cli.aec');
    const enc = cliNumbers(cli(['encode', files.image, '-m', modelFile(r.model), '-o', files.cliAec]));
    const dec = cliNumbers(cli(['decode', files.cliAec, '-m', modelFile(r.model), '-o', path.join(outDir, 'cli.png'),
                                '--reference', files.image]));
    // What the page shows (the accessible summary mirrors the panel) and what its API reports.
    const text = await summary();
    const shown = { bpp: Number(text.match(/([\d.]+) bpp/)[1]), psnr: Number(text.match(/PSNR ([\d.]+) dB/)[1]) };
    assert.ok(Math.abs(shown.psnr - dec.psnr) <= PSNR_TOL, `page PSNR ${shown.psnr} vs CLI ${dec.psnr}`);
    assert.ok(Math.abs(r.psnr - dec.psnr) <= PSNR_TOL, `API PSNR ${r.psnr} vs CLI ${dec.psnr}`);
    assert.equal(shown.bpp.toFixed(4), enc.bpp.toFixed(4), `page bpp ${shown.bpp} vs CLI ${enc.bpp}`);
    assert.equal(r.bytes, enc.bytes, 'same file size as the CLI');
    files.pagePsnr = r.psnr;
    await screenshot(page, '02-upload');
  });

  test("the page's .aec decodes with the CLI", T, async () => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.evaluate(() => window.aecodec.download())]);
    assert.match(dl.suggestedFilename(), /^upload\.test-factorized\.aec$/);
    files.pageAec = path.join(outDir, 'page.aec');
    await dl.saveAs(files.pageAec);
    const bytes = fs.readFileSync(files.pageAec);
    const api = Buffer.from(await page.evaluate(() => Array.from(window.aecodec.resultBytes())));
    assert.ok(bytes.equals(api), 'the download is the result the API reports');
    const dec = cliNumbers(cli(['decode', files.pageAec, '-m', modelFile('test-factorized'),
                                '-o', path.join(outDir, 'page-decoded.png'), '--reference', files.image]));
    assert.ok(Math.abs(dec.psnr - files.pagePsnr) <= PSNR_TOL, `CLI PSNR ${dec.psnr} vs page ${files.pagePsnr}`);
  });

  test('a .aec file made by the CLI opens in the page', T, async () => {
    await upload(files.cliAec);
    const s = await state();
    assert.equal(s.error, '');
    const r = s.result;
    assert.equal(r.has_reference, true, 'measured against the current image (same size)');
    assert.equal(r.bytes, fs.statSync(files.cliAec).size);
    assert.ok(Math.abs(r.psnr - files.pagePsnr) <= PSNR_TOL);
    await screenshot(page, '03-open-cli-aec');
  });

  // Effort 2 is per-element rate-distortion-optimised rounding; effort 3 adds SGA steps, which move the test
  // models' symbols (a change that differing kernels could amplify).
  test('encoder efforts 2 and 3: the page makes the CLI\'s file size and PSNR, and its files decode in the page', T,
       async () => {
    const png = Array.from(fs.readFileSync(files.image));
    const s0 = await state();
    const names = ['test-factorized', 'test-hyperprior'].filter((n) => s0.models.some((m) => m.name === n));
    for (const name of names) {
      const m = s0.models.find((x) => x.name === name);
      assert.equal(m.max_effort, 9, `${name} can refine`);
      await page.evaluate((b) => window.aecodec.loadImage(new Uint8Array(b), { name: 'upload.png', encode: false }), png);
      const r0 = await page.evaluate((n) => window.aecodec.encode({ model: n, backend: 'core', effort: 0 }), name);
      assert.equal(r0.effort, 0);
      for (const effort of [2, 3]) {
        const tag = `${name} effort ${effort}`;
        const r = await page.evaluate(([n, e]) => window.aecodec.encode({ model: n, backend: 'core', effort: e }), [name, effort]);
        assert.equal(r.effort, effort);
        assert.ok(r.encode.refine_ms > 0, 'refinement timed');
        const pageAec = path.join(outDir, `page-${name}-effort${effort}.aec`);
        fs.writeFileSync(pageAec, Buffer.from(await page.evaluate(() => Array.from(window.aecodec.resultBytes()))));
        assert.equal(fs.statSync(pageAec).size, r.bytes);

        const cliAec = path.join(outDir, `cli-${name}-effort${effort}.aec`);
        const enc = cliNumbers(cli(['encode', files.image, '-m', modelFile(name), '-o', cliAec, '--effort', String(effort)]));
        const dec = cliNumbers(cli(['decode', cliAec, '-m', modelFile(name), '-o', path.join(outDir, 'cli-effort.png'),
                                    '--reference', files.image]));
        assert.ok(Math.abs(r.bytes - enc.bytes) <= EFFORT_TOL.rate * enc.bytes, `${tag}: page ${r.bytes} bytes vs CLI ${enc.bytes}`);
        assert.ok(Math.abs(r.psnr - dec.psnr) <= EFFORT_TOL.psnr_db, `${tag}: page PSNR ${r.psnr} vs CLI ${dec.psnr}`);
        // The page's file also decodes with the CLI, to the PSNR the page measured.
        const pdec = cliNumbers(cli(['decode', pageAec, '-m', modelFile(name), '-o', path.join(outDir, 'page-effort.png'),
                                     '--reference', files.image]));
        assert.ok(Math.abs(pdec.psnr - r.psnr) <= PSNR_TOL, `${tag}: CLI on the page's file ${pdec.psnr} vs ${r.psnr}`);
        if (process.env.AEC_TEST_VERBOSE)
          console.log(`${tag}: page ${r.bytes} B ${r.psnr.toFixed(3)} dB, CLI ${enc.bytes} B ${dec.psnr.toFixed(3)} dB; ` +
                      `effort 0 ${r0.bytes} B ${r0.psnr.toFixed(3)} dB`);

        // Opened in the page: decoded with the unchanged decoder, measured against the image it was made from.
        await upload(pageAec);
        const st = await state();
        assert.equal(st.error, '');
        assert.equal(st.result.effort, null, 'an opened file');
        assert.equal(st.result.bytes, r.bytes);
        assert.equal(st.result.has_reference, true);
        assert.ok(Math.abs(st.result.psnr - r.psnr) <= PSNR_TOL, `${tag}: opened ${st.result.psnr} vs encoded ${r.psnr}`);

        if (m.onnx) {
          // ONNX Runtime runs the encoder network, the core refines its latent: within the same tolerance.
          const ort = await page.evaluate(([n, e]) => window.aecodec.encode({ model: n, backend: 'ort', effort: e }), [name, effort]);
          assert.equal(ort.backend, 'ort');
          assert.equal(ort.effort, effort);
          assert.ok(ort.encode.refine_ms > 0);
          assert.ok(Math.abs(ort.bytes - r.bytes) <= EFFORT_TOL.rate * r.bytes, `${tag}: ORT ${ort.bytes} bytes vs ${r.bytes}`);
          assert.ok(Math.abs(ort.psnr - r.psnr) <= EFFORT_TOL.psnr_db, `${tag}: ORT PSNR ${ort.psnr} vs ${r.psnr}`);
          if (process.env.AEC_TEST_VERBOSE) console.log(`${tag}: ORT ${ort.bytes} B ${ort.psnr.toFixed(3)} dB`);
        }
      }
    }
    await screenshot(page, '05b-effort');
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core', effort: 0 }));
  });

  test('cancelling an effort-5 encode leaves no result and no error', T, async () => {
    // The 768x512 sample: a refinement long enough to be cancelled in the middle.
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core', effort: 0 }));
    await page.evaluate(() => window.aecodec.loadImage('assets/sample.png'));
    const before = await state();
    assert.ok(before.result && before.result.effort === 0);
    const out = await page.evaluate(async () => {
      const a = window.aecodec;
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const encoding = a.encode({ effort: 5 });
      // Cancel once the refinement reports progress (the page draws meanwhile: the work is off its thread).
      let s;
      const t0 = performance.now();
      while ((s = a.state()).progress === null && performance.now() - t0 < 60000) await sleep(5);
      const during = { progress: s.progress, cancellable: s.cancellable, busy: s.busy, label: s.busy_label };
      const cancelled = await a.cancel();
      const result = await encoding;
      return { during, cancelled, result };
    });
    assert.ok(out.during.progress >= 0 && out.during.progress < 1, `progress ${out.during.progress}`);
    assert.equal(out.during.cancellable, true);
    assert.match(out.during.label, /effort 5/);
    assert.equal(out.cancelled, true, 'there was an encode to cancel');
    assert.equal(out.result, null, 'a cancelled encode has no result');
    const s = await state();
    assert.equal(s.error, '');
    assert.equal(s.busy, false);
    assert.equal(s.progress, null);
    assert.equal(s.cancellable, false);
    assert.equal(s.cancelled, before.cancelled + 1);
    assert.match(s.info, /[Cc]ancelled/);
    assert.deepEqual(s.result, before.result, 'the previous result stays');
    assert.equal(s.effort, 5, 'the selection stays');
    assert.match(await summary(), /[Cc]ancelled/);
    assert.equal(await page.evaluate(() => window.aecodec.cancel()), false, 'nothing left to cancel');
    await screenshot(page, '05c-cancelled');
    // A model that cannot refine: the API refuses effort > 0 with the reason.
    await assert.rejects(page.evaluate(() => window.aecodec.encode({ model: 'test-conv', effort: 2 })), /cannot encode at effort 2/);
    // Back to the uploaded picture, coded at effort 0, for the tests after this one.
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core', effort: 0 }));
    const png = Array.from(fs.readFileSync(files.image));
    await page.evaluate((b) => window.aecodec.loadImage(new Uint8Array(b), { name: 'upload.png' }), png);
    assert.equal((await state()).error, '');
  });

  test('the latent view shows each channel and its bits', T, async () => {
    const r = (await state()).result;
    assert.equal(r.channel_bits.length, r.latent[0]);
    const bits = r.channel_bits.reduce((a, b) => a + b, 0);
    assert.ok(bits > 0 && bits / 8 <= r.bytes * 1.05 + 64, `channel bits ${bits} vs ${r.bytes} bytes`);
    await page.evaluate(() => window.aecodec.showTab('latent'));
    await screenshot(page, '05-latent');
    await page.evaluate(() => window.aecodec.showTab('compare'));
  });

  test('ONNX Runtime Web backend agrees with the C++ core', T, async (t) => {
    const s0 = await state();
    const m = s0.models.find((x) => x.name === 'test-factorized');
    if (!m.onnx) {
      t.skip('no ONNX graphs in the site (build aecodec-onnx, then restage)');
      return;
    }
    const core = await page.evaluate(() => window.aecodec.encode({ model: 'test-factorized', backend: 'core' }));
    const ort = await page.evaluate(() => window.aecodec.encode({ model: 'test-factorized', backend: 'ort' }));
    assert.equal(ort.backend, 'ort');
    const s = await state();
    assert.ok(s.agreement, 'both backends ran on the same image and model');
    const a = s.agreement;
    assert.ok(a.identical_images || a.psnr_between >= ORT_TOL.between_db, `reconstructions ${a.psnr_between} dB apart`);
    assert.ok(Math.abs(ort.psnr - core.psnr) <= ORT_TOL.psnr_db, `PSNR ${ort.psnr} vs ${core.psnr}`);
    assert.ok(Math.abs(ort.bpp - core.bpp) <= ORT_TOL.rate * core.bpp, `bpp ${ort.bpp} vs ${core.bpp}`);
    assert.ok(ort.encode.network_ms > 0 && ort.decode.network_ms > 0, 'ORT timings reported');
    // The ORT backend's file is a normal .aec: the CLI decodes it.
    const f = path.join(outDir, 'page-ort.aec');
    fs.writeFileSync(f, Buffer.from(await page.evaluate(() => Array.from(window.aecodec.resultBytes()))));
    const dec = cliNumbers(cli(['decode', f, '-m', modelFile('test-factorized'), '-o', path.join(outDir, 'ort-decoded.png'),
                                '--reference', files.image]));
    assert.ok(Math.abs(dec.psnr - core.psnr) <= ORT_TOL.psnr_db, `CLI on the ORT file: ${dec.psnr} vs ${core.psnr}`);
    await screenshot(page, '06-ort');
    await page.evaluate(() => window.aecodec.select({ backend: 'core' }));
  });

  test('a hyperprior model codes in the page with both backends, and the CLI decodes its files', T,
       async (t) => {
    const s0 = await state();
    const m = s0.models.find((x) => x.name === 'test-hyperprior');
    if (!m) {
      t.skip('no hyperprior model in the site');
      return;
    }
    const decodeWithCli = async (tag, psnr) => {
      const bytes = Buffer.from(await page.evaluate(() => Array.from(window.aecodec.resultBytes())));
      assert.equal(bytes[4], 3, `${tag}: a version-3 .aec`);
      const f = path.join(outDir, `page-hyperprior-${tag}.aec`);
      fs.writeFileSync(f, bytes);
      const dec = cliNumbers(cli(['decode', f, '-m', modelFile('test-hyperprior'),
                                  '-o', path.join(outDir, `hyperprior-${tag}.png`), '--reference', files.image]));
      assert.ok(Math.abs(dec.psnr - psnr) <= PSNR_TOL, `${tag}: CLI PSNR ${dec.psnr} vs page ${psnr}`);
    };
    const core = await page.evaluate(() => window.aecodec.encode({ model: 'test-hyperprior', backend: 'core' }));
    assert.ok(core.bytes > 0 && core.psnr > 0);
    await decodeWithCli('core', core.psnr);
    if (m.onnx) {
      // ONNX Runtime runs g_a and g_s; the core runs h_a, the integer h_s and the entropy coding between them.
      const ort = await page.evaluate(() => window.aecodec.encode({ model: 'test-hyperprior', backend: 'ort' }));
      assert.equal(ort.backend, 'ort');
      assert.ok(Math.abs(ort.psnr - core.psnr) <= ORT_TOL.psnr_db, `PSNR ${ort.psnr} vs ${core.psnr}`);
      assert.ok(Math.abs(ort.bpp - core.bpp) <= ORT_TOL.rate * core.bpp, `bpp ${ort.bpp} vs ${core.bpp}`);
      await decodeWithCli('ort', ort.psnr);
    }
    await screenshot(page, '06b-hyperprior');
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core' }));
  });

  test('cross-decoding within a family: both paths against their baselines, as the CLI scores them', T, async (t) => {
    const s0 = await state();
    if (!s0.family) {
      t.skip('no cross-resolution family among the models');
      return;
    }
    // Selecting a member makes its family the one the tab shows: the single-rate fam.
    await page.evaluate(() => window.aecodec.select({ model: 'fam-high', backend: 'core' }));
    assert.equal((await state()).family, 'fam-test');
    const c = await page.evaluate(() => window.aecodec.crossDecode());
    assert.equal(c.quality, null, 'a single-rate family');
    assert.deepEqual([c.high_to_medium.width, c.high_to_medium.height], [125, 86]);
    assert.deepEqual([c.medium_to_high.width, c.medium_to_high.height], [250, 171]);
    for (const v of [c.high_to_medium.psnr, c.medium_to_high.psnr, c.medium_to_high.bicubic_psnr])
      assert.ok(Number.isFinite(v) && v > 0, `PSNR ${v}`);
    const rows = cliFamily(files.image, c.high, c.medium);
    assert.equal(rows.length, 1);
    checkCross(c, rows[0], s0.image);
    assert.equal(c.medium_to_high.decoder, 'high', 'a medium member without an up decoder: the high decodes');
    await page.evaluate(() => window.aecodec.showTab('cross-decode'));
    await ui.drawn(await ui.frames());
    const s = await state();
    assert.equal(s.controls.cross_quality, null, 'no quality slider for a single-rate family');
    assert.ok(s.controls.cross_run, 'the tab\'s Run button is drawn');
    await screenshot(page, '07-cross-decode');
    await assert.rejects(page.evaluate(() => window.aecodec.crossDecode({ quality: 20 })), /single-rate/);
    await page.evaluate(() => window.aecodec.showTab('compare'));
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core' }));
  });

  test('cross-decoding a variable-rate family at the quality picked: the CLI\'s files and figures', T, async (t) => {
    const s0 = await state();
    if (!s0.models.some((m) => m.name === 'fam-q-high')) {
      t.skip('no variable-rate family among the models (web/stage.mjs --test-models stages fam-q)');
      return;
    }
    // Selecting a member makes its family the one the tab shows.
    await page.evaluate(() => window.aecodec.select({ model: 'fam-q-high', backend: 'core' }));
    assert.equal((await state()).family, 'fam-q-test');
    const rows = cliFamily(files.image, 'fam-q-high', 'fam-q-medium', [20, 80]);
    assert.deepEqual(rows.map((r) => r.quality), [20, 80]);
    const runs = {};
    for (const [q, row] of [[20, rows[0]], [80, rows[1]]]) {
      const c = await page.evaluate((quality) => window.aecodec.crossDecode({ quality }), q);
      assert.equal(c.family, 'fam-q-test');
      assert.equal(c.quality, q);
      assert.equal(c.high_to_medium.quality, q, 'the high file records the quality');
      assert.equal(c.medium_to_high.quality, q, 'the medium file records the quality');
      checkCross(c, row, s0.image);
      runs[q] = c;
    }
    // Two qualities, two rates on each path (a larger quality: finer quantisation, more bytes).
    assert.ok(runs[80].high_to_medium.bytes > runs[20].high_to_medium.bytes,
              `high files ${runs[20].high_to_medium.bytes} and ${runs[80].high_to_medium.bytes} bytes`);
    assert.ok(runs[80].medium_to_high.bytes > runs[20].medium_to_high.bytes,
              `medium files ${runs[20].medium_to_high.bytes} and ${runs[80].medium_to_high.bytes} bytes`);
    // The family shares one knob: both members' quality (the side panel's slider) is the one picked.
    let s = await state();
    for (const name of ['fam-q-high', 'fam-q-medium'])
      assert.equal(s.models.find((m) => m.name === name).quality, 80, name);
    assert.equal(s.quality, 80);
    await assert.rejects(page.evaluate(() => window.aecodec.crossDecode({ quality: 0 })), /from 1 to 100/);

    // The tab's slider: a click at its left end picks a low quality, and releasing it cross-decodes again.
    await page.evaluate(() => window.aecodec.showTab('cross-decode'));
    await ui.drawn(await ui.frames());
    s = await state();
    assert.ok(s.controls.cross_quality, 'the tab shows a quality slider for a variable-rate family');
    const [x0, y0, , y1] = s.controls.cross_quality;
    await ui.click(x0 + 3, (y0 + y1) / 2);
    await ui.uiJob(s.completed);
    s = await state();
    const c = s.cross;
    assert.ok(c.quality >= 1 && c.quality < 20, `the slider's quality ${c.quality}`);
    assert.equal(s.models.find((m) => m.name === 'fam-q-medium').quality, c.quality);
    assert.equal(c.high_to_medium.quality, c.quality);
    assert.ok(c.high_to_medium.bytes < runs[20].high_to_medium.bytes,
              `${c.high_to_medium.bytes} bytes at quality ${c.quality}`);
    const f = await ui.frames();
    await page.mouse.move(5, 5);  // no tooltip over the figures
    await ui.drawn(f);
    await screenshot(page, '07b-cross-decode-quality');
    await page.evaluate(() => window.aecodec.showTab('compare'));
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core' }));
  });

  test('cross-decoding a family built on a codec\'s member: that member codes the high path, in its span', T,
       async (t) => {
    const s0 = await state();
    const medium = s0.models.find((m) => m.name === 'fam-c-medium');
    if (!medium) {
      t.skip('no family on a codec\'s member among the models (web/stage.mjs --test-models stages fam-c-medium)');
      return;
    }
    // The medium names test-codec-a (test-codec's network up to quality 60) as its high member by its decode
    // id; its family id is "fam-" + that model's entropy id; the site marks the codec as the family's high.
    const info = JSON.parse(cli(['info', '--json', modelFile('test-codec-a')]));
    const famId = `fam-${info.entropy_id}`;
    assert.deepEqual(medium.family, { id: famId, role: 'medium',
                                      high: { name: 'test-codec-a', id: info.id, stride: info.stride } });
    const codec = s0.models.find((m) => m.name === 'test-codec');
    assert.deepEqual(codec.family, { id: famId, role: 'high', member: 'test-codec-a' });
    // fam-d-medium is built on the codec's other member, test-codec-b (as family-wide-medium on channel-wide).
    const famD = `fam-${JSON.parse(cli(['info', '--json', modelFile('test-codec-b')])).entropy_id}`;
    assert.deepEqual(codec.families, [{ id: famId, member: 'test-codec-a' }, { id: famD, member: 'test-codec-b' }]);
    assert.deepEqual(codec.group, { kind: 'codec', name: 'test-codec' }, 'the codec stays a codec entry');
    await page.evaluate(() => window.aecodec.select({ model: 'fam-c-medium', backend: 'core' }));
    let s = await state();
    assert.equal(s.family, famId);
    const { quality: q0, ...pair } = s.cross_family;
    // The knob spans both members' families: 1-60 with fam-c-medium, above with fam-d-medium.
    assert.deepEqual(pair, { id: famId, high: 'test-codec', high_model: 'test-codec-a', medium: 'fam-c-medium',
                             qualities: [1, 100] });
    assert.ok(q0 >= 1 && q0 <= 60, `the family's quality ${q0}`);

    // Two qualities inside the member's span: the CLI's files and figures of test-codec-a + fam-c-medium.
    const rows = cliFamily(files.image, 'test-codec-a', 'fam-c-medium', [20, 55]);
    assert.deepEqual(rows.map((r) => [r.quality, r.high, r.medium]),
                     [[20, 'test-codec-a', 'fam-c-medium'], [55, 'test-codec-a', 'fam-c-medium']]);
    const runs = {};
    for (const [q, row] of [[20, rows[0]], [55, rows[1]]]) {
      const c = await page.evaluate((quality) => window.aecodec.crossDecode({ quality }), q);
      assert.equal(c.family, famId);
      assert.equal(c.high, 'test-codec');
      assert.equal(c.high_model, 'test-codec-a', 'the member network codes the high path');
      assert.equal(c.medium, 'fam-c-medium');
      assert.equal(c.quality, q);
      assert.equal(c.high_to_medium.quality, q, 'the high file records the quality');
      assert.equal(c.medium_to_high.quality, q, 'the medium file records the quality');
      assert.deepEqual([c.high_to_medium.width, c.high_to_medium.height], [125, 86]);
      assert.deepEqual([c.medium_to_high.width, c.medium_to_high.height], [250, 171]);
      assert.equal(c.medium_to_high.decoder, 'up_decoder', 'the medium member\'s up decoder makes the full size');
      checkCross(c, row, s0.image);
      runs[q] = c;
    }
    assert.ok(runs[55].high_to_medium.bytes > runs[20].high_to_medium.bytes,
              `high files ${runs[20].high_to_medium.bytes} and ${runs[55].high_to_medium.bytes} bytes`);
    assert.ok(runs[55].medium_to_high.bytes > runs[20].medium_to_high.bytes,
              `medium files ${runs[20].medium_to_high.bytes} and ${runs[55].medium_to_high.bytes} bytes`);
    // The codec's knob and the medium's quality are the family's (inside the member's span).
    s = await state();
    for (const name of ['test-codec', 'fam-c-medium']) assert.equal(s.models.find((m) => m.name === name).quality, 55, name);
    // Past the hand-over the codec codes with test-codec-b, and the family is fam-d-medium's: knob quality 80
    // is test-codec-b's own quality 50.5 (the manifest maps 60-100 onto its 1-100), at which both files are
    // coded, as the CLI codes them with test-codec-b and fam-d-medium.
    const [rowD] = cliFamily(files.image, 'test-codec-b', 'fam-d-medium', [50.5]);
    assert.deepEqual([rowD.quality, rowD.high, rowD.medium], [50.5, 'test-codec-b', 'fam-d-medium']);
    const d = await page.evaluate(() => window.aecodec.crossDecode({ quality: 80 }));
    assert.equal(d.family, famD);
    assert.equal(d.high, 'test-codec');
    assert.equal(d.high_model, 'test-codec-b', 'the wider member codes the high path');
    assert.equal(d.medium, 'fam-d-medium');
    assert.equal(d.quality, 80);
    assert.equal(d.medium_to_high.decoder, 'up_decoder');
    checkCross(d, rowD, s0.image);
    s = await state();
    assert.equal(s.family, famD, 'the tab\'s family follows the knob');
    assert.deepEqual(s.models.find((m) => m.name === 'test-codec').family, { id: famD, role: 'high', member: 'test-codec-b' });
    assert.equal(s.models.find((m) => m.name === 'fam-d-medium').quality, 50.5, 'the medium codes at the member\'s quality');
    // And back below the hand-over, to fam-c-medium.
    await page.evaluate(() => window.aecodec.crossDecode({ quality: 55 }));
    s = await state();
    assert.equal(s.cross.medium, 'fam-c-medium');
    assert.equal(s.family, famId);

    // The tab's slider spans both families: a click at its right end picks fam-d-medium's top quality, and
    // releasing it cross-decodes again.
    await page.evaluate(() => window.aecodec.showTab('cross-decode'));
    await ui.drawn(await ui.frames());
    s = await state();
    assert.ok(s.controls.cross_quality, 'the tab shows a quality slider for a variable-rate family');
    const [, y0, x1, y1] = s.controls.cross_quality;
    await ui.click(x1 - 2, (y0 + y1) / 2);
    await ui.uiJob(s.completed);
    s = await state();
    const c = s.cross;
    assert.ok(c.quality > 95 && c.quality <= 100, `the slider's quality ${c.quality}`);
    assert.equal(c.high_model, 'test-codec-b');
    assert.equal(c.medium, 'fam-d-medium');
    assert.equal(s.models.find((m) => m.name === 'test-codec').quality, c.quality);
    assert.deepEqual(s.cross_family.qualities, [1, 100]);
    const f = await ui.frames();
    await page.mouse.move(5, 5);  // no tooltip over the figures
    await ui.drawn(f);
    await screenshot(page, '07c-cross-decode-codec-member');
    await page.evaluate(() => window.aecodec.showTab('compare'));
    await page.evaluate(() => window.aecodec.select({ model: 'test-factorized', backend: 'core' }));
  });

  test('drag and drop of a WebP image (decoded by the browser)', T, async () => {
    const before = await page.evaluate(() => window.aecodec.state().completed);
    await page.evaluate(async () => {
      // A lossless WebP made by the browser from the sample picture, dropped onto the page.
      const img = await createImageBitmap(await (await fetch('assets/sample.png')).blob());
      const c = new OffscreenCanvas(img.width, img.height);
      c.getContext('2d').drawImage(img, 0, 0);
      const webp = await c.convertToBlob({ type: 'image/webp', quality: 1 });
      const dt = new DataTransfer();
      dt.items.add(new File([webp], 'dropped.webp', { type: 'image/webp' }));
      document.getElementById('canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.waitForFunction((n) => window.aecodec.state().completed > n, before, { timeout: 120000 });
    await page.evaluate(() => window.aecodec.idle());
    const s = await state();
    assert.equal(s.error, '');
    assert.equal(s.image.name, 'dropped.webp');
    assert.ok(s.image.notes.includes('decoded by the browser'));
    assert.deepEqual([s.image.width, s.image.height], [768, 512]);
    assert.ok(s.result && s.result.bytes > 0);
  });

  test('JPEG and WebP at the same size, by the browser encoders', T, async () => {
    await page.evaluate(() => window.aecodec.loadImage('assets/sample.png'));
    const s = await state();
    for (const c of [s.jpeg, s.webp]) {
      assert.ok(c, 'comparison present');
      assert.ok(c.at_min_quality || c.bytes <= s.result.bytes, `${c.codec}: ${c.bytes} <= ${s.result.bytes}`);
      assert.ok(c.psnr > 10 && c.psnr < 100, `${c.codec} PSNR ${c.psnr}`);
    }
    await page.evaluate(() => window.aecodec.select({}));
    await screenshot(page, '04-compare');
  });

  test('a corrupt file shows an error and keeps the page usable', T, async () => {
    const good = (await state()).result;
    const png = fs.readFileSync(files.image);
    const corrupt = path.join(outDir, 'corrupt.png');
    fs.writeFileSync(corrupt, Buffer.concat([png.subarray(0, 60), Buffer.alloc(200, 0x5a)]));
    await upload(corrupt);
    let s = await state();
    assert.match(s.error, /corrupt\.png/);
    assert.match(await summary(), /Error: corrupt\.png/);
    assert.equal(s.result.bytes, good.bytes, 'the previous result stays');
    await screenshot(page, '08-corrupt');

    const junk = path.join(outDir, 'notes.webp');
    fs.writeFileSync(junk, 'this is not an image');
    await upload(junk);
    s = await state();
    assert.match(s.error, /notes\.webp: not an image or \.aec file this page can read/);

    const badAec = path.join(outDir, 'truncated.aec');
    fs.writeFileSync(badAec, fs.readFileSync(files.cliAec).subarray(0, 40));
    await upload(badAec);
    assert.match((await state()).error, /truncated\.aec/);

    // Over the page's limit of 16384 px a side (the core decoder's).
    const huge = path.join(outDir, 'huge.png');
    fs.writeFileSync(huge, encodePng(new Uint8Array(16400 * 4 * 3), 16400, 4));
    await upload(huge);
    assert.match((await state()).error, /limit/);
    await screenshot(page, '09-too-large');

    // still works
    let t0 = Date.now();
    const r = await page.evaluate((p) => window.aecodec.loadImage(p), 'assets/sample.png');
    if (process.env.AEC_TEST_VERBOSE) console.log(`sample reload: ${Date.now() - t0} ms`);
    assert.equal(r.error, '');
  });

  test('an idle page draws no frames; input redraws it, and work at about 10 frames a second', T, async () => {
    await page.evaluate(() => window.aecodec.showTab('compare'));
    await page.evaluate(() => window.aecodec.idle());
    const f0 = await settle();
    await page.waitForTimeout(1500);
    assert.equal((await render()).frames, f0, 'no frame drawn in 1.5 s of idling');
    // Input: the page redraws (hover), then goes idle again.
    const v = await view();
    await page.mouse.move(v.image[0] + 40, v.image[1] + 60);
    await page.mouse.move(v.image[0] + 80, v.image[1] + 90);
    await page.waitForFunction((f) => window.aecodec.state().render.frames > f, f0, { timeout: 5000 });
    assert.ok((await view()).hover, 'the pixel under the cursor is shown');
    const f1 = await settle();
    await page.waitForTimeout(1000);
    assert.equal((await render()).frames, f1, 'idle again after the input');
    await page.mouse.move(0, 0);  // off the viewer, so the work below is not redrawn for hover
    await settle();

    // While work runs, the progress indicator is drawn at most 10 times a second (plus 3 frames for each change
    // of state), though the browser offers a frame (requestAnimationFrame) far more often. `src` is loaded.
    const during = (src, opts) => page.evaluate(async ([src, opts]) => {
      const a = window.aecodec;
      let raf = 0;
      let on = true;
      const tick = () => { if (on) { ++raf; requestAnimationFrame(tick); } };
      requestAnimationFrame(tick);
      const out = [];
      const poll = () => {
        const s = a.state();
        out.push({ t: performance.now(), busy: s.busy, frames: s.render.frames, progress: s.render.progress_frames, raf });
      };
      const timer = setInterval(poll, 40);
      await a.loadImage(src, opts);
      poll();
      clearInterval(timer);
      on = false;
      const busy = out.filter((x) => x.busy);
      if (busy.length < 2) return null;
      const first = busy[0], last = busy[busy.length - 1];
      return { seconds: (last.t - first.t) / 1000, frames: last.frames - first.frames, rafs: last.raf - first.raf,
               progress: last.progress - first.progress };
    }, [src, opts]);
    // A download that takes 2.5 s: the page waits, its main thread free.
    await page.route('**/slow/sample.png', async (route) => {
      await new Promise((r) => setTimeout(r, 2500));
      await route.fulfill({ path: path.join(SITE, 'assets', 'sample.png'), contentType: 'image/png' });
    });
    let m = await during('slow/sample.png', { encode: false });
    await page.unroute('**/slow/sample.png');
    if (process.env.AEC_TEST_VERBOSE) console.log('download:', m);
    assert.ok(m && m.seconds >= 2, `busy while downloading: ${JSON.stringify(m)}`);
    assert.ok(m.frames <= 10 * m.seconds + 2 * 3, `${m.frames} frames in ${m.seconds.toFixed(2)} s of waiting`);
    assert.ok(m.frames >= 5 * m.seconds - 2, `the progress indicator moved: ${m.frames} frames in ${m.seconds} s`);
    assert.ok(m.rafs >= 3 * m.frames, `the browser offered ${m.rafs} frames, the page drew ${m.frames}`);
    // ... and those frames redraw only the top bar (the indicator), all but the few after a change of state.
    assert.ok(m.frames - m.progress <= 2 * 3, `${m.frames - m.progress} whole frames of ${m.frames}`);
    await settle();
    // Coding (the core, then the browser's JPEG and WebP at the same size): the same bound.
    m = await during('assets/sample.png', {});
    if (process.env.AEC_TEST_VERBOSE) console.log('coding:', m);
    assert.ok(m && m.seconds > 0, 'busy while coding');
    assert.ok(m.frames <= 10 * m.seconds + 12 * 3, `${m.frames} frames in ${m.seconds.toFixed(2)} s of coding`);
    await settle();
  });

  test('the wheel zooms the split view 1.25x a notch, about the cursor', T, async () => {
    await page.evaluate(() => window.aecodec.showTab('compare'));
    await settle();
    let v = await view();
    const x = (v.image[0] + v.image[2]) / 2 + 37, y = (v.image[1] + v.image[3]) / 2 - 23;
    await page.mouse.move(x, y);
    await settle();
    v = await view();
    const { zoom, hover } = v;
    assert.ok(hover, 'a pixel under the cursor');
    // hover = the image pixel at the cursor, from the view's own geometry
    assert.deepEqual(hover, [Math.floor((x - v.image[0]) / zoom), Math.floor((y - v.image[1]) / zoom)]);
    await page.mouse.wheel(0, -100);  // one notch up: zoom in
    await settle();
    v = await view();
    assert.ok(Math.abs(v.zoom / zoom - 1.25) < 1e-4, `zoom ${zoom} -> ${v.zoom}`);
    for (let c = 0; c < 2; ++c) assert.ok(Math.abs(v.hover[c] - hover[c]) <= 1, `still ${hover} under the cursor: ${v.hover}`);
    await page.mouse.wheel(0, 100);
    await settle();
    assert.ok(Math.abs((await view()).zoom - zoom) < 1e-4);
    await page.mouse.move(0, 0);
    await settle();
  });

  test('a model that fails to load is reported and disabled', T, async () => {
    const p2 = await browser.context.newPage();
    await p2.route('**/models/test-conv.aem', (route) => route.fulfill({ status: 200, body: 'not a model' }));
    await p2.goto(server.url + '?image=');  // no sample: only the models
    await p2.waitForFunction(() => window.aecodec);
    await p2.evaluate(() => window.aecodec.ready);
    await p2.evaluate(() => window.aecodec.idle());
    const s = await p2.evaluate(() => window.aecodec.state());
    const m = s.models.find((x) => x.name === 'test-conv');
    assert.equal(m.state, 'failed');
    assert.ok(m.error.length > 0);
    await p2.evaluate(() => window.aecodec.loadImage('assets/sample.png', { encode: false }));
    await assert.rejects(p2.evaluate(() => window.aecodec.encode({ model: 'test-conv' })), /test-conv.*failed to load/);
    await screenshot(p2, '10-model-failed');
    await p2.close();
  });
});

// A hi-DPI screen (devicePixelRatio 2): the canvas's backing store has the device's pixels, the mouse maps to
// the right image pixel, and the split view's pixel grid shows from 8x on, one device pixel thin.
describe('aecodec browser demo on a hi-DPI screen', () => {
  let hb, hp;
  before(async () => {
    hb = await launch({ width: 1280, height: 800, deviceScaleFactor: 2 });
    hp = await openDemo(hb.context, server.url);
  });
  after(async () => {
    if (hp) fs.writeFileSync(path.join(outDir, 'console-hidpi.log'), hp.aecLog.join('\n') + '\n');
    await hb?.close();
  });

  test('the canvas is drawn at the device pixel ratio', T, async () => {
    await settle(hp);
    const r = await render(hp);
    const c = await hp.evaluate(() => {
      const e = document.getElementById('canvas');
      return { dpr: devicePixelRatio, width: e.width, height: e.height, cssW: e.clientWidth, cssH: e.clientHeight };
    });
    assert.equal(c.dpr, 2);
    assert.equal(r.dpr, 2);
    assert.deepEqual([c.cssW, c.cssH], [1280, 800]);
    assert.deepEqual(r.framebuffer, [2 * c.cssW, 2 * c.cssH], 'backing store = CSS size x DPR');
    assert.deepEqual([c.width, c.height], r.framebuffer, "the canvas's backing store");
    assert.ok(Math.abs(r.width - c.cssW) < 0.01 && Math.abs(r.height - c.cssH) < 0.01, 'ImGui lays out in CSS px');
    const v = await view(hp);
    assert.ok(v.canvas[2] <= c.cssW && v.canvas[3] <= c.cssH && v.canvas[2] > c.cssW / 2, `viewer at ${v.canvas}`);
    await screenshot(hp, '11-hidpi');
  });

  test('the mouse points at the right image pixel, and wheel zoom keeps it under the cursor', T, async () => {
    let v = await view(hp);
    const x = v.image[0] + (v.image[2] - v.image[0]) * 0.3, y = v.image[1] + (v.image[3] - v.image[1]) * 0.6;
    await hp.mouse.move(x, y);
    await settle(hp);
    v = await view(hp);
    const at = [Math.floor((x - v.image[0]) / v.zoom), Math.floor((y - v.image[1]) / v.zoom)];
    assert.deepEqual(v.hover, at, 'the pixel under the cursor');
    assert.equal(v.pixel_grid, false);
    v = await wheelUntil(hp, x, y, -100, (z) => z >= 8);
    for (let c = 0; c < 2; ++c) assert.ok(Math.abs(v.hover[c] - at[c]) <= 1, `still ${at} under the cursor: ${v.hover}`);
    assert.equal(v.pixel_grid, true, `pixel grid at ${v.zoom}x`);
    await screenshot(hp, '12-pixel-grid');
  });

  test('the pixel grid: one device pixel on each pixel boundary from 8x on, none below', T, async () => {
    // A flat 40x30 image (not coded: both halves show it), fitted at an integer zoom >= 8.
    const W = 40, H = 30, flat = [200, 60, 60];
    const rgb = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; ++i) rgb.set(flat, i * 3);
    const png = Array.from(encodePng(rgb, W, H));
    await hp.evaluate((b) => window.aecodec.loadImage(new Uint8Array(b), { name: 'flat.png', encode: false }), png);
    await settle(hp);
    let v = await view(hp);
    assert.ok(v.zoom >= 8 && v.pixel_grid, `fitted at ${v.zoom}x with the grid`);
    const dpr = 2;
    const check = async (v) => {
      // A row through the middle of an image pixel a third down (clear of the labels and the divider's
      // handle), with the divider left out.
      const [x0, y0, x1, y1] = v.image;
      const left = Math.max(Math.ceil(x0), Math.ceil(v.canvas[0])), right = Math.min(Math.floor(x1), Math.floor(v.canvas[2]));
      const y = Math.floor(y0 + (Math.floor((y1 - y0) / v.zoom / 3) + 0.5) * v.zoom);
      const row = await screenRow(hp, left, right, y);
      const dx = (v.canvas[0] + v.divider * (v.canvas[2] - v.canvas[0]) - left) * dpr;
      return runsOff(row, flat, [[dx - 8 * dpr, dx + 8 * dpr]]);
    };
    let runs = await check(v);
    const step = v.zoom * dpr;  // device pixels per image pixel
    assert.ok(runs.length >= W - 4, `${runs.length} grid lines across ${W} pixels`);
    for (const r of runs) assert.equal(r.width, 1, `a grid line one device pixel wide: ${JSON.stringify(r)}`);
    let regular = 0;
    for (let i = 1; i < runs.length; ++i) {
      const gap = runs[i].start - runs[i - 1].start;
      if (Math.abs(gap - step) <= 1) ++regular;
      else assert.ok(Math.abs(gap / step - Math.round(gap / step)) * step <= 1, `lines ${gap} device px apart, pixels ${step}`);
    }
    assert.ok(regular >= runs.length - 3, `${regular} of ${runs.length - 1} gaps are one image pixel`);
    // Below 8x: no grid, the row is flat.
    const cx = (v.image[0] + v.image[2]) / 2 + 50, cy = (v.image[1] + v.image[3]) / 2;
    v = await wheelUntil(hp, cx, cy, 100, (z) => z < 8);
    assert.equal(v.pixel_grid, false);
    runs = await check(v);
    assert.deepEqual(runs, [], 'no grid below 8x');
  });
});

// The page codes through the aecodec package (packages/aecodec, in Workers of its own): threaded on a
// cross-origin isolated page, single-threaded with ?wasm=st (as on a page that is not isolated), the same file
// either way, the CLI's.
describe('aecodec browser demo: its coding, threaded and single-threaded', () => {
  test('the package\'s threaded and single-threaded builds make the CLI\'s file in the page', T, async () => {
    const cliAec = path.join(outDir, 'cli-threads.aec');
    cli(['encode', files.image, '-m', modelFile('test-factorized'), '-o', cliAec]);
    const png = Array.from(fs.readFileSync(files.image));
    const b = await launch({ width: 1000, height: 700 });
    try {
      for (const query of ['?image=&threads=2', '?image=&wasm=st']) {
        const p = await openDemo(b.context, server.url, { query });
        const r = await p.evaluate(async (bytes) => {
          const a = window.aecodec;
          await a.loadImage(new Uint8Array(bytes), { name: 'upload.png', encode: false });
          const run = await a.encode({ model: 'test-factorized', backend: 'core', effort: 0 });
          return { run, bytes: Array.from(a.resultBytes()), threaded: a.state().threaded };
        }, png);
        const workers = p.workers().map((w) => new URL(w.url()).pathname);
        const st = query.includes('wasm=st');
        assert.equal(r.threaded, !st, query);
        assert.ok(workers.includes('/aecodec/worker.js'), `${query}: the package's Worker codes: ${workers}`);
        assert.equal(workers.includes('/aecodec/dist/aecodec-core-mt.worker.js'), !st,
                     `${query}: the package's ${st ? 'single-threaded' : 'threaded'} build: ${workers}`);
        assert.ok(Buffer.from(r.bytes).equals(fs.readFileSync(cliAec)), `${query}: the CLI's file`);
        assert.ok(r.run.psnr > 0 && r.run.channel_bits.length > 0);
        await p.close();
      }
    } finally {
      await b.close();
    }
  });
});
