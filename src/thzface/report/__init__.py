"""Reports: metrics.json, HTML report and figures."""
