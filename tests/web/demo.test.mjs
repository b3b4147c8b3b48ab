// End-to-end tests of the browser demo in headless Chromium: the page's numbers against the native CLI's, the
// .aec round trip in both directions, the ONNX Runtime backend against the core, the comparisons, cross-decoding,
// and the error paths. Run with tests/web/run.sh (or `node --test tests/web/` with a built site).
// Screenshots of each state: tests/out/web/*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { encodePng, makePicture } from '../../web/tools/make-sample.mjs';
import { launch, openDemo, outDir, root, screenshot, startServer } from './browser.mjs';

const CLI = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const SITE = process.env.AEC_WEB_SITE || path.join(root, 'build', 'web', 'site');
const PSNR_TOL = 0.01;  // dB: the page and the CLI run the same core
// ONNX Runtime vs the core: the transforms are computed by different kernels (float rounding differs), so a latent
// value near a quantisation boundary may round the other way. Tolerance: the two reconstructions within 40 dB
// PSNR of each other, the PSNRs against the original within 0.1 dB, the rates within 1%.
const ORT_TOL = { between_db: 40, psnr_db: 0.1, rate: 0.01 };

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
function modelFile(name) {
  const manifest = JSON.parse(fs.readFileSync(path.join(SITE, 'models', 'manifest.json'), 'utf8'));
  const m = manifest.models.find((x) => x.name === name);
  assert.ok(m, `model ${name} in the site's manifest`);
  return path.join(SITE, m.file);
}
const state = () => page.evaluate(() => window.aecodec.state());
const summary = () => page.locator('#summary').textContent();

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

  test('a hyperprior model codes in the page with both backends, and the CLI decodes its version-2 files', T,
       async (t) => {
    const s0 = await state();
    const m = s0.models.find((x) => x.name === 'test-hyperprior');
    if (!m) {
      t.skip('no hyperprior model in the site');
      return;
    }
    const decodeWithCli = async (tag, psnr) => {
      const bytes = Buffer.from(await page.evaluate(() => Array.from(window.aecodec.resultBytes())));
      assert.equal(bytes[4], 2, `${tag}: a version-2 .aec`);
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

  test('cross-decoding within a family', T, async (t) => {
    const s0 = await state();
    if (!s0.family) {
      t.skip('no cross-resolution family among the models');
      return;
    }
    const c = await page.evaluate(() => window.aecodec.crossDecode());
    assert.deepEqual([c.high_to_medium.width, c.high_to_medium.height], [125, 86]);
    assert.deepEqual([c.medium_to_high.width, c.medium_to_high.height], [250, 171]);
    for (const v of [c.high_to_medium.psnr, c.medium_to_high.psnr, c.medium_to_high.bicubic_psnr])
      assert.ok(Number.isFinite(v) && v > 0, `PSNR ${v}`);
    await page.evaluate(() => window.aecodec.showTab('cross-decode'));
    await screenshot(page, '07-cross-decode');
    await page.evaluate(() => window.aecodec.showTab('compare'));
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

    const huge = path.join(outDir, 'huge.png');
    fs.writeFileSync(huge, encodePng(new Uint8Array(4100 * 4 * 3), 4100, 4));
    await upload(huge);
    assert.match((await state()).error, /limit/);
    await screenshot(page, '09-too-large');

    // still works
    let t0 = Date.now();
    const r = await page.evaluate((p) => window.aecodec.loadImage(p), 'assets/sample.png');
    if (process.env.AEC_TEST_VERBOSE) console.log(`sample reload: ${Date.now() - t0} ms`);
    assert.equal(r.error, '');
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
