// The addon's source list for one platform, read from binding.gyp: the one
// place that says which files each OS builds. Used by the builds that do not
// go through node-gyp (scripts/prebuild-win.mjs with mingw-w64,
// scripts/prebuild-darwin.mjs with zig) and by the C++ unit test
// (test/native.test.ts), so that none keeps a list of its own.
//
// gyp files are Python literals: `#` comments, single or double quotes,
// trailing commas. Conditions are evaluated for the variables given (OS and
// binding.gyp's own variables, with their defaults).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** binding.gyp as an object. */
export function readGyp(file = join(root, "binding.gyp")) {
  let text = "";
  // Strip comments outside strings, turn single-quoted strings into JSON ones.
  const src = readFileSync(file, "utf8");
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      text += "\n";
    } else if (c === '"' || c === "'") {
      let s = "";
      for (i++; i < src.length && src[i] !== c; i++) {
        if (src[i] === "\\") s += src[i++];
        s += src[i];
      }
      text += JSON.stringify(c === '"' ? JSON.parse(`"${s}"`) : s.replace(/\\(.)/g, "$1"));
    } else {
      text += c;
    }
  }
  return JSON.parse(text.replace(/,(\s*[\]}])/g, "$1"));
}

function evaluate(expr, vars) {
  const js = expr
    .replace(/(\w+) not in \(([^)]*)\)/g, "!([$2].includes($1))")
    .replace(/(\w+) in \(([^)]*)\)/g, "[$2].includes($1)")
    .replace(/\band\b/g, "&&").replace(/\bor\b/g, "||").replace(/\bnot\b/g, "!");
  const names = Object.keys(vars);
  return Function(...names, `"use strict"; return (${js});`)(...names.map((n) => vars[n]));
}

function collect(block, vars, out) {
  for (const s of block.sources ?? []) out.push(s);
  for (const [expr, then, otherwise] of block.conditions ?? []) {
    const taken = evaluate(expr, vars) ? then : otherwise;
    if (taken) collect(taken, vars, out);
  }
  return out;
}

/**
 * The sources (paths relative to the package root) that binding.gyp builds
 * for `os` ("linux", "mac", "win"; gyp's names), with variables overriding
 * binding.gyp's defaults (e.g. { memmap_darwin_paths: 1 }). Variables whose
 * default is a command (`<!(...)`) are 0 unless given.
 */
export function gypSources(os, variables = {}, gyp = readGyp()) {
  const vars = { OS: os };
  for (const [k, v] of Object.entries(gyp.variables ?? {})) {
    const name = k.replace(/%$/, "");
    vars[name] = typeof v === "string" && v.startsWith("<!") ? 0 : v;
  }
  Object.assign(vars, variables);
  return [...new Set(collect(gyp.target_defaults ?? {}, vars, []))];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [os = process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : process.platform, ...rest] = process.argv.slice(2);
  const variables = Object.fromEntries(rest.map((a) => a.split("=")).map(([k, v]) => [k, Number.isNaN(Number(v)) ? v : Number(v)]));
  console.log(gypSources(os, variables).join("\n"));
}
