import pandas as pd

import relayml as relay

relay.init(project="churn")
pd.DataFrame(
    {"customer_id": [1, 2, 3, 4], "age": [34, 17, 27, 19], "plan": ["basic", "pro", "basic", "pro"]}
).to_csv("customers.csv", index=False)


@relay.step
def load(source: str) -> pd.DataFrame:
    return pd.read_csv(source)


@relay.step(retries=2, backoff=0.5)
def clean(raw: pd.DataFrame, min_age: int = 18) -> pd.DataFrame:
    return raw[raw["age"] >= min_age].reset_index(drop=True)


@relay.pipeline
def customer_data(source: str = "customers.csv"):
    return {"table": clean(load(source), min_age=21)}


run = customer_data.run(source="customers.csv")              # executor="dask://host:8786"
tables = relay.pipelines.load_outputs(run)
print(f"{len(tables['table'])} customers of 21 or more")
