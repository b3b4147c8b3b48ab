// Browser tests of the model picker's groups (issue #22 item 3): the page groups its models as the CLI's
// `aecodec models` does (native/cli/model_list.cpp): codecs (a variable-rate network, or a set of single-rate
// levels NAME-q1..qN as one entry with a level choice), cross-resolution families, and the plain autoencoders as
// demonstrations. state().groups and models[i].group report them; select({model}) still takes a file's model
// name (and a group's name); the level slider selects a level and encodes. Run with tests/web/run.sh.
// Screenshots: tests/out/web/models-*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { encodePng, makePicture } from '../../web/tools/make-sample.mjs';
import { frameDriver, launch, openDemo, outDir, root, screenshot, startServer } from './browser.mjs';

const CLI = process.env.AECODEC_CLI || path.join(root, 'build', 'release', 'native', 'aecodec');
const SITE = process.env.AEC_WEB_SITE || path.join(root, 'build', 'web', 'site');
const T = { timeout: 180000 };
let server, browser, page;

const { state, selectDrawn, click, uiJob } = frameDriver(() => page);

// `aecodec models` with the site's models first on its search path: group name -> {kind, models}.
function cliGroups() {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'aec-models-'));
  const text = execFileSync(CLI, ['models'], {
    encoding: 'utf8', cwd, env: { ...process.env, AECODEC_MODELS: path.join(SITE, 'models') } });
  fs.rmSync(cwd, { recursive: true, force: true });
  const groups = {};
  let kind = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('Codecs')) kind = 'codec';
    else if (line.startsWith('Cross-resolution families')) kind = 'family';
    else if (line.startsWith('Demonstrations')) kind = 'demo';
    else if (!line.startsWith('  ')) kind = null;
    else if (kind) {
      const [name, ...rest] = line.trim().split(/\s+/);
      let models = [name];
      if (kind === 'codec' && line.includes('single-rate levels')) models = line.split(': ')[1].split(', ');
      // A family built on a model in no family lists it first, "NAME (high)": the page lists that model
      // (or the codec holding it) with the codecs, as the CLI does too.
      if (kind === 'family') {
        models = rest.join(' ').split(', ');
        const high = models.filter((x) => x.endsWith(' (high)')).map((x) => x.slice(0, -' (high)'.length));
        models = models.filter((x) => !x.endsWith(' (high)'));
        groups[name] = { kind, models, ...(high.length ? { high } : {}) };
        continue;
      }
      groups[name] = { kind, models };
    }
  }
  return { text, groups };
}

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  assert.ok(fs.existsSync(CLI), `${CLI} (cmake --build build/release --target aecodec)`);
  server = await startServer();
  browser = await launch();
  page = await openDemo(browser.context, server.url, { query: '?image=' });
  const png = encodePng(makePicture(96, 64, 3), 96, 64);
  await page.evaluate((b) => window.aecodec.loadImage(new Uint8Array(b), { name: 'models.png', encode: false }),
                      Array.from(png));
});

after(async () => {
  if (page) fs.writeFileSync(path.join(outDir, 'models-console.log'), page.aecLog.join('\n') + '\n');
  await browser?.close();
  await server?.stop();
});

describe('model picker groups', () => {
  test('the page groups the staged models as `aecodec models` does', T, async () => {
    const s = await state();
    for (const m of s.models) assert.equal(m.state, 'loaded', `${m.name}: ${m.error}`);
    const byName = Object.fromEntries(s.groups.map((g) => [g.name, g]));
    assert.deepEqual(byName['test-levels'], { kind: 'codec', name: 'test-levels',
                                              models: ['test-levels-q1', 'test-levels-q2'] });
    assert.deepEqual(byName['test-channel-q'], { kind: 'codec', name: 'test-channel-q', models: ['test-channel-q'] });
    // A codec manifest is one entry of its own; its members are no entries (the page fetches them through it).
    assert.deepEqual(byName['test-codec'], { kind: 'codec', name: 'test-codec', models: ['test-codec'] });
    assert.ok(!s.models.some((m) => m.name.startsWith('test-codec-')), 'no entries for the codec\'s members');
    assert.deepEqual(byName['test-factorized'].models, ['test-factorized']);
    assert.deepEqual(byName.fam, { kind: 'family', name: 'fam', models: ['fam-high', 'fam-medium'] });
    // A family built on a codec's member: its entry holds the medium member; the codec (marked as the
    // family's high, through its member test-codec-a) stays an entry of the codecs.
    assert.deepEqual(byName['fam-c'], { kind: 'family', name: 'fam-c', models: ['fam-c-medium'] });
    assert.equal(s.models.find((m) => m.name === 'test-codec').family?.member, 'test-codec-a');
    // ... and one on its other member (as family-wide-medium on channel-wide): an entry of its own too.
    assert.deepEqual(byName['fam-d'], { kind: 'family', name: 'fam-d', models: ['fam-d-medium'] });
    assert.deepEqual(s.models.find((m) => m.name === 'test-codec').families.map((f) => f.member),
                     ['test-codec-a', 'test-codec-b']);
    assert.deepEqual(byName['test-conv'], { kind: 'demo', name: 'test-conv', models: ['test-conv'] });
    assert.deepEqual(byName['test-vae'], { kind: 'demo', name: 'test-vae', models: ['test-vae'] });
    // Codecs first, then families, then demonstrations; every model in exactly one group, named in its entry.
    const kinds = s.groups.map((g) => g.kind);
    assert.deepEqual(kinds, [...kinds].sort((a, b) => ['codec', 'family', 'demo'].indexOf(a) -
                                                      ['codec', 'family', 'demo'].indexOf(b)));
    assert.deepEqual(s.groups.flatMap((g) => g.models).sort(), s.models.map((m) => m.name).sort());
    for (const m of s.models) {
      const g = s.groups.find((x) => x.models.includes(m.name));
      assert.deepEqual(m.group, { kind: g.kind, name: g.name }, m.name);
    }
    // The CLI's grouping of the same files.
    const { text, groups } = cliGroups();
    for (const g of s.groups) {
      const { high, ...cg } = groups[g.name] || {};
      assert.deepEqual(cg, { kind: g.kind, models: g.models }, `${g.name} in:\n${text}`);
      // The family's high member, by name: the model itself or the codec holding it is a page entry.
      for (const h of high || [])
        assert.ok(s.models.some((m) => m.name === h || m.codec?.members.some((x) => x.name === h)), `${h} on the page`);
    }
  });

  test('select({model}) takes a file\'s model name or a group\'s; a level choice only for levels and families', T,
       async () => {
    let s = await selectDrawn({ model: 'test-levels-q1', backend: 'core', effort: 0 });
    assert.equal(s.model, 'test-levels-q1');
    assert.equal(s.group, 'test-levels');
    assert.ok(s.controls.model, 'the picker is drawn');
    assert.ok(s.controls.level, 'the level slider is drawn');
    await screenshot(page, 'models-levels');
    s = await selectDrawn({ model: 'test-factorized' });
    assert.equal(s.group, 'test-factorized');
    assert.equal(s.controls.level, null, 'no level choice for a one-model codec');
    s = await selectDrawn({ model: 'test-levels' });
    assert.equal(s.model, 'test-levels-q2', 'a codec\'s name selects its middle level');
    s = await selectDrawn({ model: 'fam' });
    assert.equal(s.model, 'fam-high');
    assert.ok(s.controls.level, 'a family has a member choice');
    s = await selectDrawn({ model: 'test-vae' });
    assert.equal(s.group, 'test-vae');
    assert.equal(s.controls.level, null);
    await assert.rejects(page.evaluate(() => window.aecodec.select({ model: 'no-such-model' })), /no model/);
  });

  test('the level slider selects a level and encodes with it', T, async () => {
    let s = await selectDrawn({ model: 'test-levels-q1' });
    const [x0, y0, x1, y1] = s.controls.level;
    const before = s.completed;
    await click(x1 - 4, (y0 + y1) / 2);
    await uiJob(before);
    s = await state();
    assert.equal(s.model, 'test-levels-q2');
    assert.equal(s.result.model, 'test-levels-q2');
    const c = s.completed;
    await click(x0 + 4, (y0 + y1) / 2);
    await uiJob(c);
    s = await state();
    assert.equal(s.model, 'test-levels-q1');
    assert.equal(s.result.model, 'test-levels-q1');
    // The picker opens with the groups' headings.
    const [m0, my0, , my1] = s.controls.model;
    await click(m0 + 20, (my0 + my1) / 2);
    await screenshot(page, 'models-picker');
    await page.keyboard.press('Escape');
  });
});
