// Drive the Vercel AI SDK (`ai`) against crossway and print one JSON result on stdout.
//
//   node aisdk_driver.mjs '<spec json>'
//
// spec: {provider: "openai-compatible" | "anthropic", baseURL, apiKey, model,
//        mode: "generate" | "stream", tools: bool, prompt, marker}
// With tools, the model gets one tool, `read_marker`, whose execute() returns
// `${marker}:${input.name}` and a two-step loop (stopWhen: stepCountIs(3)).
// The packages are resolved from `modulesDir` (scripts/e2e-clients' aisdk folder), so the
// script runs from any cwd.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const spec = JSON.parse(process.argv[2]);
const require = createRequire(pathToFileURL(spec.modulesDir + "/package.json").href);
const load = (name) => import(pathToFileURL(require.resolve(name)).href);

globalThis.AI_SDK_LOG_WARNINGS = false; // warnings are reported in the JSON

const { generateText, streamText, stepCountIs, tool } = await load("ai");
const { z } = await load("zod");

let model;
if (spec.provider === "anthropic") {
  const { createAnthropic } = await load("@ai-sdk/anthropic");
  model = createAnthropic({ baseURL: spec.baseURL, apiKey: spec.apiKey })(spec.model);
} else {
  const { createOpenAICompatible } = await load("@ai-sdk/openai-compatible");
  const provider = createOpenAICompatible({
    name: "crossway", baseURL: spec.baseURL, apiKey: spec.apiKey, includeUsage: true,
  });
  model = provider(spec.model);
}

const executed = [];
const tools = spec.tools ? {
  read_marker: tool({
    description: "Read the marker with the given name",
    inputSchema: z.object({ name: z.string() }),
    execute: async ({ name }) => {
      const out = `${spec.marker}:${name}`;
      executed.push({ name, out });
      return out;
    },
  }),
} : undefined;

const options = {
  model, prompt: spec.prompt, maxRetries: 0,
  ...(tools ? { tools, stopWhen: stepCountIs(3) } : {}),
};

const usageOf = (u) => u && {
  inputTokens: u.inputTokens ?? null, outputTokens: u.outputTokens ?? null,
  totalTokens: u.totalTokens ?? null,
};
const stepOf = (s) => ({
  text: s.text,
  finishReason: s.finishReason,
  toolCalls: (s.toolCalls ?? []).map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
  toolResults: (s.toolResults ?? []).map((r) => ({ id: r.toolCallId, output: r.output })),
  usage: usageOf(s.usage),
});

const out = { ok: true, mode: spec.mode, executed };
try {
  if (spec.mode === "stream") {
    const parts = {};
    const errors = [];
    let streamedText = "";
    const result = streamText({ ...options, onError: ({ error }) => errors.push(String(error)) });
    for await (const part of result.fullStream) {
      parts[part.type] = (parts[part.type] ?? 0) + 1;
      if (part.type === "text-delta") streamedText += part.text;
      if (part.type === "error") errors.push(String(part.error));
    }
    out.text = await result.text;
    out.streamedText = streamedText;
    out.finishReason = await result.finishReason;
    out.steps = (await result.steps).map(stepOf);
    out.usage = usageOf(await result.totalUsage);
    out.parts = parts;
    out.errors = errors;
    if (errors.length) out.ok = false;
  } else {
    const result = await generateText(options);
    out.text = result.text;
    out.finishReason = result.finishReason;
    out.steps = result.steps.map(stepOf);
    out.usage = usageOf(result.totalUsage);
    out.warnings = (result.warnings ?? []).map((w) => JSON.stringify(w));
  }
} catch (error) {
  out.ok = false;
  out.error = String(error?.stack ?? error);
  if (error?.responseBody) out.responseBody = String(error.responseBody);
  if (error?.statusCode) out.statusCode = error.statusCode;
}
process.stdout.write(JSON.stringify(out) + "\n");
