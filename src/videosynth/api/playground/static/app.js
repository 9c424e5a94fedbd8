// The playground: key, form, the task being watched, history. Talks to the public API only (api.js).

import { ApiFailure, CREATE_PATH, api, keyStore } from "./api.js";
import * as form from "./form.js";
import { clearHistory, loadHistory, setHistoryActions, wirePager } from "./history.js";
import { isFinal, watchTask } from "./watch.js";

const $ = (id) => document.getElementById(id);

let stopWatching = () => {};
let elapsedTimer = null;

const PHASES = {
  PENDING: "Waiting in the queue",
  SUCCEEDED: "Done",
  FAILED: "Failed",
  CANCELED: "Canceled before it started",
  UNKNOWN: "Unknown task (expired, or not this key's)",
};

const PHASE_WORDS = {
  queued: "Queued",
  extending_prompt: "Extending the prompt",
  denoising: "Generating frames",
  encoding: "Encoding the video",
  uploading: "Storing the video",
};

// The worker's own word when the events stream gives it (phase, step i of n, ETA); else what the status says.
function phaseOf(status, progress, phase) {
  if (phase && status === "RUNNING" && PHASE_WORDS[phase.phase]) {
    let words = PHASE_WORDS[phase.phase];
    if (phase.phase === "denoising" && phase.step && phase.steps) words += `: step ${phase.step} of ${phase.steps}`;
    if (phase.eta_s !== null && phase.eta_s !== undefined) words += ` · about ${Math.ceil(phase.eta_s)} s left`;
    return words;
  }
  if (status === "RUNNING") return progress > 0 ? "Generating frames" : "Starting: loading the model, extending the prompt";
  return PHASES[status] || status;
}

// The seed's curl for a create body, the key left to the shell.
export function curlFor(body) {
  const url = `${location.origin}${CREATE_PATH}`;
  const data = JSON.stringify(body, null, 2).replaceAll("'", "'\\''");
  return [
    "curl --request POST \\",
    `  --url ${url} \\`,
    '  --header "Authorization: Bearer $DASHSCOPE_API_KEY" \\',
    "  --header 'Content-Type: application/json' \\",
    "  --header 'X-DashScope-Async: enable' \\",
    `  --data '${data}'`,
  ].join("\n");
}

function describeFailure(failure) {
  if (failure.status === 401) return `The server refused the key: ${failure.message}`;
  if (failure.status === 429) return `Too many requests for this key right now; wait and try again. (${failure.message})`;
  return failure.message;
}

// A failure goes next to the field it concerns: the key, a form field the message names, else the form.
function showFailure(failure, fallback = "form") {
  if (failure.status === 401) {
    form.showError("api-key", describeFailure(failure));
    return;
  }
  form.showError(form.fieldOfMessage(failure.message) || fallback, describeFailure(failure));
}

function showCurrent(taskId, body) {
  stopWatching();
  clearInterval(elapsedTimer);
  const started = Date.now();
  $("current-empty").hidden = true;
  $("current-body").hidden = false;
  $("current-id").textContent = taskId;
  $("current-error").hidden = true;
  $("current-rewritten").hidden = true;
  $("download").hidden = true;
  const video = $("current-video");
  video.hidden = true;
  video.removeAttribute("src");
  video.load();
  $("curl").textContent = curlFor(body);
  $("copy-status").textContent = "";
  render({ status: "PENDING", progress: 0, output: {} });
  const tickElapsed = () => ($("current-elapsed").textContent = `${Math.round((Date.now() - started) / 1000)} s`);
  tickElapsed();
  elapsedTimer = setInterval(tickElapsed, 1000);
  stopWatching = watchTask(
    taskId,
    (update) => {
      render(update);
      if (update.status === "PENDING" || update.status === "RUNNING") return;
      clearInterval(elapsedTimer);
      const taken = serverSeconds(update.output);
      if (taken === null) tickElapsed();
      else $("current-elapsed").textContent = `${taken} s`;
      if (isFinal(update.status)) loadHistory();
      if (update.status === "SUCCEEDED" && !body.parameters.seed && update.output.seed !== undefined) {
        // The server chose the seed: the curl names it, so running it makes this same video.
        $("curl").textContent = curlFor({ ...body, parameters: { ...body.parameters, seed: update.output.seed } });
      }
    },
    (failure) => {
      $("current-error").textContent = `Could not read the task: ${describeFailure(failure)}`;
      $("current-error").hidden = false;
    },
  );
}

// From submit to end by the server's own clock ("YYYY-MM-DD hh:mm:ss.mmm", both in its zone); null without both.
function serverSeconds(output) {
  const at = (text) => (text ? Date.parse(text.replace(" ", "T")) : NaN);
  const taken = at(output.end_time) - at(output.submit_time);
  return Number.isFinite(taken) ? Math.round(taken / 1000) : null;
}

function render({ status, progress, phase, output }) {
  const statusBox = $("current-status");
  statusBox.textContent = status;
  statusBox.className = `status-${status}`;
  $("current-phase").textContent = phaseOf(status, progress, phase);
  const bar = $("current-progress");
  bar.value = progress;
  bar.textContent = `${progress} %`;
  bar.setAttribute("aria-valuetext", `${progress} %`);
  if (status === "FAILED") {
    $("current-error").textContent = `${output.code || "Error"}: ${output.message || "the task failed."}`;
    $("current-error").hidden = false;
  }
  if (output.actual_prompt) {
    $("current-rewritten").textContent = `Rewritten prompt: ${output.actual_prompt}`;
    $("current-rewritten").hidden = false;
  }
  if (status === "SUCCEEDED" && output.video_url) {
    const video = $("current-video");
    if (video.getAttribute("src") !== output.video_url) {
      video.src = output.video_url;
      video.hidden = false;
      video.play().catch(() => {}); // autoplay is muted, so allowed; a refusal only means a click is needed
    }
    const download = $("download");
    download.href = output.video_url;
    download.download = `${$("current-id").textContent}.mp4`;
    download.hidden = false;
  }
}

async function submit(body) {
  form.clearErrors();
  const button = $("generate");
  button.disabled = true;
  try {
    const created = await api.create(body);
    showCurrent(created.output.task_id, body);
    loadHistory(1);
  } catch (failure) {
    if (!(failure instanceof ApiFailure)) throw failure;
    showFailure(failure);
  } finally {
    button.disabled = false;
  }
}

function onGenerate(event) {
  event.preventDefault();
  form.clearErrors();
  if (!form.currentModel()) {
    form.showError("api-key", "Enter your API key first: the model list comes from the server.");
    return;
  }
  const problems = form.checkLocally();
  for (const [field, message] of problems) form.showError(field, message);
  if (problems.length) {
    $(problems[0][0]).focus();
    return;
  }
  submit(form.createBody());
}

async function useKey() {
  form.clearErrors();
  try {
    const listing = await api.models();
    form.setModels(listing.data);
    await loadHistory(1);
    return true;
  } catch (failure) {
    showFailure(failure, "api-key");
    clearHistory();
    return false;
  }
}

function fillForm(body) {
  const model = body.model;
  $("model").value = model;
  form.applyModel();
  $("prompt").value = body.input.prompt;
  $("negative-prompt").value = body.input.negative_prompt || "";
  const p = body.parameters;
  const chosen = form.currentModel();
  if (p.resolution) {
    $("resolution").value = p.resolution;
    form.applyResolution();
    $("ratio").value = p.ratio;
  } else if (p.size) {
    for (const [tier, ratios] of Object.entries(chosen.sizes)) {
      for (const [ratio, size] of Object.entries(ratios)) {
        if (size === p.size) {
          $("resolution").value = tier;
          form.applyResolution();
          $("ratio").value = ratio;
        }
      }
    }
  }
  form.showSize();
  $("duration").value = String(p.duration);
  form.showDuration();
  $("seed").value = p.seed === undefined ? "" : String(p.seed);
  $("watermark").checked = Boolean(p.watermark);
  $("prompt-extend").checked = Boolean(p.prompt_extend);
  form.updateCounts();
}

function wire() {
  $("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) {
      form.showError("api-key", "Enter an API key (videosynth keys create prints one).");
      return;
    }
    keyStore.set(key);
    await useKey();
  });
  $("forget-key").addEventListener("click", () => {
    keyStore.clear();
    $("api-key").value = "";
    stopWatching();
    clearInterval(elapsedTimer);
    clearHistory();
    $("current-body").hidden = true;
    $("current-empty").hidden = false;
  });
  $("create-form").addEventListener("submit", onGenerate);
  $("model").addEventListener("change", form.applyModel);
  $("resolution").addEventListener("change", form.applyResolution);
  $("ratio").addEventListener("change", form.showSize);
  $("duration").addEventListener("input", form.showDuration);
  $("prompt").addEventListener("input", form.updateCounts);
  $("negative-prompt").addEventListener("input", form.updateCounts);
  $("dice").addEventListener("click", form.randomSeed);
  $("copy-curl").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("curl").textContent);
      $("copy-status").textContent = "Copied. Set DASHSCOPE_API_KEY in your shell, then paste.";
    } catch {
      $("copy-status").textContent = "This browser refused the clipboard: copy the command below.";
      $("curl").closest("details").open = true;
    }
  });
  setHistoryActions({
    show: (taskId, body) => showCurrent(taskId, body),
    rerun: (body) => {
      fillForm(body);
      submit(body);
    },
    failed: (failure) => failure.status === 401 && showFailure(failure),
  });
  wirePager();
}

wire();
const saved = keyStore.get();
if (saved) {
  $("api-key").value = saved;
  useKey();
}
