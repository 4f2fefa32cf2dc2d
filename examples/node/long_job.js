#!/usr/bin/env node
// A long-running job behind a cronhook webhook, in Node.js: node:http, the npm
// `standardwebhooks` package and fetch (Node 18+).
//
//   cd examples/node && npm ci
//   CRONHOOK_SIGNING_SECRET=whsec_... CRONHOOK_API_URL=http://127.0.0.1:8080 \
//     PORT=9000 node long_job.js
//
// Make the target a job ("job": {"timeout_seconds": 600, "heartbeat_seconds": 60}). Each
// delivery is verified twice with the signing secret: the body (Standard Webhooks), and the
// job headers, whose own signature `cronhook-job-signature` covers
// "<webhook-id>.<webhook-timestamp>.<cronhook-job-url>\n<cronhook-job-token>" -- the body
// signature does not cover headers, so without this check a forged job URL could collect the
// token and the results. The job URL must also name this fire (and be on CRONHOOK_API_URL
// when that is set). Then it answers 202 and works in the background: JOB_STEPS (default 3)
// progress reports JOB_STEP_SECONDS (default 1) apart -- each one a heartbeat -- and the
// result. One JSON line per event; the first line is `listening 127.0.0.1:<port>`.
"use strict";

const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 1024 * 1024;
const secret = process.env.CRONHOOK_SIGNING_SECRET;
if (!secret) {
  console.error("set CRONHOOK_SIGNING_SECRET to the tenant's whsec_... signing secret");
  process.exit(2);
}
const apiUrl = (process.env.CRONHOOK_API_URL || "").replace(/\/+$/, "");
const steps = Number(process.env.JOB_STEPS ?? 3);
const pauseMs = 1000 * Number(process.env.JOB_STEP_SECONDS ?? 1);
const webhook = new Webhook(secret);

function emit(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

function reply(res, status, body) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": data.length });
  res.end(data);
}

// The delivery and its job headers, verified; throws with the reason otherwise.
function verify(headers, body) {
  webhook.verify(body, headers, { jsonParse: false });
  const id = headers["webhook-id"];
  const url = headers["cronhook-job-url"];
  const token = headers["cronhook-job-token"];
  const signature = headers["cronhook-job-signature"];
  if (!url || !token || !signature) throw new Error("not a job delivery: job headers missing");
  webhook.verify(
    `${url}\n${token}`,
    {
      "webhook-id": id,
      "webhook-timestamp": headers["webhook-timestamp"],
      "webhook-signature": signature,
    },
    { jsonParse: false },
  );
  if (!new URL(url).pathname.endsWith(`/v1/fires/${id}/job`)) {
    throw new Error("cronhook-job-url does not name this fire");
  }
  if (apiUrl && !url.startsWith(apiUrl + "/")) {
    throw new Error(`cronhook-job-url is not on ${apiUrl}`);
  }
  return { id, url, token, attempt: Number(headers["cronhook-attempt"] ?? 1) };
}

async function report(job, kind, body) {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${job.url}/${kind}`, {
        method: "POST",
        headers: { authorization: `Bearer ${job.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (![502, 503, 504].includes(res.status) || attempt === 3) return res;
    } catch (err) {
      if (attempt === 3) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
  }
}

async function work(job) {
  for (let step = 1; step <= steps; step++) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const res = await report(job, "progress", {
      percent: (100 * step) / (steps + 1),
      message: `step ${step}`,
    });
    if (res.status === 409) {
      emit({ event: "abandoned", webhook_id: job.id, status: 409 }); // the attempt is over
      return;
    }
    emit({ event: "progress", webhook_id: job.id, step, status: res.status });
  }
  const res = await report(job, "complete", { status: "succeeded", result: { steps } });
  const answer = await res.json();
  emit({ event: "completed", webhook_id: job.id, status: answer.status ?? res.status });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on("end", () => {
    if (size > MAX_BODY_BYTES) return reply(res, 413, { detail: "body too large" });
    let job;
    try {
      job = verify(req.headers, Buffer.concat(chunks));
    } catch (err) {
      emit({ event: "refused", error: err.message });
      return reply(res, 401, { detail: err.message });
    }
    emit({ event: "accepted", webhook_id: job.id, attempt: job.attempt });
    reply(res, 202, { accepted: job.id });
    work(job).catch((err) => emit({ event: "report_failed", webhook_id: job.id, error: String(err) }));
  });
});

server.listen(Number(process.env.PORT ?? 8000), HOST, () => {
  console.log(`listening ${HOST}:${server.address().port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
