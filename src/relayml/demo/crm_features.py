"""The churn project's customer features, declared by the data engineer over the CRM snapshots.

`relay features apply` this module (the demo does it as dana): the feature set `crm` reads the
dataset `crm_customers` (one row per customer and snapshot, logged weekly), whose `snapshot_time`
says when a value became true and `loaded_at` when it reached the warehouse. The retraining
pipeline joins it point in time to the customers that were scored, as of what was known then.
"""

from __future__ import annotations

from datetime import timedelta

import relayml as relay

F = relay.features

customer = F.Entity("customer", join_keys=["customer_id"])

crm = F.FeatureSet(
    name="crm",
    entity=customer,
    source=F.Source(dataset="crm_customers"),
    features=[
        F.Feature("tenure_months", "int64", description="months as a customer", owner="dana"),
        F.Feature("monthly_charges", "float64", description="EUR billed per month", owner="dana"),
        F.Feature("support_calls", "int64", description="calls to support, last 90 days"),
        F.Feature("contract", "string", description="monthly, yearly or two_year"),
        F.Feature("region", "string", description="north, south, east or west"),
    ],
    event_time="snapshot_time",
    created_time="loaded_at",
    ttl=timedelta(days=120),
    checks=[
        {"column": "tenure_months", "min": 0, "not_null": True},
        {"column": "monthly_charges", "min": 0, "max": 1000},
        {"column": "contract", "allowed": ["monthly", "yearly", "two_year"]},
    ],
    owner="dana",
    description="The CRM's view of each customer, snapshot by snapshot.",
)
