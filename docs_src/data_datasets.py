import sqlite3

import pandas as pd

import relayml as relay

relay.init(project="churn")
pd.DataFrame(  # the files and tables the example reads
    {"customer_id": [1, 2, 3, 4], "age": [34, 51, 27, 45], "plan": ["basic", "pro", "basic", "pro"]}
).to_csv("customers.csv", index=False)
with sqlite3.connect("shop.db") as db:
    db.execute("create table if not exists orders (id integer, customer_id integer, total real)")
    db.execute("delete from orders")
    db.executemany("insert into orders values (?, ?, ?)", [(1, 1, 19.9), (2, 3, 5.0)])

version = relay.log_dataset("customers", "customers.csv")        # or a DataFrame, an Arrow table,
relay.log_dataset("orders", {"sql": "select * from orders",      # a Parquet file, or a SQL query
                             "url": "sqlite:///shop.db"})        # postgresql+psycopg://ro@db/shop
frame = relay.load_dataset("customers@latest")                   # customers@3, customers
print(f"{version.ref}: {len(frame)} customers")
