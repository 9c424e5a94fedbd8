// The Vercel AI SDK's Alibaba provider against a videosynth server (run by tests/e2e/test_vercel_ai.py).
//
// Input: one JSON argument {baseURL, apiKey, model, out, flow: "generate"|"start-status", prompt, call: {...}}
// where `call` holds experimental_generateVideo's own options (resolution, aspectRatio, duration, seed,
// providerOptions, headers). Output: one JSON line on stdout describing what came back; the mp4 is written to `out`.
import { writeFileSync } from "node:fs";
import { createAlibaba } from "@ai-sdk/alibaba";
import { experimental_generateVideo, experimental_getVideoStatus, experimental_startVideo } from "ai";

const args = JSON.parse(process.argv[2]);
const alibaba = createAlibaba({ apiKey: args.apiKey, videoBaseURL: args.baseURL });
const model = alibaba.video(args.model);

// The SDK's default downloader refuses loopback hosts (SSRF guard): a test server lives on 127.0.0.1.
async function download({ url, abortSignal }) {
  const response = await fetch(url, { signal: abortSignal });
  if (!response.ok) throw new Error(`download ${url} answered ${response.status}`);
  return { data: new Uint8Array(await response.arrayBuffer()), mediaType: response.headers.get("content-type") };
}

async function generate() {
  const result = await experimental_generateVideo({
    model,
    prompt: args.prompt,
    ...args.call,
    download,
    poll: { intervalMs: 200, timeoutMs: 240_000 },
  });
  return { bytes: result.video.uint8Array, mediaType: result.video.mediaType, metadata: result.providerMetadata };
}

// Submit, keep the JSON operation, come back later for it (what a durable workflow does), bounded in time.
async function startThenStatus() {
  const started = await experimental_startVideo({ model, prompt: args.prompt, ...args.call });
  const operation = JSON.parse(JSON.stringify(started.operation));
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    const status = await experimental_getVideoStatus(model, { operation });
    if (status.status === "completed") {
      const video = status.videos[0];
      const fetched = video.type === "url" ? await download({ url: new URL(video.url) }) : { data: video.data };
      return { bytes: fetched.data, mediaType: video.mediaType, metadata: status.providerMetadata, operation };
    }
    if (status.status === "error") throw new Error(status.error);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the video was not ready in time");
}

const outcome = args.flow === "start-status" ? await startThenStatus() : await generate();
writeFileSync(args.out, outcome.bytes);
console.log(
  JSON.stringify({
    size: outcome.bytes.length,
    mediaType: outcome.mediaType,
    metadata: outcome.metadata,
    operation: outcome.operation ?? null,
  }),
);
