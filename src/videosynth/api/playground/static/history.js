// The key's tasks, newest first, a page at a time, with cancel (PENDING) and re-run (same seed).

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 5;

let pageNo = 1;
let totalPages = 1;
let thumbnails = []; // object URLs of the page shown, released when it is replaced
let actions = { rerun: () => {}, show: () => {}, failed: () => {} };

export function setHistoryActions(given) {
  actions = given;
}

function element(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function describeParameters(body) {
  const p = body.parameters;
  const size = p.size ? p.size.replace("*", "×") : `${p.resolution} ${p.ratio}`;
  const flags = [p.watermark ? "watermark" : null, p.prompt_extend ? "prompt extension" : "no prompt extension"];
  return `${body.model} · ${size} · ${p.duration} s · ${flags.filter(Boolean).join(" · ")}`;
}

// A task that went between the listing and its read (deleted, expired) shows as what the listing said.
async function renderItem(summary) {
  try {
    return await renderTask(summary);
  } catch (failure) {
    const text = `${summary.status} · ${summary.model_name} · ${summary.task_id}: ${failure.message}`;
    return element("li", {}, [element("div", { className: "thumb empty", textContent: "—" }), element("p", { className: "item-meta", textContent: text })]);
  }
}

async function renderTask(summary) {
  const taskId = summary.task_id;
  const [query, parameters] = await Promise.all([api.query(taskId), api.parameters(taskId)]);
  const output = query.output;
  const status = output.task_status;
  const thumb =
    status === "SUCCEEDED" ? await api.thumbnail(taskId).catch(() => null) : null;
  if (thumb) thumbnails.push(thumb);
  const picture = thumb
    ? element("img", { className: "thumb", src: thumb, alt: `Thumbnail of task ${taskId}` })
    : element("div", { className: "thumb empty", textContent: status === "SUCCEEDED" ? "no thumbnail" : status === "PENDING" || status === "RUNNING" ? "no video yet" : "no video" });
  const body = parameters.body;
  const lines = [
    element("p", {}, [element("strong", { className: `status-${status}`, textContent: status }), ` · ${summary.model_name}`]),
    element("p", { className: "item-prompt", textContent: body.input.prompt }),
    element("p", { className: "item-meta", textContent: describeParameters(body) }),
    element("p", { className: "item-meta", textContent: `Seed ${output.seed}` }),
  ];
  if (body.input.negative_prompt) {
    lines.push(element("p", { className: "item-meta", textContent: `Negative prompt: ${body.input.negative_prompt}` }));
  }
  if (output.actual_prompt) {
    lines.push(element("p", { className: "item-meta", textContent: `Rewritten prompt: ${output.actual_prompt}` }));
  }
  if (status === "FAILED" && output.message) {
    lines.push(element("p", { className: "error", textContent: output.message }));
  }
  lines.push(element("p", { className: "item-meta mono", textContent: taskId }));
  const buttons = [];
  if (status === "PENDING") {
    const cancel = element("button", { type: "button", className: "secondary", textContent: "Cancel" });
    cancel.setAttribute("aria-label", `Cancel task ${taskId}`);
    cancel.addEventListener("click", () => cancelTask(taskId, cancel));
    buttons.push(cancel);
  }
  const show = element("button", { type: "button", className: "secondary", textContent: "Show" });
  show.setAttribute("aria-label", `Show task ${taskId}`);
  show.addEventListener("click", () => actions.show(taskId, body));
  const rerun = element("button", { type: "button", className: "secondary", textContent: "Re-run" });
  // No "seed" in the accessible name: the form's Seed field must stay the one control labelled so.
  rerun.setAttribute("aria-label", `Re-run task ${taskId} as it was made`);
  rerun.title = `Re-run with seed ${output.seed}`;
  rerun.addEventListener("click", () => actions.rerun(body));
  buttons.push(show, rerun);
  lines.push(element("div", { className: "item-actions" }, buttons));
  const item = element("li", {}, [picture, element("div", { className: "item-body" }, lines)]);
  item.dataset.taskId = taskId;
  item.dataset.status = status;
  return item;
}

async function cancelTask(taskId, button) {
  button.disabled = true;
  try {
    await api.cancel(taskId);
  } catch (failure) {
    showHistoryError(`Could not cancel ${taskId}: ${failure.message}`);
  }
  await loadHistory();
}

function showHistoryError(message) {
  $("history-error").textContent = message;
  $("history-error").hidden = !message;
}

export async function loadHistory(page = pageNo) {
  showHistoryError("");
  try {
    const listing = await api.list(page, PAGE_SIZE);
    const shown = thumbnails;
    thumbnails = [];
    const items = await Promise.all(listing.data.map(renderItem));
    for (const url of shown) URL.revokeObjectURL(url);
    pageNo = listing.page_no;
    totalPages = Math.max(1, listing.total_page);
    $("history").replaceChildren(...items);
    $("history-empty").hidden = listing.total > 0;
    $("page-info").textContent = `Page ${pageNo} of ${totalPages} (${listing.total} tasks)`;
    $("page-prev").disabled = pageNo <= 1;
    $("page-next").disabled = pageNo >= totalPages;
  } catch (failure) {
    showHistoryError(failure.message);
    actions.failed(failure);
  }
}

export function clearHistory() {
  for (const url of thumbnails.splice(0)) URL.revokeObjectURL(url);
  $("history").replaceChildren();
  $("page-info").textContent = "";
  $("history-empty").hidden = true;
}

export function wirePager() {
  $("page-prev").addEventListener("click", () => loadHistory(Math.max(1, pageNo - 1)));
  $("page-next").addEventListener("click", () => loadHistory(Math.min(totalPages, pageNo + 1)));
  $("history-refresh").addEventListener("click", () => loadHistory());
}
