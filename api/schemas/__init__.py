"""Request and response models of the HTTP API, one module per family:
`jobs` (jobs, files, artifacts, kinds, health, errors), `aiops`, `mlops`, `dataops`,
`schedules`, `pipelines`."""
