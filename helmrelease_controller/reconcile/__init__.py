"""The decision table: observed state -> the next action. Pure: no I/O anywhere in this package.

`facts` (what the controller knows), `state` (what the release is), `decide` (what to do
next), `backoff` (when to retry), `conditions` (what status says about it).
"""
