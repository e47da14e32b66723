// Runs every method of the official Node SDK (@recordorg/smartai-assessment-backend 1.0.12)
// against the sandbox named by SANDBOX_URL, and prints what each returned as one JSON line.
"use strict";

const AssessmentClient = require("@recordorg/smartai-assessment-backend");

async function main() {
  const url = process.env.SANDBOX_URL;
  const client = new AssessmentClient({
    apiKey: process.env.SANDBOX_API_KEY,
    secretKey: process.env.SANDBOX_SECRET_KEY,
    baseUrl: `${url}/api/v1`,
  });
  // 1.0.12 hard-codes a remote queue host: point the property it reads at the sandbox.
  client.webhookBaseUrl = `${url}/api`;

  const out = {};
  out.bulk = await client.createSession({
    users: [{ name: "Node One", email: "node1@example.com" }, { name: "Node Two", email: "node2@example.com" }],
    recruiterEmail: "rec@example.com",
  });
  out.single = await client.createSession({
    name: "Node Single", email: "single@example.com", recruiterId: "rec_node",
  });
  const opened = await fetch(`${url}/portal/open`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: out.bulk.token }),
  }).then((r) => r.json());
  out.opened = opened.data;
  await fetch(`${url}/portal/complete`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      assessmentId: opened.data.assessmentId,
      candidateId: opened.data.candidates[1].id,
      candidateKey: opened.data.candidates[1].key,
    }),
  });
  out.assessments = await client.listAssessments();
  out.events = await client.getWebhookEvents({ limit: 10 });
  out.acknowledged = await client.acknowledgeWebhookEvents(out.events.events.map((e) => e.eventId));
  out.after = await client.getWebhookEvents();

  const wrong = new AssessmentClient({
    apiKey: "wc_ak_test_wrong", secretKey: "wc_sk_test_wrong", baseUrl: `${url}/api/v1`,
  });
  wrong.webhookBaseUrl = `${url}/api`;
  out.errors = {};
  for (const [name, call] of [
    ["createSession", () => wrong.createSession({ name: "X", email: "x@example.com", recruiterId: "r" })],
    ["listAssessments", () => wrong.listAssessments()],
    ["getWebhookEvents", () => wrong.getWebhookEvents()],
  ]) {
    try { await call(); out.errors[name] = null; } catch (err) { out.errors[name] = err.message; }
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
