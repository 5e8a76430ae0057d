import pandas as pd

import relayml as relay

relay.init(project="churn")
holdout = pd.DataFrame(  # customers the model never saw, with what they did
    {
        "tenure": [2, 5, 8, 12, 30, 45, 60, 70, 3, 24, 36, 50],
        "monthly_charges": [110, 95.5, 99, 80, 40, 35, 25, 20, 105, 70, 60, 90],
        "region": ["north", "south"] * 6,
        "churned": [1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1],
    }
)
relay.log_dataset("customers_holdout", holdout)

evaluation = relay.evaluate(
    "churn/1", holdout, target="churned", by=["region"], dataset="customers_holdout"
)
print(f"ROC AUC on the holdout: {evaluation.metrics['roc_auc']:.2f}")
