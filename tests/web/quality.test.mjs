// Browser tests of the quality knob (issue #22): a variable-rate model (the staged test-channel-q, a random
// channel model with the knob: make_test_model ... knob) shows a quality slider and a target-size field, its
// files at quality 20 and 80 grow with the quality and have the CLI's sizes (`aecodec encode -q`), a size
// target gives a file no larger than the target (`aecodec encode --size`), the ONNX Runtime backend applies the
// quality's gains around its graphs, and single-rate models show and accept none of it. Run with
// tests/web/run.sh. Screenshots: tests/out/web/q*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { encodePng, makePicture } from '../../web/tools/make-sample.mjs';
import { frameDriver, launch, openDemo, outDir, root, screenshot, startServer } from './browser.mjs';

const CLI = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const SITE = process.env.AEC_WEB_SITE || path.join(root, 'build', 'web', 'site');
const MODEL = 'test-channel-q';
// A codec manifest over two variable-rate members (web/stage.mjs --test-models): test-codec-a serves quality
// 1-60, test-codec-b (wider) 60-100.
const CODEC = 'test-codec';
// The variable-rate cross-resolution families' own models (tests/web/demo.test.mjs cross-decodes them at two
// qualities): fam-q, and the medium members of the families built on test-codec-a and test-codec-b (the members
// of test-codec).
const FAMILY = ['fam-q-high', 'fam-q-medium', 'fam-c-medium', 'fam-d-medium'];
const HANDOVER = 60;
const SIZE_TOL = 0.01;  // the target for the page against the CLI (the same core: expected exact)
const PSNR_TOL = 0.01;
const ORT_TOL = { psnr_db: 0.1, rate: 0.01 };  // as web/API.md states for the two backends

const T = { timeout: 180000 };
let server, browser, page;
const files = {};
const runs = {};

function cli(args) {
  return execFileSync(CLI, args, { encoding: 'utf8' });
}
// "..., 4184 bytes, 0.7829 bpp (model NAME ID, quality 20, effort 0, ..." and a decode's "PSNR 6.854 dB".
function cliNumbers(text) {
  const bytes = text.match(/(\d+) bytes/);
  const quality = text.match(/quality ([\d.]+)/);
  const psnr = text.match(/PSNR ([\d.inf]+) dB/);
  return { bytes: bytes ? Number(bytes[1]) : null, quality: quality ? Number(quality[1]) : null,
           psnr: psnr ? Number(psnr[1]) : null };
}
const requested = [];  // the URLs the page fetched
function modelFile(name) {
  const manifest = JSON.parse(fs.readFileSync(path.join(SITE, 'models', 'manifest.json'), 'utf8'));
  const m = manifest.models.find((x) => x.name === name);
  assert.ok(m, `model ${name} in the site's manifest`);
  return path.join(SITE, m.file);
}
const { state, selectDrawn, click, key, uiJob } = frameDriver(() => page);
const pageBytes = async () => Buffer.from(await page.evaluate(() => Array.from(window.aecodec.resultBytes())));

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  assert.ok(fs.existsSync(CLI), `${CLI} (cmake --build build/release --target aecodec)`);
  files.image = path.join(outDir, 'quality-upload.png');
  fs.writeFileSync(files.image, encodePng(makePicture(250, 171, 7), 250, 171));
  server = await startServer();
  browser = await launch();
  browser.context.on('request', (r) => requested.push(r.url()));
  page = await openDemo(browser.context, server.url, { query: '?image=' });
  const png = fs.readFileSync(files.image);
  await page.evaluate((b) => window.aecodec.loadImage(new Uint8Array(b), { name: 'quality-upload.png', encode: false }),
                      Array.from(png));
});

after(async () => {
  if (page) fs.writeFileSync(path.join(outDir, 'quality-console.log'), page.aecLog.join('\n') + '\n');
  await browser?.close();
  await server?.stop();
});

describe('quality knob of variable-rate models', () => {
  test('a variable-rate model shows the quality slider and the target-size field; single-rate models do not', T,
       async () => {
    const s0 = await state();
    const m = s0.models.find((x) => x.name === MODEL);
    assert.ok(m, `${MODEL} staged (web/stage.mjs --test-models)`);
    assert.equal(m.state, 'loaded', m.error);
    assert.equal(m.arch, 'channel');
    assert.equal(m.variable_rate, true);
    assert.equal(m.default_quality, 50);
    assert.equal(m.quality, 50, 'the slider starts at the default');
    assert.deepEqual(m.lambdas, [0.001, 0.004, 0.016, 0.064]);
    for (const x of s0.models.filter((y) => y.name !== MODEL && y.name !== CODEC && !FAMILY.includes(y.name))) {
      assert.equal(x.variable_rate, false, x.name);
      assert.equal(x.default_quality, null, x.name);
    }
    for (const name of FAMILY) assert.equal(s0.models.find((x) => x.name === name)?.variable_rate, true, name);

    let s = await selectDrawn({ model: 'test-factorized', backend: 'core', effort: 0 });
    assert.equal(s.quality, null);
    assert.equal(s.controls.quality, null, 'no slider for a single-rate model');
    assert.equal(s.controls.target_size, null, 'no size field for a single-rate model');
    assert.equal(s.controls.effort.enabled, true);
    // Encoder effort follows the core's refine_refusal: greyed out, with its reason, where it cannot refine.
    s = await selectDrawn({ model: 'test-conv' });
    assert.equal(s.controls.quality, null);
    assert.equal(s.controls.effort.enabled, false);
    assert.match(s.controls.effort.note, /no rate model to refine against/);

    s = await selectDrawn({ model: MODEL });
    assert.equal(s.quality, 50);
    assert.ok(s.controls.quality, 'the quality slider is drawn');
    assert.ok(s.controls.target_size && s.controls.fit, 'the target-size field and its button are drawn');
    const [x0, , x1] = s.controls.quality;
    assert.ok(x1 - x0 > 150, `slider ${JSON.stringify(s.controls.quality)}`);
    // A variable-rate model refines at its quality's lambda when the core can refine its kind (channel
    // models since the context-model effort work); else the control is greyed out with the reason.
    assert.equal(s.controls.effort.enabled, m.max_effort > 0);
    assert.equal(s.controls.effort.note, m.max_effort > 0 ? '' : m.effort_note);
    const r = await page.evaluate((n) => window.aecodec.encode({ model: n }), MODEL);
    assert.equal(r.effort, 0);
    assert.equal(r.quality, 50);
    assert.equal((await state()).error, '');
    await screenshot(page, 'q01-variable-rate-controls');
  });

  test("quality 20 and 80: the file grows with the quality and has the CLI's size (aecodec encode -q)", T,
       async () => {
    for (const q of [20, 80]) {
      const r = await page.evaluate(([n, qq]) => window.aecodec.encode({ model: n, backend: 'core', quality: qq }),
                                    [MODEL, q]);
      assert.equal(r.model, MODEL);
      assert.equal(r.quality, q);
      assert.equal(r.target_bytes, null);
      assert.equal((await state()).quality, q, 'the selection keeps the quality');
      runs[q] = r;
      const pageAec = path.join(outDir, `page-${MODEL}-q${q}.aec`);
      fs.writeFileSync(pageAec, await pageBytes());
      const cliAec = path.join(outDir, `cli-${MODEL}-q${q}.aec`);
      const enc = cliNumbers(cli(['encode', files.image, '-m', modelFile(MODEL), '-q', String(q), '-o', cliAec]));
      files[`cli${q}`] = cliAec;
      assert.equal(enc.quality, q);
      assert.ok(Math.abs(r.bytes - enc.bytes) <= SIZE_TOL * enc.bytes,
                `quality ${q}: page ${r.bytes} bytes, CLI ${enc.bytes}`);
      if (r.bytes !== enc.bytes) console.log(`# quality ${q}: page ${r.bytes} bytes, CLI ${enc.bytes} (within 1 %)`);
      // The page's file decodes with the CLI, at the quality it records, to the page's image.
      const dec = cliNumbers(cli(['decode', pageAec, '-m', modelFile(MODEL), '-o', path.join(outDir, `q${q}.png`),
                                  '--reference', files.image]));
      assert.ok(Math.abs(dec.psnr - r.psnr) <= PSNR_TOL, `quality ${q}: CLI PSNR ${dec.psnr} vs page ${r.psnr}`);
    }
    assert.ok(runs[80].bytes > runs[20].bytes, `quality 80: ${runs[80].bytes} bytes, 20: ${runs[20].bytes}`);
    assert.match(await page.locator('#summary').textContent(), /quality 80\)/);
    await screenshot(page, 'q02-quality-80');
  });

  test("quality 80 at encoder effort 2: the CLI's size and PSNR (aecodec encode -q 80 --effort 2)", T, async (t) => {
    const m = (await state()).models.find((x) => x.name === MODEL);
    if (m.max_effort < 2) {
      t.skip(`${MODEL} cannot refine: ${m.effort_note}`);
      return;
    }
    const r = await page.evaluate((n) => window.aecodec.encode({ model: n, backend: 'core', quality: 80, effort: 2 }),
                                  MODEL);
    assert.equal(r.quality, 80);
    assert.equal(r.effort, 2);
    const cliAec = path.join(outDir, `cli-${MODEL}-q80-effort2.aec`);
    const enc = cliNumbers(cli(['encode', files.image, '-m', modelFile(MODEL), '-q', '80', '--effort', '2',
                                '-o', cliAec]));
    const dec = cliNumbers(cli(['decode', cliAec, '-m', modelFile(MODEL), '-o', path.join(outDir, 'q80-effort2.png'),
                                '--reference', files.image]));
    assert.ok(Math.abs(r.bytes - enc.bytes) <= SIZE_TOL * enc.bytes, `page ${r.bytes} bytes, CLI ${enc.bytes}`);
    assert.ok(Math.abs(r.psnr - dec.psnr) <= 0.05, `page ${r.psnr} dB, CLI ${dec.psnr}`);
    await page.evaluate(() => window.aecodec.select({ effort: 0 }));
  });

  test("a CLI file at quality 20 opens in the page at its quality", T, async () => {
    const bytes = fs.readFileSync(files.cli20);
    const s = await page.evaluate((b) => window.aecodec.loadFile(new Uint8Array(b), { name: 'cli-q20.aec' }),
                                  Array.from(bytes));
    assert.equal(s.error, '');
    assert.equal(s.result.quality, 20);
    assert.equal(s.result.bytes, bytes.length);
    assert.ok(s.result.has_reference);
    const dec = cliNumbers(cli(['decode', files.cli20, '-m', modelFile(MODEL), '-o', path.join(outDir, 'cli-q20.png'),
                                '--reference', files.image]));
    assert.ok(Math.abs(s.result.psnr - dec.psnr) <= PSNR_TOL, `page ${s.result.psnr} dB, CLI ${dec.psnr}`);
  });

  test('a target size gives a file no larger than the target, as aecodec encode --size does', T, async () => {
    const target = Math.round((runs[20].bytes + runs[80].bytes) / 2);
    const r = await page.evaluate(([n, t]) => window.aecodec.encode({ model: n, backend: 'core', size: t }),
                                  [MODEL, target]);
    assert.ok(r.bytes <= target, `${r.bytes} bytes for a target of ${target}`);
    assert.equal(r.target_bytes, target);
    assert.ok(r.trials > 2 && r.trials <= 12, `${r.trials} trials`);
    assert.ok(r.quality >= 1 && r.quality <= 100);
    assert.equal((await state()).quality, r.quality, 'the slider moves to the quality found');
    const enc = cliNumbers(cli(['encode', files.image, '-m', modelFile(MODEL), '--size', String(target),
                                '-o', path.join(outDir, `cli-${MODEL}-size.aec`)]));
    assert.ok(Math.abs(r.bytes - enc.bytes) <= SIZE_TOL * enc.bytes, `page ${r.bytes} bytes, CLI ${enc.bytes}`);
    if (r.bytes === enc.bytes) assert.equal(r.quality, enc.quality, 'the same quality as the CLI');
    assert.match(await page.locator('#summary').textContent(), new RegExp(`for at most ${target} bytes`));

    // What cannot be done is refused with the reason.
    await assert.rejects(page.evaluate((n) => window.aecodec.encode({ model: n, size: 10 }), MODEL),
                         /cannot fit the image in 10 bytes/);
    await assert.rejects(page.evaluate(() => window.aecodec.encode({ model: 'test-factorized', size: 3000 })),
                         /single-rate/);
    await assert.rejects(page.evaluate(() => window.aecodec.encode({ model: 'test-factorized', quality: 50 })),
                         /single-rate: it has no quality knob/);
    await assert.rejects(page.evaluate((n) => window.aecodec.encode({ model: n, quality: 0 }), MODEL),
                         /quality must be a number from 1 to 100/);
    await assert.rejects(page.evaluate((n) => window.aecodec.encode({ model: n, quality: 30, size: 3000 }), MODEL),
                         /a quality or a size, not both/);
    // A single-rate model still codes as before.
    const f = await page.evaluate(() => window.aecodec.encode({ model: 'test-factorized', backend: 'core' }));
    assert.equal(f.quality, null);
  });

  test('the slider and the size field drive the encoder', T, async () => {
    let s = await selectDrawn({ model: MODEL, backend: 'core', effort: 0, quality: 50 });
    // A click at the slider's right end: quality 100, and releasing it encodes.
    let [x0, y0, x1, y1] = s.controls.quality;
    let done = s.completed;
    await click(x1 - 2, (y0 + y1) / 2);
    await uiJob(done);
    s = await state();
    assert.equal(s.quality, 100);
    assert.equal(s.result.quality, 100);
    assert.equal(s.error, '');
    // ... and at its left end: quality 1, a smaller file.
    done = s.completed;
    await click(x0 + 2, (y0 + y1) / 2);
    await uiJob(done);
    s = await state();
    assert.equal(s.result.quality, 1);
    assert.ok(s.result.bytes < runs[80].bytes);
    // The target-size field: type a size, Enter.
    const target = Math.round((runs[20].bytes + runs[80].bytes) / 2);
    [x0, y0, x1, y1] = s.controls.target_size;
    await click((x0 + x1) / 2, (y0 + y1) / 2);
    done = s.completed;
    await page.keyboard.type(String(target), { delay: 30 });
    await key('Enter');
    await uiJob(done);
    s = await state();
    assert.equal(s.error, '');
    assert.equal(s.result.target_bytes, target);
    assert.ok(s.result.bytes <= target, `${s.result.bytes} bytes for a target of ${target}`);
    assert.equal(s.quality, s.result.quality);
    await page.mouse.move(0, 0);
    await screenshot(page, 'q03-size-target');
  });

  test("the ONNX Runtime backend applies the quality's gains around its graphs", T, async (t) => {
    const m = (await state()).models.find((x) => x.name === MODEL);
    if (!m.onnx) {
      t.skip('no ONNX graphs for the channel model in the site (build aecodec-onnx, then restage)');
      return;
    }
    for (const q of [20, 80]) {
      const core = await page.evaluate(([n, qq]) => window.aecodec.encode({ model: n, backend: 'core', quality: qq }),
                                       [MODEL, q]);
      const ort = await page.evaluate(() => window.aecodec.encode({ backend: 'ort' }));
      assert.equal(ort.backend, 'ort');
      assert.equal(ort.quality, q);
      assert.ok(Math.abs(ort.psnr - core.psnr) <= ORT_TOL.psnr_db, `quality ${q}: PSNR ${ort.psnr} vs ${core.psnr}`);
      assert.ok(Math.abs(ort.bytes - core.bytes) <= ORT_TOL.rate * core.bytes,
                `quality ${q}: ${ort.bytes} vs ${core.bytes} bytes`);
      const f = path.join(outDir, `page-${MODEL}-ort-q${q}.aec`);
      fs.writeFileSync(f, await pageBytes());
      const dec = cliNumbers(cli(['decode', f, '-m', modelFile(MODEL), '-o', path.join(outDir, `ort-q${q}.png`),
                                  '--reference', files.image]));
      assert.ok(Math.abs(dec.psnr - ort.psnr) <= ORT_TOL.psnr_db, `quality ${q}: CLI ${dec.psnr} vs ${ort.psnr}`);
    }
    // The size search encodes many times: the C++ core only.
    await assert.rejects(page.evaluate(() => window.aecodec.encode({ size: 3000 })), /C\+\+ core/);
    await page.evaluate(() => window.aecodec.select({ backend: 'core' }));
  });
});

describe('a codec: one quality knob over two member networks', () => {
  const fetchedB = () => requested.some((u) => u.endsWith('/models/test-codec-b.aem'));
  const member = async (k) => (await state()).models.find((x) => x.name === CODEC).codec.members[k];
  const codecRuns = {};

  test('the default quality\'s member comes with the page; quality 20 has the CLI\'s size and does not fetch the other', T,
       async () => {
    const m = (await state()).models.find((x) => x.name === CODEC);
    assert.ok(m, `${CODEC} staged (web/stage.mjs --test-models)`);
    assert.equal(m.state, 'loaded', m.error);
    assert.equal(m.variable_rate, true);
    assert.equal(m.default_quality, 40);
    assert.deepEqual(m.group, { kind: 'codec', name: CODEC });
    assert.deepEqual(m.codec.members.map((x) => [x.name, x.quality]),
                     [['test-codec-a', [1, HANDOVER]], ['test-codec-b', [HANDOVER, 100]]]);
    assert.equal(m.codec.members[0].state, 'loaded');
    assert.equal(m.codec.members[1].state, 'idle', 'the wider member waits until the knob needs it');
    const r = await page.evaluate((n) => window.aecodec.encode({ model: n, backend: 'core', quality: 20 }), CODEC);
    assert.equal(r.model, CODEC);
    assert.equal(r.member, 'test-codec-a');
    assert.equal(r.quality, 20);
    const enc = cliNumbers(cli(['encode', files.image, '-m', modelFile(CODEC), '-q', '20',
                                '-o', path.join(outDir, 'cli-codec-q20.aec')]));
    assert.ok(Math.abs(r.bytes - enc.bytes) <= SIZE_TOL * enc.bytes, `quality 20: page ${r.bytes} bytes, CLI ${enc.bytes}`);
    codecRuns[20] = r;
    assert.equal((await member(1)).state, 'idle');
    assert.ok(!fetchedB(), 'test-codec-b.aem not fetched for quality 20');
  });

  test('the slider past the hand-over fetches the other member, shows it, and encodes with it', T, async () => {
    let s = await selectDrawn({ model: CODEC, backend: 'core', effort: 0, quality: 20 });
    assert.equal(s.member, 'test-codec-a');
    const [x0, y0, x1, y1] = s.controls.quality;
    const done = s.completed;
    // A click at quality ~80: the slider's drag starts the download, its release the encode.
    await click(x0 + (x1 - x0) * 0.8, (y0 + y1) / 2);
    await uiJob(done);
    s = await state();
    assert.equal(s.error, '');
    assert.ok(s.quality > HANDOVER, `quality ${s.quality}`);
    assert.equal(s.member, 'test-codec-b');
    assert.equal(s.result.member, 'test-codec-b');
    assert.ok(fetchedB(), 'test-codec-b.aem fetched once the slider went past the hand-over');
    assert.equal((await member(1)).state, 'loaded');
    assert.ok(page.aecLog.every((l) => !/pageerror/.test(l)), page.aecLog.join('\n'));
    await screenshot(page, 'q05-codec-wide-member');
  });

  test("the ONNX Runtime backend runs the graphs of the quality's member on both sides of the hand-over, each " +
       'fetched when first needed', T, async (t) => {
    const m = (await state()).models.find((x) => x.name === CODEC);
    if (!m.onnx) {
      t.skip('no ONNX graphs for the codec\'s members in the site (build aecodec-onnx, then restage)');
      return;
    }
    assert.deepEqual(m.codec.members.map((x) => x.onnx), [true, true]);
    const graphs = (name) => requested.filter((u) => new RegExp(`/models/${name}\\.(en|de)coder\\.onnx$`).test(u)).length;
    assert.deepEqual([graphs('test-codec-a'), graphs('test-codec-b')], [0, 0], 'no graphs before the backend runs');
    for (const [q, name] of [[20, 'test-codec-a'], [80, 'test-codec-b']]) {
      const core = await page.evaluate(([n, qq]) => window.aecodec.encode({ model: n, backend: 'core', quality: qq }),
                                       [CODEC, q]);
      const ort = await page.evaluate(() => window.aecodec.encode({ backend: 'ort' }));
      assert.equal(ort.backend, 'ort');
      assert.equal(ort.model, CODEC);
      assert.equal(ort.quality, q);
      assert.equal(ort.member, name, `quality ${q}: the member the core's mapping picks`);
      assert.equal(ort.model_id, core.model_id);
      const s = await state();
      assert.equal(s.error, '');
      assert.ok(s.agreement, `quality ${q}: both backends ran on the same image, codec and quality`);
      assert.ok(Math.abs(ort.psnr - core.psnr) <= ORT_TOL.psnr_db, `quality ${q}: PSNR ${ort.psnr} vs ${core.psnr}`);
      assert.ok(Math.abs(ort.bytes - core.bytes) <= ORT_TOL.rate * core.bytes,
                `quality ${q}: ${ort.bytes} vs ${core.bytes} bytes`);
      // The file is the member's at its own quality: the CLI decodes it with the codec (and the member alone).
      const f = path.join(outDir, `page-${CODEC}-ort-q${q}.aec`);
      fs.writeFileSync(f, await pageBytes());
      const dec = cliNumbers(cli(['decode', f, '-m', modelFile(CODEC), '-o', path.join(outDir, `codec-ort-q${q}.png`),
                                  '--reference', files.image]));
      assert.ok(Math.abs(dec.psnr - ort.psnr) <= ORT_TOL.psnr_db, `quality ${q}: CLI ${dec.psnr} vs ${ort.psnr}`);
      assert.match(cli(['info', f]), new RegExp(`^model:\\s+${name}$`, 'm'));
      // Only the graphs of the members the knob has needed so far.
      assert.deepEqual([graphs('test-codec-a') > 0, graphs('test-codec-b') > 0], [true, q > HANDOVER],
                       `quality ${q}: graphs fetched`);
    }
    await screenshot(page, 'q06-codec-ort');
    await page.evaluate(() => window.aecodec.select({ backend: 'core' }));
  });

  test("quality 80 (the other member) has the CLI's size; a size target searches the whole knob", T, async () => {
    const r = await page.evaluate((n) => window.aecodec.encode({ model: n, backend: 'core', quality: 80 }), CODEC);
    assert.equal(r.member, 'test-codec-b');
    assert.equal(r.quality, 80);
    const cliAec = path.join(outDir, 'cli-codec-q80.aec');
    const enc = cliNumbers(cli(['encode', files.image, '-m', modelFile(CODEC), '-q', '80', '-o', cliAec]));
    assert.ok(Math.abs(r.bytes - enc.bytes) <= SIZE_TOL * enc.bytes, `quality 80: page ${r.bytes} bytes, CLI ${enc.bytes}`);
    codecRuns[80] = r;
    // A target between quality 80's size and quality 100's lands in the wider member's span.
    const top = await page.evaluate((n) => window.aecodec.encode({ model: n, backend: 'core', quality: 100 }), CODEC);
    const target = Math.round((r.bytes + top.bytes) / 2);
    const fit = await page.evaluate(([n, t]) => window.aecodec.encode({ model: n, backend: 'core', size: t }),
                                    [CODEC, target]);
    const sized = cliNumbers(cli(['encode', files.image, '-m', modelFile(CODEC), '--size', String(target),
                                  '-o', path.join(outDir, 'cli-codec-size.aec')]));
    assert.ok(fit.bytes <= target, `${fit.bytes} bytes for ${target}`);
    assert.ok(fit.quality > HANDOVER, `quality ${fit.quality}`);
    assert.equal(fit.member, 'test-codec-b');
    assert.equal(fit.bytes, sized.bytes, 'the CLI\'s size search finds the same file');
    assert.equal(fit.quality, sized.quality);
    // A CLI file of the wider member opens in the codec at its knob quality.
    const bytes = fs.readFileSync(cliAec);
    const s = await page.evaluate((b) => window.aecodec.loadFile(new Uint8Array(b), { name: 'cli-codec-q80.aec' }),
                                  Array.from(bytes));
    assert.equal(s.error, '');
    assert.equal(s.result.model, CODEC);
    assert.equal(s.result.member, 'test-codec-b');
    assert.equal(s.result.quality, 80);
  });
});
