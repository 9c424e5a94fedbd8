// The public API, called with the user's key in the Authorization header (never in a URL).

export const CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis";
const KEY_STORAGE = "videosynth.apiKey";

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const keyStore = {
  get: () => sessionStorage.getItem(KEY_STORAGE) || "",
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

async function call(path, { method = "GET", body, headers = {}, signal } = {}) {
  const key = keyStore.get();
  if (!key) throw new ApiFailure(401, "InvalidApiKey", "Enter your API key first.");
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch {
    throw new ApiFailure(0, "NetworkError", "The server could not be reached.");
  }
  return response;
}

async function json(path, options) {
  const response = await call(path, options);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const code = (data && data.code) || `HTTP${response.status}`;
    const message = (data && data.message) || `The server answered ${response.status}.`;
    throw new ApiFailure(response.status, code, message);
  }
  return data;
}

export const api = {
  models: () => json("/api/v1/models"),
  create: (body) =>
    json(CREATE_PATH, {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json", "X-DashScope-Async": "enable" },
    }),
  query: (taskId) => json(`/api/v1/tasks/${encodeURIComponent(taskId)}`),
  // The task events stream (server-sent events); the raw response, for watch.js to read as it arrives.
  events: (taskId, signal) =>
    call(`/api/v1/tasks/${encodeURIComponent(taskId)}/events`, { headers: { Accept: "text/event-stream" }, signal }),
  parameters: (taskId) => json(`/api/v1/tasks/${encodeURIComponent(taskId)}/parameters`),
  cancel: (taskId) => json(`/api/v1/tasks/${encodeURIComponent(taskId)}/cancel`, { method: "POST" }),
  list: (pageNo, pageSize) => json(`/api/v1/tasks?page_no=${pageNo}&page_size=${pageSize}`),
  // The thumbnail needs the key, so it is fetched here and shown from an object URL (null when there is none).
  thumbnail: async (taskId) => {
    const response = await call(`/v1/videos/${encodeURIComponent(taskId)}/content?variant=thumbnail`);
    return response.ok ? URL.createObjectURL(await response.blob()) : null;
  },
};
