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
// devicePixelRatio (2 for a hi-DPI screen); a phone: `phone: true` (touch events, a mobile viewport that
// honours the page's <meta name="viewport">), e.g. 390x844 at 3.
export async function launch({ width = 1440, height = 900, deviceScaleFactor = 1, phone = false } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aecodec-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width, height },
    deviceScaleFactor,
    hasTouch: phone,
    isMobile: phone,
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

// Driving the demo's ImGui page frame by frame, for a page a test opens later (`getPage` returns it).
export function frameDriver(getPage) {
  const state = () => getPage().evaluate(() => window.aecodec.state());
  const frames = () => getPage().evaluate(() => window.aecodec.state().render.frames);
  // Waits for the page to draw (at least one frame after `before`, then none for 300 ms).
  async function drawn(before) {
    await getPage().waitForFunction((f) => window.aecodec.state().render.frames > f, before, { timeout: 10000 });
    let f = await frames();
    for (let i = 0; i < 30; ++i) {
      await getPage().waitForTimeout(300);
      const g = await frames();
      if (g === f) return;
      f = g;
    }
  }
  // Selects without coding and waits until the page has drawn the selection (the controls are the last frame's).
  async function selectDrawn(opts) {
    const f = await frames();
    await getPage().evaluate((o) => window.aecodec.select(o), opts);
    await drawn(f);
    return state();
  }
  // Each step in its own frame, as ImGui reads input once a frame.
  async function inFrames(steps) {
    for (const step of steps) {
      const f = await frames();
      await step();
      await getPage().waitForFunction((n) => window.aecodec.state().render.frames > n, f, { timeout: 10000 });
    }
  }
  // A mouse click that ImGui sees as one: move, press and release.
  const click = (x, y) => inFrames([() => getPage().mouse.move(x, y), () => getPage().mouse.down(),
                                    () => getPage().mouse.up()]);
  // A key press that ImGui sees: down and up.
  const key = (name) => inFrames([() => getPage().keyboard.down(name), () => getPage().keyboard.up(name)]);
  // Waits until a job started by the UI has completed and the page is idle again.
  async function uiJob(completedBefore) {
    await getPage().waitForFunction((n) => window.aecodec.state().completed > n, completedBefore,
                                    { timeout: 120000, polling: 50 });
    await getPage().evaluate(() => window.aecodec.idle());
  }
  return { state, frames, drawn, selectDrawn, click, key, uiJob };
}

// Touches through the DevTools protocol (Input.dispatchTouchEvent), as a touch screen sends them: `steps`
// is a list of frames, each the touch points down at that moment ([[x, y], ...], CSS px); an empty list
// lifts them all. Playwright's own touchscreen only taps.
export async function touch(page, steps, { stepMs = 16 } = {}) {
  const cdp = await page.context().newCDPSession(page);
  try {
    let down = 0;
    for (const points of steps) {
      // A point more: touchStart; fewer or the same: touchMove (the protocol compares with the last event's
      // points); none: touchEnd.
      const type = points.length === 0 ? 'touchEnd' : points.length > down ? 'touchStart' : 'touchMove';
      await cdp.send('Input.dispatchTouchEvent', {
        type,
        touchPoints: points.map(([x, y], id) => ({ x, y, id, radiusX: 4, radiusY: 4, force: 1 })),
      });
      down = points.length;
      await page.waitForTimeout(stepMs);
    }
  } finally {
    await cdp.detach().catch(() => {});
  }
}

// Points from a to b in n steps (a finger's drag).
export function path2(a, b, n = 8) {
  const out = [];
  for (let i = 0; i <= n; ++i) out.push([a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n]);
  return out;
}

export async function screenshot(page, name) {
  fs.mkdirSync(outDir, { recursive: true });
  await page.waitForTimeout(150);  // a frame or two so the canvas shows the latest state
  const file = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
