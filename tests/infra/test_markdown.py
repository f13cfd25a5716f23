"""The markdown plan for PR comments: its summary and guardrail verdicts come from the plan,
its Mermaid diagram is derived from the recording, and mermaid's own parser accepts it."""

from __future__ import annotations

import copy
import dataclasses
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import architecture, markdown
from infra.plan import Plan
from tests.conftest import ROOT, STACKS, run_config, run_stack, stack_config
from tests.mlinfra_cli import cli

MERMAID = ROOT / "tools" / "mermaid"
REQUIRED = os.environ.get("MLINFRA_REQUIRE_MERMAID") == "1"
# The full render (layout and SVG) needs a browser; .ci/run installs Debian's chromium for it.
REQUIRED_BROWSER = os.environ.get("MLINFRA_REQUIRE_CHROMIUM") == "1"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def plan_of(stack: str, recording=None) -> Plan:
    return Plan(stack, f"stacks/Pulumi.{stack}.yaml", stack_config(stack), recording or run_stack(stack), 1.0, [])


def diagram(text: str) -> str:
    found = re.findall(r"```mermaid\n(.*?)\n```", text, re.S)
    assert len(found) == 1, "one mermaid block per plan"
    return found[0]


def mermaid_parse(tmp_path: Path, diagrams: dict[str, str]) -> dict[str, dict]:
    """Each diagram through mermaid's parser (tools/mermaid/parse.mjs), in one node process."""
    if not (MERMAID / "node_modules" / "mermaid").is_dir() or not shutil.which("node"):
        message = "mermaid is not installed (tools/mermaid/node_modules): run `make mermaid-install`"
        if REQUIRED:
            pytest.fail(f"{message}; MLINFRA_REQUIRE_MERMAID=1 forbids skipping the diagram check")
        pytest.skip(message)
    files = []
    for name, text in diagrams.items():
        (tmp_path / f"{name}.mmd").write_text(text)
        files.append(str(tmp_path / f"{name}.mmd"))
    done = subprocess.run(["node", str(MERMAID / "parse.mjs"), *files], capture_output=True, text=True, timeout=120)
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(files), done.stderr
    return {Path(r["file"]).stem: r for r in results}


def mermaid_render(tmp_path: Path, diagrams: dict[str, str]) -> dict[str, dict]:
    """Each diagram rendered to SVG by mermaid's browser bundle in headless chromium, offline."""
    bundle = MERMAID / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if not bundle.is_file() or not browser:
        message = ("mermaid is not installed: run `make mermaid-install`" if not bundle.is_file() else
                   "no chromium for the render check: run `make chromium-install` (apt-get, as root)")
        if REQUIRED_BROWSER:
            pytest.fail(f"{message}; MLINFRA_REQUIRE_CHROMIUM=1 forbids skipping the render check")
        pytest.skip(message)
    # The diagrams go in as JSON; "</" is escaped so no label can end the script element.
    data = json.dumps(diagrams).replace("</", "<\\/")
    page = tmp_path / "render.html"
    page.write_text(f"""<!doctype html><html><body><pre id="result">pending</pre>
<script src="{bundle.as_uri()}"></script>
<script>
mermaid.initialize({{ startOnLoad: false, securityLevel: "strict" }});
(async () => {{
  const out = {{}};
  let i = 0;
  for (const [name, text] of Object.entries({data})) {{
    try {{
      const {{ svg }} = await mermaid.render(`diagram${{i++}}`, text);
      const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
      out[name] = {{ ok: true, nodes: doc.querySelectorAll("g.node").length,
                     edges: doc.querySelectorAll("path.flowchart-link").length,
                     boxes: doc.querySelectorAll("g.cluster").length }};
    }} catch (error) {{
      out[name] = {{ ok: false, error: String(error.message || error) }};
    }}
  }}
  document.getElementById("result").textContent = JSON.stringify(out);
}})();
</script></body></html>""")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1) != "pending", f"{browser} rendered nothing: {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_summary_counts_what_the_recording_holds():
    plan = plan_of("dev")
    counts = plan.recording.count_by_type()
    cloud = sum(n for t, n in counts.items() if not t.startswith("mlinfra:"))
    text = markdown.render(plan)
    assert f"(serverless pattern, dev): **{cloud} cloud resources** in {sum(counts.values()) - cloud} components" in text
    assert f"| {counts['gcp:cloudrunv2/service:Service']} | `gcp:cloudrunv2/service:Service` |" in text
    assert "| 1 | `mlinfra:pattern:Serverless` |" in text


def test_guardrail_verdicts_show_a_violation_with_its_finding():
    rec = copy.copy(run_stack("dev"))
    rec.registrations = [
        dataclasses.replace(r, inputs={**r.inputs, "uniformBucketLevelAccess": False})
        if r.type == "gcp:storage/bucket:Bucket" and r.name == "mlinfra-storage-data-lake" else r
        for r in rec.registrations]
    text = markdown.render(plan_of("dev", rec))
    assert "1 violated" in text
    row = next(line for line in text.splitlines() if "`MLI-GCS-001`" in line)
    assert row.startswith("| **violated** |") and "mlinfra-storage-data-lake" in row
    assert "| holds | `MLI-GCS-001` |" in markdown.render(plan_of("dev"))


def test_carries_the_cost_estimate_between_its_markers_with_the_spot_saving():
    from infra.cost import render as cost

    plan = plan_of("k8s-prod")
    text = markdown.render(plan)
    section = text[text.index(markdown.COST_BEGIN):text.index(markdown.COST_END)]
    estimate = cost.of_plan(plan)
    assert f"| **total** | | **{cost.usd(estimate.total('idle'))}** | **{cost.usd(estimate.total('expected'))}** | " \
           f"**{cost.usd(estimate.total('peak'))}** | |" in section
    spot = next(x for x in estimate.lines if x.spot_saving is not None)
    assert f"| `{spot.name}` |" in section and f"saves {spot.spot_saving * 100:.0f} %" in section


def test_serverless_diagram_links_triggers_to_what_they_listen_to_and_services_to_their_bucket():
    text = diagram(markdown.render(plan_of("dev")))
    topic = re.search(r"(topic_mlinfra_fn_on_upload_events_\w+)>", text).group(1)
    assert f"function_on_upload_dev -->|listens to| {topic}" in text
    assert f"bucket_acme_ml_dev_dev_data_lake -->|notifies| {topic}" in text
    assert "service_summarizer_dev -->|mounts| bucket_acme_ml_dev_dev_artifacts" in text
    assert "function_on_upload_dev -->|reads| bucket_acme_ml_dev_dev_data_lake" in text
    assert re.search(r"schedule_\w+ -->\|invokes\| function_nightly_report_dev", text)
    assert 'bucket_acme_ml_dev_dev_artifacts[("bucket acme-ml-dev-dev-artifacts")]' in text
    prod = diagram(markdown.render(plan_of("prod")))
    assert "function_retrain_request_prod -->|listens to| topic_retrain_requests" in prod


def test_kubernetes_diagram_puts_pools_in_the_cluster_and_workloads_on_it():
    text = diagram(markdown.render(plan_of("k8s-prod")))
    cluster = re.search(r"subgraph (cluster_\w+)\[", text).group(1)
    box = text.split(f"subgraph {cluster}", 1)[1].split("\n  end", 1)[0]
    assert box.count("node pool ") == len(run_stack("k8s-prod").of_type("gcp:container/nodePool:NodePool")) == 4
    assert "spot" in box and "1x nvidia-l4" in box
    for workload in ("server_ranker", "server_embedder", "job_retrain_ranker", "job_finetune_ranker"):
        assert f"{workload} -->|runs on| {cluster}" in text
    assert "model server ranker (canary, stable)" in text
    assert "job_retrain_ranker -->|reads| bucket_acme_ml_prod_k8s_prod_data_lake" in text
    assert "job_retrain_ranker -->|reads, writes| bucket_acme_ml_prod_k8s_artifacts" in text
    assert "server_ranker -->|mounts| bucket_acme_ml_prod_k8s_artifacts" in text


def test_hybrid_diagram_shows_the_schedule_running_the_cloud_run_job_off_the_cluster():
    text = diagram(markdown.render(plan_of("hybrid-dev")))
    assert 'job_batch_score_hybrid_dev[/"Cloud Run job batch-score-hybrid-dev"/]' in text
    assert re.search(r"schedule_\w+ -->\|runs\| job_batch_score_hybrid_dev", text)
    assert "job_batch_score_hybrid_dev -->|reads| bucket_acme_ml_dev_hybrid_dev_data_lake" in text
    assert "job_batch_score_hybrid_dev -->|reads, writes| bucket_acme_ml_dev_hybrid_dev_artifacts" in text
    assert "job_batch_score_hybrid_dev -->|runs on|" not in text
    assert re.search(r"job_retrain_ranker -->\|runs on\| cluster_\w+", text)


def test_the_same_stack_gives_the_same_diagram_on_a_fresh_run():
    again = run_config(stack_config("k8s-dev"), stack="k8s-dev")
    first = architecture.mermaid(architecture.build(run_stack("k8s-dev")))
    assert architecture.mermaid(architecture.build(again)) == first


def test_labels_cannot_break_out_of_their_quotes():
    graph = architecture.Graph({}, set())
    graph.add(architecture.Node("service_x", "service", 'say "hi" | end'))
    assert 'service_x["say #quot;hi#quot; | end"]' in architecture.mermaid(graph)


def test_cli_prints_markdown_and_keeps_the_written_files_out_of_it(tmp_path):
    done = cli("plan", "--stack", "dev", "--format", "markdown", "--strict", "--json", str(tmp_path / "p.json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## Offline plan of stack `dev`") and "wrote" not in done.stdout
    assert f"wrote {tmp_path / 'p.json'}" in done.stderr
    assert done.stdout == markdown.render(plan_of("dev"))


def test_mermaid_parses_the_diagram_of_every_stack(tmp_path):
    results = mermaid_parse(tmp_path, {s: diagram(markdown.render(plan_of(s))) for s in STACKS})
    assert {s: r["ok"] for s, r in results.items()} == {s: True for s in STACKS}, results
    assert {r["type"] for r in results.values()} == {"flowchart-v2"}


def test_mermaid_rejects_a_broken_diagram(tmp_path):
    good = diagram(markdown.render(plan_of("dev")))
    broken = good.replace('"]\n', '"\n', 1)  # one node's label left unclosed
    unknown_arrow = good.replace("-->|mounts|", "-~>|mounts|", 1)
    results = mermaid_parse(tmp_path, {"good": good, "broken": broken, "arrow": unknown_arrow})
    assert results["good"]["ok"] is True
    for name in ("broken", "arrow"):
        assert results[name]["ok"] is False and "Parse error" in results[name]["error"], results[name]


def test_chromium_renders_every_stacks_diagram_with_every_node_and_arrow(tmp_path):
    graphs = {s: architecture.build(run_stack(s)) for s in STACKS}
    results = mermaid_render(tmp_path, {s: architecture.mermaid(g) for s, g in graphs.items()})
    for stack, graph in graphs.items():
        boxes = sum(1 for n in graph.nodes.values() if n.kind == "cluster")
        assert results[stack] == {"ok": True, "nodes": len(graph.nodes) - boxes, "edges": len(graph.edges),
                                  "boxes": boxes}, stack


def test_chromium_render_fails_on_a_broken_diagram(tmp_path):
    good = architecture.mermaid(architecture.build(run_stack("k8s-dev")))
    results = mermaid_render(tmp_path, {"broken": good.replace("\n  end", "", 1)})  # a subgraph never closed
    assert results["broken"]["ok"] is False and "Parse error" in results["broken"]["error"], results


def test_mermaid_parses_every_diagram_of_the_readme(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, re.S)
    assert blocks, "the README has diagrams"
    results = mermaid_parse(tmp_path, {f"readme-{i}": text for i, text in enumerate(blocks)})
    assert all(r["ok"] for r in results.values()), results
