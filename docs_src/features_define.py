"""features_define.py: the churn project's features, declared in Python."""

from datetime import timedelta

import pandas as pd

import relayml as relay

F = relay.features

customer = F.Entity("customer", join_keys=["customer_id"])

profile = F.FeatureSet(
    name="customer",
    entity=customer,
    source=F.Source(dataset="customer_events"),  # or F.Source(pipeline=..., step=...)
    features=[
        F.Feature("tenure", "int64", description="months as a customer", owner="ana"),
        F.Feature("monthly_charges", "float64", tags={"pii": "no"}),
    ],
    event_time="event_time",  # when the value became true
    created_time="created_at",  # when it was written (as_of_known joins look at it)
    ttl=timedelta(days=90),  # an older value is missing, never silently stale
    checks=[{"column": "tenure", "min": 0}, {"column": "monthly_charges", "not_null": True}],
    owner="ana",
)


@F.on_demand(
    inputs=["customer:monthly_charges"],
    request_fields=["offer"],
    features=[F.Feature("charges_after_offer", "float64")],
)
def offer(frame: pd.DataFrame) -> pd.DataFrame:
    """The monthly charges after the discount a request offers."""
    return pd.DataFrame({"charges_after_offer": frame["monthly_charges"] - frame["offer"]})


if __name__ == "__main__":
    print(f"declares {customer.name}, {profile.name} and {offer.definition.name}")
