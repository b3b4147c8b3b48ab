#!/usr/bin/env node
// The browser half of the speed benchmark: in headless Chromium (playwright-core, /usr/bin/chromium), on the demo
// page served with cross-origin isolation (web/serve.mjs), times the WASM core and ONNX Runtime Web (wasm
// execution provider, on the graphs aecodec-onnx exports from the same model) at the same thread count, through
// the page's own API (window.aecodec.encode, web/API.md): encoder and decoder network ms, and the whole encode
// and decode (quantisation, entropy coding and the .aec container, which run in the core for both backends).
// A warm-up run, then the median of --repeat runs; the page is reloaded per thread count (?threads=N sets both).
//
//   node bench/browser.mjs [MODEL] [WIDTHxHEIGHT] [--threads 1,2] [--repeat 5] [--json FILE] [--viewport 320x200]
//                          [--fps 1] [--no-pause] [--image FILE]
//   node bench/browser.mjs --check      (only checks that the WASM build, npm packages and Chromium are there)
//
// --fps N caps the page's frame rate (default 1; 0: not capped), and the window is small (--viewport, default
// 320x200): the page redraws its progress indicator while it works (the top bar, at most 10 times a second),
// and headless Chromium draws WebGL in software (SwiftShader) on the same cores that compute, which a browser
// with a GPU does not. When the page still redrew its whole window every frame while it worked, --fps 0
// --viewport 1280x800 made both backends 35-50 % slower with 1 thread and 80-100 % with 2 (README).
//
// MODEL: a model name in models/ (default: models/DEFAULT). The image is web/assets/sample.png (768x512), or
// --image FILE (a PNG or JPEG photo: the entropy stages depend on the content), scaled in the page when another
// size is asked for. The background training is paused while it measures
// (scripts/train-forever.sh pause, again every 5 s, then resume), unless --no-pause (bench/run.sh pauses it).
// Needs the WASM build (wasm/build.sh, or scripts/setup.sh build), npm packages in web/ and Chromium.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const die = (msg) => {
  console.error(`bench/browser: error: ${msg}`);
  process.exit(1);
};

// ---- options ----
const opts = { check: false, model: '', image: '', size: '768x512', threads: [1, os.cpus().length], repeat: 5, json: '', viewport: '320x200', fps: 1, pause: true };
{
  const pos = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i], val = () => (i + 1 < argv.length ? argv[++i] : die(`${a} needs a value`));
    if (a === '--check') opts.check = true;
    else if (a === '--threads') opts.threads = val().split(',').map(Number);
    else if (a === '--repeat') opts.repeat = Number(val());
    else if (a === '--json') opts.json = path.resolve(val());
    else if (a === '--viewport') opts.viewport = val();
    else if (a === '--fps') opts.fps = Number(val());
    else if (a === '--no-pause') opts.pause = false;
    else if (a === '--image') opts.image = path.resolve(val());
    else if (a === '-h' || a === '--help') {
      const lines = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
      console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else if (a.startsWith('-')) die(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length > 2) die('usage: node bench/browser.mjs [MODEL] [WIDTHxHEIGHT] [options] (--help lists them)');
  if (pos[0] && pos[0] !== 'default') opts.model = pos[0];
  if (pos[1]) opts.size = pos[1];
}
const [W, H] = opts.size.split('x').map(Number);
if (!(W > 0 && H > 0 && W <= 4096 && H <= 4096)) die(`bad size '${opts.size}' (WIDTHxHEIGHT, at most 4096 a side)`);
if (!opts.threads.length || opts.threads.some((t) => !(Number.isInteger(t) && t >= 1 && t <= 8))) die('--threads: counts 1..8, comma-separated');
if (!(Number.isInteger(opts.repeat) && opts.repeat >= 1)) die('--repeat must be a positive integer');
if (!(opts.fps >= 0 && opts.fps <= 240)) die('--fps: 0 (not capped) to 240');
const [VW, VH] = opts.viewport.split('x').map(Number);
if (!(VW > 0 && VH > 0)) die(`bad --viewport '${opts.viewport}'`);

// ---- what it needs ----
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) die(`${chromiumPath} not found: apt-get install chromium (or scripts/setup-web.sh), or set CHROMIUM`);
for (const f of ['aecodec-mt.js', 'aecodec-mt.wasm', 'aecodec-mt.worker.js', 'aecodec-st.js', 'aecodec-st.wasm']) {
  if (!fs.existsSync(path.join(root, 'build', 'wasm', f))) die(`build/wasm/${f} missing: build the WASM app (wasm/build.sh, or scripts/setup.sh build)`);
}
{  // a WASM build older than the core's sources would time old code
  const built = fs.statSync(path.join(root, 'build', 'wasm', 'aecodec-mt.wasm')).mtimeMs;
  const sources = [path.join(root, 'shared', 'aecodec'), path.join(root, 'wasm', 'src')]
    .flatMap((d) => fs.readdirSync(d).map((f) => path.join(d, f))).concat(path.join(root, 'wasm', 'CMakeLists.txt'));
  const newer = sources.filter((f) => fs.statSync(f).mtimeMs > built);
  if (newer.length) die(`build/wasm is older than ${newer.map((f) => path.relative(root, f)).join(', ')}: rebuild it (wasm/build.sh)`);
}
for (const p of ['playwright-core', 'onnxruntime-web']) {
  if (!fs.existsSync(path.join(root, 'web', 'node_modules', p))) die(`web/node_modules/${p} missing: (cd web && npm ci), or scripts/setup-web.sh`);
}
if (!fs.existsSync(path.join(root, 'build', 'release', 'native', 'onnx', 'aecodec-onnx'))) {
  die('build/release/native/onnx/aecodec-onnx missing (it exports the ONNX graphs): cmake --build build/release --target aecodec-onnx');
}
if (opts.image && !fs.existsSync(opts.image)) die(`--image ${opts.image}: no such file`);
if (opts.check) process.exit(0);  // bench/run.sh asks before it measures anything

// Other work on the machine skews every figure (on 2 cores, one busy process halves a 2-thread run): every
// 500 ms, the CPU time of every process outside this one's tree (the server, Chromium) is added up from /proc.
// Stopped processes (the paused training) use none. Reported as average cores used by others while measuring.
class OthersMonitor {
  constructor() {
    this.hz = 100;  // USER_HZ, the unit of /proc/PID/stat's times (100 on Linux everywhere in practice)
    this.seen = new Map();  // pid -> [start time, cpu ticks at the last sample]
    this.ticks = 0;
    this.byName = new Map();
    this.ok = fs.existsSync('/proc/self/stat');
  }
  sample(count) {
    const procs = new Map();
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let st;
      try { st = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
      const close = st.lastIndexOf(')');
      const f = st.slice(close + 2).split(' ');  // f[1] = ppid, f[11] = utime, f[12] = stime, f[19] = starttime
      procs.set(+d, { comm: st.slice(st.indexOf('(') + 1, close).replace(/[-/:].*$/, ''), ppid: +f[1], cpu: +f[11] + +f[12], start: f[19] });
    }
    const ours = (pid) => {
      for (let p = pid, n = 0; p > 1 && n < 64; p = procs.get(p)?.ppid ?? 0, ++n) if (p === process.pid) return true;
      return false;
    };
    const seen = new Map();
    for (const [pid, x] of procs) {
      if (ours(pid)) continue;
      const prev = this.seen.get(pid);
      const d = prev && prev[0] === x.start ? x.cpu - prev[1] : (this.started ? x.cpu : 0);  // new since the start: all of it
      if (count && d > 0) {
        this.ticks += d;
        this.byName.set(x.comm, (this.byName.get(x.comm) || 0) + d);
      }
      seen.set(pid, [x.start, x.cpu]);
    }
    this.seen = seen;
  }
  start() {
    if (!this.ok) return;
    this.sample(false);
    this.started = true;
    this.t0 = performance.now();
    this.timer = setInterval(() => this.sample(true), 500);
    this.timer.unref();
  }
  stop() {
    if (!this.ok || !this.timer) return null;
    clearInterval(this.timer);
    this.sample(true);
    const secs = (performance.now() - this.t0) / 1000;
    const top = [...this.byName].sort((a, b) => b[1] - a[1]).slice(0, 4)
      .filter(([, t]) => t / this.hz / secs >= 0.01).map(([n, t]) => `${n} ${(t / this.hz / secs).toFixed(2)}`);
    return { cores: this.ticks / this.hz / secs, seconds: secs, top };
  }
}
const others = new OthersMonitor();

// The background training: paused while this measures, again every 5 s (train-forever starts a new slice, a new
// process, when one ends), and resumed however this ends.
let repause = null;
function training(what) {
  spawnSync(path.join(root, 'scripts', 'train-forever.sh'), [what], { stdio: 'ignore' });
}
if (opts.pause) {
  training('pause');
  repause = setInterval(() => training('pause'), 5000);
  repause.unref();  // never what keeps this process alive
  process.on('exit', () => {
    clearInterval(repause);
    training('resume');
  });
}
const require = createRequire(path.join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const ortVersion = JSON.parse(fs.readFileSync(path.join(root, 'web', 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8')).version;

// ---- the site: its own folder per run (build/bench/browser-XXXXXX, removed at the end), so the demo's
// build/web/site and a benchmark running beside this one are left alone; with only the model measured when
// models/NAME.aem exists (web/stage.mjs exports its ONNX graphs, cached in build/web/onnx) ----
fs.mkdirSync(path.join(root, 'build', 'bench'), { recursive: true });
const work = fs.mkdtempSync(path.join(root, 'build', 'bench', 'browser-'));
const removeWork = () => fs.rmSync(work, { recursive: true, force: true });
const site = path.join(work, 'site');
const modelsIn = path.join(root, 'models');
const wanted = opts.model || (fs.existsSync(path.join(modelsIn, 'DEFAULT')) ? fs.readFileSync(path.join(modelsIn, 'DEFAULT'), 'utf8').trim().split(/\s+/)[0] : '');
let stageModels = modelsIn;
if (wanted && fs.existsSync(path.join(modelsIn, `${wanted}.aem`))) {
  stageModels = path.join(work, 'models');
  fs.mkdirSync(stageModels);
  for (const f of [`${wanted}.aem`, `${wanted}.encoder.onnx`, `${wanted}.decoder.onnx`]) {
    if (fs.existsSync(path.join(modelsIn, f))) fs.symlinkSync(path.join(modelsIn, f), path.join(stageModels, f));
  }
  fs.writeFileSync(path.join(stageModels, 'DEFAULT'), `${wanted}\n`);
}
const staged = spawnSync(process.execPath, [path.join(root, 'web', 'stage.mjs'), '--models', stageModels, '--out', site], { encoding: 'utf8' });
if (staged.status !== 0) {
  removeWork();
  die(`staging the site failed:\n${staged.stdout}${staged.stderr}`);
}
const imageName = opts.image ? `bench-image${path.extname(opts.image).toLowerCase()}` : 'sample.png';
if (opts.image) fs.copyFileSync(opts.image, path.join(site, 'assets', imageName));
const manifest = JSON.parse(fs.readFileSync(path.join(site, 'models', 'manifest.json'), 'utf8'));
const model = opts.model || manifest.default;
const entry = manifest.models.find((m) => m.name === model);
if (!entry || !entry.onnx) {
  removeWork();
  if (!entry) die(`model '${model}' is not in models/ (staged: ${manifest.models.map((m) => m.name).join(', ') || 'none'})`);
  die(`model '${model}' has no ONNX graphs (aecodec-onnx failed on it: see node web/stage.mjs)`);
}

// ---- server and browser ----
const server = spawn(process.execPath, [path.join(root, 'web', 'serve.mjs'), '--port', '0', '--quiet', '--root', site],
                     { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (d) => {
    buf += d;
    const m = buf.match(/http:\/\/[^:]+:(\d+)\//);
    if (m) resolve(`http://127.0.0.1:${m[1]}/`);
  });
  server.on('exit', (code) => reject(new Error(`web/serve.mjs exited (${code})`)));
}).catch((e) => {
  removeWork();
  die(e.message);
});
process.on('exit', () => server.kill('SIGTERM'));  // never leave the server behind, whatever ends this
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aecodec-bench-chromium-'));
let context;
const cleanup = async () => {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
  server.kill('SIGTERM');
  removeWork();
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => cleanup().then(() => process.exit(143)));

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rows = [];
let browserVersion = '';
try {
  // The flags of the browser tests (tests/web/browser.mjs): software WebGL (SwiftShader), no background traffic.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: VW, height: VH },
    args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
           '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
           '--disable-quic'],
  });
  // --fps N: the page's requestAnimationFrame fires at most N times a second (see the top of this file).
  if (opts.fps) {
    await context.addInitScript((ms) => {
      window.requestAnimationFrame = (cb) => setTimeout(() => cb(performance.now()), ms);
    }, 1000 / opts.fps);
  }
  browserVersion = context.browser()?.version() || '';
  others.start();
  for (const threads of opts.threads) {
    const page = await context.newPage();
    const log = [];
    page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    try {
      await page.goto(`${url}?threads=${threads}&image=`);
      await page.waitForFunction(() => window.aecodec, null, { timeout: 60000 });
      const r = await page.evaluate(async ({ model, W, H, threads, repeat, imageName }) => {
        const A = window.aecodec;
        await A.ready;
        const s0 = A.state();
        if (!self.crossOriginIsolated || !s0.threaded) throw new Error('the page is not cross-origin isolated: the threaded WASM build did not load');
        if (s0.threads !== threads) throw new Error(`the core runs ${s0.threads} thread(s), not ${threads}`);
        const m = s0.models.find((x) => x.name === model);
        if (!m || m.state !== 'loaded') throw new Error(`model ${model}: ${m ? m.error || m.state : 'not on the page'}`);
        if (!m.onnx) throw new Error(`model ${model}: no ONNX backend (${m.onnx_error || 'no graphs'})`);
        // The image: the bundled sample or --image, scaled in the page when another size is asked for.
        let src = `assets/${imageName}`;
        const bmp = await createImageBitmap(await (await fetch(src)).blob());
        if (bmp.width !== W || bmp.height !== H) {
          const c = new OffscreenCanvas(W, H);
          c.getContext('2d').drawImage(bmp, 0, 0, W, H);
          src = await c.convertToBlob({ type: 'image/png' });
        }
        await A.loadImage(src, { name: `sample-${W}x${H}.png`, encode: false });
        const out = {};
        for (const backend of ['core', 'ort']) {
          const runs = [];
          for (let i = 0; i <= repeat; ++i) {  // run 0 is the warm-up (and creates ORT's sessions)
            const x = await A.encode({ model, backend });
            if (x.backend !== backend || x.width !== W || x.height !== H) throw new Error(`unexpected result ${JSON.stringify(x)}`);
            if (i > 0) runs.push({ enc_net: x.encode.network_ms, enc_entropy: x.encode.entropy_ms, enc: x.encode.total_ms,
                                    dec_net: x.decode.network_ms, dec_entropy: x.decode.entropy_ms, dec: x.decode.total_ms, bpp: x.bpp, psnr: x.psnr });
          }
          out[backend] = runs;
        }
        return { out, agreement: A.state().agreement, threads: A.state().threads, ua: navigator.userAgent };
      }, { model, W, H, threads, repeat: opts.repeat, imageName });
      const med = (b, k) => median(r.out[b].map((x) => x[k]));
      rows.push({
        threads,
        core: { encoder_ms: med('core', 'enc_net'), decoder_ms: med('core', 'dec_net'), encode_ms: med('core', 'enc'), decode_ms: med('core', 'dec') },
        ort: { encoder_ms: med('ort', 'enc_net'), decoder_ms: med('ort', 'dec_net'), encode_ms: med('ort', 'enc'), decode_ms: med('ort', 'dec') },
        runs: r.out, agreement: r.agreement,
      });
    } catch (e) {
      throw new Error(`${threads} thread(s): ${e.message}${log.length ? `\npage log:\n  ${log.slice(-20).join('\n  ')}` : ''}`);
    } finally {
      await page.close().catch(() => {});
    }
  }
} catch (e) {
  others.stop();
  await cleanup();
  die(e.message);
}
const busy = others.stop();
await cleanup();

// ---- report ----
const f = (x) => x.toFixed(0).padStart(6);
const rr = (a, b) => (a / b).toFixed(2);
console.log(`browser: headless Chromium ${browserVersion} (SwiftShader WebGL), page cross-origin isolated; model ${model}, ` +
            `${W}x${H} (${opts.image ? path.relative(root, opts.image) : 'web/assets/sample.png'}), median of ${opts.repeat} after a warm-up; ${os.cpus()[0]?.model}, ${os.cpus().length} cores; ` +
            `viewport ${opts.viewport}, page drawing ${opts.fps ? `capped at ${opts.fps} fps (--fps)` : 'not capped (up to 60 fps while working)'}` +
            (busy ? `; other processes used ${busy.cores.toFixed(2)} core(s) meanwhile${busy.top.length ? ` (${busy.top.join(', ')})` : ''}` : ''));
console.log(`  core: threaded WASM build (build/wasm/aecodec-mt, SIMD128); ONNX Runtime Web ${ortVersion}, wasm EP (SIMD, threaded)`);
console.log('  threads | core encoder  net / whole | core decoder  net / whole | ORT Web encoder net / whole | ORT Web decoder net / whole | core / ORT Web (enc / dec, network)');
for (const x of rows) {
  console.log(`  ${String(x.threads).padStart(7)} |       ${f(x.core.encoder_ms)} / ${f(x.core.encode_ms)} ms |       ${f(x.core.decoder_ms)} / ${f(x.core.decode_ms)} ms |` +
              `       ${f(x.ort.encoder_ms)} / ${f(x.ort.encode_ms)} ms |       ${f(x.ort.decoder_ms)} / ${f(x.ort.decode_ms)} ms | ` +
              `${rr(x.core.encoder_ms, x.ort.encoder_ms)} / ${rr(x.core.decoder_ms, x.ort.decoder_ms)}  (whole: ${rr(x.core.encode_ms, x.ort.encode_ms)} / ${rr(x.core.decode_ms, x.ort.decode_ms)})`);
}
console.log('  (core / ORT Web below 1: the core is faster)');
if (opts.json) {
  const doc = { model, image: opts.image ? path.relative(root, opts.image) : 'web/assets/sample.png', width: W, height: H, repeat: opts.repeat, browser: `Chromium ${browserVersion}`, onnxruntime_web: ortVersion,
                cpu: os.cpus()[0]?.model, cores: os.cpus().length, viewport: opts.viewport, fps_cap: opts.fps || null, others_cores: busy?.cores ?? null, others_top: busy?.top ?? [], rows };
  fs.mkdirSync(path.dirname(opts.json), { recursive: true });
  fs.writeFileSync(`${opts.json}.tmp`, JSON.stringify(doc, null, 2) + '\n');
  fs.renameSync(`${opts.json}.tmp`, opts.json);
}
if (busy && busy.cores > 0.1) {
  console.error(`bench/browser: warning: other processes used ${busy.cores.toFixed(2)} core(s) on average while this measured ` +
                `(${busy.top.join(', ')}): the figures are slower than the machine is; run it again when the machine is quiet`);
}
