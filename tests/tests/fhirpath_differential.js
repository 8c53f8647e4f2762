// The other side of tests/fhirpath_differential.rs: evaluates FHIRPath with HL7's `fhirpath`
// package. Reads a jobs file (one JSON line per example: {"file", "exprs"}) and writes one JSON
// line per job: for each expression, {"ok": [results]} or {"error": message}.
//
// usage: node fhirpath_differential.js MODULE_DIR r4|r5 JOBS OUT
"use strict";
const [moduleDir, version, jobsPath, outPath] = process.argv.slice(2);
const path = require("path");
const fs = require("fs");
const fhirpath = require(path.join(moduleDir, "node_modules", "fhirpath"));
const model = require(path.join(moduleDir, "node_modules", "fhirpath", "fhir-context", version));
const types = require(path.join(path.dirname(require.resolve(path.join(moduleDir, "node_modules", "fhirpath"))), "types.js"));

// resolve() is the host's business (the package's own fetches from a server). This one does
// what the Rust evaluator does without a resolver: `#id` is the contained resource, and a
// literal reference `[base/]Type/id[/_history/v]` resolves to a resource that has only its type.
function referenceType(ref) {
  const parts = ref.split(/[?#]/)[0].split("/");
  const n = parts.length;
  const at = n >= 4 && parts[n - 2] === "_history" ? n - 4 : n - 2;
  if (at < 0 || !parts[at + 1]) return null;
  return /^[A-Z][A-Za-z]+$/.test(parts[at]) ? parts[at] : null;
}
const userInvocationTable = {
  resolve: {
    internalStructures: true,
    arity: { 0: [] },
    fn: function (inputs) {
      const out = [];
      for (const input of inputs) {
        const v = input && typeof input === "object" && "data" in input ? input.data : input;
        const ref = typeof v === "string" ? v : v && v.reference;
        if (typeof ref !== "string") continue;
        if (ref.startsWith("#")) {
          const resource = this.vars && this.vars.resource;
          const found = ((resource && resource.contained) || []).find((c) => c.id === ref.slice(1));
          if (found) out.push(types.ResourceNode.makeResNode(this, found, null, found.resourceType, null, found.resourceType));
          continue;
        }
        const t = referenceType(ref);
        if (t) out.push(types.ResourceNode.makeResNode(this, { resourceType: t }, null, t, null, t));
      }
      return out;
    },
  },
};

const compiled = new Map();
function compile(expr) {
  let f = compiled.get(expr);
  if (!f) {
    try {
      f = fhirpath.compile(expr, model, { userInvocationTable });
    } catch (e) {
      f = () => {
        throw e;
      };
    }
    compiled.set(expr, f);
  }
  return f;
}

const out = [];
for (const line of fs.readFileSync(jobsPath, "utf8").split("\n")) {
  if (!line) continue;
  const job = JSON.parse(line);
  const resource = JSON.parse(fs.readFileSync(job.file, "utf8"));
  const results = job.exprs.map((expr) => {
    try {
      return { ok: compile(expr)(resource, { resource }) };
    } catch (e) {
      const message = String(e && e.message ? e.message : e);
      // FHIRPath's `as` takes one item; servers (and the Rust evaluator) apply the core
      // expressions' `x.value as T` to every value, as `ofType(T)` does. Such a case is
      // evaluated again with `as` written as `ofType`, and counted as rewritten.
      // fhirpath.js has no hasExtension(url), which FHIR defines as extension(url).exists():
      // such a case is evaluated again written that way.
      const asOfType = /singleton/.test(message) && /\bas\b/.test(expr);
      const noHasExtension = /hasExtension/.test(message);
      if (asOfType || noHasExtension) {
        const rewritten = expr
          .replace(/\s+as\s+([A-Za-z.]+)/g, ".ofType($1)")
          .replace(/\.as\(/g, ".ofType(")
          .replace(/hasExtension\(('[^']*')\)/g, "extension($1).exists()");
        try {
          return { ok: compile(rewritten)(resource, { resource }), rewritten: true };
        } catch (e2) {
          return { error: String(e2 && e2.message ? e2.message : e2) };
        }
      }
      return { error: message };
    }
  });
  out.push(JSON.stringify(results));
}
fs.writeFileSync(outPath, out.join("\n") + "\n");
