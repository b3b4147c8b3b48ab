#!/usr/bin/env node
// Cost against image size in the demo page: the photos of bench/large.sh (its synthetic 4:3 image as a
// camera JPEG, quality 92; the same cached files), each opened in a fresh page in headless Chromium and coded
// there with the default model at 2 threads (?threads=2, the page cross-origin isolated: the threaded WASM
// build), through the page's own API (window.aecodec, web/API.md). Per size: the time to open the photo (the
// core's JPEG decoder and the view's textures), the core's encode and decode (state().result.encode_ms,
// decode_ms), the whole encode() call (encode, decode, PSNR and MS-SSIM, and the browser's JPEG and WebP at
// the same size with theirs), and the page's WASM heap's peak (state().memory.heap_bytes: the heap only grows;
// the codec's Worker, where the networks run, has its own).
// Prints a markdown table. The background training is paused while it measures (as bench/large.sh does).
//
//   node bench/page-large.mjs [MEGAPIXELS...]     (default: 1 4 12 24)
//   options: --model NAME (a model in models/; default models/DEFAULT), --threads N (default 2), --no-pause
//
// Needs the WASM build (wasm/build.sh), web/node_modules (npm ci in web/), Chromium, c++ and cjpeg
// (libjpeg-turbo-progs) for the photos.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const die = (msg) => {
  console.error(`bench/page-large: error: ${msg}`);
  process.exit(1);
};

const opts = { sizes: [], model: '', threads: 2, pause: true };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i], val = () => (i + 1 < argv.length ? argv[++i] : die(`${a} needs a value`));
    if (a === '--model') opts.model = val();
    else if (a === '--threads') opts.threads = Number(val());
    else if (a === '--no-pause') opts.pause = false;
    else if (a === '-h' || a === '--help') {
      const lines = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
      console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else if (/^\d+(\.\d+)?$/.test(a)) opts.sizes.push(Number(a));
    else die(`unknown argument ${a} (--help)`);
  }
  if (!opts.sizes.length) opts.sizes = [1, 4, 12, 24];
  if (!(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 8)) die('--threads: 1..8');
}

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) die(`${chromiumPath} not found (scripts/setup-web.sh), or set CHROMIUM`);
for (const f of ['aecodec-mt.js', 'aecodec-mt.wasm', 'aecodec-mt.worker.js']) {
  if (!fs.existsSync(path.join(root, 'build', 'wasm', f))) die(`build/wasm/${f} missing: wasm/build.sh`);
}
if (!fs.existsSync(path.join(root, 'web', 'node_modules', 'playwright-core'))) die('web/node_modules missing: (cd web && npm ci)');
for (const tool of ['c++', 'cjpeg']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) die(`${tool} not found (cjpeg: apt-get install libjpeg-turbo-progs)`);
}

// ---- the photos: bench/large.sh's, in its cache ----
// WxH of a 4:3 image of about n megapixels, as bench/large.sh's dims (4000x3000 for 12).
function dims(n) {
  if (n === 12) return [4000, 3000];
  const h = Math.trunc(Math.sqrt(n * 1e6 * 3 / 4) / 8 + 0.5) * 8;
  return [Math.trunc(h * 4 / 3 / 8 + 0.5) * 8, h];
}
const cache = process.env.AEC_BENCH_CACHE || '/tmp/aecodec-large-images';
fs.mkdirSync(cache, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aecodec-page-large-'));
let generator = '';
function photo(w, h) {
  const file = path.join(cache, `synthetic-${w}x${h}.jpg`);
  if (fs.existsSync(file) && fs.statSync(file).size > 0) return file;
  if (!generator) {
    generator = path.join(tmp, 'large_image');
    const cc = spawnSync('c++', ['-O2', '-std=c++17', '-Ishared', '-Itests/support', 'bench/large_image.cpp', '-o', generator],
                         { cwd: root, encoding: 'utf8' });
    if (cc.status !== 0) die(`building bench/large_image.cpp failed:\n${cc.stderr}`);
  }
  const r = spawnSync('sh', ['-c', `"${generator}" ${w} ${h} | cjpeg -quality 92 > "${file}.tmp" && mv "${file}.tmp" "${file}"`]);
  if (r.status !== 0) die(`making ${file} failed`);
  return file;
}

// ---- the background training: paused while this measures ----
if (opts.pause) {
  const training = (what) => spawnSync(path.join(root, 'scripts', 'train-forever.sh'), [what], { stdio: 'ignore' });
  training('pause');
  const repause = setInterval(() => training('pause'), 5000);
  repause.unref();
  process.on('exit', () => {
    clearInterval(repause);
    training('resume');
  });
}

// ---- the site: its own folder (build/bench/page-large-XXXXXX, removed at the end) with the model and the
// photos ----
fs.mkdirSync(path.join(root, 'build', 'bench'), { recursive: true });
const work = fs.mkdtempSync(path.join(root, 'build', 'bench', 'page-large-'));
const site = path.join(work, 'site');
const modelsIn = path.join(root, 'models');
const model = opts.model || (fs.existsSync(path.join(modelsIn, 'DEFAULT'))
  ? fs.readFileSync(path.join(modelsIn, 'DEFAULT'), 'utf8').trim().split(/\s+/)[0] : '');
if (!model || !fs.existsSync(path.join(modelsIn, `${model}.aem`))) die(`model '${model}' not in models/`);
const stageModels = path.join(work, 'models');
fs.mkdirSync(stageModels);
fs.symlinkSync(path.join(modelsIn, `${model}.aem`), path.join(stageModels, `${model}.aem`));
fs.writeFileSync(path.join(stageModels, 'DEFAULT'), `${model}\n`);
const staged = spawnSync(process.execPath, [path.join(root, 'web', 'stage.mjs'), '--models', stageModels, '--out', site],
                         { encoding: 'utf8' });
if (staged.status !== 0) die(`staging the site failed:\n${staged.stdout}${staged.stderr}`);
fs.mkdirSync(path.join(site, 'photos'));
const jobs = opts.sizes.map((mp) => {
  const [w, h] = dims(mp);
  const file = photo(w, h);
  fs.copyFileSync(file, path.join(site, 'photos', path.basename(file)));
  return { mp, w, h, url: `photos/${path.basename(file)}`, bytes: fs.statSync(file).size };
});

const server = spawn(process.execPath, [path.join(root, 'web', 'serve.mjs'), '--port', '0', '--quiet', '--root', site],
                     { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => server.kill('SIGTERM'));
const url = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (d) => {
    buf += d;
    const m = buf.match(/http:\/\/[^:]+:(\d+)\//);
    if (m) resolve(`http://127.0.0.1:${m[1]}/`);
  });
  server.on('exit', (code) => reject(new Error(`web/serve.mjs exited (${code})`)));
});

const require = createRequire(path.join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aecodec-bench-chromium-'));
const rows = [];
let version = '';
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
           '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
           '--disable-quic'],
  });
  version = context.browser()?.version() || '';
  for (const j of jobs) {
    const page = await context.newPage();
    const log = [];
    page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    try {
      await page.goto(`${url}?threads=${opts.threads}&image=`);
      await page.waitForFunction(() => window.aecodec, null, { timeout: 60000 });
      const r = await page.evaluate(async ({ src, model, threads }) => {
        const A = window.aecodec;
        await A.ready;
        const s0 = A.state();
        if (!s0.threaded || s0.threads !== threads) throw new Error(`the core runs ${s0.threads} thread(s), threaded ${s0.threaded}`);
        let t = performance.now();
        await A.loadImage(src, { encode: false });
        const load = performance.now() - t;
        const heapLoaded = A.state().memory.heap_bytes;
        t = performance.now();
        const x = await A.encode({ model, backend: 'core', effort: 0 });
        const whole = performance.now() - t;
        const s = A.state();
        return { load, whole, heapLoaded, heap: s.memory.heap_bytes, result: x, jpeg: !!s.jpeg, webp: !!s.webp,
                 image: [s.image.width, s.image.height] };
      }, { src: j.url, model, threads: opts.threads });
      if (r.image[0] !== j.w || r.image[1] !== j.h) throw new Error(`the page opened ${r.image.join('x')}`);
      rows.push({ ...j, ...r });
      console.error(`bench/page-large: ${j.mp} MP done`);
    } catch (e) {
      rows.push({ ...j, error: e.message.split('\n')[0] });
      console.error(`bench/page-large: ${j.mp} MP: ${e.message}\n  ${log.slice(-5).join('\n  ')}`);
    } finally {
      await page.close().catch(() => {});
    }
  }
} finally {
  await context?.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  server.kill('SIGTERM');
}

const s = (ms) => (ms / 1000).toFixed(1);
const mb = (b) => Math.round(b / 2 ** 20);
console.log(`page: headless Chromium ${version} (SwiftShader WebGL), threaded WASM at ${opts.threads} threads; model ${model}; ` +
            `${os.cpus()[0]?.model}, ${os.cpus().length} cores`);
console.log();
console.log('| MP | size | open s | encode s | decode s | encode() s | heap after open MB | peak heap MB | bpp |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  if (r.error) {
    console.log(`| ${r.mp} | ${r.w}x${r.h} | failed: ${r.error} | | | | | | |`);
    continue;
  }
  console.log(`| ${r.mp} | ${r.w}x${r.h} | ${s(r.load)} | ${s(r.result.encode_ms)} | ${s(r.result.decode_ms)} | ${s(r.whole)} | ` +
              `${mb(r.heapLoaded)} | ${mb(r.heap)} | ${r.result.bpp.toFixed(4)} |`);
}
console.log();
console.log('encode() s: the whole call: encode, decode, PSNR and MS-SSIM, and the browser\'s JPEG and WebP at the same size.');
process.exit(rows.some((r) => r.error) ? 1 : 0);
