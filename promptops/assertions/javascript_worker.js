// Evaluates promptops `javascript` assertions, one JSON request a line on stdin,
// one JSON answer a line on stdout. Inline code runs in a fresh V8 context (no
// require, no process) with a time limit; a file://module.js:fn reference is
// loaded with require, as the project's own code.
"use strict";
const vm = require("vm");
const readline = require("readline");

const modules = new Map();

function functionBody(code) {
  // A multi-line value is a function body as written; one line is an expression,
  // or declarations followed by a final expression.
  const text = code.trimEnd();
  if (text.includes("\n")) return text;
  const trimmed = text.trim().replace(/;+\s*$/, "");
  if (/^(const|let|var)\s/.test(trimmed)) {
    const last = trimmed.lastIndexOf(";");
    if (last !== -1 && trimmed.slice(last + 1).trim()) {
      return trimmed.slice(0, last + 1) + " return " + trimmed.slice(last + 1).trim();
    }
    return trimmed;
  }
  return "return " + trimmed;
}

function describe(value) {
  if (typeof value === "boolean") return { kind: "boolean", value };
  if (typeof value === "number") {
    return Number.isFinite(value) ? { kind: "number", value } : { error: "returned a number that is not finite" };
  }
  if (value && typeof value === "object" && ("pass" in value || "score" in value)) {
    const score = value.score === undefined ? (value.pass ? 1 : 0) : Number(value.score);
    if (!Number.isFinite(score)) return { error: "returned a result whose score is not a finite number" };
    return {
      kind: "result",
      pass: value.pass === undefined ? null : Boolean(value.pass),
      score,
      reason: value.reason === undefined ? null : String(value.reason),
    };
  }
  return { error: `must return a boolean, a number or {pass, score, reason}; got ${typeof value}` };
}

async function evaluate(request) {
  const context = { vars: request.vars || {}, prompt: request.prompt ?? null };
  let result;
  if (request.module) {
    let mod = modules.get(request.module);
    if (!mod) {
      mod = require(request.module);
      modules.set(request.module, mod);
    }
    const fn = request.function ? mod[request.function] : (typeof mod === "function" ? mod : mod.default);
    if (typeof fn !== "function") {
      throw new Error(`${request.function || "the module"} is not a function`);
    }
    result = fn(request.output, context);
  } else {
    const sandbox = { __output: request.output, __context: context };
    const source = "(function (output, context) {\n" + functionBody(request.code) + "\n})(__output, __context)";
    result = vm.runInNewContext(source, sandbox, { timeout: request.timeout_ms, filename: "assertion.js" });
  }
  return describe(await result);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let answer;
  let id = null;
  try {
    const request = JSON.parse(line);
    id = request.id;
    answer = await evaluate(request);
  } catch (err) {
    answer = { error: (err && err.message) ? String(err.message).split("\n")[0] : String(err) };
  }
  answer.id = id;
  process.stdout.write(JSON.stringify(answer) + "\n");
});
