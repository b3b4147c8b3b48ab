// Tests of the page package (packages/aecodec) in Node: createCodec({model}) with a random-weight
// variable-rate test model (make_test_model ... channel ... knob=50) encodes a small image to the same bytes as
// `aecodec encode -q` (from an ImageData-like RGBA object and from the PNG file's bytes), at a target size as
// `aecodec encode --size`, and decodes the file to the pixels `aecodec decode` writes (within one level where
// the WebAssembly and native float kernels round differently); the latent entries (decode's latent and bits,
// encodeLatent / decodeLatent for other runtimes' transforms), progress and cancelling. Node has no Worker
// global, so the core runs in the test's thread (the same core.js the page's Worker runs). In headless
// Chromium: the same bytes through the package's module Worker, and the example page; on a cross-origin
// isolated page the threaded build, whose files and pixels are the single-threaded build's. A codec manifest
// (two random-weight variable-rate channel models behind one knob, as models/channel.codec.json): the CLI's
// bytes on both sides of the hand-over and for a size target in the upper member's span, members fetched only
// when a call needs them, a file of the upper member decoded by a fresh codec, the latent entries of the
// ONNX backend (memberFor; encodeLatent and decodeLatent at the knob's quality are the member's at its own), a
// malformed manifest refused with the core's message; in Chromium the same through the Worker, the members
// fetched beside the manifest's URL.
// Needs build/release (aecodec, make_test_model) and wasm/build.sh (packages/aecodec/dist). Run with
// tests/web/run.sh, or on its own: node --test tests/web/package.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import http from 'node:http';

import { encodePng, makePicture } from '../../web/tools/make-sample.mjs';
import { launch } from './browser.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const CLI = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const MAKE_MODEL = path.join(root, 'build', 'release', 'tests', 'make_test_model');
const PKG = path.join(root, 'packages', 'aecodec');
const T = { timeout: 120000 };
const W = 163, H = 101;  // not a multiple of the stride: the core pads and crops
let dir, model, png, rgb;
// The test codec: tcodec-a serves knob quality 1-60, tcodec-b (wider) 60-100.
const HANDOVER = 60;
let codecDir, codecManifest;

// An 8-bit RGB or RGBA PNG as stb_image_write writes it (any filter, not interlaced) -> RGB bytes.
function readPng(buf) {
  const w = buf.readUInt32BE(16), h = buf.readUInt32BE(20), type = buf[25];
  assert.equal(buf[24], 8);
  const ch = { 2: 3, 6: 4 }[type];
  assert.ok(ch, `PNG colour type ${type}`);
  const idat = [];
  for (let o = 8; o < buf.length;) {
    const n = buf.readUInt32BE(o), t = buf.toString('ascii', o + 4, o + 8);
    if (t === 'IDAT') idat.push(buf.subarray(o + 8, o + 8 + n));
    o += 12 + n;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat)), stride = w * ch, out = Buffer.alloc(stride * h);
  for (let y = 0; y < h; ++y) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; ++x) {
      const a = x >= ch ? out[y * stride + x - ch] : 0, b = y ? out[(y - 1) * stride + x] : 0;
      const c = x >= ch && y ? out[(y - 1) * stride + x - ch] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f];
      out[y * stride + x] = (line[x] + pred) & 255;
    }
  }
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; ++i) out.copy(px, i * 3, i * ch, i * ch + 3);
  return { width: w, height: h, rgb: px };
}
const cli = (args) => execFileSync(CLI, args, { encoding: 'utf8' });
function rgba(rgb3, w, h) {
  const d = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; ++i) d.set(rgb3.subarray(i * 3, i * 3 + 3), i * 4), d[i * 4 + 3] = 255;
  return d;
}

before(() => {
  for (const f of [CLI, MAKE_MODEL, path.join(PKG, 'dist', 'aecodec-core.wasm')])
    assert.ok(fs.existsSync(f), `${f} (cmake --build build/release; wasm/build.sh)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aec-package-'));
  model = path.join(dir, 'knob.aem');
  execFileSync(MAKE_MODEL, [model, 'channel', 'test-knob', '3', 'm=16', 'knob=50'], { stdio: 'ignore' });
  rgb = makePicture(W, H, 5);
  png = encodePng(rgb, W, H);
  fs.writeFileSync(path.join(dir, 'in.png'), png);
  cli(['encode', path.join(dir, 'in.png'), '-m', model, '-q', '20', '-o', path.join(dir, 'chromium-q20.aec')]);
  codecDir = path.join(dir, 'codec');
  fs.mkdirSync(codecDir);
  execFileSync(MAKE_MODEL, [path.join(codecDir, 'tcodec-a.aem'), 'channel', 'tcodec-a', '3', 'm=16', 'knob=50'],
               { stdio: 'ignore' });
  execFileSync(MAKE_MODEL, [path.join(codecDir, 'tcodec-b.aem'), 'channel', 'tcodec-b', '3', 'n=32', 'm=32', 'knob=50'],
               { stdio: 'ignore' });
  codecManifest = path.join(codecDir, 'tcodec.codec.json');
  fs.writeFileSync(codecManifest, JSON.stringify({
    format: 'aecodec-codec', version: 1, name: 'tcodec', description: 'two members', default_quality: 40,
    members: [{ model: 'tcodec-a', quality: [1, HANDOVER], model_quality: [1, HANDOVER] },
              { model: 'tcodec-b', quality: [HANDOVER, 100], model_quality: [1, 100] }] }));
  for (const q of [30, 90, 100])
    cli(['encode', path.join(dir, 'in.png'), '-m', codecManifest, '-q', String(q), '-o', path.join(dir, `codec-q${q}.aec`)]);
});
const codecFile = (q) => fs.readFileSync(path.join(dir, `codec-q${q}.aec`));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('packages/aecodec in Node', () => {
  test('package.json: an ES module package that npm can install from its folder', T, () => {
    const p = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
    assert.equal(p.name, 'aecodec');
    assert.equal(p.type, 'module');
    for (const f of p.files) assert.ok(fs.existsSync(path.join(PKG, f)), f);
  });

  test('encode gives the CLI\'s bytes at a quality and for a size; decode gives the CLI\'s pixels', T, async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const codec = await createCodec({ model });
    assert.equal(codec.info.name, 'test-knob');
    assert.equal(codec.info.variable_rate, true);
    assert.equal(codec.info.default_quality, 50);
    const image = { width: W, height: H, data: rgba(rgb, W, H) };
    let last = 0;
    const sizes = [];
    for (const q of [20, 80]) {
      const cliAec = path.join(dir, `q${q}.aec`);
      cli(['encode', path.join(dir, 'in.png'), '-m', model, '-q', String(q), '-o', cliAec]);
      const want = fs.readFileSync(cliAec);
      const fromPixels = await codec.encode(image, { quality: q });
      assert.ok(fromPixels instanceof Uint8Array);
      assert.equal(fromPixels.quality, q);
      assert.ok(Buffer.from(fromPixels).equals(want), `quality ${q}: ${fromPixels.length} bytes, CLI ${want.length}`);
      const fromFile = await codec.encode(png, { quality: q });
      assert.ok(Buffer.from(fromFile).equals(want), `quality ${q} from the PNG's bytes`);
      assert.ok(want.length > last, 'more bytes at a higher quality');
      last = want.length;
      sizes.push(want.length);
      // Decode: the CLI's pixels.
      const out = await codec.decode(fromPixels);
      assert.equal(out.width, W);
      assert.equal(out.height, H);
      assert.equal(out.data.length, W * H * 4);
      const cliPng = path.join(dir, `q${q}.png`);
      cli(['decode', cliAec, '-m', model, '-o', cliPng]);
      const ref = readPng(fs.readFileSync(cliPng));
      assert.equal(ref.width, W);
      const mine = Buffer.alloc(W * H * 3);
      for (let i = 0; i < W * H; ++i) mine.set(out.data.subarray(i * 4, i * 4 + 3), i * 3), assert.equal(out.data[i * 4 + 3], 255);
      let maxDiff = 0, differ = 0;
      for (let i = 0; i < mine.length; ++i) {
        const d = Math.abs(mine[i] - ref.rgb[i]);
        maxDiff = Math.max(maxDiff, d), differ += d > 0;
      }
      // The WebAssembly and native float kernels differ in the last bits: a pixel near a rounding boundary may
      // come out one level apart (as the page's decodes; web/API.md).
      assert.ok(maxDiff <= 1 && differ <= mine.length / 1000,
                `quality ${q}: the CLI's pixels (max difference ${maxDiff}, ${differ} of ${mine.length} values differ)`);
    }
    // A target size, as `aecodec encode --size`.
    const target = Math.round((sizes[0] + sizes[1]) / 2);  // between quality 20's and 80's
    const cliAec = path.join(dir, 'size.aec');
    cli(['encode', path.join(dir, 'in.png'), '-m', model, '--size', String(target), '-o', cliAec]);
    const fit = await codec.encode(image, { size: target });
    assert.ok(fit.length <= target);
    assert.ok(Buffer.from(fit).equals(fs.readFileSync(cliAec)), 'the size search finds the CLI\'s file');
    // Errors reject with the core's message; a closed codec refuses.
    await assert.rejects(codec.decode(new Uint8Array([1, 2, 3])), /\S/);
    await assert.rejects(codec.encode({ width: 2, height: 2, data: new Uint8Array(5) }), /RGBA or RGB/);
    codec.close();
    await assert.rejects(codec.encode(image), /closed/);
  });

  test('the latent: decode gives it with its bits; encodeLatent and decodeLatent make and read the same files', T,
       async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const image = { width: W, height: H, data: rgba(rgb, W, H) };
    const fact = path.join(dir, 'fact.aem');
    execFileSync(MAKE_MODEL, [fact, 'factorized', 'test-fact', '3'], { stdio: 'ignore' });
    for (const [file, options] of [[fact, {}], [model, { quality: 35 }]]) {
      const codec = await createCodec({ model: file });
      const aec = await codec.encode(image, options);
      const d = await codec.decode(aec, { latent: true });
      const l = d.latent, s = codec.info.stride;
      assert.deepEqual([l.channels, l.height, l.width], [codec.info.latent_channels, Math.ceil(H / s), Math.ceil(W / s)]);
      assert.equal(l.data.length, l.channels * l.height * l.width);
      assert.equal(d.channelBits.length, l.channels);
      const bits = d.channelBits.reduce((a, b) => a + b, 0);
      assert.ok(bits > 0 && bits / 8 <= aec.length, `${bits} bits in ${aec.length} bytes`);
      assert.ok(d.timings.total_ms >= 0 && aec.timings.total_ms >= 0);
      // The decoder graph's input (a variable-rate model's: the latent times the inverse gains), and back
      // through the encoder's side: the same file.
      const dl = await codec.decodeLatent(aec);
      assert.deepEqual([dl.width, dl.height, dl.quality], [W, H, aec.quality]);
      assert.deepEqual(dl.channelBits, d.channelBits);
      if (!codec.info.variable_rate) assert.deepEqual(dl.latent.data, l.data);
      const again = await codec.encodeLatent(dl.latent, image, options);
      assert.ok(Buffer.from(again).equals(Buffer.from(aec)), `${codec.info.name}: encodeLatent remakes the file`);
      await assert.rejects(codec.encodeLatent({ ...dl.latent, height: dl.latent.height - 1,
                                                data: dl.latent.data.subarray(dl.latent.channels * dl.latent.width) },
                                              image, options), /latent is/);
      codec.close();
    }
  });

  test('progress of a slow encode (refinement, effort > 0), and a signal that stops it', T, async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const image = { width: W, height: H, data: rgba(rgb, W, H) };
    const options = { quality: 35 };
    const codec = await createCodec({ model });
    const seen = [];
    await codec.encode(image, { ...options, effort: 2, onProgress: (f) => seen.push(f) });
    assert.ok(seen.length > 1 && seen.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= seen[i - 1])), `${seen}`);
    const ac = new AbortController();
    await assert.rejects(codec.encode(image, { ...options, effort: 2, signal: ac.signal,
                                               onProgress: (f) => f > 0 && ac.abort() }), { name: 'AbortError' });
    codec.close();
  });

  test('two codecs are independent (no module-level state)', T, async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const a = await createCodec({ model }), b = await createCodec({ model: fs.readFileSync(model) });
    const image = { width: W, height: H, data: rgba(rgb, W, H) };
    const [x, y] = await Promise.all([a.encode(image, { quality: 30 }), b.encode(image, { quality: 30 })]);
    assert.ok(Buffer.from(x).equals(Buffer.from(y)));
    a.close();
    assert.equal((await b.decode(y)).width, W, 'closing one leaves the other working');
    b.close();
  });
});

describe('packages/aecodec with a codec manifest, in Node', () => {
  test('the CLI\'s bytes on both sides of the hand-over, each member fetched when first needed', T, async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const fetched = [];
    const codec = await createCodec({ model: codecManifest,
                                      members: (name) => (fetched.push(name), path.join(codecDir, `${name}.aem`)) });
    assert.equal(codec.info.kind, 'codec');
    assert.equal(codec.info.name, 'tcodec');
    assert.equal(codec.info.default_quality, 40);
    assert.deepEqual(codec.info.members, [
      { name: 'tcodec-a', quality: [1, HANDOVER], model_quality: [1, HANDOVER] },
      { name: 'tcodec-b', quality: [HANDOVER, 100], model_quality: [1, 100] }]);
    assert.deepEqual(fetched, [], 'no member before a call needs one');
    const image = { width: W, height: H, data: rgba(rgb, W, H) };
    const q30 = await codec.encode(image, { quality: 30 });
    assert.ok(Buffer.from(q30).equals(codecFile(30)), `quality 30: ${q30.length} bytes, CLI ${codecFile(30).length}`);
    assert.deepEqual([q30.quality, q30.model, q30.modelQuality], [30, 'tcodec-a', 30]);
    assert.deepEqual(fetched, ['tcodec-a'], 'quality 30 needs the lower member only');
    const q90 = await codec.encode(png, { quality: 90 });
    assert.ok(Buffer.from(q90).equals(codecFile(90)), `quality 90: ${q90.length} bytes, CLI ${codecFile(90).length}`);
    assert.deepEqual([q90.quality, q90.model, q90.modelQuality], [90, 'tcodec-b', 75.25]);
    assert.deepEqual(fetched, ['tcodec-a', 'tcodec-b']);
    const back = await codec.decode(q90);
    assert.deepEqual([back.width, back.height, back.quality, back.model, back.modelQuality], [W, H, 90, 'tcodec-b', 75.25]);
    await assert.rejects(codec.encode(image, { quality: 101 }), /quality must be a number from 1 to 100/);
    codec.close();
  });

  test('a size target searches the whole knob (the CLI\'s --size), landing in the upper member\'s span', T, async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const target = Math.round((codecFile(90).length + codecFile(100).length) / 2);
    const cliAec = path.join(dir, 'codec-size.aec');
    const out = cli(['encode', path.join(dir, 'in.png'), '-m', codecManifest, '--size', String(target), '-o', cliAec]);
    const codec = await createCodec({ model: codecManifest });  // members beside the manifest's path
    const fit = await codec.encode({ width: W, height: H, data: rgba(rgb, W, H) }, { size: target });
    assert.ok(Buffer.from(fit).equals(fs.readFileSync(cliAec)), `${fit.length} bytes; CLI: ${out}`);
    assert.ok(fit.length <= target);
    assert.ok(fit.quality > HANDOVER, `quality ${fit.quality}`);
    assert.equal(fit.model, 'tcodec-b');
    assert.match(out, new RegExp(`quality ${fit.quality} `));
    codec.close();
  });

  test('a file of the upper member decodes with a codec made from the manifest (the CLI\'s pixels)', T, async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const fetched = [];
    const codec = await createCodec({ model: fs.readFileSync(codecManifest),
                                      members: { 'tcodec-b': fs.readFileSync(path.join(codecDir, 'tcodec-b.aem')),
                                                 get 'tcodec-a'() { fetched.push('tcodec-a'); return null; } } });
    const out = await codec.decode(codecFile(90));
    assert.deepEqual([out.width, out.height, out.quality, out.model], [W, H, 90, 'tcodec-b']);
    assert.deepEqual(fetched, [], 'the lower member is not needed');
    const cliPng = path.join(dir, 'codec-q90.png');
    cli(['decode', path.join(dir, 'codec-q90.aec'), '-o', cliPng, '-m', codecManifest]);
    const ref = readPng(fs.readFileSync(cliPng));
    let maxDiff = 0;
    for (let i = 0; i < W * H; ++i)
      for (let c = 0; c < 3; ++c) maxDiff = Math.max(maxDiff, Math.abs(out.data[i * 4 + c] - ref.rgb[i * 3 + c]));
    assert.ok(maxDiff <= 1, `max difference ${maxDiff}`);
    // A manifest given as bytes with no source for a member it needs says how to give one.
    const bare = await createCodec({ model: fs.readFileSync(codecManifest) });
    await assert.rejects(bare.decode(codecFile(30)), /member 'tcodec-a'.*\{members\}/);
    // A file no member made: the core's message.
    const other = await (await import(path.join(PKG, 'index.js'))).createCodec({ model });
    const foreign = await other.encode(png, { quality: 50 });
    await assert.rejects(codec.decode(foreign), /not a member of codec 'tcodec'/);
    other.close(), bare.close(), codec.close();
  });

  test('the latent entries of a codec: memberFor, and decodeLatent/encodeLatent remake the CLI\'s files on both sides', T,
       async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const fetched = [];
    const codec = await createCodec({ model: codecManifest,
                                      members: (name) => (fetched.push(name), path.join(codecDir, `${name}.aem`)) });
    const image = { width: W, height: H, data: rgba(rgb, W, H) };
    // The core's mapping, asked without fetching a member: a quality's member and its own quality, a file's.
    assert.deepEqual(await codec.memberFor({ quality: 30 }), { name: 'tcodec-a', quality: 30, modelQuality: 30 });
    assert.deepEqual(await codec.memberFor({ quality: 90 }), { name: 'tcodec-b', quality: 90, modelQuality: 75.25 });
    assert.deepEqual(await codec.memberFor({ quality: HANDOVER }), { name: 'tcodec-a', quality: HANDOVER,
                                                                      modelQuality: HANDOVER });
    assert.deepEqual(await codec.memberFor(), { name: 'tcodec-a', quality: 40, modelQuality: 40 });
    assert.deepEqual(await codec.memberFor(codecFile(90)), { name: 'tcodec-b' });
    await assert.rejects(codec.memberFor({ quality: 101 }), /quality must be a number from 1 to 100/);
    assert.deepEqual(fetched, [], 'memberFor fetches nothing');
    for (const [q, name, own] of [[30, 'tcodec-a', 30], [90, 'tcodec-b', 75.25]]) {
      // The member's decoder graph input for the CLI's file (its inverse gains at its own quality applied),
      // as the member's own model gives it; and back through the codec's encoder side at the knob's quality:
      // the file the member alone makes at its own quality, byte for byte.
      const dl = await codec.decodeLatent(codecFile(q));
      assert.deepEqual([dl.width, dl.height, dl.quality, dl.model, dl.modelQuality], [W, H, q, name, own]);
      assert.deepEqual(fetched, q === 30 ? ['tcodec-a'] : ['tcodec-a', 'tcodec-b'], `quality ${q}: members fetched`);
      const alone = await createCodec({ model: path.join(codecDir, `${name}.aem`) });
      const ref = await alone.decodeLatent(codecFile(q));
      assert.equal(ref.quality, own);
      assert.deepEqual(dl.latent, ref.latent);
      assert.deepEqual(dl.channelBits, ref.channelBits);
      const again = await codec.encodeLatent(dl.latent, image, { quality: q });
      assert.deepEqual([again.quality, again.model, again.modelQuality], [q, name, own]);
      const single = await alone.encodeLatent(ref.latent, image, { quality: own });
      assert.ok(Buffer.from(again).equals(Buffer.from(single)), `quality ${q}: the member's file at its own quality`);
      const back = await codec.decode(again);
      assert.deepEqual([back.quality, back.model, back.modelQuality], [q, name, own]);
      // Where the side information of the decoded latent quantises as the encoder's did (the lower member
      // here, as the model's own test above), the CLI's file itself.
      if (q === 30) assert.ok(Buffer.from(again).equals(codecFile(q)), 'encodeLatent remakes the CLI\'s file');
      alone.close();
    }
    // The other member's latent at a quality it does not serve: the shapes differ, the core says so.
    const a30 = await codec.decodeLatent(codecFile(30));
    await assert.rejects(codec.encodeLatent(a30.latent, image, { quality: 90 }), /latent is/);
    codec.close();
    // A fresh codec: the upper member's file and its latent need that member only.
    const fresh = [];
    const c2 = await createCodec({ model: codecManifest,
                                   members: (name) => (fresh.push(name), path.join(codecDir, `${name}.aem`)) });
    const dl = await c2.decodeLatent(codecFile(100));
    assert.deepEqual([dl.quality, dl.model], [100, 'tcodec-b']);
    assert.equal((await c2.encodeLatent(dl.latent, image, { quality: 100 })).model, 'tcodec-b');
    assert.deepEqual(fresh, ['tcodec-b'], 'the lower member is not needed');
    c2.close();
  });

  test('a malformed manifest is refused with the core\'s message; a member that is another model too', T, async () => {
    const { createCodec } = await import(path.join(PKG, 'index.js'));
    const doc = JSON.parse(fs.readFileSync(codecManifest, 'utf8'));
    const bad = (d) => createCodec({ model: new TextEncoder().encode(typeof d === 'string' ? d : JSON.stringify(d)) });
    await assert.rejects(bad({ ...doc, members: [doc.members[0], { ...doc.members[1], quality: [70, 100] }] }),
                         /codec manifest: member 'tcodec-b' must start where the one before it ends/);
    await assert.rejects(bad({ ...doc, version: 7 }), /codec manifest: version 7 is not supported/);
    await assert.rejects(bad('{"format": "aecodec-codec", '), /codec manifest: not valid JSON/);
    const swapped = await createCodec({ model: codecManifest,
                                        members: { 'tcodec-a': path.join(codecDir, 'tcodec-b.aem') } });
    await assert.rejects(swapped.encode(png, { quality: 30 }), /member 'tcodec-a' loaded a model named 'tcodec-b'/);
    swapped.close();
  });
});

// A static server of the package's folder (the files a page would get after `npm install`); `isolated`: with
// the headers that make a page cross-origin isolated (COOP + COEP, as web/serve.mjs sends), so that it may
// run the threaded build.
function servePackage({ isolated = false } = {}) {
  const types = { '.js': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm' };
  const coi = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
                           'Cross-Origin-Resource-Policy': 'same-origin' } : {};
  const server = http.createServer((req, res) => {
    // /codec/: the test codec's manifest and members (codecDir).
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const base = url.startsWith('/codec/') ? codecDir : PKG;
    const file = path.join(base, url.startsWith('/codec/') ? url.slice('/codec'.length) : url);
    if (!file.startsWith(base + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', ...coi });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ url: `http://127.0.0.1:${server.address().port}/`, stop: () => server.close() })));
}

// The package's example page in headless Chromium, served by servePackage(options), with the Workers it
// starts and its console collected.
async function openExample(options = {}) {
  const server = await servePackage(options);
  const browser = await launch({ width: 1000, height: 700 });
  const page = await browser.context.newPage();
  const workers = [], log = [], requests = [];
  page.on('worker', (w) => workers.push(w.url()));
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  await page.goto(server.url + 'example/index.html');
  return { server, browser, page, workers, log, requests };
}

describe('packages/aecodec in Chromium', () => {
  let server, browser, page, workers, log, requests;
  before(async () => ({ server, browser, page, workers, log, requests } = await openExample()));
  after(async () => {
    await browser?.close();
    server?.stop();
  });

  test('createCodec runs the core in a module Worker and gives the CLI\'s bytes', T, async () => {
    const cliAec = path.join(dir, 'chromium-q20.aec');
    cli(['encode', path.join(dir, 'in.png'), '-m', model, '-q', '20', '-o', cliAec]);
    const r = await page.evaluate(async ({ m, px, w, h }) => {
      const { createCodec } = await import('/index.js');
      const codec = await createCodec({ model: new Uint8Array(m) });
      const data = new Uint8ClampedArray(w * h * 4);
      for (let i = 0; i < w * h; ++i) data.set(px.slice(i * 3, i * 3 + 3), i * 4), data[i * 4 + 3] = 255;
      const aec = await codec.encode(new ImageData(data, w, h), { quality: 20 });
      const back = await codec.decode(aec);
      const err = await codec.decode(new Uint8Array([1, 2, 3])).then(() => '', (e) => e.message);
      codec.close();
      return { bytes: Array.from(aec), quality: aec.quality, imageData: back instanceof ImageData,
               width: back.width, height: back.height, err };
    }, { m: Array.from(fs.readFileSync(model)), px: Array.from(rgb), w: W, h: H });
    assert.ok(workers.some((u) => u.endsWith('/worker.js')), `a Worker ran worker.js: ${workers}\n${log.join('\n')}`);
    assert.ok(Buffer.from(r.bytes).equals(fs.readFileSync(cliAec)), `${r.bytes.length} bytes, CLI ${fs.statSync(cliAec).size}`);
    assert.equal(r.quality, 20);
    assert.equal(r.imageData, true, 'decode gives an ImageData');
    assert.deepEqual([r.width, r.height], [W, H]);
    assert.ok(r.err.length > 0, 'a bad file rejects with the core\'s message');
  });

  test('a codec manifest by URL: members fetched beside it when first needed, the CLI\'s bytes through the Worker', T,
       async () => {
    const member = (n) => requests.filter((u) => u === `/codec/${n}.aem`).length;
    const r = await page.evaluate(async ({ px, w, h }) => {
      const { createCodec } = await import('/index.js');
      const codec = await createCodec({ model: '/codec/tcodec.codec.json' });
      const data = new Uint8ClampedArray(w * h * 4);
      for (let i = 0; i < w * h; ++i) data.set(px.slice(i * 3, i * 3 + 3), i * 4), data[i * 4 + 3] = 255;
      const image = new ImageData(data, w, h);
      const q30 = await codec.encode(image, { quality: 30 });
      window.tcodecAfter30 = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);
      const q90 = await codec.encode(image, { quality: 90 });
      const back = await codec.decode(q90);
      // The latent entries through the Worker: the member of a quality, the lower member's latent back to
      // its file, the upper member's file read by its member.
      const member90 = await codec.memberFor({ quality: 90 });
      const dl30 = await codec.decodeLatent(q30);
      const again30 = await codec.encodeLatent(dl30.latent, image, { quality: 30 });
      const dl90 = await codec.decodeLatent(q90);
      codec.close();
      return { info: codec.info, q30: Array.from(q30), q90: Array.from(q90), model90: q90.model,
               back: [back.width, back.height, back.quality, back.model], after30: window.tcodecAfter30,
               member90, again30: Array.from(again30), again30Model: again30.model,
               dl90: [dl90.quality, dl90.model, dl90.modelQuality, dl90.latent.channels] };
    }, { px: Array.from(rgb), w: W, h: H });
    assert.equal(r.info.kind, 'codec');
    assert.ok(Buffer.from(r.q30).equals(codecFile(30)), `quality 30: ${r.q30.length} bytes, CLI ${codecFile(30).length}`);
    assert.ok(Buffer.from(r.q90).equals(codecFile(90)), `quality 90: ${r.q90.length} bytes, CLI ${codecFile(90).length}`);
    assert.ok(r.after30.includes('/codec/tcodec-a.aem'), r.after30.join(' '));
    assert.ok(!r.after30.includes('/codec/tcodec-b.aem'), 'the upper member is not fetched for quality 30');
    assert.equal(r.model90, 'tcodec-b');
    assert.deepEqual(r.back, [W, H, 90, 'tcodec-b']);
    assert.deepEqual(r.member90, { name: 'tcodec-b', quality: 90, modelQuality: 75.25 });
    assert.ok(Buffer.from(r.again30).equals(codecFile(30)), 'encodeLatent remakes the lower member\'s file');
    assert.equal(r.again30Model, 'tcodec-a');
    assert.deepEqual(r.dl90, [90, 'tcodec-b', 75.25, 32]);
    assert.deepEqual([member('tcodec-a'), member('tcodec-b')], [1, 1], 'each member fetched once');
    assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
  });

  test('the example page encodes a chosen image with a chosen model', T, async () => {
    await page.setInputFiles('#model', model);
    await page.setInputFiles('#image', path.join(dir, 'in.png'));
    await page.waitForFunction(() => /bytes/.test(document.getElementById('status').textContent), null,
                               { timeout: 60000 });
    const status = await page.textContent('#status');
    const cliAec = path.join(dir, 'example-q50.aec');
    cli(['encode', path.join(dir, 'in.png'), '-m', model, '-q', '50', '-o', cliAec]);
    assert.match(status, new RegExp(`test-knob: ${fs.statSync(cliAec).size} bytes, [\\d.]+ bpp, quality 50`));
    assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
  });

  test('the example page takes a codec: its manifest chosen with its members\' files', T, async () => {
    await page.setInputFiles('#model', [codecManifest, path.join(codecDir, 'tcodec-a.aem'),
                                        path.join(codecDir, 'tcodec-b.aem')]);
    await page.waitForFunction(() => /tcodec-a: \d+ bytes/.test(document.getElementById('status').textContent), null,
                               { timeout: 60000 });
    const cliAec = path.join(dir, 'example-codec-q50.aec');
    cli(['encode', path.join(dir, 'in.png'), '-m', codecManifest, '-q', '50', '-o', cliAec]);
    assert.match(await page.textContent('#status'),
                 new RegExp(`tcodec-a: ${fs.statSync(cliAec).size} bytes, [\\d.]+ bpp, quality 50`));
    assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
  });
});

// In the page: codes the test image with createCodec(options) at quality 20 and decodes the file; also how
// many threads the codec runs on and whether the page is cross-origin isolated.
async function codeInPage(page, options) {
  return page.evaluate(async ({ m, px, w, h, options }) => {
    const { createCodec } = await import('/index.js');
    const codec = await createCodec({ model: new Uint8Array(m), ...options });
    const data = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; ++i) data.set(px.slice(i * 3, i * 3 + 3), i * 4), data[i * 4 + 3] = 255;
    const aec = await codec.encode(new ImageData(data, w, h), { quality: 20 });
    const back = await codec.decode(aec);
    codec.close();
    return { bytes: Array.from(aec), pixels: Array.from(back.data), threads: codec.threads,
             isolated: self.crossOriginIsolated };
  }, { m: Array.from(fs.readFileSync(model)), px: Array.from(rgb), w: W, h: H, options });
}

describe('packages/aecodec threaded (a cross-origin isolated page)', () => {
  let server, browser, page, workers, log;
  before(async () => ({ server, browser, page, workers, log } = await openExample({ isolated: true })));
  after(async () => {
    await browser?.close();
    server?.stop();
  });

  test('threads: the threaded build where the page is isolated, the same bytes and pixels as the single-threaded one', T,
       async () => {
    const cliAec = path.join(dir, 'chromium-q20.aec');
    const mt = await codeInPage(page, { threads: 3 });
    assert.equal(mt.isolated, true, 'the page is cross-origin isolated');
    assert.equal(mt.threads, 3, `the threaded build, 3 threads\n${log.join('\n')}`);
    assert.ok(workers.some((u) => u.endsWith('/dist/aecodec-core-mt.worker.js')), `pthreads ran: ${workers}`);
    const st = await codeInPage(page, { threads: 1 });
    assert.equal(st.threads, 1);
    assert.ok(Buffer.from(mt.bytes).equals(fs.readFileSync(cliAec)), 'threaded: the CLI\'s bytes');
    assert.ok(Buffer.from(st.bytes).equals(Buffer.from(mt.bytes)), 'single-threaded: the same bytes');
    assert.deepEqual(mt.pixels, st.pixels, 'and the same decoded pixels');
    const dflt = await codeInPage(page, {});
    assert.ok(dflt.threads >= 1 && Buffer.from(dflt.bytes).equals(Buffer.from(mt.bytes)), `default: ${dflt.threads} threads`);
    assert.ok(!log.some((l) => l.startsWith('pageerror')), log.join('\n'));
  });

  test('progress and cancelling: an aborted encode rejects, the codec goes on', T, async () => {
    const r = await page.evaluate(async ({ m, w, h }) => {
      const { createCodec } = await import('/index.js');
      const codec = await createCodec({ model: new Uint8Array(m), threads: 2 });
      const data = new Uint8ClampedArray(w * h * 4).map((_, i) => (i * 37 + (i >> 9)) & 255);
      const image = new ImageData(data, w, h);
      const seen = [];
      const ac = new AbortController();
      const cancelled = await codec.encode(image, {
        effort: 6, signal: ac.signal, onProgress: (f) => { seen.push(f); if (f > 0) ac.abort(); },
      }).then(() => 'finished', (e) => e.name);
      const after = await codec.encode(image, { quality: 30 });
      const again = await codec.encode(image, { quality: 30 });
      codec.close();
      return { seen, cancelled, bytes: after.length, same: after.every((b, i) => b === again[i]) };
    }, { m: Array.from(fs.readFileSync(model)), w: 256, h: 192 });
    assert.ok(r.seen.length > 0 && r.seen.every((f) => f >= 0 && f <= 1), `progress: ${r.seen}`);
    assert.equal(r.cancelled, 'AbortError');
    assert.ok(r.bytes > 0 && r.same, 'the codec codes on after a cancelled call');
  });
});

describe('packages/aecodec on a page that is not isolated', () => {
  let server, browser, page;
  before(async () => ({ server, browser, page } = await openExample()));
  after(async () => {
    await browser?.close();
    server?.stop();
  });

  test('threads fall back to the single-threaded build', T, async () => {
    const r = await codeInPage(page, { threads: 4 });
    assert.equal(r.isolated, false);
    assert.equal(r.threads, 1);
    const cliAec = path.join(dir, 'chromium-q20.aec');
    assert.ok(Buffer.from(r.bytes).equals(fs.readFileSync(cliAec)));
  });
});
