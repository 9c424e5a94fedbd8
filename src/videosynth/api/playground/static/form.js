// The create form: the model's allowed values, live character counts, the body it sends, errors by field.

const $ = (id) => document.getElementById(id);

// The DashScope dialect names the field at fault at the start of its message (api/dashscope_wire.py).
const FIELD_OF_MESSAGE = [
  ["input.negative_prompt", "negative-prompt"],
  ["input.prompt", "prompt"],
  ["parameters.resolution", "resolution"],
  ["parameters.ratio", "ratio"],
  ["parameters.size", "ratio"],
  ["parameters.duration", "duration"],
  ["parameters.seed", "seed"],
  ["parameters.prompt_extend", "prompt-extend"],
  ["parameters.watermark", "watermark"],
  ["'model'", "model"],
];
const FIELDS = ["model", "prompt", "negative-prompt", "resolution", "ratio", "duration", "seed", "watermark", "prompt-extend"];

let models = [];

export function currentModel() {
  return models.find((m) => m.name === $("model").value) || models[0];
}

export function setModels(list) {
  models = list;
  const select = $("model");
  const chosen = select.value;
  select.replaceChildren(...list.map((m) => new Option(m.name, m.name)));
  if (list.some((m) => m.name === chosen)) select.value = chosen;
  applyModel();
}

function fillSelect(select, values, preferred) {
  const previous = select.value;
  select.replaceChildren(...values.map((v) => new Option(v, v)));
  select.value = values.includes(previous) ? previous : values.includes(preferred) ? preferred : values[0];
}

export function applyModel() {
  const model = currentModel();
  if (!model) return;
  const resolutions = Object.keys(model.sizes);
  fillSelect($("resolution"), resolutions, model.default_resolution);
  applyResolution();
  const duration = $("duration");
  const durations = model.durations;
  duration.min = String(Math.min(...durations));
  duration.max = String(Math.max(...durations));
  if (!durations.includes(Number(duration.value))) duration.value = String(model.default_duration);
  $("duration-help").textContent =
    `${durations.length > 1 ? `${duration.min}–${duration.max}` : duration.min} s` +
    (durations.length < Number(duration.max) - Number(duration.min) + 1 ? ` (allowed: ${durations.join(", ")})` : "") +
    (model.duration_limit_reason ? `; this server: ${model.duration_limit_reason}` : "");
  $("seed").max = String(model.seed_max);
  showDuration();
  updateCounts();
}

export function applyResolution() {
  const model = currentModel();
  const ratios = Object.keys(model.sizes[$("resolution").value] || {});
  fillSelect($("ratio"), ratios, model.default_ratio);
  showSize();
}

export function showSize() {
  const model = currentModel();
  const size = (model.sizes[$("resolution").value] || {})[$("ratio").value];
  $("ratio-size").textContent = size ? size.replace("*", " × ") + " px" : "";
}

export function showDuration() {
  const duration = $("duration");
  const allowed = currentModel() ? currentModel().durations : [];
  // A slider step of 1 may land between allowed values (5 or 10): snap to the nearest allowed one.
  if (allowed.length && !allowed.includes(Number(duration.value))) {
    const nearest = allowed.reduce((a, b) => (Math.abs(b - duration.value) < Math.abs(a - duration.value) ? b : a));
    duration.value = String(nearest);
  }
  $("duration-value").textContent = `${duration.value} s`;
}

function limits() {
  const model = currentModel();
  return { prompt: model ? model.prompt_limit : 5000, "negative-prompt": model ? model.negative_prompt_limit : 500 };
}

export function updateCounts() {
  const limit = limits();
  for (const id of ["prompt", "negative-prompt"]) {
    const length = [...$(id).value].length; // characters, as the server counts them (code points)
    const count = $(`${id}-count`);
    count.textContent = `${length} / ${limit[id]}`;
    count.classList.toggle("over", length > limit[id]);
  }
}

export function clearErrors() {
  for (const id of [...FIELDS, "api-key", "form"]) showError(id, "");
}

export function showError(id, message) {
  const box = $(`${id}-error`);
  box.textContent = message;
  box.hidden = !message;
  const control = $(id);
  if (control && control.tagName !== "FORM") {
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
}

// What the page refuses before sending (the server would cut an over-long text silently).
export function checkLocally() {
  const limit = limits();
  const problems = [];
  const negative = [...$("negative-prompt").value].length;
  if (negative > limit["negative-prompt"]) {
    problems.push([
      "negative-prompt",
      `The negative prompt is ${negative} characters long; the limit is ${limit["negative-prompt"]}. Shorten it.`,
    ]);
  }
  const prompt = [...$("prompt").value].length;
  if (prompt === 0) problems.push(["prompt", "Write a prompt: it says what the video shows."]);
  if (prompt > limit.prompt) {
    problems.push(["prompt", `The prompt is ${prompt} characters long; the limit is ${limit.prompt}. Shorten it.`]);
  }
  const seed = $("seed").value.trim();
  if ($("seed").validity.badInput || (seed && !/^\d+$/.test(seed))) {
    problems.push(["seed", "The seed must be a whole number from 0 to 2147483647."]);
  }
  return problems;
}

// The DashScope create body the form describes; wan2.7 takes resolution × ratio, older models the size itself.
export function createBody() {
  const model = currentModel();
  const input = { prompt: $("prompt").value };
  if ($("negative-prompt").value) input.negative_prompt = $("negative-prompt").value;
  const parameters = {};
  if (model.protocol === "wan2.7") {
    parameters.resolution = $("resolution").value;
    parameters.ratio = $("ratio").value;
  } else {
    parameters.size = model.sizes[$("resolution").value][$("ratio").value];
  }
  parameters.duration = Number($("duration").value);
  const seed = $("seed").value.trim();
  if (seed) parameters.seed = Number(seed);
  parameters.watermark = $("watermark").checked;
  parameters.prompt_extend = $("prompt-extend").checked;
  return { model: model.name, input, parameters };
}

export function fieldOfMessage(message) {
  const found = FIELD_OF_MESSAGE.find(([prefix]) => message.startsWith(prefix));
  return found ? found[1] : null;
}

export function randomSeed() {
  const values = new Uint32Array(1);
  crypto.getRandomValues(values);
  $("seed").value = String(values[0] % ((currentModel() ? currentModel().seed_max : 2147483647) + 1));
}
