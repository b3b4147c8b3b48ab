// Shared by the browser tests: the server and headless Debian Chromium (driven by playwright-core).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const outDir = path.join(root, 'tests', 'out', 'web');
const require = createRequire(path.join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');

// The server: AEC_WEB_URL when the runner started one (tests/web/run.sh), else our own on a free port.
export async function startServer() {
  if (process.env.AEC_WEB_URL) return { url: process.env.AEC_WEB_URL, stop: async () => {} };
  const child = spawn(process.execPath, [path.join(root, 'web', 'serve.mjs'), '--port', '0', '--quiet'],
                      { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/http:\/\/[^:]+:(\d+)\//);
      if (m) resolve(`http://127.0.0.1:${m[1]}/`);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  return { url, stop: async () => { child.kill('SIGTERM'); } };
}

// Headless Chromium with a fresh profile (a new --user-data-dir, which playwright passes for a persistent
// context), software WebGL (SwiftShader) and no background traffic. deviceScaleFactor: the page's
// devicePixelRatio (2 for a hi-DPI screen).
export async function launch({ width = 1440, height = 900, deviceScaleFactor = 1 } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aecodec-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width, height },
    deviceScaleFactor,
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
           '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
           '--disable-quic'],
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

// A page on the demo, ready (models and sample loaded). Console errors are collected in page.aecLog.
export async function openDemo(context, url, { query = '' } = {}) {
  const page = await context.newPage();
  page.aecLog = [];
  page.on('console', (m) => page.aecLog.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.aecLog.push(`pageerror: ${e.message}`));
  await page.goto(url + query);
  await page.waitForFunction(() => window.aecodec, null, { timeout: 60000 });
  await page.evaluate(() => window.aecodec.ready);
  await page.evaluate(() => window.aecodec.idle());
  return page;
}

export async function screenshot(page, name) {
  fs.mkdirSync(outDir, { recursive: true });
  await page.waitForTimeout(150);  // a frame or two so the canvas shows the latest state
  const file = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
