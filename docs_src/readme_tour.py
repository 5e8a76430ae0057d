from pathlib import Path

import relayml as relay
relay.init(project="churn")
Path("notes.md").write_text("max_depth 3: deeper trees overfit\n")  # any file: a plot, a report
with relay.start_run(experiment="baseline") as run:
    run.log_params({"max_depth": 3})
    run.log_metrics({"auc": 0.91}, step=1)
    run.log_artifact("notes.md")
page = relay.search_runs("metrics.auc > 0.8 and params.max_depth = 3", order_by=["metrics.auc DESC"])
print(page.runs[0].id, page.runs[0].metrics["auc"])
