#!/usr/bin/env node
// A small static server for the browser demo (no npm dependencies). It sends the cross-origin-isolation headers
// (COOP same-origin + COEP require-corp, and CORP) so the page may use SharedArrayBuffer, i.e. threaded WASM.
//
//   web/serve.mjs [--port 8080] [--host 127.0.0.1] [--root build/web/site]
//
// --port 0 picks a free port. The first line printed is "aecodec demo: http://HOST:PORT/" (the tests read it).
// Ctrl-C (SIGINT) or SIGTERM stops it.
import { createServer } from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = { port: 8080, host: '127.0.0.1', root: path.resolve(here, '..', 'build', 'web', 'site'), quiet: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; ++i) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--port' || a === '-p') opts.port = Number(val());
  else if (a === '--host') opts.host = val();
  else if (a === '--root') opts.root = path.resolve(val());
  else if (a === '--quiet' || a === '-q') opts.quiet = true;
  else if (a === '--help' || a === '-h') usage();
  else usage(`unknown option ${a}`);
}

function usage(err) {
  const text = 'usage: web/serve.mjs [--port 8080] [--host 127.0.0.1] [--root build/web/site] [--quiet]\n';
  if (err) {
    process.stderr.write(`serve: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.aem': 'application/octet-stream',
  '.aec': 'application/octet-stream',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

function send(res, status, text, method) {
  res.writeHead(status, { ...ISOLATION, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(method === 'HEAD' ? undefined : `${status} ${text}\n`);
}

const server = createServer(async (req, res) => {
  const method = req.method || 'GET';
  if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'method not allowed', method);
  let rel;
  try {
    rel = decodeURIComponent(new URL(req.url || '/', 'http://x').pathname);
  } catch {
    return send(res, 400, 'bad request', method);
  }
  if (rel.includes('\0')) return send(res, 400, 'bad request', method);
  let file = path.resolve(opts.root, '.' + rel);
  if (file !== opts.root && !file.startsWith(opts.root + path.sep)) return send(res, 403, 'forbidden', method);
  try {
    let st = await fs.stat(file);
    if (st.isDirectory()) {
      file = path.join(file, 'index.html');
      st = await fs.stat(file);
    }
    if (!st.isFile()) return send(res, 404, 'not found', method);
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const headers = {
      ...ISOLATION,
      'Content-Type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
      'Content-Length': st.size,
      ETag: etag,
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, ISOLATION);
      return res.end();
    }
    res.writeHead(200, headers);
    if (method === 'HEAD') return res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  } catch {
    send(res, 404, 'not found', method);
  } finally {
    if (!opts.quiet && process.env.AEC_SERVE_LOG) process.stderr.write(`${method} ${rel}\n`);
  }
});

fs.stat(path.join(opts.root, 'index.html')).then(
  () => {
    server.listen(opts.port, opts.host, () => {
      const { port } = server.address();
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      process.stdout.write(`aecodec demo: http://${host === '127.0.0.1' ? 'localhost' : host}:${port}/\n`);
      if (!opts.quiet) process.stdout.write(`serving ${opts.root} (Ctrl-C stops)\n`);
    });
  },
  () => {
    process.stderr.write(`serve: ${opts.root}/index.html not found: build the site first (scripts/setup-web.sh)\n`);
    process.exit(1);
  },
);
server.on('error', (e) => {
  process.stderr.write(`serve: ${e.message}\n`);
  process.exit(1);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500).unref());
