#!/usr/bin/env node
// A cronhook webhook receiver in Node.js: node:http + the npm `standardwebhooks` package.
//
//   cd examples/node && npm ci
//   CRONHOOK_SIGNING_SECRET=whsec_... PORT=9000 node receiver.js
//
// Point a schedule's target at http://127.0.0.1:9000/ (any path works). PORT=0 picks a free
// port; the first line printed is always `listening 127.0.0.1:<port>`, then one JSON line per
// request. Only binds 127.0.0.1.
//
// Deduplication keeps the fire ids (`webhook-id`) it has processed in an in-memory Set: per
// process, forgotten on restart. A real receiver records them in its own database, in the same
// transaction as the work, so a redelivered fire is acknowledged without being redone.
"use strict";

const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 1024 * 1024;
const REQUIRED_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"];

const secret = process.env.CRONHOOK_SIGNING_SECRET;
if (!secret) {
  console.error("set CRONHOOK_SIGNING_SECRET to the tenant's whsec_... signing secret");
  process.exit(2);
}
const webhook = new Webhook(secret); // verifies v1 signatures, 5 minute timestamp tolerance
const seen = new Set(); // processed fire ids, this process only

function emit(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

function reply(res, status, body, contentType = "application/json") {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": contentType, "content-length": data.length });
  res.end(data);
}

function reject(res, status, header, detail) {
  emit({ verified: false, status, header, error: detail });
  const problem = { type: "about:blank", status, header, detail };
  reply(res, status, problem, "application/problem+json");
}

// The headers we need, or [header, reason] for the first one that is absent or unreadable.
function checkHeaders(headers) {
  for (const name of REQUIRED_HEADERS) {
    if (!headers[name] || !headers[name].trim()) {
      return [name, `missing required header '${name}'`];
    }
  }
  if (!/^[0-9]{1,12}$/.test(headers["webhook-timestamp"].trim())) {
    return ["webhook-timestamp", "malformed header 'webhook-timestamp': expected unix seconds"];
  }
  return null;
}

function handleDelivery(req, res, body) {
  const bad = checkHeaders(req.headers);
  if (bad) {
    reject(res, 400, bad[0], bad[1]);
    return;
  }
  try {
    // The raw body, exactly as received: never re-serialised JSON.
    webhook.verify(body, req.headers, { jsonParse: false });
  } catch (err) {
    const header = /timestamp/i.test(err.message) ? "webhook-timestamp" : "webhook-signature";
    reject(res, 401, header, `verification failed: ${err.message}`);
    return;
  }
  const id = req.headers["webhook-id"];
  const duplicate = seen.has(id);
  seen.add(id); // in a real receiver: only once the work has succeeded
  emit({
    verified: true,
    status: 200,
    webhook_id: id,
    duplicate,
    schedule_id: req.headers["cronhook-schedule-id"] ?? null,
    attempt: req.headers["cronhook-attempt"] ? Number(req.headers["cronhook-attempt"]) : null,
    body: body.toString("utf8"),
  });
  reply(res, 200, { received: id, duplicate });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      tooLarge = true;
    } else {
      chunks.push(chunk);
    }
  });
  req.on("end", () => {
    if (tooLarge) {
      reply(res, 413, { status: 413, detail: `body exceeds ${MAX_BODY_BYTES} bytes` });
      return;
    }
    handleDelivery(req, res, Buffer.concat(chunks));
  });
});

server.listen(Number(process.env.PORT ?? 8000), HOST, () => {
  console.log(`listening ${HOST}:${server.address().port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
