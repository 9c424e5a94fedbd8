// Follows one task until it is final, calling onUpdate({status, progress, phase, output}) on each change.
// It reads the task events stream (GET /api/v1/tasks/{id}/events: status, phase, step and ETA as they happen);
// when the stream is unavailable or breaks before the end, it polls once a second instead. Callers only see
// onUpdate and onError, and call stop().

import { api } from "./api.js";

const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]);
const POLL_MS = 1000;
const MAX_POLLS = 4 * 3600; // four hours of polls at most, then the page stops asking

function fromEvent(body) {
  const output = body.output || {};
  const status = output.task_status || "UNKNOWN";
  const phase = body.progress || null;
  const progress = status === "SUCCEEDED" ? 100 : phase ? phase.percent : 0;
  return { status, progress, phase, output };
}

// Reads the stream to its end; true when it saw the task final, false when it ended or failed before.
async function followStream(taskId, onUpdate, signal) {
  let response;
  try {
    response = await api.events(taskId, signal);
  } catch {
    return false;
  }
  if (!response.ok || !response.body) return false;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffered += decoder.decode(value, { stream: true }).replaceAll("\r\n", "\n");
      let end;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (!data) continue; // a heartbeat comment
        const update = fromEvent(JSON.parse(data));
        onUpdate(update);
        if (FINAL.has(update.status)) return true;
      }
    }
  } catch {
    return false; // aborted by stop(), or the connection broke: polling takes over
  }
}

async function pollOnce(taskId) {
  const [query, parameters] = await Promise.all([api.query(taskId), api.parameters(taskId).catch(() => null)]);
  const output = query.output || {};
  const status = output.task_status || "UNKNOWN";
  const progress = status === "SUCCEEDED" ? 100 : parameters ? parameters.progress : 0;
  return { status, progress, phase: null, output, parameters };
}

export function watchTask(taskId, onUpdate, onError) {
  let stopped = false;
  let timer = null;
  let polls = 0;
  const aborter = new AbortController();
  const update = (value) => {
    if (!stopped) onUpdate(value);
  };

  async function tick() {
    if (stopped) return;
    polls += 1;
    try {
      const value = await pollOnce(taskId);
      if (stopped) return;
      onUpdate(value);
      if (FINAL.has(value.status)) return;
    } catch (failure) {
      if (stopped) return;
      onError(failure);
    }
    if (polls < MAX_POLLS) timer = setTimeout(tick, POLL_MS);
  }

  followStream(taskId, update, aborter.signal).then((finished) => {
    if (!finished && !stopped) tick();
  });
  return function stop() {
    stopped = true;
    aborter.abort();
    if (timer !== null) clearTimeout(timer);
  };
}

export function isFinal(status) {
  return FINAL.has(status);
}
