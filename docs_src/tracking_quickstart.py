from pathlib import Path

import relayml as relay

relay.init(project="churn", business_question="reduce customer churn by 10%",
           kpis=[{"name": "churn_rate", "unit": "%", "direction": "decrease", "target": -10}])
Path("notes.md").write_text("max_depth 3: deeper trees overfit\n")  # any file: a plot, a report
with relay.start_run(experiment="baseline", tags={"team": "growth"}) as run:
    run.log_params({"max_depth": 3, "model": "gbm"})
    for epoch in range(10):
        run.log_metric("loss", 1 / (epoch + 1))      # steps 0, 1, 2 … per key when none is given
    run.log_metrics({"auc": 0.91}, step=1)
    run.log_artifact("notes.md")                   # a file; log_artifacts("dir/") for a folder
page = relay.search_runs("metrics.auc > 0.8 and params.model = 'gbm'", order_by=["metrics.auc DESC"])
print([(r.name, r.metrics["auc"]) for r in page.runs])
