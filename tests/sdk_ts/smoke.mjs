// Smoke test of a running `flows serve` through the official TypeScript SDK.
//
//   node smoke.mjs <server url> [<client id> <client secret>]
//
// The TypeScript SDK validates responses with zod, much more strictly than the Python SDK
// (RFC 3339 dates with an offset, no `null` for optional fields, real JSON types): every call
// below must parse. Exits 0 when everything passed, 1 with the failing step otherwise.

import assert from "node:assert/strict";
import { SDK } from "@formance/formance-sdk";
import * as orchestration from "@formance/formance-sdk/sdk/models/orchestration/index.js";

const [serverURL, clientID, clientSecret] = process.argv.slice(2);
if (!serverURL) {
  console.error("usage: node smoke.mjs <server url> [<client id> <client secret>]");
  process.exit(2);
}

const sdk = new SDK({
  serverURL,
  ...(clientID ? { security: { clientID, clientSecret } } : {}),
});
const v1 = sdk.orchestration.v1;
const v2 = sdk.orchestration.v2;
const options = { timeoutMs: 15000 };
const marker = `ts-smoke-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;

let step = "start";
async function check(name, body) {
  step = name;
  const result = await body();
  console.log(`ok  ${name}`);
  return result;
}

function isDate(value) {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

async function expectError(promise, statusCode, errorCode) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof orchestration.ErrorT, `expected ErrorT, got ${error?.name}: ${error?.message}`);
    assert.equal(error.statusCode, statusCode);
    assert.equal(error.errorCode, errorCode);
    return;
  }
  assert.fail(`expected a ${statusCode} ${errorCode} error`);
}

async function main() {
  await check("server info (v1, v2)", async () => {
    const info = await v1.getServerInfoOrchestration();
    assert.equal(typeof info.serverInfo.version, "string");
    const info2 = await v2.getServerInfo();
    assert.equal(info2.v2ServerInfo.version, info.serverInfo.version);
  });

  const workflow = await check("create workflow", async () => {
    const created = await v1.createWorkflow({
      name: marker,
      stages: [{ noop: {} }, { delay: { duration: "100ms" } }],
    });
    assert.equal(created.statusCode, 201);
    const data = created.createWorkflowResponse.data;
    assert.equal(data.config.name, marker);
    assert.equal(data.config.stages.length, 2);
    assert.ok(isDate(data.createdAt) && isDate(data.updatedAt));
    return data;
  });

  await check("get and list workflows", async () => {
    const read = await v1.getWorkflow({ flowId: workflow.id });
    assert.equal(read.getWorkflowResponse.data.id, workflow.id);
    const listed = await v1.listWorkflows();
    assert.ok(listed.listWorkflowsResponse.data.some((w) => w.id === workflow.id));
  });

  // The TypeScript SDK sends `Content-Type: application/json` and an empty body when a run has
  // no variables: that must mean "no variables".
  const instance = await check("run workflow with wait, no body", async () => {
    const run = await v1.runWorkflow({ workflowID: workflow.id, wait: true }, options);
    assert.equal(run.statusCode, 201);
    const data = run.runWorkflowResponse.data;
    assert.equal(data.workflowID, workflow.id);
    assert.equal(data.terminated, true);
    assert.equal(data.error, undefined);
    assert.ok(isDate(data.terminatedAt));
    return data;
  });

  await check("run workflow with variables", async () => {
    const run = await v1.runWorkflow(
      { workflowID: workflow.id, wait: true, requestBody: { who: "ts" } },
      options,
    );
    assert.equal(run.runWorkflowResponse.data.terminated, true);
  });

  await check("get instance", async () => {
    const read = await v1.getInstance({ instanceID: instance.id });
    const data = read.getWorkflowInstanceResponse.data;
    assert.equal(data.id, instance.id);
    assert.equal(data.terminated, true);
    assert.equal(data.status.length, 2);
    assert.deepEqual(data.status.map((s) => s.stage), [0, 1]);
    assert.ok(data.status.every((s) => s.instanceID === instance.id && isDate(s.startedAt) && isDate(s.terminatedAt)));
    const read2 = await v2.getInstance({ instanceID: instance.id });
    assert.equal(read2.v2GetWorkflowInstanceResponse.data.id, instance.id);
  });

  await check("instance history", async () => {
    const history = await v1.getInstanceHistory({ instanceID: instance.id });
    const stages = history.getWorkflowInstanceHistoryResponse.data;
    assert.deepEqual(stages.map((s) => s.name), ["RunNoop", "RunDelay"]);
    assert.ok(stages.every((s) => s.terminated === true && isDate(s.startedAt) && typeof s.input === "object"));
    const stage = await v1.getInstanceStageHistory({ instanceID: instance.id, number: 0 });
    assert.ok(Array.isArray(stage.getWorkflowInstanceHistoryStageResponse.data));
  });

  await check("list instances (v1, v2)", async () => {
    const listed = await v1.listInstances({ workflowID: workflow.id });
    assert.deepEqual(listed.listRunsResponse.data.map((i) => i.id).slice(0, 1), [instance.id]);
    assert.equal(listed.listRunsResponse.data.length, 2);
    const running = await v1.listInstances({ workflowID: workflow.id, running: true });
    assert.equal(running.listRunsResponse.data.length, 0);
    const page = await v2.listInstances({ workflowID: workflow.id, pageSize: 1 });
    const cursor = page.v2ListRunsResponse.cursor;
    assert.equal(cursor.pageSize, 1);
    assert.equal(cursor.hasMore, true);
    const next = await v2.listInstances({ cursor: cursor.next });
    assert.equal(next.v2ListRunsResponse.cursor.data.length, 1);
    assert.equal(next.v2ListRunsResponse.cursor.hasMore, false);
  });

  await check("wait_event: send event, then the instance ends", async () => {
    const waiting = await v1.createWorkflow({ stages: [{ wait_event: { event: "go" } }] });
    const workflowID = waiting.createWorkflowResponse.data.id;
    const run = await v1.runWorkflow({ workflowID }, options);
    const instanceID = run.runWorkflowResponse.data.id;
    const sent = await v1.sendEvent({ instanceID, requestBody: { name: "go" } });
    assert.equal(sent.statusCode, 204);
    let data;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      data = (await v1.getInstance({ instanceID })).getWorkflowInstanceResponse.data;
      if (data.terminated) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(data.terminated, true);
    assert.equal(data.error, undefined);
  });

  await check("abort a waiting instance", async () => {
    const waiting = await v1.createWorkflow({ stages: [{ wait_event: { event: "never" } }] });
    const workflowID = waiting.createWorkflowResponse.data.id;
    const run = await v1.runWorkflow({ workflowID }, options);
    const instanceID = run.runWorkflowResponse.data.id;
    const aborted = await v1.cancelEvent({ instanceID }, options);
    assert.equal(aborted.statusCode, 204);
    const data = (await v1.getInstance({ instanceID })).getWorkflowInstanceResponse.data;
    assert.equal(data.terminated, true);
    assert.equal(data.error, "canceled");
  });

  const trigger = await check("create and read trigger", async () => {
    const created = await v1.createTrigger({
      event: "SAVED_PAYMENT",
      workflowID: workflow.id,
      name: marker,
      vars: { amount: "event.amount" },
    });
    assert.equal(created.statusCode, 201);
    const data = created.createTriggerResponse.data;
    assert.equal(data.name, marker);
    assert.deepEqual(data.vars, { amount: "event.amount" });
    assert.ok(isDate(data.createdAt));
    const read = await v1.readTrigger({ triggerID: data.id });
    assert.equal(read.readTriggerResponse.data.id, data.id);
    const minimal = await v2.createTrigger({ event: "SAVED_ACCOUNT", workflowID: workflow.id });
    assert.equal(minimal.v2CreateTriggerResponse.data.event, "SAVED_ACCOUNT");
    return data;
  });

  await check("list triggers and occurrences (v1, v2)", async () => {
    const listed = await v1.listTriggers({ name: marker });
    assert.deepEqual(listed.listTriggersResponse.data.map((t) => t.id), [trigger.id]);
    const listed2 = await v2.listTriggers({ name: marker.toUpperCase() });
    assert.deepEqual(listed2.v2ListTriggersResponse.cursor.data.map((t) => t.id), [trigger.id]);
    const occurrences = await v1.listTriggersOccurrences({ triggerID: trigger.id });
    assert.deepEqual(occurrences.listTriggersOccurrencesResponse.data, []);
    const occurrences2 = await v2.listTriggersOccurrences({ triggerID: trigger.id });
    assert.deepEqual(occurrences2.v2ListTriggersOccurrencesResponse.cursor.data, []);
  });

  await check("list workflows (v2 cursor walk)", async () => {
    const seen = new Set();
    let page = (await v2.listWorkflows({ pageSize: 50 })).v2ListWorkflowsResponse.cursor;
    page.data.forEach((w) => seen.add(w.id));
    while (page.hasMore) {
      page = (await v2.listWorkflows({ cursor: page.next })).v2ListWorkflowsResponse.cursor;
      page.data.forEach((w) => seen.add(w.id));
    }
    assert.ok(seen.has(workflow.id));
  });

  await check("errors are typed", async () => {
    await expectError(v1.getWorkflow({ flowId: "8a1d2c6e-5b7f-4e3a-9c0d-1f2e3d4c5b6a" }), 404, "NOT_FOUND");
    await expectError(v1.createTrigger({ event: "", workflowID: workflow.id }), 400, "VALIDATION");
  });

  await check("delete trigger and workflow", async () => {
    assert.equal((await v1.deleteTrigger({ triggerID: trigger.id })).statusCode, 204);
    assert.equal((await v1.deleteWorkflow({ flowId: workflow.id })).statusCode, 204);
    await expectError(v1.readTrigger({ triggerID: trigger.id }), 404, "NOT_FOUND");
  });
}

try {
  await main();
  console.log("all ok");
} catch (error) {
  console.error(`FAILED at step: ${step}`);
  console.error(error?.stack ?? error);
  if (error?.cause) console.error("cause:", error.cause);
  if (error?.rawValue !== undefined) console.error("raw value:", JSON.stringify(error.rawValue));
  if (error?.body !== undefined) console.error("body:", error.body);
  process.exit(1);
}
