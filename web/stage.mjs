#!/usr/bin/env node
// Assembles the demo site in build/web/site: the page (web/), the WASM app (build/wasm), the aecodec package
// that does the page's coding (packages/aecodec with its dist/, as aecodec/), ONNX Runtime Web's wasm backend
// (web/node_modules/onnxruntime-web), the UI font, and the models and codecs with models/manifest.json.
//
//   node web/stage.mjs [--models DIR] [--out DIR] [--test-models] [--wasm DIR]
//
// Models: every DIR/*.aem (default: models/), and every codec manifest DIR/*.codec.json (codec_manifest.h:
// one quality knob over member models) with its members' .aem files beside it. A codec is one entry of
// manifest.json ({name, codec: true, file: the .codec.json, members: [{name, file, bytes}]}) that takes the
// place of a model of its name; its members are no entries of their own, so that the page fetches a member
// (the wide one is 18 MB) only when the knob first needs it. When DIR has none, or with --test-models,
// random-weight test models are generated with build/release/tests/make_test_model into
// build/web/test-models (a factorized, a conv, a vae and a hyperprior model, a variable-rate channel model, a
// cross-resolution family: fam-high + fam-medium, a variable-rate one on channel models: fam-q-high +
// fam-q-medium (one entropy model and quality knob, the medium's decoder without LRP), a codec of two
// single-rate levels: test-levels-q1, test-levels-q2, test-codec: a codec manifest over two variable-rate
// channel models, test-codec-a (narrow) up to quality 60 and test-codec-b (wider) above, and a family built
// on a codec's member as the shipped one is on channel's: fam-c-medium, whose family.high names
// test-codec-a, with an up decoder). ONNX graphs:
// NAME.encoder.onnx and NAME.decoder.onnx next to a model are used; otherwise, when
// build/release has aecodec-onnx, they are exported (cached under build/web/onnx); a model they cannot be made
// for is staged without them (the page's ONNX Runtime backend is then off for it). A codec's members get
// theirs the same way, listed with the member in the codec's entry (members[k].onnx): the page runs the graphs
// of the member a quality or a file needs, and fetches them only then. A variable-rate model's graphs are its
// network without the quality's gains: the package applies them around the graphs (encodeLatent,
// decodeLatent). A family's medium member that names its high member (family.high: a model in no family,
// e.g. a codec's member, as family-medium names channel) has it in its entry's family.high, and the entry
// that holds that model (a model of that name, or the codec with that member) is marked as the family's high:
// family: {id, role: 'high', member: the model's name}. The manifest's "default" is the name in DIR/DEFAULT
// when present. The test
// models get training.lambda = 0.01 (make_test_model writes none), so the page can refine at encoder effort > 0.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const opts = { models: path.join(root, 'models'), out: path.join(root, 'build', 'web', 'site'), testModels: false,
               wasm: process.env.AEC_WASM_DIR || path.join(root, 'build', 'wasm') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; ++i) {
  if (argv[i] === '--models') opts.models = path.resolve(argv[++i]);
  else if (argv[i] === '--out') opts.out = path.resolve(argv[++i]);
  else if (argv[i] === '--test-models') opts.testModels = true;
  else if (argv[i] === '--wasm') opts.wasm = path.resolve(argv[++i]);
  else {
    console.error(`stage: unknown option ${argv[i]}\nusage: node web/stage.mjs [--models DIR] [--out DIR] [--test-models] [--wasm DIR]`);
    process.exit(2);
  }
}

const say = (s) => console.log(`stage: ${s}`);
function die(s) {
  console.error(`stage: error: ${s}`);
  process.exit(1);
}

function copy(src, dst) {
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  const s = fs.statSync(src);
  if (fs.existsSync(dst)) {
    const d = fs.statSync(dst);
    if (d.size === s.size && d.mtimeMs >= s.mtimeMs) return;
  }
  fs.copyFileSync(src, dst);
}

// The aecodec document of a model file (safetensors header "__metadata__"."aecodec").
function modelDocument(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) !== 8) throw new Error('too short');
    const n = Number(head.readBigUInt64LE(0));
    if (n > 16 << 20 || n + 8 > fs.fstatSync(fd).size) throw new Error('bad header length');
    const json = Buffer.alloc(n);
    fs.readSync(fd, json, 0, n, 8);
    const meta = JSON.parse(json.toString('utf8')).__metadata__;
    return JSON.parse(meta.aecodec);
  } finally {
    fs.closeSync(fd);
  }
}

// Sets the document's training.lambda when it has none (encoder effort > 0 optimises the rate-distortion loss
// at the model's own lambda). Rewrites the safetensors header only: the tensor data and its offsets stay.
function ensureTrainingLambda(file, lambda) {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const doc = JSON.parse(header.__metadata__.aecodec);
  const t = doc.training && typeof doc.training === 'object' ? doc.training : (doc.training = {});
  if (typeof t.lambda === 'number' && t.lambda > 0) return;
  t.lambda = lambda;
  header.__metadata__.aecodec = JSON.stringify(doc);
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);  // 8-byte aligned data
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length), 0);
  fs.writeFileSync(file, Buffer.concat([len, json, bytes.subarray(8 + n)]));
}

const out = opts.out;
fs.mkdirSync(out, { recursive: true });

// --- the page and the app ---
for (const f of ['index.html', 'app.js', 'compare-worker.js', 'style.css', 'API.md']) copy(path.join(here, f), path.join(out, f));
for (const f of fs.readdirSync(path.join(here, 'assets'))) copy(path.join(here, 'assets', f), path.join(out, 'assets', f));
const wasmDir = opts.wasm;  // wasm/build.sh's output
for (const f of ['aecodec-st.js', 'aecodec-st.wasm', 'aecodec-mt.js', 'aecodec-mt.wasm', 'aecodec-mt.worker.js']) {
  if (!fs.existsSync(path.join(wasmDir, f))) die(`${path.join(wasmDir, f)} missing: run wasm/build.sh`);
  copy(path.join(wasmDir, f), path.join(out, f));
}
// The package, as `npm install` would give it (its package.json "files"; the dist/ that wasm/build.sh makes).
const pkgDir = path.join(root, 'packages', 'aecodec');
for (const f of JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).files) {
  if (!fs.existsSync(path.join(pkgDir, f))) die(`${path.join(pkgDir, f)} missing: run wasm/build.sh`);
  copy(path.join(pkgDir, f), path.join(out, 'aecodec', f));
}
copy(path.join(pkgDir, 'package.json'), path.join(out, 'aecodec', 'package.json'));
const ortDir = path.join(here, 'node_modules', 'onnxruntime-web', 'dist');
for (const f of ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) {
  if (!fs.existsSync(path.join(ortDir, f))) die(`${path.join(ortDir, f)} missing: run (cd web && npm ci)`);
  copy(path.join(ortDir, f), path.join(out, 'ort', f));
}
const font = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
if (fs.existsSync(font)) copy(font, path.join(out, 'assets', 'ui-font.ttf'));
else say('DejaVu Sans not found (fonts-dejavu-core): the page uses ImGui\'s built-in font');

// --- models ---
const makeTestModel = path.join(root, 'build', 'release', 'tests', 'make_test_model');
const exporter = path.join(root, 'build', 'release', 'native', 'onnx', 'aecodec-onnx');
let modelsDir = opts.models;
let note = '';
const aems = (d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.aem')).sort() : []);
if (opts.testModels || aems(modelsDir).length === 0) {
  if (!opts.testModels) say(`no models in ${modelsDir}: using random-weight test models`);
  modelsDir = path.join(root, 'build', 'web', 'test-models');
  fs.mkdirSync(modelsDir, { recursive: true });
  if (!fs.existsSync(makeTestModel)) die(`${makeTestModel} missing: cmake --build build/release --target make_test_model`);
  // [name, arch, stages, more arguments]; test-channel-q: a variable-rate channel model (the quality knob;
  // 16 latent channels, so that its rate moves well beyond the container's overhead).
  const specs = [
    ['test-factorized', 'factorized', '3'],
    ['test-conv', 'conv', '2'],
    ['test-vae', 'vae', '2'],
    ['test-hyperprior', 'hyperprior', '3'],
    ['test-channel-q', 'channel', '3', 'm=16', 'knob'],
    ['fam-high', 'factorized', '3', 'fam-test', 'high'],
    ['fam-medium', 'factorized', '2', 'fam-test', 'medium'],
    // A variable-rate family (as family-high + family-medium on the channel codec): the medium member takes
    // the high member's entropy model (its file, made first) and the same gains (the knob's, one seed).
    ['fam-q-high', 'channel', '3', 'fam-q-test', 'high', 'm=16', 'knob'],
    ['fam-q-medium', 'channel', '2', 'fam-q-test', 'medium', 'm=16', 'knob',
     `entropy=${path.join(modelsDir, 'fam-q-high.aem')}`, 'no-lrp'],
    // A codec of single-rate levels (as hyperprior-q1..q7): one picker entry with a level choice.
    ['test-levels-q1', 'factorized', '2'],
    ['test-levels-q2', 'factorized', '2'],
    // The members of test-codec (as channel and channel-wide): the wider one's rate lies above the other's.
    ['test-codec-a', 'channel', '3', 'm=16', 'knob'],
    ['test-codec-b', 'channel', '3', 'n=32', 'm=32', 'knob'],
    // A family built on test-codec-a (as family-medium on channel, the codec channel's member up to Q 74):
    // the medium names it as its high member, takes its entropy model and gains, and its family id is
    // "fam-" + test-codec-a's entropy id; its up decoder is a copy of test-codec-a's decoder.
    ['fam-c-medium', 'channel', '2', 'm=16', 'knob', `entropy=${path.join(modelsDir, 'test-codec-a.aem')}`,
     `high=${path.join(modelsDir, 'test-codec-a.aem')}`, 'no-lrp', `up=${path.join(modelsDir, 'test-codec-a.aem')}`],
    // ... and one built on test-codec-b (as family-wide-medium on channel-wide, the member above Q 74): the codec
    // holds a family per member, and the cross-decode tab's knob spans both.
    ['fam-d-medium', 'channel', '2', 'n=32', 'm=32', 'knob', `entropy=${path.join(modelsDir, 'test-codec-b.aem')}`,
     `high=${path.join(modelsDir, 'test-codec-b.aem')}`, 'no-lrp', `up=${path.join(modelsDir, 'test-codec-b.aem')}`],
  ];
  for (const [name, arch, stages, ...more] of specs) {
    const f = path.join(modelsDir, `${name}.aem`);
    // Made again when older than the tool or than a file it takes the entropy model or its high member from.
    const from = more.filter((x) => /^(entropy|high|up)=/.test(x)).map((x) => x.slice(x.indexOf('=') + 1));
    const newest = Math.max(fs.statSync(makeTestModel).mtimeMs, ...from.map((x) => fs.statSync(x).mtimeMs));
    if (!(fs.existsSync(f) && fs.statSync(f).mtimeMs >= newest))
      execFileSync(makeTestModel, [f, arch, name, stages, ...more], { stdio: 'inherit' });
    ensureTrainingLambda(f, 0.01);
  }
  fs.writeFileSync(path.join(modelsDir, 'test-codec.codec.json'), JSON.stringify({
    format: 'aecodec-codec', version: 1, name: 'test-codec', default_quality: 40,
    description: 'Random-weight test codec: test-codec-a up to quality 60, test-codec-b above',
    members: [{ model: 'test-codec-a', quality: [1, 60], model_quality: [1, 60] },
              { model: 'test-codec-b', quality: [60, 100], model_quality: [1, 100] }],
  }, null, 2) + '\n');
  fs.writeFileSync(path.join(modelsDir, 'DEFAULT'), 'test-factorized\n');
  note = 'These are random-weight test models (no trained models were bundled): the reconstructions are noise.';
}

const siteModels = path.join(out, 'models');
fs.rmSync(siteModels, { recursive: true, force: true });
fs.mkdirSync(siteModels, { recursive: true });
const manifest = { generated: new Date().toISOString(), source: path.relative(root, modelsDir) || '.', note, default: '', models: [] };
const defFile = path.join(modelsDir, 'DEFAULT');
if (fs.existsSync(defFile)) manifest.default = fs.readFileSync(defFile, 'utf8').trim().split(/\s+/)[0] || '';
// A model's ONNX graphs in the site ({encoder, decoder} URLs), or null: NAME.encoder.onnx and
// NAME.decoder.onnx next to the model file, or exported now by aecodec-onnx (cached by the file's hash).
function onnxGraphs(src) {
  const base = path.basename(src, '.aem');
  let enc = path.join(modelsDir, `${base}.encoder.onnx`), dec = path.join(modelsDir, `${base}.decoder.onnx`);
  if (!(fs.existsSync(enc) && fs.existsSync(dec)) && fs.existsSync(exporter)) {
    const hash = createHash('sha256').update(fs.readFileSync(src)).digest('hex').slice(0, 16);
    const cache = path.join(root, 'build', 'web', 'onnx', hash);
    const names = () => fs.existsSync(cache) ? fs.readdirSync(cache) : [];
    if (!names().some((n) => n.endsWith('.encoder.onnx'))) {
      fs.mkdirSync(cache, { recursive: true });
      try {
        execFileSync(exporter, [src, cache], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        say(`aecodec-onnx failed for ${path.basename(src)}: ${String(e.stderr || e.message).trim()}`);
      }
    }
    const e1 = names().find((n) => n.endsWith('.encoder.onnx')), d1 = names().find((n) => n.endsWith('.decoder.onnx'));
    if (e1 && d1) enc = path.join(cache, e1), dec = path.join(cache, d1);
  }
  if (!(fs.existsSync(enc) && fs.existsSync(dec))) return null;
  copy(enc, path.join(siteModels, `${base}.encoder.onnx`));
  copy(dec, path.join(siteModels, `${base}.decoder.onnx`));
  return { encoder: `models/${base}.encoder.onnx`, decoder: `models/${base}.decoder.onnx` };
}

// The codecs: their manifests are staged as they are (the page and the package check them with the core);
// here only their names and members' names are read.
const codecs = [];
for (const f of fs.readdirSync(modelsDir).filter((x) => x.endsWith('.codec.json')).sort()) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(path.join(modelsDir, f), 'utf8'));
  } catch (e) {
    say(`skipping ${f}: not JSON (${e.message})`);
    continue;
  }
  const members = Array.isArray(doc.members) ? doc.members.map((m) => m && m.model).filter((n) => typeof n === 'string') : [];
  const missing = members.filter((n) => !fs.existsSync(path.join(modelsDir, `${n}.aem`)));
  if (!doc.name || !members.length || missing.length) {
    say(`skipping ${f}: ${missing.length ? `member model ${missing.join(', ')} missing` : 'no name or members'}`);
    continue;
  }
  copy(path.join(modelsDir, f), path.join(siteModels, f));
  codecs.push({ name: String(doc.name), codec: true, file: `models/${f}`, bytes: fs.statSync(path.join(modelsDir, f)).size,
                arch: 'codec', description: typeof doc.description === 'string' ? doc.description : '',
                members: members.map((n) => {
                  // Each member's own graphs: the ONNX Runtime backend runs those of the member the knob
                  // (or a file) needs, and fetches them only then.
                  const src = path.join(modelsDir, `${n}.aem`);
                  const onnx = onnxGraphs(src);
                  return { name: n, file: `models/${n}.aem`, bytes: fs.statSync(src).size, ...(onnx ? { onnx } : {}) };
                }) });
}
const memberNames = new Set(codecs.flatMap((c) => c.members.map((m) => m.name)));
const codecNames = new Set(codecs.map((c) => c.name));
for (const f of aems(modelsDir)) {
  const src = path.join(modelsDir, f);
  let doc;
  try {
    doc = modelDocument(src);
  } catch (e) {
    say(`skipping ${f}: not a readable model file (${e.message})`);
    continue;
  }
  const name = doc.name || path.basename(f, '.aem');
  copy(src, path.join(siteModels, f));
  // A codec's member is fetched through its codec (its ONNX graphs are staged with the codec's entry).
  if (memberNames.has(path.basename(f, '.aem')) || codecNames.has(name)) continue;
  const entry = {
    name,
    file: `models/${f}`,
    bytes: fs.statSync(src).size,
    arch: doc.arch || '',
    description: doc.description || '',
  };
  if (doc.family && typeof doc.family === 'object') {
    entry.family = { id: doc.family.id, role: doc.family.role || '' };
    const h = doc.family.high;
    if (h && typeof h === 'object') entry.family.high = { name: h.name, id: h.id, stride: h.stride };
  }
  const onnx = onnxGraphs(src);
  if (onnx) entry.onnx = onnx;
  manifest.models.push(entry);
}
manifest.models.unshift(...codecs);
// A family built on a model in no family (a medium member's family.high names it): the entry that holds that
// model is the family's high, `member` the model (a codec's member, or the entry's own model). A codec may
// hold one family per member (family-medium on channel, family-wide-medium on channel-wide): `families` lists
// them in the members' order, and `family` is the first (the page switches to the one whose member serves the
// knob's quality).
for (const m of manifest.models) {
  const h = m.family?.high;
  if (!h) continue;
  const holder = manifest.models.find((x) => (x.codec ? x.members.some((y) => y.name === h.name) : x.name === h.name));
  const taken = holder && (holder.families || (holder.family ? [holder.family] : []))
    .find((f) => f.id !== m.family.id && (!holder.codec || f.member === h.name));
  if (!holder) say(`family ${m.family.id}: its high member '${h.name}' (named by ${m.name}) is not on this site`);
  else if (taken) say(`family ${m.family.id}: '${h.name}' (${holder.name}) is in family ${taken.id} already`);
  else if (!holder.codec) holder.family = { id: m.family.id, role: 'high', member: h.name };
  else {
    const order = (f) => holder.members.findIndex((y) => y.name === f.member);
    holder.families = [...(holder.families || []).filter((f) => f.id !== m.family.id),
                       { id: m.family.id, role: 'high', member: h.name }].sort((a, b) => order(a) - order(b));
    holder.family = holder.families[0];
  }
}
if (!manifest.models.some((m) => m.name === manifest.default)) manifest.default = manifest.models[0]?.name || '';
fs.writeFileSync(path.join(siteModels, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
say(`${out}: ${manifest.models.length - codecs.length} models (${manifest.models.filter((m) => m.onnx).length} with ` +
    `ONNX graphs), ${codecs.length} codecs (${codecs.map((c) => `${c.name}: ${c.members.filter((m) => m.onnx).length} of ` +
                                                        `${c.members.length} members with ONNX graphs`).join(', ') || 'none'}), ` +
    `default ${manifest.default || '(none)'}`);
