"""Decline-curve forecasts of a well: the science behind a well run, free of Django.

`engine.forecast(history=..., date_start=..., date_fin=..., lag=..., options=...)` fits the
well's history (`history.History`) and returns the rows and the summary a calculation stores.
"""
