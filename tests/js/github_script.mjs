// Run an actions/github-script script under node against an in-memory GitHub, for the tests.
// Usage: node github_script.mjs SCRIPT WORLD.json   (run in the directory the job would run in)
// WORLD: {context, env, comments: [{id, issue_number, body, user: {type}}], issues: [...], pulls: {N: {head: {sha}}},
//         noDrafts: the repository cannot hold draft pull requests}
// Prints WORLD after the run, with `log` (core.* calls) added. Only the REST calls the
// generated scripts make exist here: a new call fails the test instead of passing silently.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [scriptFile, worldFile] = process.argv.slice(2);
const world = JSON.parse(readFileSync(worldFile, "utf8"));
world.log = [];
Object.assign(process.env, world.env || {});
let nextId = 1000;
const page = (items) => ({ data: items });
const rest = {
  pulls: {
    get: async ({ pull_number }) => {
      const pr = world.pulls[String(pull_number)];
      if (!pr) throw new Error(`HttpError: Not Found (pull ${pull_number})`);
      return { data: pr };
    },
    // head is "owner:branch"; state open, closed or all; as the REST API filters them.
    list: async ({ head, base, state }) => page(Object.values(world.pulls).filter((pr) =>
      (!head || pr.head.label === head) && (!base || pr.base.ref === base) &&
      (state === "all" || pr.state === (state || "open")))),
    create: async ({ head, base, title, body, draft }) => {
      if (draft && world.noDrafts) {
        throw Object.assign(new Error("Validation Failed: Draft pull requests are not supported in this repository."),
          { status: 422 });
      }
      if (Object.values(world.pulls).some((pr) => pr.head.ref === head && pr.state === "open")) {
        throw Object.assign(new Error(`Validation Failed: A pull request already exists for acme:${head}.`), { status: 422 });
      }
      const number = nextId++;
      const pr = { number, title, body, draft: Boolean(draft), state: "open", base: { ref: base },
        head: { ref: head, label: `acme:${head}`, repo: { full_name: "acme/mlinfra" } },
        html_url: `https://github.com/acme/mlinfra/pull/${number}` };
      world.pulls[String(number)] = pr;
      return { data: pr };
    },
    update: async ({ pull_number, ...changes }) => {
      const pr = world.pulls[String(pull_number)];
      Object.assign(pr, changes);
      return { data: pr };
    },
  },
  issues: {
    listComments: async ({ issue_number }) => page(world.comments.filter((c) => c.issue_number === issue_number)),
    createComment: async ({ issue_number, body }) => {
      const comment = { id: nextId++, issue_number, body, user: { type: "Bot" } };
      world.comments.push(comment);
      return { data: comment };
    },
    updateComment: async ({ comment_id, body }) => {
      const comment = world.comments.find((c) => c.id === comment_id);
      comment.body = body;
      return { data: comment };
    },
    listForRepo: async ({ state, labels }) =>
      page(world.issues.filter((i) => i.state === state && i.labels.includes(labels))),
    create: async ({ title, labels, body }) => {
      const issue = { number: nextId++, title, labels, body, state: "open", comments: [] };
      world.issues.push(issue);
      return { data: issue };
    },
  },
};
// Issue comments of issues live on the issue, so the drift tests can read them back.
const createComment = rest.issues.createComment;
rest.issues.createComment = async (args) => {
  const issue = world.issues.find((i) => i.number === args.issue_number);
  if (issue) { issue.comments.push(args.body); return { data: {} }; }
  return createComment(args);
};
const github = { rest, paginate: async (fn, args) => (await fn(args)).data };
const core = Object.fromEntries(["warning", "notice", "setFailed", "info"].map((level) =>
  [level, (message) => world.log.push({ level, message: String(message) })]));
const context = { repo: { owner: "acme", repo: "mlinfra" }, serverUrl: "https://github.com", runId: 7, ...world.context };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const run = new AsyncFunction("require", "github", "context", "core", readFileSync(scriptFile, "utf8"));
await run(createRequire(import.meta.url), github, context, core);
console.log(JSON.stringify(world));
