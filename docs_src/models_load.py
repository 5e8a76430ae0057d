import pandas as pd

import relayml as relay

relay.init(project="churn")
relay.promote("churn/1", to="production")          # see "Environments" below
records = [{"tenure": 3, "monthly_charges": 95.0}, {"tenure": 60, "monthly_charges": 25.0}]
frame = pd.DataFrame(records)

predictor = relay.load_model("churn@production")   # or "churn/3", or "churn" for the latest
predictor.predict(frame)          # pandas, Arrow, NumPy, a list of dicts, or one dict
predictor.predict_proba(records)  # where the model has it
print(f"churn@production says {predictor.predict(records[0])}")
