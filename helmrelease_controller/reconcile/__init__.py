"""The HelmRelease reconcile, laid out like Flux's `internal/reconcile/`.

Pure (no I/O; table tests): `facts` (what the controller knows), `state` (what the release is),
`decide` (what to do next), `settle` (status when nothing is to be done), `status` (the typed
status and its conditions), `backoff`, `alerting`, `dependencies`, `helmstorage` (reading
Helm's release Secrets), and each action's `record` in `actions/`.

I/O at the edges, injected: `pipeline` (the Reconciler: load -> gate -> resolve -> decide/act
-> report), `gates`, `finalize`, `objects` (reads and writes of HelmRelease objects), `report`
(events, metrics, notifications) and each action's `run` in `actions/` (its helm process).
"""
