// The addon's export tables (each src/*.cc registers its own functions) and the NativeAddon interface that
// lib/ calls it through (lib/load.ts) are written by hand, twice: this test
// holds them to each other, name by name, and for functions arity by arity
// (the addon sets each function's `length` from its table).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import ts from "typescript";
import { nativeOnly, root, addonPath } from "./helpers.js";

/** NativeAddon's members: name → parameter count (-1 for a property that is not a function). */
function declared(): Map<string, number> {
  const file = join(root, "lib", "load.ts");
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const members = new Map<string, number>();
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === "NativeAddon") {
      for (const m of node.members) {
        const name = m.name && ts.isIdentifier(m.name) ? m.name.text : undefined;
        assert.ok(name, `a NativeAddon member without a plain name: ${m.getText(source)}`);
        if (ts.isMethodSignature(m)) members.set(name, m.parameters.length);
        else if (ts.isPropertySignature(m)) members.set(name, m.type && ts.isFunctionTypeNode(m.type) ? m.type.parameters.length : -1);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  assert.ok(members.size > 0, "NativeAddon found in lib/load.ts");
  return members;
}

test("every export of the addon is declared in NativeAddon with its arity, and nothing else is", nativeOnly("it reads the built addon itself"), () => {
  const addon = createRequire(import.meta.url)(addonPath) as Record<string, unknown>;
  const want = declared();
  const have = new Map<string, number>();
  for (const [name, value] of Object.entries(addon)) have.set(name, typeof value === "function" ? value.length : -1);
  assert.deepEqual([...have.keys()].sort(), [...want.keys()].sort(), "the same names on both sides");
  for (const [name, arity] of want) {
    assert.equal(have.get(name), arity, `${name}: the addon takes ${have.get(name)} argument(s), NativeAddon declares ${arity}`);
  }
});
