// Encode time per encoder effort in the browser (headless Chromium, the demo's threaded WASM build) next to the
// native CLI's, and how far the two files are apart (size, PSNR), for one model and image:
//   node web/stage.mjs && node tests/web/tools/effort-times.mjs --image PHOTO.png [--model NAME]
//        [--efforts 0,2,5,9] [--threads 1,2] [--site build/web/site] [--no-native]
// Each (threads, effort) is one encode + decode in a fresh page with ?threads=N (the page fixes its thread
// count at start); the native CLI runs with -t N. Times are wall-clock, so run it on an otherwise idle machine.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, openDemo, root } from '../browser.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const image = opt('--image');
if (!image) {
  console.error('usage: effort-times.mjs --image PHOTO.png [--model NAME] [--efforts 0,2,5,9] [--threads 1,2] ' +
                '[--site DIR] [--no-native]');
  process.exit(2);
}
const efforts = opt('--efforts', '0,2,5,9').split(',').map(Number);
const threads = opt('--threads', '1,2').split(',').map(Number);
const site = path.resolve(opt('--site', path.join(root, 'build', 'web', 'site')));
const native = !args.includes('--no-native');
const cliPath = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const manifest = JSON.parse(fs.readFileSync(path.join(site, 'models', 'manifest.json'), 'utf8'));
const model = opt('--model', manifest.default);
const entry = manifest.models.find((m) => m.name === model);
if (!entry) throw new Error(`no model '${model}' in ${site}`);
const modelPath = path.join(site, entry.file);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aecodec-effort-'));

function runNative(effort, t) {
  const out = path.join(tmp, `native-${t}-${effort}.aec`);
  const enc = execFileSync(cliPath, ['-t', String(t), 'encode', image, '-m', modelPath, '-o', out, '--effort',
                                     String(effort)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const dec = execFileSync(cliPath, ['decode', out, '-m', modelPath, '-o', path.join(tmp, 'native.png'),
                                     '--reference', image], { encoding: 'utf8' });
  return { bytes: Number(enc.match(/(\d+) bytes/)[1]), encode_ms: Number(enc.match(/encode ([\d.]+) ms/)[1]),
           refine_ms: Number(enc.match(/refine ([\d.]+)/)[1]), psnr: Number(dec.match(/PSNR ([\d.]+) dB/)[1]) };
}

const server = spawn(process.execPath, [path.join(root, 'web', 'serve.mjs'), '--port', '0', '--root', site],
                     { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => {
  let buf = '';
  server.stdout.on('data', (d) => {
    buf += d;
    const m = buf.match(/http:\/\/[^:]+:(\d+)\//);
    if (m) resolve(`http://127.0.0.1:${m[1]}/`);
  });
});
const browser = await launch();
const rows = [];
try {
  const png = Array.from(fs.readFileSync(image));
  for (const t of threads) {
    for (const effort of efforts) {
      const page = await openDemo(browser.context, url, { query: `?threads=${t}&image=` });
      const r = await page.evaluate(async ([b, name, m, e]) => {
        await window.aecodec.loadImage(new Uint8Array(b), { name, encode: false });
        return window.aecodec.encode({ model: m, backend: 'core', effort: e });
      }, [png, path.basename(image), model, effort]);
      const threadsUsed = await page.evaluate(() => window.aecodec.state().threads);
      await page.close();
      const row = { threads: t, page_threads: threadsUsed, effort, page_ms: r.encode_ms, page_refine_ms: r.encode.refine_ms,
                    bytes: r.bytes, psnr: r.psnr };
      if (native) {
        const n = runNative(effort, t);
        Object.assign(row, { native_ms: n.encode_ms, native_refine_ms: n.refine_ms, native_bytes: n.bytes,
                             native_psnr: n.psnr, size_diff_pct: 100 * (r.bytes - n.bytes) / n.bytes,
                             psnr_diff_db: r.psnr - n.psnr });
      }
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
} finally {
  await browser.close();
  server.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
const f = (v, d = 1) => (v === undefined ? '-' : v.toFixed(d));
console.log(`\n${model} on ${path.basename(image)}: encode time (s), browser and native; browser - native size and PSNR`);
console.log('threads effort  browser  (refine)  native  (refine)  bytes  size diff %  PSNR dB  PSNR diff dB');
for (const r of rows)
  console.log(`${String(r.threads).padStart(7)} ${String(r.effort).padStart(6)} ${f(r.page_ms / 1000, 2).padStart(8)} ` +
              `${f(r.page_refine_ms / 1000, 2).padStart(9)} ${f(r.native_ms / 1000, 2).padStart(7)} ` +
              `${f(r.native_refine_ms / 1000, 2).padStart(9)} ${String(r.bytes).padStart(6)} ` +
              `${f(r.size_diff_pct, 2).padStart(11)} ${f(r.psnr, 3).padStart(8)} ${f(r.psnr_diff_db, 3).padStart(13)}`);
