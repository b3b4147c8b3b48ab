// Photos in other colour spaces on the page: a JPEG or PNG with an embedded Display P3 ICC profile (an APP2
// segment, or several; a PNG iCCP chunk) is decoded by the browser with its colour management and comes out in
// sRGB, checked against colours computed from P3's primaries and against the native CLI's conversion (Little
// CMS); a broken profile is ignored with a note, the pixels read as stored. Run with tests/web/run.sh.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { encodePng } from '../../web/tools/make-sample.mjs';
import { launch, openDemo, outDir, root, startServer } from './browser.mjs';

const CLI = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const T = { timeout: 180000 };
let server, browser, page;

// ---- colour science, from the primaries alone ------------------------------------------------------------------

const D65 = [0.3127, 0.3290];
const D50_XYZ = [0.9642, 1.0, 0.8249];  // the ICC connection space's white
const P3 = [[0.680, 0.320], [0.265, 0.690], [0.150, 0.060]];
const SRGB = [[0.640, 0.330], [0.300, 0.600], [0.150, 0.060]];

const xyz = ([x, y]) => [x / y, 1, (1 - x - y) / y];
const mul = (m, v) => m.map((r) => r[0] * v[0] + r[1] * v[1] + r[2] * v[2]);
const mmul = (a, b) => a.map((r) => [0, 1, 2].map((j) => r[0] * b[0][j] + r[1] * b[1][j] + r[2] * b[2][j]));
function inv(m) {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [[A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
          [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
          [C / det, -(a * h - b * g) / det, (a * e - b * d) / det]];
}
// RGB (linear) -> XYZ of a D65 space with these primaries.
function toXyz(prim) {
  const cols = prim.map(xyz);
  const m = [0, 1, 2].map((i) => cols.map((c) => c[i]));
  const s = mul(inv(m), xyz(D65));
  return m.map((r) => r.map((v, j) => v * s[j]));
}
const lin = (v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const enc = (v) => (v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055);
// An 8-bit Display P3 colour in sRGB (both D65: no adaptation), clipped to sRGB's gamut.
function p3ToSrgb(rgb) {
  const m = mmul(inv(toXyz(SRGB)), toXyz(P3));
  return mul(m, rgb.map((v) => lin(v / 255))).map((v) => Math.round(255 * enc(Math.min(1, Math.max(0, v)))));
}

// ---- a Display P3 ICC profile (v4 matrix-shaper), as phones embed ----------------------------------------------

function p3Profile() {
  // Colorants adapted to D50 with the Bradford transform, as ICC requires.
  const BFD = [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]];
  const w65 = mul(BFD, xyz(D65)), w50 = mul(BFD, D50_XYZ);
  const adapt = mmul(inv(BFD), mmul([[w50[0] / w65[0], 0, 0], [0, w50[1] / w65[1], 0], [0, 0, w50[2] / w65[2]]], BFD));
  const m = mmul(adapt, toXyz(P3));
  const s15 = (v) => { const b = Buffer.alloc(4); b.writeInt32BE(Math.round(v * 65536)); return b; };
  const xyzTag = (v) => Buffer.concat([Buffer.from('XYZ \0\0\0\0', 'latin1'), ...v.map(s15)]);
  // parametricCurveType 3, sRGB's curve: Y = (aX + b)^g for X >= d, cX below.
  const para = Buffer.concat([Buffer.from('para\0\0\0\0', 'latin1'), Buffer.from([0, 3, 0, 0]),
                              ...[2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045].map(s15)]);
  const name = Buffer.from('Display P3 (page test)', 'utf16le').swap16();
  const desc = Buffer.concat([Buffer.from('mluc\0\0\0\0', 'latin1'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 12]),
                              Buffer.from('enUS', 'latin1'), Buffer.from([0, 0, name.length >> 8, name.length & 255]),
                              Buffer.from([0, 0, 0, 28]), name]);
  const tags = [['desc', desc], ['wtpt', xyzTag(D50_XYZ)], ['rXYZ', xyzTag([m[0][0], m[1][0], m[2][0]])],
                ['gXYZ', xyzTag([m[0][1], m[1][1], m[2][1]])], ['bXYZ', xyzTag([m[0][2], m[1][2], m[2][2]])],
                ['rTRC', para], ['gTRC', para], ['bTRC', para]];
  const pad4 = (b) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  let offset = 128 + 4 + 12 * tags.length;
  const table = [Buffer.alloc(4)], data = [];
  table[0].writeUInt32BE(tags.length);
  for (const [sig, body] of tags) {
    const e = Buffer.alloc(12);
    e.write(sig, 0, 'latin1');
    e.writeUInt32BE(offset, 4);
    e.writeUInt32BE(body.length, 8);
    table.push(e);
    data.push(pad4(body));
    offset += pad4(body).length;
  }
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.write('\x04\x40\0\0', 8, 'latin1');  // version 4.4
  header.write('mntrRGB XYZ ', 12, 'latin1');
  header.write('acsp', 36, 'latin1');
  D50_XYZ.forEach((v, i) => s15(v).copy(header, 68 + 4 * i));
  return Buffer.concat([header, ...table, ...data]);
}

// ---- files --------------------------------------------------------------------------------------------------------

// APP2 ICC_PROFILE segments of at most `piece` bytes of profile each, after the JPEG's SOI marker.
function jpegWithProfile(jpeg, profile, piece = 65519) {
  const n = Math.ceil(profile.length / piece), segs = [];
  for (let i = 0; i < n; i++) {
    const body = Buffer.concat([Buffer.from('ICC_PROFILE\0', 'latin1'), Buffer.from([i + 1, n]),
                                profile.subarray(i * piece, (i + 1) * piece)]);
    segs.push(Buffer.from([0xff, 0xe2, (body.length + 2) >> 8, (body.length + 2) & 255]), body);
  }
  return Buffer.concat([jpeg.subarray(0, 2), ...segs, jpeg.subarray(2)]);
}
const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b) {
  let c = 0xffffffff;
  for (const x of b) c = CRC[(c ^ x) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
// An iCCP chunk (name, 0, method 0, zlib stream) after the PNG's IHDR.
function pngWithProfile(png, profile) {
  const body = Buffer.concat([Buffer.from('P3\0\0', 'latin1'), zlib.deflateSync(profile)]);
  const chunk = Buffer.alloc(12 + body.length);
  chunk.writeUInt32BE(body.length, 0);
  chunk.write('iCCP', 4, 'latin1');
  body.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + body.length)), 8 + body.length);
  return Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
}

// The JPEG without its APP2 ICC_PROFILE segments (the browser's encoder embeds its sRGB profile).
function jpegWithoutProfile(jpeg) {
  const parts = [jpeg.subarray(0, 2)];
  let pos = 2;
  while (pos + 4 <= jpeg.length && jpeg[pos] === 0xff && jpeg[pos + 1] !== 0xda) {
    const len = jpeg.readUInt16BE(pos + 2);
    const icc = jpeg[pos + 1] === 0xe2 && jpeg.subarray(pos + 4, pos + 16).toString('latin1') === 'ICC_PROFILE\0';
    if (!icc) parts.push(jpeg.subarray(pos, pos + 2 + len));
    pos += 2 + len;
  }
  parts.push(jpeg.subarray(pos));
  return Buffer.concat(parts);
}
// The PNG without colour chunks (iCCP, sRGB, gAMA, cHRM).
function pngWithoutProfile(png) {
  const parts = [png.subarray(0, 8)];
  for (let pos = 8; pos + 12 <= png.length;) {
    const len = png.readUInt32BE(pos), type = png.subarray(pos + 4, pos + 8).toString('latin1');
    if (!['iCCP', 'sRGB', 'gAMA', 'cHRM'].includes(type)) parts.push(png.subarray(pos, pos + 12 + len));
    pos += 12 + len;
  }
  return Buffer.concat(parts);
}

// Flat 16x16 patches of these colours in a row, written by the browser as PNG and JPEG (best quality), with no
// profile.
const PATCHES = [[255, 0, 0], [200, 60, 60], [60, 160, 60], [50, 80, 200], [128, 128, 128], [230, 180, 40],
                 [20, 200, 220]];
async function patchFiles() {
  const r = await page.evaluate(async (patches) => {
    const c = new OffscreenCanvas(16 * patches.length, 16);
    const g = c.getContext('2d');
    patches.forEach((p, i) => { g.fillStyle = `rgb(${p})`; g.fillRect(16 * i, 0, 16, 16); });
    const bytes = async (b) => Array.from(new Uint8Array(await b.arrayBuffer()));
    return { png: await bytes(await c.convertToBlob({ type: 'image/png' })),
             jpeg: await bytes(await c.convertToBlob({ type: 'image/jpeg', quality: 1 })) };
  }, PATCHES);
  return { png: pngWithoutProfile(Buffer.from(r.png)), jpeg: jpegWithoutProfile(Buffer.from(r.jpeg)) };
}

// Opens the bytes on the page without coding; returns its notes and the pixels it codes (RGB, row-major).
async function open(bytes, name) {
  return page.evaluate(async ([b, name]) => {
    await window.aecodec.loadImage(new Uint8Array(b), { name, encode: false });
    const s = window.aecodec.state();
    const px = window.aecodec.originalPixels();
    const rgb = [];
    for (let i = 0; i < px.data.length; i += 4) rgb.push(px.data[i], px.data[i + 1], px.data[i + 2]);
    return { notes: s.image.notes, width: px.width, height: px.height, rgb, error: s.error };
  }, [Array.from(bytes), name]);
}
const patchAt = (im, i) => [0, 1, 2].map((c) => im.rgb[(8 * im.width + 16 * i + 8) * 3 + c]);
// Returns the largest difference from the expected colours.
function assertSrgb(im, tolerance, what) {
  let worst = 0;
  PATCHES.forEach((p, i) => {
    const want = p3ToSrgb(p), got = patchAt(im, i);
    const d = Math.max(...got.map((v, c) => Math.abs(v - want[c])));
    assert.ok(d <= tolerance, `${what}, P3 ${p}: got ${got}, want ${want} (within ${tolerance})`);
    worst = Math.max(worst, d);
  });
  return worst;
}

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  server = await startServer();
  browser = await launch();
  page = await openDemo(browser.context, server.url);
});

after(async () => {
  if (page) fs.writeFileSync(path.join(outDir, 'console-colour.log'), page.aecLog.join('\n') + '\n');
  await browser?.close();
  await server?.stop();
});

describe('embedded ICC profiles on the page', () => {
  test('a Display P3 JPEG and PNG come out in sRGB, the profile in one APP2 segment or several', T, async (t) => {
    // The test can tell: the conversion moves these colours by tens of levels.
    assert.ok(Math.max(...PATCHES.flatMap((p) => p3ToSrgb(p).map((v, c) => Math.abs(v - p[c])))) >= 30);
    const { png, jpeg } = await patchFiles();
    const profile = p3Profile();

    const plain = await open(jpeg, 'plain.jpg');
    assert.ok(!plain.notes.some((n) => /ICC/.test(n)), `notes: ${plain.notes}`);
    PATCHES.forEach((p, i) => assert.ok(patchAt(plain, i).every((v, c) => Math.abs(v - p[c]) <= 3)));

    const one = await open(jpegWithProfile(jpeg, profile), 'p3.jpg');
    assert.equal(one.error, '');
    assert.ok(one.notes.some((n) => /converted to sRGB from the embedded ICC profile by the browser/.test(n)),
              `notes: ${one.notes}`);
    t.diagnostic(`JPEG: ${assertSrgb(one, 4, 'JPEG, one segment')} levels from the exact sRGB colours at most`);
    const three = await open(jpegWithProfile(jpeg, profile, Math.ceil(profile.length / 3)), 'p3-split.jpg');
    assert.deepEqual(three.rgb, one.rgb, 'the profile split over three segments gives the same pixels');

    const pngFile = pngWithProfile(png, profile);
    const p = await open(pngFile, 'p3.png');
    assert.ok(p.notes.some((n) => /by the browser/.test(n)), `notes: ${p.notes}`);
    t.diagnostic(`PNG: ${assertSrgb(p, 2, 'PNG')} levels from the exact sRGB colours at most`);

    // The native CLI converts the same PNG with Little CMS: the page's pixels agree with it.
    const dir = path.join(outDir, 'colour');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'p3.png'), pngFile);
    fs.writeFileSync(path.join(dir, 'page.png'), encodePng(Uint8Array.from(p.rgb), p.width, p.height));
    const out = execFileSync(CLI, ['compare', path.join(dir, 'p3.png'), path.join(dir, 'page.png')], { encoding: 'utf8' });
    const psnr = Number(out.match(/PSNR ([\d.inf]+) dB/)[1].replace('inf', 'Infinity'));
    assert.ok(psnr >= 45, `page against CLI: ${out}`);
    t.diagnostic(`the page's P3 PNG against the CLI's: PSNR ${psnr} dB`);
  });

  test('a JPEG with an sRGB profile (the browser\'s own) is decoded by the core, as the CLI decodes it', T, async () => {
    const jpeg = Buffer.from(await page.evaluate(async (patches) => {
      const c = new OffscreenCanvas(16 * patches.length, 16);
      const g = c.getContext('2d');
      patches.forEach((p, i) => { g.fillStyle = `rgb(${p})`; g.fillRect(16 * i, 0, 16, 16); });
      return Array.from(new Uint8Array(await (await c.convertToBlob({ type: 'image/jpeg', quality: 0.9 })).arrayBuffer()));
    }, PATCHES));
    assert.notDeepEqual(jpegWithoutProfile(jpeg), jpeg, 'the browser embeds its sRGB profile');
    const im = await open(jpeg, 'srgb.jpg');
    assert.ok(!im.notes.some((n) => /ICC|browser/.test(n)), `notes: ${im.notes}`);
    const dir = path.join(outDir, 'colour');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'srgb.jpg'), jpeg);
    fs.writeFileSync(path.join(dir, 'srgb-page.png'), encodePng(Uint8Array.from(im.rgb), im.width, im.height));
    const out = execFileSync(CLI, ['compare', path.join(dir, 'srgb.jpg'), path.join(dir, 'srgb-page.png')],
                             { encoding: 'utf8' });
    assert.match(out, /PSNR inf dB/, 'the same pixels as the CLI');
  });

  test('a broken profile is ignored with the reason, the pixels as stored', T, async () => {
    const { jpeg } = await patchFiles();
    const plain = await open(jpeg, 'plain.jpg');
    const profile = p3Profile();
    const cut = await open(jpegWithProfile(jpeg, profile.subarray(0, 200)), 'cut.jpg');
    assert.equal(cut.error, '');
    assert.ok(cut.notes.some((n) => /ICC colour profile was ignored \(the profile has 200 bytes, its header declares/.test(n)),
              `notes: ${cut.notes}`);
    assert.deepEqual(cut.rgb, plain.rgb);
    const cmyk = Buffer.from(profile);
    cmyk.write('CMYK', 16, 'latin1');
    const c = await open(jpegWithProfile(jpeg, cmyk), 'cmyk.jpg');
    assert.ok(c.notes.some((n) => /CMYK profile/.test(n)), `notes: ${c.notes}`);
    assert.deepEqual(c.rgb, plain.rgb);
  });
});
