"""GitSync: apply the HelmRelease (and values ConfigMap, Namespace) YAML committed under a git path.

checkout.py exports the commit through the chart.git mirror; render.py turns it into YAML
documents with file and line; validate.py checks the whole commit (pure); plan.py decides what to
apply, skip and prune (pure); apply.py writes it (server-side apply through kube/); sync.py runs one
sync of one GitSync and computes its status; webhook.py receives push webhooks.
"""
