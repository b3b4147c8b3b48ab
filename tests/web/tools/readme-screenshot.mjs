// Takes the README's picture of the demo (docs/demo.png) with the models in models/ and the bundled sample:
//   node web/stage.mjs --out build/web/site && AEC_WEB_ROOT=build/web/site node tests/web/tools/readme-screenshot.mjs
import path from 'node:path';
import { spawn } from 'node:child_process';
import { launch, openDemo, root } from '../browser.mjs';

const site = path.resolve(process.env.AEC_WEB_ROOT || path.join(root, 'build', 'web', 'site'));
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
try {
  const page = await openDemo(browser.context, url);
  await page.evaluate(() => window.aecodec.loadImage('assets/sample.png'));
  await page.evaluate(() => window.aecodec.encode({ backend: 'core' }));
  await page.evaluate(() => window.aecodec.idle());
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(root, 'docs', 'demo.png') });
  console.log('wrote docs/demo.png');
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
