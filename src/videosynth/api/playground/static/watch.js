// Follows one task until it is final, calling onUpdate({status, progress, output}) on each change.
// Polls once a second for now; the task events stream (GET /api/v1/tasks/{id}/events) can replace `pollOnce`
// and the loop below without touching its callers: they only see onUpdate and onError, and call stop().

import { api } from "./api.js";

const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]);
const POLL_MS = 1000;
const MAX_POLLS = 4 * 3600; // four hours of polls at most, then the page stops asking

async function pollOnce(taskId) {
  const [query, parameters] = await Promise.all([api.query(taskId), api.parameters(taskId).catch(() => null)]);
  const output = query.output || {};
  const status = output.task_status || "UNKNOWN";
  const progress = status === "SUCCEEDED" ? 100 : parameters ? parameters.progress : 0;
  return { status, progress, output, parameters };
}

export function watchTask(taskId, onUpdate, onError) {
  let stopped = false;
  let timer = null;
  let polls = 0;

  async function tick() {
    if (stopped) return;
    polls += 1;
    try {
      const update = await pollOnce(taskId);
      if (stopped) return;
      onUpdate(update);
      if (FINAL.has(update.status)) return;
    } catch (failure) {
      if (stopped) return;
      onError(failure);
    }
    if (polls < MAX_POLLS) timer = setTimeout(tick, POLL_MS);
  }

  tick();
  return function stop() {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
  };
}

export function isFinal(status) {
  return FINAL.has(status);
}
